/**
 * An incremental parser of `text/event-stream` (the WHATWG format: `event:`, `data:`, comments,
 * blank-line dispatch, CR/LF/CRLF line ends). Pure and dependency-free: the status page feeds it
 * the chunks of a fetch() stream (EventSource cannot send the Authorization header) and
 * `kubeseed status --watch` feeds it undici's body chunks.
 */

export interface SseMessage {
  event: string;
  data: string;
}

/** Bytes of one unfinished line or event kept at most; a stream that never ends a line is cut. */
const MAX_PENDING = 1024 * 1024;

export class SseParser {
  private buffer = '';
  private event = '';
  private data: string[] = [];

  /** Feeds one chunk; returns the messages completed by it. */
  push(chunk: string): SseMessage[] {
    this.buffer += chunk;
    const out: SseMessage[] = [];
    for (;;) {
      const match = /\r\n|\r|\n/.exec(this.buffer);
      if (!match) break;
      // A lone CR at the very end may be the first half of CRLF: wait for the next chunk.
      if (match[0] === '\r' && match.index === this.buffer.length - 1) break;
      const line = this.buffer.slice(0, match.index);
      this.buffer = this.buffer.slice(match.index + match[0].length);
      const message = this.line(line);
      if (message) out.push(message);
    }
    if (this.buffer.length > MAX_PENDING) this.buffer = '';
    return out;
  }

  private line(line: string): SseMessage | undefined {
    if (line === '') {
      if (this.data.length === 0) {
        this.event = '';
        return undefined;
      }
      const message = { event: this.event || 'message', data: this.data.join('\n') };
      this.event = '';
      this.data = [];
      return message;
    }
    if (line.startsWith(':')) return undefined;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') this.event = value;
    else if (field === 'data') this.data.push(value);
    return undefined;
  }
}
