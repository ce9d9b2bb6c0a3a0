/**
 * The store view's sorted key index (server/store/view.ts, issue 19): what a commit of new keys
 * costs against a commit that only updates records already there, in one run on one machine. A
 * gate opening appends 1,000 audit records, whose keys sort before every host and step; the index
 * used to splice each new key in (moving every key after it), and now merges a commit's new keys
 * in at the next read. Each round: 10 commits of 100 new audit records (a `list` after each, as the
 * coordinator reads between commits), then 10 commits of 100 step updates; median of the rounds
 * after two warm-up rounds, at two sizes of the view. The ratio new-keys ÷ updates is the index's
 * share: both commits clone, intern and freeze as many records. Never runs in CI.
 *
 * Run: npx tsx bench/store-view.ts [--write]
 */
import { loadavg } from 'node:os';
import { KeyValueView } from '../server/store/view.ts';
import { machine, median, writeSection } from './report.ts';

const ROUNDS = 8;
const WARM_UP = 2;
const SIZES = [16_000, 64_000];

interface Reading {
  size: number;
  insertMs: number;
  updateMs: number;
}

function measure(size: number): Reading {
  const view = new KeyValueView();
  const steps = Array.from({ length: size }, (_, i) => ({
    key: `${i % 3 === 0 ? 'hosts' : 'steps'}/w${i}`,
    value: { id: `w${i}/kubeadm-join-worker`, host: `w${i}`, state: 'pending', attempt: 0 },
  }));
  for (let at = 0; at < steps.length; at += 1000) view.apply({ puts: steps.slice(at, at + 1000) });
  view.list('audit/');
  const inserts: number[] = [];
  const updates: number[] = [];
  let audit = 0;
  for (let round = 0; round < ROUNDS; round++) {
    let t = performance.now();
    for (let c = 0; c < 10; c++) {
      const puts = Array.from({ length: 100 }, () => {
        const n = ++audit;
        return {
          key: `audit/${String(n).padStart(12, '0')}`,
          value: {
            at: new Date(1_765_000_000_000 + n).toISOString(),
            host: `w${n}`,
            step: `w${n}/kubeadm-join-worker`,
            attempt: 1,
            secrets: ['bootstrap-token'],
          },
        };
      });
      view.apply({ puts });
      view.list('tokens/');
    }
    inserts.push(performance.now() - t);
    t = performance.now();
    for (let c = 0; c < 10; c++) {
      const puts = Array.from({ length: 100 }, (_, i) => {
        const n = (round * 1000 + c * 100 + i) * 3 + 1;
        return {
          key: `steps/w${n}`,
          value: { id: `w${n}/kubeadm-join-worker`, host: `w${n}`, state: 'released', attempt: 1, releasedAt: n },
        };
      });
      view.apply({ puts });
      view.list('tokens/');
    }
    updates.push(performance.now() - t);
  }
  return { size, insertMs: median(inserts.slice(WARM_UP)), updateMs: median(updates.slice(WARM_UP)) };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const load = loadavg()[0]!;
  const readings = SIZES.map(measure);
  const rows = readings.map(
    (r) =>
      `| ${r.size.toLocaleString('en')} | ${r.insertMs.toFixed(1)} ms | ${r.updateMs.toFixed(1)} ms | ${(r.insertMs / r.updateMs).toFixed(2)}× |`,
  );
  const body = [
    `Measured ${new Date().toISOString().slice(0, 10)} on ${machine()}; 1-minute load average ${load.toFixed(1)} at the start, ${loadavg()[0]!.toFixed(1)} at the end. \`npx tsx bench/store-view.ts --write\`.`,
    '',
    'The in-memory view both stores keep (`server/store/view.ts`): 1,000 new audit records (10 commits of 100, keys sorting',
    'before every host and step, a `list` after each commit) against 1,000 updates of step records already there, medians of',
    `${ROUNDS - WARM_UP} rounds after ${WARM_UP} warm-up rounds. Both clone, intern and freeze as many records; the ratio is what the sorted key`,
    'index adds for new keys. It used to splice each new key in: this benchmark on that code (3a8ee82^, 2026-12-07, right',
    'after a run on this one) read 28.9 ms ÷ 6.7 ms = 4.31× at 16,000 records and 96.4 ÷ 6.0 = 16.12× at 64,000.',
    '',
    '| records in the view | 1,000 new keys | 1,000 updates | new ÷ updates |',
    '| --- | --- | --- | --- |',
    ...rows,
    '',
  ].join('\n');
  console.log(body);
  if (process.argv.includes('--write')) writeSection('Store view: new keys', body);
}
