/** A Store kept only in memory: for tests and for `kubeseed demo`. Every commit is "durable" at once. */

import type { CommitResult, Store, StoreRecord, StoreTxn } from './types.ts';
import { checkAndApply, KeyValueView } from './view.ts';

export class MemoryStore implements Store {
  private readonly view = new KeyValueView();

  async open(): Promise<void> {}

  get<T = unknown>(key: string): StoreRecord<T> | undefined {
    return this.view.get<T>(key);
  }

  list<T = unknown>(prefix: string): StoreRecord<T>[] {
    return this.view.list<T>(prefix);
  }

  watch(listener: (key: string, record: StoreRecord | undefined) => void): () => void {
    return this.view.watch(listener);
  }

  revision(): number {
    return this.view.revision();
  }

  commit(txn: StoreTxn): Promise<CommitResult> {
    return Promise.resolve(checkAndApply(this.view, txn).result);
  }

  flushed(): Promise<void> {
    return Promise.resolve();
  }

  async close(): Promise<void> {}
}
