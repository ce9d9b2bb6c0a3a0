/**
 * A deliberately broken Store: while `failing` is set, every commit rejects with StoreError and
 * changes nothing (a full or read-only disk). Proves errors surface as 503 without corrupting state.
 */
import { type CommitResult, type Store, StoreError, type StoreRecord, type StoreTxn } from '../../../server/store/index.ts';

export class FailingStore implements Store {
  failing = false;
  constructor(private readonly inner: Store) {}
  open(): Promise<void> {
    return this.inner.open();
  }
  get<T = unknown>(key: string): StoreRecord<T> | undefined {
    return this.inner.get<T>(key);
  }
  list<T = unknown>(prefix: string): StoreRecord<T>[] {
    return this.inner.list<T>(prefix);
  }
  revision(): number {
    return this.inner.revision();
  }
  commit(txn: StoreTxn): Promise<CommitResult> {
    if (this.failing) return Promise.reject(new StoreError('injected write failure (ENOSPC)'));
    return this.inner.commit(txn);
  }
  flushed(): Promise<void> {
    return this.inner.flushed();
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}
