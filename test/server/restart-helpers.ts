// Shared by the server restart tests (RELIABILITY.md 4.2, S1-S3): a `rivet server` child process
// on a fixed data folder and port that a test kills with SIGKILL and starts again, paginated
// listing, and the API-level history check (I4) of a run's events.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { mintToken } from '../../src/server/auth.ts';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.ts';
import { type Api, freePort, makeApi, tempDir, until } from '../helpers/server.ts';

const BIN = fileURLToPath(new URL('../../bin/rivet.js', import.meta.url));

/** One `rivet server` process (like spawnServer of test/helpers, without waiting for ready). */
class ServerProcess {
  readonly proc: ChildProcess;
  readonly #exited: Promise<void>;
  #stderr = '';
  exited = false;

  constructor(data: string, workflows: string, port: number, env: NodeJS.ProcessEnv) {
    this.proc = spawn(
      process.execPath,
      [BIN, 'server', '--data', data, '--workflows', workflows, '--listen', `127.0.0.1:${port}`],
      {
        env: { PATH: process.env.PATH ?? '', RIVET_LOG_LEVEL: 'warn', RIVET_SYNCHRONOUS: 'NORMAL', ...env },
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    this.proc.stderr!.on('data', (d: Buffer) => (this.#stderr += d.toString()));
    this.#exited = new Promise((r) =>
      this.proc.on('exit', () => {
        this.exited = true;
        r();
      }),
    );
  }

  stderr(): string {
    return this.#stderr;
  }

  async kill(): Promise<void> {
    if (!this.exited) this.proc.kill('SIGKILL');
    await this.#exited;
  }

  async stop(): Promise<void> {
    if (!this.exited) this.proc.kill('SIGTERM');
    await this.#exited;
  }
}

export const STRESS = Math.max(1, Number(process.env.RIVET_STRESS ?? 1) || 1);
export const BASE_SEED = process.env.RIVET_SEED ? Number(process.env.RIVET_SEED) >>> 0 : 0x5e4e4;

const live = new Set<RestartableServer>();

/** Kills every server a test left running (call it from `after`, so a failed test does not hang). */
export async function killAll(): Promise<void> {
  await Promise.all([...live].map((s) => s.kill(false)));
}

/** A server that survives its own deaths: same data folder, same port, same admin token. */
export class RestartableServer {
  readonly dir: string;
  readonly data: string;
  readonly workflows: string;
  readonly token: string;
  readonly env: NodeJS.ProcessEnv;
  port = 0;
  url = '';
  api: Api = () => Promise.reject(new Error('not started'));
  current: ServerProcess | null = null;
  /** Real ms from spawn to /readyz 200, for every start after the first. */
  readonly restartMs: number[] = [];
  kills = 0;
  starts = 0;
  /** stderr of every process, in order (printed when a check fails). */
  readonly logs: string[] = [];

  constructor(prefix: string, workflows: Record<string, string>, env: NodeJS.ProcessEnv = {}) {
    this.dir = tempDir(`rivet-restart-${prefix}-`);
    this.data = join(this.dir, 'data');
    this.workflows = join(this.dir, 'workflows');
    mkdirSync(this.workflows);
    for (const [file, text] of Object.entries(workflows)) writeFileSync(join(this.workflows, file), text);
    this.token = mintToken().token;
    this.env = { RIVET_ADMIN_TOKEN: this.token, ...env };
  }

  file(name: string, text = ''): string {
    const path = join(this.dir, name);
    writeFileSync(path, text);
    return path;
  }

  /** Starts (or restarts on the same port) and waits until /readyz answers 200. */
  async start(): Promise<void> {
    const t0 = performance.now();
    for (let attempt = 1; ; attempt++) {
      await this.launch();
      try {
        await this.ready();
        break;
      } catch (error) {
        // The port taken by another process in between (the kill freed it): try again.
        if (attempt >= 5 || !/EADDRINUSE/.test(this.current?.stderr() ?? '')) throw error;
        await this.kill(false);
        await new Promise((r) => setTimeout(r, 100 * attempt));
      }
    }
    if (this.starts > 1) this.restartMs.push(performance.now() - t0);
  }

  /** Spawns the server without waiting for it to be ready (a test may kill it during recovery). */
  async launch(): Promise<void> {
    if (this.current !== null) throw new Error('the server is running');
    if (this.port === 0) this.port = await freePort();
    this.current = new ServerProcess(this.data, this.workflows, this.port, this.env);
    live.add(this);
    this.starts++;
    this.url = `http://127.0.0.1:${this.port}`;
    this.api = makeApi(this.url, this.token);
  }

  /** Waits until /readyz answers 200 (fails if the process exits first). */
  async ready(timeoutMs = 60_000): Promise<void> {
    const c = this.current;
    if (c === null) throw new Error('the server is not running');
    await until(
      async () => {
        if (c.exited) throw new Error(`rivet server exited with ${c.proc.exitCode}: ${c.stderr()}`);
        const res = await fetch(`${this.url}/readyz`).catch(() => undefined);
        await res?.text().catch(() => '');
        return res?.status === 200 ? true : undefined;
      },
      'the server to be ready',
      timeoutMs,
    );
  }

  /** kill -9, and wait until the process is reaped. */
  async kill(count = true): Promise<void> {
    const c = this.current;
    if (c === null) return;
    this.current = null;
    live.delete(this);
    await c.kill();
    if (count) this.kills++;
    this.logs.push(c.stderr());
  }

  /** SIGTERM and wait for the exit. */
  async stop(): Promise<void> {
    const c = this.current;
    if (c === null) return;
    this.current = null;
    live.delete(this);
    await c.stop();
    this.logs.push(c.stderr());
  }

  /** Removes the folder (the server must be stopped). */
  cleanup(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }

  get alive(): boolean {
    return this.current !== null;
  }

  stderr(): string {
    return [...this.logs, this.current?.stderr() ?? ''].join('\n--- next process\n').slice(-6000);
  }

  /** PRAGMA integrity_check of the data folder (the server must be stopped). */
  async integrity(): Promise<string> {
    const store = new SqliteStore(join(this.data, 'rivet.db'));
    try {
      return store.integrityCheck();
    } finally {
      await store.close();
    }
  }
}

/** A run as GET /v1/runs returns it (the fields these tests read). */
export interface ApiRun {
  readonly id: string;
  readonly workflow: string;
  readonly version: string;
  readonly state: string;
  readonly error: string | null;
  readonly createdAt: string;
}

export const TERMINAL = new Set(['succeeded', 'failed', 'cancelled']);

/** Every run of a paginated GET /v1/runs (`path` may carry a query). */
export async function listAll(api: Api, path: string): Promise<ApiRun[]> {
  const items: ApiRun[] = [];
  let cursor: string | null = null;
  for (;;) {
    const sep = path.includes('?') ? '&' : '?';
    const res = await api(
      'GET',
      `${path}${sep}limit=200${cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`}`,
    );
    if (res.status !== 200) throw new Error(`GET ${path}: ${res.status} ${res.text}`);
    items.push(...res.body.items);
    cursor = res.body.next ?? null;
    if (cursor === null) return items;
  }
}

/** An event as GET /v1/runs/{id}/events returns it. */
export interface ApiEvent {
  readonly seq: number;
  readonly type: string;
  readonly task: string | null;
  readonly item: number | null;
  readonly attempt: number | null;
  readonly at: string;
  readonly data: Readonly<Record<string, unknown>> | null;
}

export async function runEvents(api: Api, runId: string): Promise<ApiEvent[]> {
  const res = await api('GET', `/v1/runs/${runId}/events`);
  if (res.status !== 200) throw new Error(`GET /v1/runs/${runId}/events: ${res.status} ${res.text}`);
  return res.body.items as ApiEvent[];
}

const TASK_END = new Set(['task.succeeded', 'task.failed', 'task.cancelled', 'task.interrupted']);
const RUN_END = new Set(['run.succeeded', 'run.failed', 'run.cancelled']);

/**
 * I4 as the API shows it. Seq is global across runs, so within a run it must be strictly
 * increasing (gaps are other runs' events); each attempt of a unit starts once and ends at most
 * once, never ends before it started; the run is created first and ends exactly once, last.
 * (The full state-machine check is a replay of the stored log: `checkReplay` of test/crash.)
 */
export function checkHistory(runId: string, events: readonly ApiEvent[], finalState: string): string[] {
  const problems: string[] = [];
  for (let i = 1; i < events.length; i++) {
    if (events[i]!.seq <= events[i - 1]!.seq) {
      problems.push(`I4: ${runId}: seq ${events[i]!.seq} after ${events[i - 1]!.seq} (event ${i})`);
    }
  }
  if (events[0]?.type !== 'run.created') problems.push(`I4: ${runId}: the first event is ${events[0]?.type}`);
  const started = new Map<string, number>();
  const ended = new Map<string, number>();
  for (const e of events) {
    if (e.task === null || e.attempt === null || e.attempt === 0) continue;
    const k = `${e.task}[${e.item ?? '-'}]#${e.attempt}`;
    if (e.type === 'task.started') {
      started.set(k, (started.get(k) ?? 0) + 1);
      if (ended.has(k)) problems.push(`I4: ${runId}: ${k} started after it ended`);
    }
    if (TASK_END.has(e.type)) {
      ended.set(k, (ended.get(k) ?? 0) + 1);
      if (!started.has(k)) problems.push(`I4: ${runId}: ${k} ended (${e.type}) without a start`);
    }
  }
  for (const [k, n] of started) if (n > 1) problems.push(`I4: ${runId}: ${k} started ${n} times`);
  for (const [k, n] of ended) if (n > 1) problems.push(`I4: ${runId}: ${k} ended ${n} times`);
  const ends = events.filter((e) => RUN_END.has(e.type));
  if (ends.length !== 1)
    problems.push(`I4: ${runId}: ${ends.length} run end events (${ends.map((e) => e.type).join(', ')})`);
  else if (events.at(-1) !== ends[0]) problems.push(`I4: ${runId}: events after ${ends[0]!.type}`);
  else if (ends[0]!.type !== `run.${finalState}`)
    problems.push(`I4: ${runId}: ends with ${ends[0]!.type}, the run says ${finalState}`);
  return problems;
}

/** Fails with every problem listed, plus context to debug it. */
export function assertNone(problems: readonly string[], context: () => string): void {
  if (problems.length === 0) return;
  const shown = problems.slice(0, 40).join('\n  ');
  const more = problems.length > 40 ? `\n  ... and ${problems.length - 40} more` : '';
  throw new Error(`${problems.length} invariant violation(s):\n  ${shown}${more}\n${context()}`);
}
