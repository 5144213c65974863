/**
 * The Store interface: what the engine needs from durable storage, and nothing more. The run's
 * append-only event log is the source of truth (the timeline, the audit trail, the live stream
 * and crash recovery all read it); the run row is a summary kept in step in the same
 * transaction.
 *
 * Ownership: one engine executes a run at a time. `claimRun` takes the run and bumps its
 * `epoch` (a fencing token); every later `write` for that run is conditional on the epoch, so an
 * engine that lost a run (crashed, paused, partitioned) cannot overwrite the new owner's work.
 * The SQLite adapter checks liveness of the old owner by pid; a PostgreSQL adapter with many
 * workers uses lease expiry instead, behind the same calls (see `capabilities`).
 */

export type RunState = 'queued' | 'running' | 'waiting' | 'succeeded' | 'failed' | 'cancelled';
export const TERMINAL_RUN_STATES: ReadonlySet<RunState> = new Set(['succeeded', 'failed', 'cancelled']);

/** Who executes a run: a process on a host. */
export interface Owner {
  readonly id: string;
  readonly host: string;
  readonly pid: number;
  /** Identifies the process beyond its pid (Linux start time), so a reused pid is not taken for alive. */
  readonly pidStart: string | null;
}

export interface WorkflowVersionRecord {
  readonly version: string;
  readonly name: string;
  readonly file: string;
  readonly source: string;
  readonly createdAt: number;
  /**
   * The validated document as JSON with the signature of what validated it (Rivet version and
   * kinds), so a version is not validated twice. Null when not kept.
   */
  readonly validated?: string | null;
}

export interface NewRun {
  readonly id: string;
  readonly workflow: string;
  readonly version: string;
  readonly trigger: string;
  readonly inputs: Readonly<Record<string, unknown>>;
  readonly parentRun: string | null;
  readonly parentTask: string | null;
  readonly concurrencyKey: string | null;
  readonly createdAt: number;
}

export interface RunRecord extends NewRun {
  readonly state: RunState;
  readonly startedAt: number | null;
  readonly finishedAt: number | null;
  readonly outputs: Readonly<Record<string, unknown>> | null;
  readonly error: string | null;
  readonly owner: Owner | null;
  readonly epoch: number;
  readonly heartbeatAt: number | null;
}

/** An event as the engine appends it. `data` is JSON-serialisable and already redacted. */
export interface NewEvent {
  readonly runId: string;
  readonly type: string;
  readonly task: string | null;
  readonly item: number | null;
  readonly attempt: number | null;
  readonly at: number;
  readonly data: Readonly<Record<string, unknown>> | null;
}

export interface StoredEvent extends NewEvent {
  /** Position in the store's log: increasing, unique across runs (SSE ids, `after` cursors). */
  readonly seq: number;
}

export interface LogLine {
  readonly runId: string;
  readonly task: string;
  readonly item: number | null;
  readonly attempt: number;
  readonly stream: 'stdout' | 'stderr' | 'info';
  readonly at: number;
  readonly line: string;
}

export interface StoredLogLine extends LogLine {
  readonly seq: number;
}

export interface CacheEntry {
  readonly key: string;
  readonly runId: string;
  readonly task: string;
  readonly item: number | null;
  readonly outputs: unknown;
  readonly artifacts: Readonly<Record<string, string>>;
  readonly createdAt: number;
  readonly expiresAt: number | null;
}

export interface RunUpdate {
  readonly id: string;
  readonly state?: RunState;
  readonly startedAt?: number;
  readonly finishedAt?: number | null;
  readonly outputs?: Readonly<Record<string, unknown>> | null;
  readonly error?: string | null;
}

/** Everything one engine tick writes, committed as one transaction. */
export interface WriteBatch {
  readonly runs?: readonly NewRun[];
  readonly events?: readonly NewEvent[];
  readonly updates?: readonly RunUpdate[];
  readonly logs?: readonly LogLine[];
  readonly cache?: readonly CacheEntry[];
  /** Commands the batch has handled (deleted in the same transaction). */
  readonly commandsDone?: readonly number[];
  /** Concurrency slots released by runs that ended. */
  readonly releaseSlots?: readonly { readonly key: string; readonly runId: string }[];
}

