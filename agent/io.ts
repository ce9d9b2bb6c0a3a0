/**
 * The interfaces through which the agent touches the world. The state machine never sees them;
 * the loop (`run.ts`) and the step executors receive them, so tests inject fakes or a temporary
 * root. Every path given to `Fs` is a host path (`/etc/kubernetes/admin.conf`); the implementation
 * maps it below its root directory.
 */

export interface Fs {
  /** File contents, or null when the file does not exist. */
  readText(path: string): Promise<string | null>;
  /** Writes atomically (temp file + rename), creating parent directories; `mode` is applied exactly. */
  writeText(path: string, content: string, mode: number): Promise<void>;
  /** Like `writeText` for bytes (downloaded executables, chart files). */
  writeBytes(path: string, content: Uint8Array, mode: number): Promise<void>;
  /** Removes a file or a directory tree; missing is fine. */
  remove(path: string): Promise<void>;
  exists(path: string): Promise<boolean>;
  /** Entry names of a directory, or [] when it does not exist. */
  list(path: string): Promise<string[]>;
  /** POSIX mode bits (e.g. 0o600) or null when missing. */
  mode(path: string): Promise<number | null>;
  /** Where a host path is for a program the agent runs: itself on a real host, below the root in tests. */
  realPath?(path: string): string;
}

export interface ExecOptions {
  env?: Record<string, string>;
  timeoutMs?: number;
}

export interface ExecResult {
  /** Exit code; null when killed by a signal or not started. */
  code: number | null;
  /** The last bytes (bounded) of stdout and stderr interleaved as they arrived. Not yet redacted. */
  output: string;
  /** The executable was not found on PATH. */
  notFound: boolean;
  timedOut: boolean;
}

/** Runs `argv[0]` with `argv[1..]` — never through a shell. */
export interface Exec {
  run(argv: readonly string[], options?: ExecOptions): Promise<ExecResult>;
}

export interface Clock {
  now(): number;
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export interface Random {
  /** Uniform in [0, 1). */
  next(): number;
  /** Hex string of `bytes` random bytes (nonces). */
  hex(bytes: number): string;
}

export type TcpProbeResult = 'accepted' | 'refused' | 'timeout' | 'unreachable';

export interface TlsClientFiles {
  ca: string;
  cert: string;
  key: string;
}

export interface Net {
  /** IP addresses the name resolves to (an IP literal resolves to itself). */
  resolve(host: string): Promise<string[]>;
  tcpProbe(host: string, port: number, timeoutMs: number): Promise<TcpProbeResult>;
  /** HTTPS with a client certificate (etcd's health endpoint and JSON gateway). PEM contents, not paths. */
  tlsRequest(options: {
    url: string;
    method: 'GET' | 'POST';
    body?: string;
    tls: TlsClientFiles;
    timeoutMs: number;
  }): Promise<{ status: number; body: string }>;
}

export interface HttpResponse {
  status: number;
  /** Parsed JSON when the body was JSON, the raw text otherwise, null when empty. */
  body: unknown;
  /** The `date` header as ms since the epoch, when present (clock-skew estimate). */
  date?: number;
}

/** The coordinator's HTTPS API, trusting only the pinned CA. Throws on transport errors. */
export interface Http {
  request(options: {
    method: 'GET' | 'POST';
    path: string;
    body?: unknown;
    headers?: Record<string, string>;
    timeoutMs: number;
    /** Aborts the request (SIGTERM during a long poll). */
    signal?: AbortSignal;
  }): Promise<HttpResponse>;
  /** POSTs a file's bytes, streamed from disk, with `headers` (content-type included; etcd snapshots, protocol/backup.ts). */
  upload?(options: {
    path: string;
    file: string;
    headers: Record<string, string>;
    timeoutMs: number;
    signal?: AbortSignal;
  }): Promise<HttpResponse>;
  close(): Promise<void>;
}

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
/** One JSON line per event; the implementation redacts. */
export type Log = (level: LogLevel, event: string, fields?: Record<string, unknown>) => void;
