/**
 * The agent's version string. The build replaces `__KUBESEED_AGENT_VERSION__` with the package
 * version (esbuild `define`); unbundled runs (tests, tsx) report `0.0.0-dev`.
 */
declare const __KUBESEED_AGENT_VERSION__: string | undefined;

export const AGENT_VERSION: string = typeof __KUBESEED_AGENT_VERSION__ === 'string' ? __KUBESEED_AGENT_VERSION__ : '0.0.0-dev';
