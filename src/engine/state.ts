/**
 * A run's state in memory: one TaskNode per task and one Unit per execution of it (a task has one
 * unit, or one per item once a `for_each` has expanded). `applyEvent` is the only way state
 * changes, both live and when a run is rebuilt from its stored event log, and it refuses
 * transitions that cannot happen (a poisoned log fails the run instead of crashing the engine).
 */
import type { Task } from '../model/index.ts';

export type UnitStatus =
  | 'pending' // not started (or waiting for a retry, see retryAt)
  | 'starting' // taken from the ready queue, cache being looked up
  | 'running'
  | 'waiting' // an approval, a sleep, a poll: holds no engine slot
  | 'succeeded'
  | 'failed'
  | 'cancelled';

export type TaskStatus = 'pending' | 'active' | 'succeeded' | 'failed' | 'skipped' | 'cancelled';

export const TERMINAL_TASK: ReadonlySet<TaskStatus> = new Set(['succeeded', 'failed', 'skipped', 'cancelled']);
export const TERMINAL_UNIT: ReadonlySet<UnitStatus> = new Set(['succeeded', 'failed', 'cancelled']);

export interface UnitError {
  readonly reason: string;
  readonly message: string;
  readonly status?: number;
  readonly exit_code?: number | null;
}

export interface Unit {
  readonly node: TaskNode;
  /** Item index for a for_each unit, null otherwise. */
  readonly item: number | null;
  readonly value: unknown;
  status: UnitStatus;
  /** Attempts started so far (interrupted ones included). */
  attempt: number;
  /** Attempts that ended because the engine stopped, not because the task failed. */
  interruptions: number;
  retryAt: number | null;
  outputs: unknown;
  error: UnitError | null;
  checkpoint: unknown;
  artifacts: Readonly<Record<string, string>>;
  cached: { readonly run: string; readonly at: number } | null;
  startedAt: number | null;
  finishedAt: number | null;
}

/** Counts kept in step by every unit transition, so the run's activity is O(1) to read. */
export interface RunStats {
  running: number;
  waiting: number;
}

export interface TaskNode {
  readonly index: number;
  readonly stats: RunStats;
  readonly task: Task;
  status: TaskStatus;
  /** Needs that are not terminal yet (live scheduling; rebuilt after a replay). */
  remaining: number;
  units: Unit[];
  /** Units not finished (terminal) yet. */
  open: number;
  /** Units holding a slot of the task's own `concurrency` (starting, running, waiting). */
  active: number;
  /** Next unit index to look at for a start. */
  cursor: number;
  skipReason: string | null;
  /** In the ready queue now. */
  queued: boolean;
}

export interface RunEvent {
  readonly type: string;
  readonly task: string | null;
  readonly item: number | null;
  readonly attempt: number | null;
  readonly at: number;
  readonly data: Readonly<Record<string, unknown>> | null;
}

export class IllegalEventError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'IllegalEventError';
  }
}

export function newUnit(node: TaskNode, item: number | null, value: unknown): Unit {
  return {
    node,
    item,
    value,
    status: 'pending',
    attempt: 0,
    interruptions: 0,
    retryAt: null,
    outputs: null,
    error: null,
    checkpoint: undefined,
    artifacts: {},
    cached: null,
    startedAt: null,
    finishedAt: null,
  };
}

export function newNode(index: number, task: Task, needs: number, stats: RunStats): TaskNode {
  return {
    index,
    stats,
    task,
    status: 'pending',
    remaining: needs,
    units: [],
    open: 0,
    active: 0,
    cursor: 0,
    skipReason: null,
    queued: false,
  };
}

/** The unit an event names, or an IllegalEventError. */
export function unitOf(node: TaskNode, item: number | null, type: string): Unit {
  const unit = item === null ? node.units[0] : node.units[item];
  if (unit === undefined || unit.item !== item) {
    throw new IllegalEventError(
      `${type} for ${node.task.id}${item === null ? '' : `[${item}]`}, which has no such unit`,
    );
  }
  return unit;
}

function expect(unit: Unit, allowed: readonly UnitStatus[], type: string): void {
  if (!allowed.includes(unit.status)) {
    throw new IllegalEventError(
      `${type} for ${unit.node.task.id}${unit.item === null ? '' : `[${unit.item}]`} in state ${unit.status}`,
    );
  }
}

const ACTIVE: readonly UnitStatus[] = ['starting', 'running', 'waiting'];

function setStatus(unit: Unit, status: UnitStatus): void {
  const node = unit.node;
  const stats = node.stats;
  if (unit.status === 'running' || unit.status === 'starting') stats.running--;
  else if (unit.status === 'waiting') stats.waiting--;
  if (status === 'running' || status === 'starting') stats.running++;
  else if (status === 'waiting') stats.waiting++;
  const was = ACTIVE.includes(unit.status);
  const is = ACTIVE.includes(status);
  if (was && !is) node.active--;
  if (!was && is) node.active++;
  if (!TERMINAL_UNIT.has(unit.status) && TERMINAL_UNIT.has(status)) node.open--;
  if (TERMINAL_UNIT.has(unit.status) && !TERMINAL_UNIT.has(status)) node.open++;
  unit.status = status;
}

