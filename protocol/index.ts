/** Public surface of the agent↔coordinator protocol. Imports nothing outside Node built-ins. */
export * from './steps.ts';
export * from './wire.ts';
