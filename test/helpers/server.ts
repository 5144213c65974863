/**
 * Test servers. `startTestServer` runs a real server in this process on a free loopback port (a
 * fresh data folder, a workflows folder written from `workflows`), and `api()` calls it over
 * HTTP with a token. `spawnServer` runs `rivet server` as a child process, for tests that kill it.
 * Tests use the server only through HTTP.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pino } from 'pino';
import type { TimerClock } from '../../src/engine/clock.ts';
import { resolveServerConfig } from '../../src/server/config.ts';
import { type RunningServer, startServer } from '../../src/server/server.ts';

/** A JSON answer as the tests read it: its shape is what the assertions check. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- JSON answers, checked by assertions
export type Json = any;

export interface ApiResponse<T = Json> {
  readonly status: number;
  readonly headers: Headers;
  readonly body: T;
  readonly text: string;
}

export interface ApiOptions {
  readonly token?: string | null;
  readonly body?: unknown;
  /** A raw body (sent as is, with `contentType`). */
  readonly raw?: string | Uint8Array;
  readonly contentType?: string;
  readonly headers?: Record<string, string>;
}

export type Api = (method: string, path: string, options?: ApiOptions) => Promise<ApiResponse>;

export function makeApi(url: string, defaultToken: string | null): Api {
  return async (method, path, options = {}) => {
    const headers: Record<string, string> = { ...options.headers };
    const token = options.token === undefined ? defaultToken : options.token;
    if (token !== null && headers.authorization === undefined) headers.authorization = `Bearer ${token}`;
    let body: string | Uint8Array | undefined;
    if (options.raw !== undefined) {
      body = options.raw;
      headers['content-type'] = options.contentType ?? 'application/json';
    } else if (options.body !== undefined) {
      body = JSON.stringify(options.body);
      headers['content-type'] = options.contentType ?? 'application/json';
    }
    const res = await fetch(`${url}${path}`, { method, headers, ...(body === undefined ? {} : { body }) });
    const text = await res.text();
    let parsed: unknown = text;
    if ((res.headers.get('content-type') ?? '').includes('json') && text !== '') parsed = JSON.parse(text);
    return { status: res.status, headers: res.headers, body: parsed, text };
  };
}

export interface TestServer {
  readonly url: string;
  readonly adminToken: string;
  readonly server: RunningServer;
  readonly dir: string;
  readonly workflowsDir: string;
  /** Calls the API as the admin (or with `token`). */
  readonly api: Api;
  /** Creates a user with a role and returns a token for it. */
  user(
    name: string,
    role: 'viewer' | 'operator' | 'approver' | 'admin',
    extra?: { groups?: string[]; workflows?: string[] },
  ): Promise<string>;
  stop(): Promise<void>;
}

export interface TestServerOptions {
  /** Workflow files by file name (`hello.yaml`: YAML text). */
  readonly workflows?: Record<string, string>;
  /** Extra settings (as in the config file: `body_limit`, `sse_per_token`...). */
  readonly settings?: Record<string, unknown>;
  readonly clock?: TimerClock;
  readonly env?: NodeJS.ProcessEnv;
}

export async function startTestServer(options: TestServerOptions = {}): Promise<TestServer> {
  const dir = mkdtempSync(join(tmpdir(), 'rivet-server-'));
  const workflowsDir = join(dir, 'workflows');
  mkdirSync(workflowsDir);
  for (const [file, text] of Object.entries(options.workflows ?? {})) writeFileSync(join(workflowsDir, file), text);
  const config = resolveServerConfig({
    env: {},
    flags: {
      listen: '127.0.0.1:0',
      data: join(dir, 'data'),
      workflows: workflowsDir,
      synchronous: 'NORMAL',
      shutdown_grace: '2s',
      kill_grace: '1s',
      ...options.settings,
    },
  });
  let announced = '';
  const server = await startServer(config, {
    env: options.env ?? { PATH: process.env.PATH ?? '' },
    ...(options.clock === undefined ? {} : { clock: options.clock }),
    announce: (t) => (announced += t),
    logger: pino({ level: 'silent' }),
  });
  const adminToken = server.adminToken ?? /rvt_\S+/.exec(announced)?.[0];
  if (adminToken === undefined) throw new Error('the server printed no admin token');
  const api = makeApi(server.url, adminToken);
  return {
    url: server.url,
    adminToken,
    server,
    dir,
    workflowsDir,
    api,
    async user(name, role, extra = {}) {
      const u = await api('POST', '/v1/users', { body: { name, role, ...extra } });
      if (u.status !== 201) throw new Error(`cannot create user ${name}: ${u.text}`);
      const t = await api('POST', '/v1/tokens', { body: { user: name, label: 'test' } });
      if (t.status !== 201) throw new Error(`cannot create a token for ${name}: ${t.text}`);
      return t.body.token as string;
    },
    async stop() {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Waits until `check` returns a value other than undefined (bounded; no timed assertion). */
export async function until<T>(
  check: () => Promise<T | undefined> | T | undefined,
  what: string,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (let wait = 5; ; wait = Math.min(wait * 2, 100)) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, wait));
  }
}

