// The crash-test harness (RELIABILITY.md 4.1): real `rivet` processes killed with SIGKILL, and
// side effects observed outside Rivet: a journal file that shell tasks append to and an HTTP
// recorder on loopback. Invariants are checked against those records (invariants.ts), never only
// against Rivet's own view of itself.
//
//   RIVET_SEED=<n>    fixes the seeds of the randomized schedules (each test prints its seeds)
//   RIVET_STRESS=<n>  multiplies the repetitions (nightly); same code path
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.ts';
import type { RunRecord, StoredEvent } from '../../src/store/types.ts';

export const REPO = fileURLToPath(new URL('../../', import.meta.url));
const NODE = join(REPO, 'node_modules/.bin/node');
export const STRESS = Math.max(1, Number(process.env.RIVET_STRESS ?? 1) || 1);
export const BASE_SEED = process.env.RIVET_SEED ? Number(process.env.RIVET_SEED) >>> 0 : 0xc0ffee;

// ------------------------------------------------------------------------------------ random

/** mulberry32: a small seeded PRNG, so a schedule can be replayed from its printed seed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// ------------------------------------------------------------------------------------ folders

export interface Sandbox {
  readonly dir: string;
  /** RIVET_HOME */
  readonly home: string;
  readonly db: string;
  /** The file shell tasks append `run task item attempt time` lines to. */
  readonly journal: string;
  /** Where RIVET_CRASH_LOG points. */
  readonly crashLog: string;
  file(name: string, text: string): string;
  cleanup(): void;
}

