/**
 * What the server keeps beside runs: users and their API tokens, the audit log, schedule ticks
 * and the desired state of processes. A store adapter provides it next to its `Store`
 * (`serverData()`), in the same database, so one backup holds everything.
 */

export const ROLES = ['viewer', 'operator', 'approver', 'admin'] as const;
export type Role = (typeof ROLES)[number];

export interface UserRecord {
  readonly name: string;
  readonly role: Role;
  /** Groups named in workflow `permissions` and approval `approvers`. */
  readonly groups: readonly string[];
  /** Workflows this user may see at all (null: every workflow its permissions allow). */
  readonly workflows: readonly string[] | null;
  readonly createdAt: number;
  readonly createdBy: string;
}

export interface TokenRecord {
  readonly id: string;
  readonly user: string;
  readonly label: string;
  /** SHA-256 of the token's secret part, hex. The secret itself is never stored. */
  readonly hash: string;
  readonly createdAt: number;
  readonly expiresAt: number | null;
  readonly revokedAt: number | null;
  readonly lastUsedAt: number | null;
}

export interface AuditEntry {
  readonly at: number;
  /** The user name, or `anonymous` for a request without valid authentication. */
  readonly actor: string;
  /** The API operation (its OpenAPI operationId). */
  readonly action: string;
  readonly target: string | null;
  readonly outcome: 'allowed' | 'denied' | 'failed';
  readonly status: number;
  readonly detail: string | null;
}

export interface StoredAuditEntry extends AuditEntry {
  readonly seq: number;
}

export interface AuditFilter {
  readonly actor?: string;
  readonly action?: string;
  readonly outcome?: AuditEntry['outcome'];
  readonly since?: number;
  readonly until?: number;
  /** Entries older than this sequence number (cursor pagination, newest first). */
  readonly before?: number;
  readonly limit?: number;
}

export interface ScheduleState {
  readonly id: string;
  readonly paused: boolean;
  /** The scheduled time of the last tick handled (fired or skipped by the catch-up policy), ms. */
  readonly lastTick: number | null;
}

export interface ProcessState {
  readonly name: string;
  readonly desired: 'running' | 'stopped';
  /** The process group of the last start, to kill after a server crash. */
  readonly pgid: number | null;
  readonly pidStart: string | null;
}

export interface ServerData {
  countUsers(): number;
  putUser(user: UserRecord): void;
  getUser(name: string): UserRecord | undefined;
  listUsers(): UserRecord[];
  /** Deletes the user and revokes its tokens; false when there was none. */
  deleteUser(name: string, at: number): boolean;

  putToken(token: TokenRecord): void;
  getToken(id: string): TokenRecord | undefined;
  listTokens(user?: string): TokenRecord[];
  revokeToken(id: string, at: number): boolean;
  touchToken(id: string, at: number): void;

  /** Appends entries in one transaction. */
  appendAudit(entries: readonly AuditEntry[]): void;
  listAudit(filter?: AuditFilter): StoredAuditEntry[];

  getSchedule(id: string): ScheduleState | undefined;
  /** Records the last tick handled; only moves forward (a stale writer cannot move it back). */
  setScheduleTick(id: string, tick: number, at: number): void;
  setSchedulePaused(id: string, paused: boolean, at: number): void;

  getProcess(name: string): ProcessState | undefined;
  listProcesses(): ProcessState[];
  putProcess(state: ProcessState, at: number): void;
}
