/** Public surface of the coordinator's storage layer. */

export { EtcdLeaderElection, type EtcdLeaderOptions, type LeaderIdentity, type LeaderState } from './etcd-leader.ts';
export { EtcdStore, type EtcdStoreOptions } from './etcd-store.ts';
export { MOVED_FILE, type MovedMarker, readMovedMarker } from './journal-moved.ts';
export { type JournalStats, JournalStore, type JournalStoreOptions } from './journal-store.ts';
export { MemoryStore } from './memory-store.ts';
export {
  assertJournalIn,
  batchRecords,
  copyDifference,
  type JournalToEtcdOptions,
  type JournalToEtcdResult,
  type MigrateOptions,
  type MigrateResult,
  migrateJournalToEtcd,
  migrateStore,
} from './migrate.ts';
export { etcdKeysUnder, etcdLeaderOf, type OpenStoreOptions, openStore, storeUrlProblem } from './open.ts';
export {
  type CommitResult,
  MAX_RECORDS_PER_COMMIT,
  orderedKey,
  type Store,
  type StoreCheck,
  StoreError,
  type StoreRecord,
  StoreRefusal,
  type StoreRefusalCode,
  type StoreTxn,
} from './types.ts';
