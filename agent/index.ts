/** Public surface of the on-host agent (for tests, the bench and the e2e harness). */
export * from './cli.ts';
export * from './config.ts';
export * from './facts.ts';
export * from './http.ts';
export type * from './io.ts';
export * from './kubeadm-argv.ts';
export * from './machine.ts';
export * from './node-io.ts';
export * from './preflight.ts';
export * from './run.ts';
export * from './sentinel.ts';
export * from './signing.ts';
export * from './steps/index.ts';
export * from './version.ts';
