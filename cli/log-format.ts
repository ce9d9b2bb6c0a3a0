/**
 * The coordinator's log for people (`kubeseed serve`'s default; `--log-format json` keeps pino's
 * JSON lines for machines): one line per record, `time LEVEL message key=value …`. Values are the
 * already-redacted fields of the record; control characters are escaped so a remote string cannot
 * drive the terminal.
 */
import { terminalSafe } from './status.ts';

const LEVELS: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
const OMITTED = new Set(['level', 'time', 'pid', 'hostname', 'msg']);

function valueText(value: unknown): string {
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return /[\s"=]/.test(text) && typeof value === 'string' ? JSON.stringify(text) : text;
}

/** One pino JSON line as a line for people; a line that is not JSON is passed through. */
export function formatLogLine(line: string): string {
  let record: Record<string, unknown>;
  try {
    record = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line.endsWith('\n') ? line : `${line}\n`;
  }
  const time = typeof record.time === 'number' ? new Date(record.time).toISOString() : '-';
  const level = LEVELS[record.level as number] ?? String(record.level);
  const fields = Object.entries(record)
    .filter(([k, v]) => !OMITTED.has(k) && v !== undefined)
    .map(([k, v]) => `${k}=${valueText(v)}`);
  return `${terminalSafe([time, level.padEnd(5), String(record.msg ?? ''), ...fields].join(' ').trimEnd())}\n`;
}

/** A pino destination stream that writes formatted lines. */
export function humanLogStream(write: (line: string) => void): { write(chunk: string): void } {
  return { write: (chunk) => write(formatLogLine(chunk.trimEnd())) };
}
