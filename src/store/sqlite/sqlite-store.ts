/**
 * The embedded store: one SQLite file through `node:sqlite`, in WAL mode. SQLite has one
 * connection per process here and its calls are synchronous, so a batch is one short
 * `BEGIN IMMEDIATE … COMMIT` with prepared statements; other processes (a second `rivet run`,
 * `rivet approve`) wait on the busy timeout. `synchronous=NORMAL` survives a process crash;
 * `FULL` also survives power loss (RELIABILITY.md section 5, decision 1).
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { DatabaseSync, type StatementSync } from 'node:sqlite';
import { currentOwner, ownerAlive } from '../owner.ts';
import {
  type CacheEntry,
  type ClaimResult,
  type Command,
  LostOwnershipError,
  type NewEvent,
  type Owner,
  type RunFilter,
  type RunRecord,
  type Store,
  type StoredEvent,
  type StoredLogLine,
  type WorkflowVersionRecord,
  type WriteBatch,
} from '../types.ts';
import { MIGRATIONS } from './migrations.ts';
import { SqliteServerData } from './server-data.ts';
import { rowToCache, rowToCommand, rowToEvent, rowToLog, rowToRun, type Row } from './rows.ts';

export interface SqliteStoreOptions {
  /** `NORMAL` (default): safe against process crashes. `FULL`: also against power loss. */
  readonly synchronous?: 'NORMAL' | 'FULL';
  /** How long to wait for another process's write lock (ms). */
  readonly busyTimeoutMs?: number;
  /** Test hooks: called inside a write transaction (fault and crash injection). */
  readonly hooks?: {
    readonly midTransaction?: () => void;
    readonly beforeCommit?: () => void;
  };
  /** A foreign owner counts as gone once its heartbeat is older than this (other hosts only). */
  readonly leaseMs?: number;
}

const json = (v: unknown): string => JSON.stringify(v);

/** Runs `fn`, retrying for up to 5 s while SQLite says the database is locked or busy. */
function whileLocked(fn: () => void): void {
  const deadline = Date.now() + 5_000;
  for (let wait = 5; ; wait = Math.min(wait * 2, 200)) {
    try {
      fn();
      return;
    } catch (error) {
      const locked = /database is locked|SQLITE_BUSY/i.test((error as Error).message);
      if (!locked || Date.now() > deadline) throw error;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, wait);
    }
  }
}

function pushEvent(values: (string | number | null)[], e: NewEvent): void {
  values.push(e.runId, e.type, e.task, e.item, e.attempt, e.at, e.data === null ? null : json(e.data));
}

export class SqliteStore implements Store {
  readonly capabilities = { multiWorker: false, name: 'sqlite' } as const;
  readonly path: string;
  readonly #db: DatabaseSync;
  readonly #options: SqliteStoreOptions;
  readonly #stmts = new Map<string, StatementSync>();

