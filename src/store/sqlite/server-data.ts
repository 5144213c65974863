/** The SQLite adapter of `ServerData`, on the store's own connection (see migration 3). */
import type { DatabaseSync, StatementSync } from 'node:sqlite';
import type {
  AuditEntry,
  AuditFilter,
  ProcessState,
  Role,
  ScheduleState,
  ServerData,
  StoredAuditEntry,
  TokenRecord,
  UserRecord,
} from '../server-types.ts';
import type { Row } from './rows.ts';

const num = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));

const rowToUser = (r: Row): UserRecord => ({
  name: String(r.name),
  role: String(r.role) as Role,
  groups: JSON.parse(String(r.groups)) as string[],
  workflows: r.workflows === null ? null : (JSON.parse(String(r.workflows)) as string[]),
  createdAt: Number(r.created_at),
  createdBy: String(r.created_by),
});

const rowToToken = (r: Row): TokenRecord => ({
  id: String(r.id),
  user: String(r.user_name),
  label: String(r.label),
  hash: String(r.hash),
  createdAt: Number(r.created_at),
  expiresAt: num(r.expires_at),
  revokedAt: num(r.revoked_at),
  lastUsedAt: num(r.last_used_at),
});

const rowToAudit = (r: Row): StoredAuditEntry => ({
  seq: Number(r.seq),
  at: Number(r.at),
  actor: String(r.actor),
  action: String(r.action),
  target: r.target === null ? null : String(r.target),
  outcome: String(r.outcome) as AuditEntry['outcome'],
  status: Number(r.status),
  detail: r.detail === null ? null : String(r.detail),
});

export class SqliteServerData implements ServerData {
  readonly #db: DatabaseSync;
  readonly #stmts = new Map<string, StatementSync>();

  constructor(db: DatabaseSync) {
    this.#db = db;
  }

