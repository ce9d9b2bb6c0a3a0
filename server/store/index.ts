/** Public surface of the coordinator's storage layer. */
export { type JournalStats, JournalStore, type JournalStoreOptions } from './journal-store.ts';
export { MemoryStore } from './memory-store.ts';
export { type OpenStoreOptions, openStore } from './open.ts';
export { type CommitResult, type Store, type StoreCheck, StoreError, type StoreRecord, type StoreTxn } from './types.ts';