export function sandbox(prefix: string): Sandbox {
  const dir = mkdtempSync(join(tmpdir(), `rivet-crash-${prefix}-`));
  const home = join(dir, 'home');
  const journal = join(dir, 'journal');
  writeFileSync(journal, '');
  return {
    dir,
    home,
    db: join(home, 'rivet.db'),
    journal,
    crashLog: join(dir, 'crash.log'),
    file(name, text) {
      const path = join(dir, name);
      writeFileSync(path, text);
      return path;
    },
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

// ------------------------------------------------------------------------------------ journal

/** One line a shell task appended: `run task item attempt epochrealtime [extra]`. */
export interface JournalEntry {
  readonly run: string;
  readonly task: string;
  readonly item: number | null;
  readonly attempt: number;
  /** Wall time in ms (bash $EPOCHREALTIME). */
  readonly at: number;
  readonly extra: string;
}

/** The script a journaling shell task runs (ITEM set by for_each tasks). */
export const JOURNAL_LINE =
  'echo "$RIVET_RUN_ID $RIVET_TASK_ID ${ITEM:--} $RIVET_ATTEMPT ${EPOCHREALTIME:-0}" >> "$JOURNAL"';

export function readJournal(file: string): JournalEntry[] {
  const out: JournalEntry[] = [];
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (line.trim() === '') continue;
    const [run = '', task = '', item = '-', attempt = '0', at = '0', ...extra] = line.split(' ');
    out.push({
      run,
      task,
      item: item === '-' ? null : Number(item),
      attempt: Number(attempt),
      at: Number(at) * 1000,
      extra: extra.join(' '),
    });
  }
  return out;
}

export const unitName = (task: string, item: number | null): string => (item === null ? task : `${task}[${item}]`);

// ------------------------------------------------------------------------------------ recorder

export interface Recorded {
  readonly method: string;
  readonly path: string;
  readonly key: string | null;
  readonly bodyHash: string;
  /** performance.now() of this (the test) process when the request arrived. */
  readonly at: number;
  /** Date.now() then (compared with event times and the journal's wall times). */
  readonly wall: number;
}

/**
 * An HTTP server on loopback that records every request. `POST /effect/...` answers 200;
 * `POST /op/<id>` starts a long operation (202 + Location); `GET /op/<id>/status` answers
 * `{ done: false }` until it was polled `opPolls` times.
 */
export class Recorder {
  readonly records: Recorded[] = [];
  opPolls = 3;
  readonly #polls = new Map<string, number>();
  #server: Server | undefined;
  #url = '';

  get url(): string {
    return this.#url;
  }

  async start(): Promise<this> {
    this.#server = createServer((req, res) => this.#handle(req, res));
    this.#server.keepAliveTimeout = 1000;
    await new Promise<void>((done) => this.#server!.listen(0, '127.0.0.1', done));
    this.#url = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
    return this;
  }

  async stop(): Promise<void> {
    this.#server?.closeAllConnections();
    await new Promise((done) => this.#server?.close(done));
  }

  posts(prefix = ''): Recorded[] {
    return this.records.filter((r) => r.method === 'POST' && r.path.startsWith(prefix));
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    const at = performance.now();
    const wall = Date.now();
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = req.url ?? '';
      const key = req.headers['idempotency-key'];
      this.records.push({
        method: req.method ?? '',
        path,
        key: typeof key === 'string' ? key : null,
        bodyHash: createHash('sha256').update(Buffer.concat(chunks)).digest('hex').slice(0, 16),
        at,
        wall,
      });
      const json = (status: number, body: unknown, headers: Record<string, string> = {}): void => {
        res.writeHead(status, { 'content-type': 'application/json', ...headers });
        res.end(JSON.stringify(body));
      };
      const op = /^\/op\/([^/]+)(\/status)?$/.exec(path);
      if (op !== null && req.method === 'POST' && op[2] === undefined) {
        this.#polls.set(op[1]!, 0);
        return json(202, { accepted: true }, { location: `/op/${op[1]}/status` });
      }
      if (op !== null && req.method === 'GET' && op[2] !== undefined) {
        const n = (this.#polls.get(op[1]!) ?? 0) + 1;
        this.#polls.set(op[1]!, n);
        return json(200, { done: n >= this.opPolls, polls: n });
      }
      json(200, { ok: true });
    });
  }
}

// ------------------------------------------------------------------------------------ processes

/** A line of `--json` output, with the time (performance.now) this process received it. */
export interface OutLine {
  readonly type: string;
  readonly run?: string;
  readonly task?: string | null;
  readonly item?: number | null;
  readonly attempt?: number | null;
  readonly at?: string;
  readonly data?: Record<string, unknown> | null;
  readonly state?: string;
  readonly received: number;
  /** Date.now() at that moment. */
  readonly wall: number;
}

export interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export interface RivetOptions {
  readonly home: string;
  readonly env?: Readonly<Record<string, string>>;
}

/** A running `rivet` command with its NDJSON stdout parsed as it arrives. */
export class RivetProcess {
  readonly child: ChildProcess;
  readonly args: readonly string[];
  readonly spawnedAt = performance.now();
  readonly lines: OutLine[] = [];
  stdout = '';
  stderr = '';
  exitedAt: number | null = null;
  readonly exited: Promise<Exit>;
  readonly #waiters = new Set<() => void>();

  constructor(args: readonly string[], options: RivetOptions) {
    this.args = args;
    this.child = spawn(NODE, [join(REPO, 'bin/rivet.js'), ...args], {
      cwd: REPO,
      env: { ...cleanEnv(), RIVET_HOME: options.home, ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let partial = '';
    this.child.stdout!.on('data', (chunk: Buffer) => {
      const received = performance.now();
      const wall = Date.now();
      const text = partial + chunk.toString('utf8');
      this.stdout += chunk.toString('utf8');
      const parts = text.split('\n');
      partial = parts.pop()!;
      for (const line of parts) {
        if (!line.startsWith('{')) continue;
        try {
          this.lines.push({ ...(JSON.parse(line) as Omit<OutLine, 'received' | 'wall'>), received, wall });
        } catch {
          // a line cut by SIGKILL mid-write: not acknowledged
        }
      }
      this.#notify();
    });
    this.child.stderr!.on('data', (chunk: Buffer) => {
      this.stderr += chunk.toString('utf8');
    });
    live.add(this);
    // 'exit' can come before the last output was read: resolve once the pipes closed too (bounded,
    // in case an orphaned grandchild still holds one open).
    const closed = new Promise<void>((r) => this.child.once('close', () => r()));
    this.exited = new Promise((done) =>
      this.child.once('exit', (code, signal) => {
        this.exitedAt = performance.now();
        live.delete(this);
        void Promise.race([closed, new Promise((r) => setTimeout(r, 1_000))]).then(() => {
          this.#notify();
          done({ code, signal });
        });
      }),
    );
  }

  get pid(): number {
    return this.child.pid!;
  }

  get running(): boolean {
    return this.exitedAt === null;
  }

  #notify(): void {
    for (const w of [...this.#waiters]) w();
  }

  /** Resolves with the first output line matching `pred` (undefined if the process exits first or on timeout). */
  async waitFor(pred: (l: OutLine) => boolean, timeoutMs = 20_000): Promise<OutLine | undefined> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const found = this.lines.find(pred);
      if (found !== undefined) return found;
      if (!this.running || performance.now() > deadline) return undefined;
      await new Promise<void>((done) => {
        const wake = (): void => {
          this.#waiters.delete(wake);
          clearTimeout(timer);
          done();
        };
        const timer = setTimeout(wake, Math.max(1, deadline - performance.now()));
        this.#waiters.add(wake);
      });
    }
  }

  /** SIGKILL, then wait until the process is reaped (a zombie would still look like a live owner). */
  async kill(): Promise<Exit> {
    if (this.running) this.child.kill('SIGKILL');
    return this.exited;
  }

  /** Waits for the exit, failing after `timeoutMs` (the process is killed then). */
  async done(timeoutMs = 60_000): Promise<Exit> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), timeoutMs)));
    const result = await Promise.race([this.exited, timeout]);
    clearTimeout(timer);
    if (result === 'timeout') {
      await this.kill();
      throw new Error(
        `rivet ${this.args.join(' ')} did not finish within ${timeoutMs} ms\nstderr: ${this.stderr}\nstdout tail: ${this.stdout.slice(-2000)}`,
      );
    }
    return result;
  }

  describe(): string {
    return `rivet ${this.args.join(' ')}\n--- stderr\n${this.stderr.slice(-3000)}\n--- stdout (tail)\n${this.stdout.slice(-3000)}`;
  }
}