  #stmt(sql: string): StatementSync {
    let s = this.#stmts.get(sql);
    if (s === undefined) {
      s = this.#db.prepare(sql);
      this.#stmts.set(sql, s);
    }
    return s;
  }

  countUsers(): number {
    return Number((this.#stmt('SELECT count(*) AS n FROM users').get() as Row).n);
  }

  putUser(u: UserRecord): void {
    this.#stmt(
      `INSERT INTO users (name, role, groups, workflows, created_at, created_by) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (name) DO UPDATE SET role = excluded.role, groups = excluded.groups, workflows = excluded.workflows`,
    ).run(
      u.name,
      u.role,
      JSON.stringify(u.groups),
      u.workflows === null ? null : JSON.stringify(u.workflows),
      u.createdAt,
      u.createdBy,
    );
  }

  getUser(name: string): UserRecord | undefined {
    const row = this.#stmt('SELECT * FROM users WHERE name = ?').get(name) as Row | undefined;
    return row === undefined ? undefined : rowToUser(row);
  }

  listUsers(): UserRecord[] {
    return (this.#stmt('SELECT * FROM users ORDER BY name').all() as Row[]).map(rowToUser);
  }

  deleteUser(name: string, at: number): boolean {
    this.#db.exec('BEGIN IMMEDIATE');
    try {
      const gone = this.#stmt('DELETE FROM users WHERE name = ?').run(name).changes > 0;
      this.#stmt('UPDATE tokens SET revoked_at = ? WHERE user_name = ? AND revoked_at IS NULL').run(at, name);
      this.#db.exec('COMMIT');
      return gone;
    } catch (error) {
      if (this.#db.isTransaction) this.#db.exec('ROLLBACK');
      throw error;
    }
  }

  putToken(t: TokenRecord): void {
    this.#stmt(
      `INSERT INTO tokens (id, user_name, label, hash, created_at, expires_at, revoked_at, last_used_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(t.id, t.user, t.label, t.hash, t.createdAt, t.expiresAt, t.revokedAt, t.lastUsedAt);
  }

  getToken(id: string): TokenRecord | undefined {
    const row = this.#stmt('SELECT * FROM tokens WHERE id = ?').get(id) as Row | undefined;
    return row === undefined ? undefined : rowToToken(row);
  }

  listTokens(user?: string): TokenRecord[] {
    const rows =
      user === undefined
        ? this.#stmt('SELECT * FROM tokens ORDER BY created_at, id').all()
        : this.#stmt('SELECT * FROM tokens WHERE user_name = ? ORDER BY created_at, id').all(user);
    return (rows as Row[]).map(rowToToken);
  }

  revokeToken(id: string, at: number): boolean {
    return this.#stmt('UPDATE tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL').run(at, id).changes > 0;
  }

  touchToken(id: string, at: number): void {
    this.#stmt('UPDATE tokens SET last_used_at = ? WHERE id = ?').run(at, id);
  }

  appendAudit(entries: readonly AuditEntry[]): void {
    if (entries.length === 0) return;
    const insert = this.#stmt(
      'INSERT INTO audit (at, actor, action, target, outcome, status, detail) VALUES (?, ?, ?, ?, ?, ?, ?)',
    );
    this.#db.exec('BEGIN IMMEDIATE');
    try {
      for (const e of entries) insert.run(e.at, e.actor, e.action, e.target, e.outcome, e.status, e.detail);
      this.#db.exec('COMMIT');
    } catch (error) {
      if (this.#db.isTransaction) this.#db.exec('ROLLBACK');
      throw error;
    }
  }

  listAudit(filter: AuditFilter = {}): StoredAuditEntry[] {
    const where: string[] = [];
    const values: (string | number)[] = [];
    const add = (clause: string, value: string | number | undefined): void => {
      if (value === undefined) return;
      where.push(clause);
      values.push(value);
    };
    add('actor = ?', filter.actor);
    add('action = ?', filter.action);
    add('outcome = ?', filter.outcome);
    add('at >= ?', filter.since);
    add('at < ?', filter.until);
    add('seq < ?', filter.before);
    const sql = `SELECT * FROM audit ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY seq DESC LIMIT ?`;
    return (this.#db.prepare(sql).all(...values, filter.limit ?? 50) as Row[]).map(rowToAudit);
  }

  getSchedule(id: string): ScheduleState | undefined {
    const row = this.#stmt('SELECT * FROM schedules WHERE id = ?').get(id) as Row | undefined;
    return row === undefined ? undefined : { id, paused: Number(row.paused) === 1, lastTick: num(row.last_tick) };
  }

  setScheduleTick(id: string, tick: number, at: number): void {
    this.#stmt(
      `INSERT INTO schedules (id, paused, last_tick, updated_at) VALUES (?, 0, ?, ?)
       ON CONFLICT (id) DO UPDATE SET last_tick = max(coalesce(last_tick, 0), excluded.last_tick), updated_at = excluded.updated_at`,
    ).run(id, tick, at);
  }

  setSchedulePaused(id: string, paused: boolean, at: number): void {
    this.#stmt(
      `INSERT INTO schedules (id, paused, last_tick, updated_at) VALUES (?, ?, NULL, ?)
       ON CONFLICT (id) DO UPDATE SET paused = excluded.paused, updated_at = excluded.updated_at`,
    ).run(id, paused ? 1 : 0, at);
  }

  getProcess(name: string): ProcessState | undefined {
    const row = this.#stmt('SELECT * FROM processes WHERE name = ?').get(name) as Row | undefined;
    return row === undefined ? undefined : rowToProcess(row);
  }

  listProcesses(): ProcessState[] {
    return (this.#stmt('SELECT * FROM processes ORDER BY name').all() as Row[]).map(rowToProcess);
  }

  putProcess(p: ProcessState, at: number): void {
    this.#stmt(
      `INSERT INTO processes (name, desired, pgid, pid_start, updated_at) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (name) DO UPDATE SET desired = excluded.desired, pgid = excluded.pgid,
         pid_start = excluded.pid_start, updated_at = excluded.updated_at`,
    ).run(p.name, p.desired, p.pgid, p.pidStart, at);
  }
}

const rowToProcess = (r: Row): ProcessState => ({
  name: String(r.name),
  desired: String(r.desired) as ProcessState['desired'],
  pgid: num(r.pgid),
  pidStart: r.pid_start === null ? null : String(r.pid_start),
});
