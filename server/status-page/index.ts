/** The rollout status page: a Fastify plugin serving a self-contained, bundled page (see docs/status.md). */
export { bundleStatusPage, type StatusAssets } from './bundle.ts';
export { STATUS_PAGE_CSP, type StatusPageOptions, statusPagePlugin } from './plugin.ts';
export { renderShell } from './shell.ts';