/** A request for a run's owner from another process: approve, cancel. */
export interface Command {
  readonly id: number;
  readonly runId: string;
  readonly type: 'decide' | 'cancel';
  readonly task: string | null;
  readonly item: number | null;
  readonly data: Readonly<Record<string, unknown>>;
  readonly createdAt: number;
}

export interface RunFilter {
  readonly workflow?: string;
  /** Only runs of these workflows (what a caller may see); an empty list matches nothing. */
  readonly workflows?: readonly string[];
  /** Runs started by this trigger (`manual`, `schedule`, `api`...). */
  readonly trigger?: string;
  /** Runs created at or after / before these times (ms since the epoch). */
  readonly createdAfter?: number;
  readonly createdBefore?: number;
  readonly state?: RunState | readonly RunState[];
  /** Only top-level runs (not children of a `workflow` task). */
  readonly topLevel?: boolean;
  readonly limit?: number;
  /** Runs created before this run (cursor pagination, newest first). */
  readonly before?: string;
}

export type ClaimResult =
  | { readonly ok: true; readonly epoch: number }
  | { readonly ok: false; readonly owner: Owner; readonly reason: string };

/** Thrown by `write` when a run's epoch moved on: another engine owns it now. */
export class LostOwnershipError extends Error {
  readonly runId: string;
  constructor(runId: string) {
    super(`run ${runId} is now executed by another engine; this engine stops working on it`);
    this.name = 'LostOwnershipError';
    this.runId = runId;
  }
}

export interface StoreCapabilities {
  /** Several engine processes may execute runs of this store at once (leases, SKIP LOCKED). */
  readonly multiWorker: boolean;
  readonly name: string;
}

export interface Store {
  readonly capabilities: StoreCapabilities;
  close(): Promise<void>;

  saveWorkflowVersion(record: WorkflowVersionRecord): Promise<void>;
  getWorkflowVersion(version: string): Promise<WorkflowVersionRecord | undefined>;

  /** Commits the batch atomically. `fences` maps run ids to the epoch this engine holds. */
  write(batch: WriteBatch, fences: ReadonlyMap<string, number>): Promise<void>;

  /** Takes ownership of a run (new, interrupted, or resumed); refuses while a live owner holds it. */
  claimRun(runId: string, owner: Owner): Promise<ClaimResult>;
  /** Gives a run up (engine stopping with the run unfinished), fenced. */
  releaseRun(runId: string, epoch: number): Promise<void>;
  heartbeat(owner: Owner, runIds: readonly string[], at: number): Promise<void>;

  getRun(runId: string): Promise<RunRecord | undefined>;
  /** Resolves a unique id prefix (CLI convenience); undefined when none or ambiguous. */
  findRunId(prefix: string): Promise<string | string[] | undefined>;
  listRuns(filter?: RunFilter): Promise<RunRecord[]>;
  /** The names of the workflows that have runs. */
  listWorkflowNames(): Promise<string[]>;
  /** Children of a run (`workflow` tasks), oldest first. */
  listChildRuns(runId: string): Promise<RunRecord[]>;
  readEvents(runId: string, afterSeq?: number): Promise<StoredEvent[]>;
  readLogs(runId: string, options?: { task?: string; afterSeq?: number; limit?: number }): Promise<StoredLogLine[]>;

  lookupCache(key: string, now: number): Promise<CacheEntry | undefined>;

  postCommand(command: Omit<Command, 'id'>): Promise<number>;
  takeCommands(runIds: readonly string[]): Promise<Command[]>;

  /** Takes one of `limit` slots of a named concurrency key for a run; false when all are held. */
  acquireSlot(key: string, limit: number, runId: string, isAlive: (owner: Owner) => boolean): Promise<boolean>;
}
