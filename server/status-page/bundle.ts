/**
 * Bundles the page's TypeScript and CSS (server/status-page/client/) with esbuild's JS API, in
 * memory, once per process: the first request pays ~0.1 s, later ones are served from the cache.
 * Nothing is fetched from the internet: the bundle is the whole page. A build that cannot run
 * esbuild (a single executable) passes prebuilt assets to the plugin instead (`bundleStatusPage()`
 * at build time, then `statusPagePlugin({ assets })`).
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { packageRoot } from '../../generator/util/package-root.ts';

export interface StatusAssets {
  js: string;
  css: string;
  /** A short content hash: asset URLs carry it so browsers may cache them for good. */
  version: string;
}

let cached: Promise<StatusAssets> | undefined;

/** The bundled page, built on first call and cached for the life of the process (a failure is not cached). */
export function bundleStatusPage(): Promise<StatusAssets> {
  cached ??= buildAssets().catch((error: unknown) => {
    cached = undefined;
    throw error;
  });
  return cached;
}

async function buildAssets(): Promise<StatusAssets> {
  const esbuild = await import('esbuild');
  const client = `${join(packageRoot(import.meta.dirname), 'server', 'status-page', 'client')}/`;
  const result = await esbuild.build({
    entryPoints: { app: `${client}main.ts`, style: `${client}styles.css` },
    bundle: true,
    write: false,
    minify: true,
    format: 'esm',
    platform: 'browser',
    // Phones two or three years old: no syntax newer than these engines parse.
    target: ['es2020', 'chrome100', 'firefox100', 'safari15'],
    outdir: '/status-page-bundle',
    legalComments: 'none',
    logLevel: 'silent',
    charset: 'utf8',
  });
  const pick = (suffix: string): string => {
    const file = result.outputFiles.find((f) => f.path.endsWith(suffix));
    if (!file) throw new Error(`esbuild produced no ${suffix} for the status page`);
    return file.text;
  };
  const js = pick('/app.js');
  const css = pick('/style.css');
  const version = createHash('sha256').update(js).update('\0').update(css).digest('hex').slice(0, 12);
  return { js, css, version };
}