  constructor(path: string, options: SqliteStoreOptions = {}) {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    this.path = path;
    this.#options = options;
    this.#db = new DatabaseSync(path, { timeout: options.busyTimeoutMs ?? 10_000 });
    // Switching to WAL, and reading the WAL index while another process opens or closes the
    // file, can answer "database is locked" without waiting on the busy timeout: retry briefly.
    whileLocked(() => this.#db.exec('PRAGMA journal_mode = WAL'));
    this.#db.exec(`PRAGMA synchronous = ${options.synchronous ?? 'NORMAL'}`);
    this.#db.exec('PRAGMA foreign_keys = OFF');
    whileLocked(() => this.#migrate());
  }

  /** The schema version in the file (the number of the last migration applied). */
  get schemaVersion(): number {
    return Number((this.#db.prepare('PRAGMA user_version').get() as Row).user_version);
  }

  #migrate(): void {
    const current = this.schemaVersion;
    const latest = MIGRATIONS.at(-1)!.version;
    if (current > latest) {
      throw new Error(
        `the store ${this.path} has schema version ${current}, newer than this Rivet knows (${latest}); upgrade Rivet`,
      );
    }
    for (const m of MIGRATIONS) {
      if (m.version <= current) continue;
      this.#db.exec('BEGIN IMMEDIATE');
      try {
        // Another process opening the same new store may have applied it while this one waited.
        if (this.schemaVersion >= m.version) {
          this.#db.exec('COMMIT');
          continue;
        }
        this.#db.exec(m.sql);
        this.#db.exec(`PRAGMA user_version = ${m.version}`);
        this.#db.exec('COMMIT');
      } catch (error) {
        this.#db.exec('ROLLBACK');
        throw new Error(`migration ${m.version} (${m.name}) failed: ${(error as Error).message}`, { cause: error });
      }
    }
  }

  #stmt(sql: string): StatementSync {
    let s = this.#stmts.get(sql);
    if (s === undefined) {
      s = this.#db.prepare(sql);
      this.#stmts.set(sql, s);
    }
    return s;
  }

  #tx<T>(fn: () => T): T {
    this.#db.exec('BEGIN IMMEDIATE');
    try {
      const result = fn();
      this.#options.hooks?.beforeCommit?.();
      this.#db.exec('COMMIT');
      return result;
    } catch (error) {
      if (this.#db.isTransaction) this.#db.exec('ROLLBACK');
      throw error;
    }
  }

  async close(): Promise<void> {
    if (this.#db.isOpen) this.#db.close();
  }

  #serverData: SqliteServerData | undefined;

  /** Users, tokens, audit, schedules and processes of the server, in the same database. */
  serverData(): SqliteServerData {
    this.#serverData ??= new SqliteServerData(this.#db);
    return this.#serverData;
  }

  /** `PRAGMA integrity_check` (crash tests run it after every kill). */
  integrityCheck(): string {
    return String((this.#db.prepare('PRAGMA integrity_check').get() as Row).integrity_check);
  }

  /** A setting of this connection (`synchronous` is per connection: tests read it here). */
  setting(name: 'journal_mode' | 'synchronous' | 'busy_timeout'): unknown {
    return Object.values(this.#db.prepare(`PRAGMA ${name}`).get() as Row)[0];
  }

  async saveWorkflowVersion(r: WorkflowVersionRecord): Promise<void> {
    this.#stmt(
      `INSERT INTO workflow_versions (version, name, file, source, created_at, validated) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (version) DO UPDATE SET validated = coalesce(excluded.validated, validated)`,
    ).run(r.version, r.name, r.file, r.source, r.createdAt, r.validated ?? null);
  }

  async getWorkflowVersion(version: string): Promise<WorkflowVersionRecord | undefined> {
    const row = this.#stmt('SELECT * FROM workflow_versions WHERE version = ?').get(version) as Row | undefined;
    if (row === undefined) return undefined;
    return {
      version: String(row.version),
      name: String(row.name),
      file: String(row.file),
      source: String(row.source),
      createdAt: Number(row.created_at),
      validated: row.validated === null || row.validated === undefined ? null : String(row.validated),
    };
  }

  async write(batch: WriteBatch, fences: ReadonlyMap<string, number>): Promise<void> {
    this.#tx(() => {
      this.#checkFences(batch, fences);
      for (const r of batch.runs ?? []) {
        this.#stmt(
          `INSERT INTO runs (id, workflow, version, state, trigger, inputs, parent_run, parent_task, concurrency_key, created_at)
           VALUES (?, ?, ?, 'queued', ?, ?, ?, ?, ?, ?)`,
        ).run(
          r.id,
          r.workflow,
          r.version,
          r.trigger,
          json(r.inputs),
          r.parentRun,
          r.parentTask,
          r.concurrencyKey,
          r.createdAt,
        );
      }
      this.#insertEvents(batch.events ?? []);
      this.#options.hooks?.midTransaction?.();
      for (const u of batch.updates ?? []) this.#updateRun(u);
      this.#insertLogs(batch);
      for (const c of batch.cache ?? []) {
        this.#stmt(
          `INSERT INTO cache (key, run_id, task, item, outputs, artifacts, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT (key) DO UPDATE SET run_id = excluded.run_id, task = excluded.task, item = excluded.item,
             outputs = excluded.outputs, artifacts = excluded.artifacts, created_at = excluded.created_at, expires_at = excluded.expires_at`,
        ).run(c.key, c.runId, c.task, c.item, json(c.outputs), json(c.artifacts), c.createdAt, c.expiresAt);
      }
      for (const id of batch.commandsDone ?? []) this.#stmt('DELETE FROM commands WHERE id = ?').run(id);
      for (const s of batch.releaseSlots ?? []) {
        this.#stmt('DELETE FROM slots WHERE key = ? AND run_id = ?').run(s.key, s.runId);
      }
    });
  }

  #checkFences(batch: WriteBatch, fences: ReadonlyMap<string, number>): void {
    const touched = new Set<string>();
    for (const e of batch.events ?? []) touched.add(e.runId);
    for (const u of batch.updates ?? []) touched.add(u.id);
    for (const l of batch.logs ?? []) touched.add(l.runId); // a zombie's task output is a write too
    for (const r of batch.runs ?? []) touched.delete(r.id);
    const check = this.#stmt('SELECT epoch FROM runs WHERE id = ?');
    for (const id of touched) {
      const fence = fences.get(id);
      if (fence === undefined) continue;
      const row = check.get(id) as Row | undefined;
      if (row === undefined || Number(row.epoch) !== fence) throw new LostOwnershipError(id);
    }
  }

