/**
 * prepare-host (cloud-init hosts, the first step of every host): runs the idempotent preparation
 * script that user-data wrote — repositories, packages, pins and holds, containerd and its config,
 * kernel modules, sysctls, swap, time servers, the load balancer's services — as argv, with its
 * output bounded (the exec tail) and kept in the report. A failure is classified
 * (prepare-failure.ts) into the report's `reason`, with a one-line summary as the transcript's last
 * line; reasons a retry cannot fix are `permanent`. Running it again is safe: every section of the
 * script checks before it acts.
 */
import { prepareHostCommand } from '../../protocol/steps.ts';
import type { StepResults } from '../../protocol/wire.ts';
import { classifyPrepareFailure } from './prepare-failure.ts';
import { StepFailure, type StepRun } from './step-run.ts';

/** English tool messages, whatever the image's locale: the classification reads them. (The script sets DEBIAN_FRONTEND itself.) */
const PREPARE_ENV = { LC_ALL: 'C.UTF-8', LANG: 'C.UTF-8' };

export async function runPrepareHost(run: StepRun<'prepare-host'>): Promise<StepResults> {
  const script = run.step.params.prepareScript;
  if (!script) throw new StepFailure('bad-params', 'prepare-host needs params.prepareScript', true);
  if (!(await run.fs.exists(script)))
    throw new StepFailure(
      'unknown',
      `${script} is missing: the user-data writes it (was this host booted from kubeseed's user-data?)`,
      true,
    );
  const result = await run.command(prepareHostCommand(run.fs.realPath?.(script) ?? script), { env: PREPARE_ENV });
  if (result.notFound) throw new StepFailure('unsupported-os', 'bash is not installed', true);
  if (result.code === 0 && !result.timedOut) {
    run.note('host prepared');
    return {};
  }
  const failure = classifyPrepareFailure({ output: result.output, code: result.code, timedOut: result.timedOut });
  throw new StepFailure(failure.reason, failure.summary, failure.permanent);
}
