/** Public surface of the agent↔coordinator protocol. Imports nothing outside Node built-ins. */

export * from './backup.ts';
export * from './schemas.ts';
export * from './step-kinds.ts';
export * from './steps.ts';
export * from './wire.ts';
