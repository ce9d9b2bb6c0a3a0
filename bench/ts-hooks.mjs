/**
 * Module hooks that run the benchmarks' server child from its TypeScript sources the way the
 * shipped CLI bundle runs them (scripts/build-cli.mjs): each `.ts` module is compiled by esbuild
 * with the project's tsconfig settings and nothing added. tsx, which runs everything else here,
 * compiles with esbuild's `keepNames`, wrapping every function in `__name(fn, "…")`: each closure
 * the server creates then carries its own property table (~250 B of heap), which the bundle users
 * run does not (docs/adr/0048). Module URLs stay the source files', so CPU profiles name them.
 *
 * Registered by bench/ts-register.mjs (`node --import ./bench/ts-register.mjs …`).
 */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { transform } from 'esbuild';

const tsconfig = JSON.parse(await readFile(new URL('../tsconfig.json', import.meta.url), 'utf8'));

export async function load(url, context, nextLoad) {
  if (!url.startsWith('file:') || !url.endsWith('.ts')) return nextLoad(url, context);
  const path = fileURLToPath(url);
  const { code } = await transform(await readFile(path, 'utf8'), {
    loader: 'ts',
    format: 'esm',
    target: 'node20',
    sourcefile: path,
    tsconfigRaw: { compilerOptions: tsconfig.compilerOptions },
  });
  return { format: 'module', source: code, shortCircuit: true };
}
