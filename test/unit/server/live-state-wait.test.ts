// LiveState.waitForHost, the wait of a long-poll (issue 19, docs/adr/0048): a callback called once,
// later in the turn (a wake-up comes from inside a scheduling pass), whatever ends the wait first.
import { EventEmitter } from 'node:events';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { LiveState } from '../../../server/rollout/live-state.ts';

class Client extends EventEmitter {
  closed = false;
  close(): void {
    this.closed = true;
    this.emit('close');
  }
}

afterEach(() => {
  vi.useRealTimers();
});

describe('LiveState.waitForHost', () => {
  it('calls back after the wake-up returns, not inside it', async () => {
    const live = new LiveState();
    const order: string[] = [];
    live.waitForHost('w1', 60_000, () => order.push('woken'));
    live.wakeHost('w1');
    order.push('wakeHost returned');
    await Promise.resolve();
    expect(order).toEqual(['wakeHost returned', 'woken']);
    expect(live.waitingPolls()).toBe(0);
  });

  it('calls back once when its timer, its client closing and a wake-up all come', async () => {
    vi.useFakeTimers();
    const live = new LiveState();
    const client = new Client();
    let calls = 0;
    live.waitForHost('w1', 1_000, () => calls++, client);
    live.wakeAll();
    client.close();
    vi.advanceTimersByTime(2_000);
    await Promise.resolve();
    expect(calls).toBe(1);
    expect(client.listenerCount('close')).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('ends on its timer or on its client closing, leaving no waiter, listener or timer behind', async () => {
    vi.useFakeTimers();
    const live = new LiveState();
    const client = new Client();
    const ended: string[] = [];
    live.waitForHost('w1', 1_000, () => ended.push('timer'));
    live.waitForHost('w2', 60_000, () => ended.push('client'), client);
    expect(live.waitingPolls()).toBe(2);
    vi.advanceTimersByTime(1_000);
    client.close();
    await Promise.resolve();
    expect(ended).toEqual(['timer', 'client']);
    expect(live.waitingPolls()).toBe(0);
    expect(client.listenerCount('close')).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('wakes only the host it names; a host with two polls wakes both', async () => {
    const live = new LiveState();
    const woken: string[] = [];
    live.waitForHost('w1', 60_000, () => woken.push('w1 a'));
    live.waitForHost('w1', 60_000, () => woken.push('w1 b'));
    live.waitForHost('w2', 60_000, () => woken.push('w2'));
    live.wakeHost('w1');
    await Promise.resolve();
    expect(woken).toEqual(['w1 a', 'w1 b']);
    expect(live.waitingPolls()).toBe(1);
    live.wakeAll();
    await Promise.resolve();
    expect(woken).toEqual(['w1 a', 'w1 b', 'w2']);
  });
});