/** The environment of a spawned rivet, without crash settings inherited from the test runner. */
function cleanEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v === undefined || k.startsWith('RIVET_') || k.startsWith('NODE_TEST') || k === 'NODE_OPTIONS') continue;
    env[k] = v;
  }
  return env;
}

/** Processes started by `rivet()` that have not exited. */
const live = new Set<RivetProcess>();

export function rivet(args: readonly string[], options: RivetOptions): RivetProcess {
  return new RivetProcess(args, options);
}

/** Runs a command to its end and returns it (stdout, stderr, exit). */
export async function rivetDone(
  args: readonly string[],
  options: RivetOptions,
  timeoutMs = 60_000,
): Promise<RivetProcess & { exit: Exit }> {
  const p = rivet(args, options);
  const exit = await p.done(timeoutMs);
  return Object.assign(p, { exit });
}

/** Runs `fn` over `items` with at most `limit` at once. */
export async function pool<T, R>(items: readonly T[], limit: number, fn: (item: T, i: number) => Promise<R>) {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]!, i);
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  } catch (error) {
    // A failed trial leaves its processes behind (a run waiting on an approval never ends): kill
    // them, or they keep the test file, and so the whole suite, from finishing.
    next = items.length;
    for (const p of live) p.child.kill('SIGKILL');
    throw error;
  }
  return results;
}

// ------------------------------------------------------------------------------------ the store

export interface StoreView {
  readonly integrity: string;
  readonly runs: RunRecord[];
  readonly events: Map<string, StoredEvent[]>;
  /** Runs whose event log cannot be read back. */
  readonly unreadable: Map<string, string>;
}

/** Reads the store after (or between) engine processes: integrity check, every run and its events. */
export async function readStore(db: string): Promise<StoreView> {
  const store = new SqliteStore(db);
  try {
    const integrity = store.integrityCheck();
    const runs = await store.listRuns({ limit: 100_000 });
    const events = new Map<string, StoredEvent[]>();
    const unreadable = new Map<string, string>();
    for (const r of runs) {
      try {
        events.set(r.id, await store.readEvents(r.id));
      } catch (error) {
        unreadable.set(r.id, (error as Error).message); // a poisoned log (C7)
      }
    }
    return { integrity, runs, events, unreadable };
  } finally {
    await store.close();
  }
}

let snapshot: { at: number; groups: Map<number, number[]> } | undefined;

/**
 * Processes of a process group that are alive (zombies do not count), read from /proc. One scan
 * of /proc serves every caller for `maxAgeMs` (many trials polling at once would otherwise keep
 * this process busy scanning).
 */
export function groupMembers(pgid: number, maxAgeMs = 0): number[] {
  const now = performance.now();
  if (snapshot === undefined || now - snapshot.at > maxAgeMs) {
    const groups = new Map<number, number[]>();
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      let stat: string;
      try {
        stat = readFileSync(`/proc/${entry}/stat`, 'latin1');
      } catch {
        continue;
      }
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (fields[0] === 'Z' || fields[0] === 'X') continue;
      const group = Number(fields[2]);
      groups.set(group, [...(groups.get(group) ?? []), Number(entry)]);
    }
    snapshot = { at: now, groups };
  }
  return snapshot.groups.get(pgid) ?? [];
}

// ------------------------------------------------------------------------------------ figures

export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

export const mean = (values: readonly number[]): number =>
  values.length === 0 ? NaN : values.reduce((a, b) => a + b, 0) / values.length;

export const ms = (v: number): string => `${Math.round(v)} ms`;