export { setStatus as setUnitStatus };

/** A task without for_each becomes active with its one unit. */
export function activate(node: TaskNode): Unit {
  const unit = newUnit(node, null, null);
  node.units = [unit];
  node.open = 1;
  node.active = 0;
  node.cursor = 0;
  node.status = 'active';
  return unit;
}

/** Aggregates a node's status once every unit is terminal. */
export function settleNode(node: TaskNode): void {
  if (node.status !== 'active' || node.open > 0) return;
  let failed = false;
  let cancelled = false;
  for (const u of node.units) {
    if (u.status === 'failed') failed = true;
    else if (u.status === 'cancelled') cancelled = true;
  }
  node.status = failed ? 'failed' : cancelled ? 'cancelled' : 'succeeded';
}

/** Applies one task event to a node. Returns nothing; throws IllegalEventError on a bad transition. */
export function applyTaskEvent(node: TaskNode, e: RunEvent): void {
  const d = e.data ?? {};
  switch (e.type) {
    case 'task.skipped':
      if (node.status !== 'pending') throw new IllegalEventError(`task.skipped for ${node.task.id} in ${node.status}`);
      node.status = 'skipped';
      node.skipReason = typeof d.reason === 'string' ? d.reason : null;
      return;
    case 'task.expanded': {
      if (node.status !== 'pending') throw new IllegalEventError(`task.expanded for ${node.task.id} in ${node.status}`);
      const items = d.items;
      if (!Array.isArray(items)) throw new IllegalEventError(`task.expanded for ${node.task.id} without items`);
      node.units = items.map((v, i) => newUnit(node, i, v));
      node.open = node.units.length;
      node.active = 0;
      node.cursor = 0;
      node.status = 'active';
      settleNode(node);
      return;
    }
    case 'task.cancelled':
      if (e.item === null && node.status === 'pending') {
        node.status = 'cancelled';
        return;
      }
      break;
    default:
      break;
  }
  if (
    node.status === 'pending' &&
    e.item === null &&
    (node.task.document.for_each === undefined || e.type === 'task.failed')
  ) {
    activate(node);
  }
  if (node.status !== 'active') throw new IllegalEventError(`${e.type} for ${node.task.id} in ${node.status}`);
  applyUnitEvent(unitOf(node, e.item, e.type), e);
  settleNode(node);
}

function applyUnitEvent(unit: Unit, e: RunEvent): void {
  const d = e.data ?? {};
  switch (e.type) {
    case 'task.started':
      expect(unit, ['pending', 'starting'], e.type);
      if (e.attempt !== unit.attempt + 1)
        throw new IllegalEventError(`task.started attempt ${e.attempt} after ${unit.attempt}`);
      unit.attempt = e.attempt;
      unit.retryAt = null;
      unit.startedAt = e.at;
      setStatus(unit, 'running');
      return;
    case 'task.waiting':
      expect(unit, ['running', 'waiting'], e.type);
      setStatus(unit, 'waiting');
      return;
    case 'task.checkpoint':
      expect(unit, ['running', 'waiting'], e.type);
      unit.checkpoint = d.state;
      return;
    case 'task.succeeded':
      expect(unit, ['pending', 'starting', 'running', 'waiting'], e.type);
      unit.outputs = d.outputs ?? null;
      unit.artifacts = (d.artifacts as Record<string, string> | undefined) ?? {};
      unit.cached = (d.cached as Unit['cached'] | undefined) ?? null;
      unit.error = null;
      unit.finishedAt = e.at;
      setStatus(unit, 'succeeded');
      return;
    case 'task.failed':
      expect(unit, ['pending', 'starting', 'running', 'waiting'], e.type);
      unit.error = (d.error as UnitError | undefined) ?? { reason: 'error', message: 'failed' };
      unit.finishedAt = e.at;
      if (typeof d.retry_at === 'number') {
        unit.retryAt = d.retry_at;
        setStatus(unit, 'pending');
      } else setStatus(unit, 'failed');
      return;
    case 'task.interrupted':
      expect(unit, ['running', 'waiting'], e.type);
      unit.interruptions++;
      setStatus(unit, 'pending');
      return;
    case 'task.cancelled':
      expect(unit, ['pending', 'starting', 'running', 'waiting'], e.type);
      unit.finishedAt = e.at;
      unit.error = { reason: 'cancelled', message: typeof d.reason === 'string' ? d.reason : 'cancelled' };
      setStatus(unit, 'cancelled');
      return;
    default:
      throw new IllegalEventError(`unknown event type ${e.type}`);
  }
}
