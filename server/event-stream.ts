/**
 * `GET /v1/events`: the coordinator's announcements as Server-Sent Events, with backpressure — a
 * subscriber that stops reading is dropped, not buffered for (it reconnects and refetches the status).
 */
import type { EventEmitter } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { CoordinatorEvent } from './coordinator.ts';

/**
 * An event-stream subscriber with more than this unread that does not drain it within
 * SSE_STALL_MS is disconnected (it reconnects and refetches); past SSE_HARD_BUFFERED, at once. A
 * reader that keeps up survives a burst (a large release wave announces every step in one turn).
 */
export const SSE_MAX_BUFFERED = 1024 * 1024;
export const SSE_HARD_BUFFERED = 8 * 1024 * 1024;
export const SSE_STALL_MS = 5_000;

const sseFrames = new WeakMap<CoordinatorEvent, string>();
function sseFrame(event: CoordinatorEvent): string {
  let frame = sseFrames.get(event);
  if (frame === undefined) {
    frame = `event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`;
    sseFrames.set(event, frame);
  }
  return frame;
}

/** Streams every event of `events` to `raw` (already hijacked from Fastify) until either side closes. */
export function streamEvents(
  request: IncomingMessage,
  raw: ServerResponse,
  events: EventEmitter,
  now: number,
  log: { warn(obj: object, msg?: string): void },
): void {
  raw.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
  });
  // Backpressure: a subscriber that stops reading is disconnected (SSE_MAX_BUFFERED unread and not
  // drained within SSE_STALL_MS, or SSE_HARD_BUFFERED unread) instead of the coordinator buffering
  // every later event in memory. Clients reconnect and fetch the status again.
  let stalled: NodeJS.Timeout | undefined;
  const drop = () => {
    log.warn({ buffered: raw.writableLength }, 'event-stream subscriber does not read; disconnected');
    done();
    raw.destroy();
  };
  const send = (event: CoordinatorEvent) => {
    if (raw.destroyed) return;
    if (raw.writableLength > SSE_HARD_BUFFERED) return drop();
    if (raw.writableLength > SSE_MAX_BUFFERED && !stalled) {
      stalled = setTimeout(() => {
        if (!raw.destroyed && raw.writableLength > SSE_MAX_BUFFERED) drop();
      }, SSE_STALL_MS);
      stalled.unref();
    }
    raw.write(sseFrame(event));
  };
  raw.on('drain', () => {
    clearTimeout(stalled);
    stalled = undefined;
  });
  raw.write(`event: hello\ndata: ${JSON.stringify({ serverTime: now })}\n\n`);
  events.on('event', send);
  // Keeps proxies from closing an idle stream; not on any critical path.
  const keepAlive = setInterval(() => {
    if (!raw.destroyed) raw.write(': keep-alive\n\n');
  }, 15_000);
  keepAlive.unref();
  function done() {
    clearInterval(keepAlive);
    clearTimeout(stalled);
    events.off('event', send);
  }
  raw.once('close', done);
  request.once('close', () => {
    if (raw.destroyed) done();
  });
}