  /** Events go in 64 rows per statement: a 10,000-task run writes 20,000 of them. */
  #insertEvents(events: readonly NewEvent[]): void {
    const CHUNK = 64;
    const sql = (n: number): string =>
      `INSERT INTO events (run_id, type, task, item, attempt, at, data) VALUES ${Array(n).fill('(?, ?, ?, ?, ?, ?, ?)').join(', ')}`;
    const values: (string | number | null)[] = [];
    let i = 0;
    for (; i + CHUNK <= events.length; i += CHUNK) {
      values.length = 0;
      for (let j = i; j < i + CHUNK; j++) pushEvent(values, events[j]!);
      this.#stmt(sql(CHUNK)).run(...values);
    }
    const one = this.#stmt(sql(1));
    for (; i < events.length; i++) {
      values.length = 0;
      pushEvent(values, events[i]!);
      one.run(...values);
    }
  }

  #insertLogs(batch: WriteBatch): void {
    const logs = batch.logs ?? [];
    if (logs.length === 0) return;
    const insert = this.#stmt(
      'INSERT INTO logs (run_id, task, item, attempt, stream, at, line) VALUES (?, ?, ?, ?, ?, ?, ?)',
    );
    for (const l of logs) insert.run(l.runId, l.task, l.item, l.attempt, l.stream, l.at, l.line);
  }

  #updateRun(u: WriteBatch['updates'] extends readonly (infer U)[] | undefined ? U : never): void {
    const sets: string[] = [];
    const values: (string | number | null)[] = [];
    const add = (column: string, value: string | number | null): void => {
      sets.push(`${column} = ?`);
      values.push(value);
    };
    if (u.state !== undefined) add('state', u.state);
    if (u.startedAt !== undefined) add('started_at', u.startedAt);
    if (u.finishedAt !== undefined) add('finished_at', u.finishedAt);
    if (u.outputs !== undefined) add('outputs', u.outputs === null ? null : json(u.outputs));
    if (u.error !== undefined) add('error', u.error);
    if (sets.length === 0) return;
    this.#stmt(`UPDATE runs SET ${sets.join(', ')} WHERE id = ?`).run(...values, u.id);
  }

  async claimRun(runId: string, owner: Owner): Promise<ClaimResult> {
    return this.#tx((): ClaimResult => {
      const row = this.#stmt('SELECT owner, epoch, heartbeat_at FROM runs WHERE id = ?').get(runId) as Row | undefined;
      if (row === undefined) throw new Error(`no run ${runId}`);
      const held = row.owner === null ? null : (JSON.parse(String(row.owner)) as Owner);
      if (held !== null && held.id !== owner.id && this.#alive(held, row.heartbeat_at)) {
        return { ok: false, owner: held, reason: `run ${runId} is being executed by pid ${held.pid} on ${held.host}` };
      }
      const epoch = Number(row.epoch) + 1;
      this.#stmt('UPDATE runs SET owner = ?, epoch = ?, heartbeat_at = ? WHERE id = ?').run(
        json(owner),
        epoch,
        Date.now(),
        runId,
      );
      return { ok: true, epoch };
    });
  }

  #alive(owner: Owner, heartbeatAt: unknown): boolean {
    if (!ownerAlive(owner)) return false;
    const lease = this.#options.leaseMs ?? 60_000;
    // A pid plus start time settles it on this host; another host's owner lives by its heartbeat.
    const pidChecked = owner.pidStart !== null && owner.host === currentOwner().host;
    return heartbeatAt === null || Date.now() - Number(heartbeatAt) < lease || pidChecked;
  }

  async releaseRun(runId: string, epoch: number): Promise<void> {
    this.#stmt('UPDATE runs SET owner = NULL WHERE id = ? AND epoch = ?').run(runId, epoch);
  }

  async heartbeat(owner: Owner, runIds: readonly string[], at: number): Promise<void> {
    if (runIds.length === 0) return;
    this.#tx(() => {
      const s = this.#stmt("UPDATE runs SET heartbeat_at = ? WHERE id = ? AND json_extract(owner, '$.id') = ?");
      for (const id of runIds) s.run(at, id, owner.id);
    });
  }

  async getRun(runId: string): Promise<RunRecord | undefined> {
    const row = this.#stmt('SELECT * FROM runs WHERE id = ?').get(runId) as Row | undefined;
    return row === undefined ? undefined : rowToRun(row);
  }

  async findRunId(prefix: string): Promise<string | string[] | undefined> {
    const exact = this.#stmt('SELECT id FROM runs WHERE id = ?').get(prefix) as Row | undefined;
    if (exact !== undefined) return String(exact.id);
    const rows = this.#stmt("SELECT id FROM runs WHERE id LIKE ? ESCAPE '\\' ORDER BY created_at DESC LIMIT 10").all(
      prefix.replace(/[\\%_]/g, (c) => `\\${c}`) + '%',
    ) as Row[];
    if (rows.length === 0) return undefined;
    return rows.length === 1 ? String(rows[0]!.id) : rows.map((r) => String(r.id));
  }

  async listRuns(filter: RunFilter = {}): Promise<RunRecord[]> {
    const where: string[] = [];
    const values: (string | number)[] = [];
    if (filter.workflow !== undefined) {
      where.push('workflow = ?');
      values.push(filter.workflow);
    }
    if (filter.state !== undefined) {
      const states = typeof filter.state === 'string' ? [filter.state] : filter.state;
      where.push(`state IN (${states.map(() => '?').join(', ')})`);
      values.push(...states);
    }
    if (filter.topLevel === true) where.push('parent_run IS NULL');
    if (filter.workflows !== undefined) {
      where.push(filter.workflows.length === 0 ? '0' : `workflow IN (${filter.workflows.map(() => '?').join(', ')})`);
      values.push(...filter.workflows);
    }
    if (filter.trigger !== undefined) {
      where.push('trigger = ?');
      values.push(filter.trigger);
    }
    if (filter.createdAfter !== undefined) {
      where.push('created_at >= ?');
      values.push(filter.createdAfter);
    }
    if (filter.createdBefore !== undefined) {
      where.push('created_at < ?');
      values.push(filter.createdBefore);
    }
    if (filter.before !== undefined) {
      where.push('(created_at, id) < (SELECT created_at, id FROM runs WHERE id = ?)');
      values.push(filter.before);
    }
    const sql = `SELECT * FROM runs ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''}
      ORDER BY created_at DESC, id DESC LIMIT ?`;
    return (this.#db.prepare(sql).all(...values, filter.limit ?? 50) as Row[]).map(rowToRun);
  }

  async listWorkflowNames(): Promise<string[]> {
    return (this.#stmt('SELECT DISTINCT workflow FROM runs ORDER BY workflow').all() as Row[]).map((r) =>
      String(r.workflow),
    );
  }

  async listChildRuns(runId: string): Promise<RunRecord[]> {
    return (this.#stmt('SELECT * FROM runs WHERE parent_run = ? ORDER BY created_at, id').all(runId) as Row[]).map(
      rowToRun,
    );
  }

  async readEvents(runId: string, afterSeq = 0): Promise<StoredEvent[]> {
    return (
      this.#stmt('SELECT * FROM events WHERE run_id = ? AND seq > ? ORDER BY seq').all(runId, afterSeq) as Row[]
    ).map(rowToEvent);
  }

  async readLogs(
    runId: string,
    options: { task?: string; afterSeq?: number; limit?: number } = {},
  ): Promise<StoredLogLine[]> {
    const rows = (
      options.task === undefined
        ? this.#stmt('SELECT * FROM logs WHERE run_id = ? AND seq > ? ORDER BY seq LIMIT ?').all(
            runId,
            options.afterSeq ?? 0,
            options.limit ?? 1_000_000,
          )
        : this.#stmt('SELECT * FROM logs WHERE run_id = ? AND task = ? AND seq > ? ORDER BY seq LIMIT ?').all(
            runId,
            options.task,
            options.afterSeq ?? 0,
            options.limit ?? 1_000_000,
          )
    ) as Row[];
    return rows.map(rowToLog);
  }

  async lookupCache(key: string, now: number): Promise<CacheEntry | undefined> {
    const row = this.#stmt('SELECT * FROM cache WHERE key = ? AND (expires_at IS NULL OR expires_at > ?)').get(
      key,
      now,
    ) as Row | undefined;
    return row === undefined ? undefined : rowToCache(row);
  }

  async postCommand(c: Omit<Command, 'id'>): Promise<number> {
    const r = this.#stmt(
      'INSERT INTO commands (run_id, type, task, item, data, created_at) VALUES (?, ?, ?, ?, ?, ?)',
    ).run(c.runId, c.type, c.task, c.item, json(c.data), c.createdAt);
    return Number(r.lastInsertRowid);
  }

  async takeCommands(runIds: readonly string[]): Promise<Command[]> {
    if (runIds.length === 0) return [];
    const rows = this.#db
      .prepare(`SELECT * FROM commands WHERE run_id IN (${runIds.map(() => '?').join(', ')}) ORDER BY id`)
      .all(...runIds) as Row[];
    return rows.map(rowToCommand);
  }

  async acquireSlot(key: string, limit: number, runId: string, isAlive: (owner: Owner) => boolean): Promise<boolean> {
    return this.#tx(() => {
      const holders = this.#stmt(
        'SELECT s.run_id, r.state, r.owner FROM slots s LEFT JOIN runs r ON r.id = s.run_id WHERE s.key = ?',
      ).all(key) as Row[];
      let held = 0;
      for (const h of holders) {
        if (h.run_id === runId) return true;
        const owner = h.owner === null ? null : (JSON.parse(String(h.owner)) as Owner);
        const stale = h.state === null || ['succeeded', 'failed', 'cancelled'].includes(String(h.state));
        if (stale || (owner !== null && !isAlive(owner))) {
          this.#stmt('DELETE FROM slots WHERE key = ? AND run_id = ?').run(key, String(h.run_id));
        } else held++;
      }
      if (held >= limit) return false;
      this.#stmt('INSERT INTO slots (key, run_id) VALUES (?, ?)').run(key, runId);
      return true;
    });
  }
}
