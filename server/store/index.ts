/** Public surface of the coordinator's storage layer. */

export { EtcdLeaderElection, type EtcdLeaderOptions, type LeaderIdentity, type LeaderState } from './etcd-leader.ts';
export { EtcdStore, type EtcdStoreOptions } from './etcd-store.ts';
export { type JournalStats, JournalStore, type JournalStoreOptions } from './journal-store.ts';
export { MemoryStore } from './memory-store.ts';
export { type OpenStoreOptions, openStore } from './open.ts';
export { type CommitResult, type Store, type StoreCheck, StoreError, type StoreRecord, type StoreTxn } from './types.ts';