/** An SSE frame as parsed by `readSse`. */
export interface SseFrame {
  readonly id: string | null;
  readonly event: string;
  readonly data: Json;
}

/**
 * Opens an SSE stream and calls `onFrame` for each frame until the stream ends, `stop()` is
 * called, or the connection drops. Resolves with the status.
 */
export async function readSse(
  url: string,
  token: string,
  onFrame: (f: SseFrame) => void,
  options: { lastEventId?: string; signal?: AbortSignal } = {},
): Promise<{ status: number; ended: boolean }> {
  const headers: Record<string, string> = { accept: 'text/event-stream', authorization: `Bearer ${token}` };
  if (options.lastEventId !== undefined) headers['last-event-id'] = options.lastEventId;
  let res: Response;
  try {
    res = await fetch(url, { headers, ...(options.signal === undefined ? {} : { signal: options.signal }) });
  } catch {
    return { status: 0, ended: false };
  }
  if (res.status !== 200 || res.body === null) {
    await res.text().catch(() => '');
    return { status: res.status, ended: false };
  }
  const decoder = new TextDecoder();
  let buffer = '';
  let ended = false;
  try {
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      buffer += decoder.decode(chunk, { stream: true });
      let cut: number;
      while ((cut = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        let id: string | null = null;
        let event = 'message';
        const data: string[] = [];
        for (const line of block.split('\n')) {
          if (line.startsWith(':')) continue;
          if (line.startsWith('id: ')) id = line.slice(4);
          else if (line.startsWith('event: ')) event = line.slice(7);
          else if (line.startsWith('data: ')) data.push(line.slice(6));
        }
        if (data.length === 0) continue;
        if (event === 'end') ended = true;
        onFrame({ id, event, data: JSON.parse(data.join('\n')) });
      }
    }
  } catch {
    // the connection dropped (a killed server) or was aborted
  }
  return { status: 200, ended };
}

export interface SpawnedServer {
  readonly url: string;
  readonly proc: ChildProcess;
  readonly stderr: () => string;
  /** kill -9 and wait for the exit. */
  kill(): Promise<void>;
  /** SIGTERM and wait for the exit. */
  stop(): Promise<number | null>;
}

const BIN = resolve(import.meta.dirname, '../../bin/rivet.js');

/** Starts `rivet server` as a child process and waits until /readyz answers 200. */
export async function spawnServer(options: {
  data: string;
  workflows: string;
  port: number;
  env?: NodeJS.ProcessEnv;
  args?: string[];
}): Promise<SpawnedServer> {
  const proc = spawn(
    process.execPath,
    [
      BIN,
      'server',
      '--data',
      options.data,
      '--workflows',
      options.workflows,
      '--listen',
      `127.0.0.1:${options.port}`,
      ...(options.args ?? []),
    ],
    {
      env: { PATH: process.env.PATH ?? '', RIVET_LOG_LEVEL: 'warn', RIVET_SYNCHRONOUS: 'NORMAL', ...options.env },
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  let err = '';
  proc.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((r) => proc.on('exit', (code) => r(code)));
  const url = `http://127.0.0.1:${options.port}`;
  await until(
    async () => {
      if (proc.exitCode !== null) throw new Error(`rivet server exited with ${proc.exitCode}: ${err}`);
      const res = await fetch(`${url}/readyz`).catch(() => undefined);
      return res?.status === 200 ? true : undefined;
    },
    'the server to be ready',
    30_000,
  );
  return {
    url,
    proc,
    stderr: () => err,
    async kill() {
      proc.kill('SIGKILL');
      await exited;
    },
    async stop() {
      proc.kill('SIGTERM');
      return exited;
    },
  };
}

/** A free loopback port (bound then released). */
export async function freePort(): Promise<number> {
  const { createServer } = await import('node:net');
  return new Promise((r) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => r(port));
    });
  });
}

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), prefix));
}
