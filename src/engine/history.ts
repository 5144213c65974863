/**
 * A run's task list as people read it, folded from its event log: one entry per task (or per
 * for_each item) with its state, attempts, times, and why it was skipped or failed. Used by
 * `rivet runs show` and `rivet approve`; the engine itself rebuilds state with RunMachine.
 */
import type { Workflow } from '../model/index.ts';
import type { StoredEvent } from '../store/types.ts';

export interface TaskSummary {
  readonly task: string;
  readonly item: number | null;
  kind: string | null;
  status: string;
  attempts: number;
  startedAt: number | null;
  finishedAt: number | null;
  cached: string | null;
  /** Why it was skipped, the failure message, or the retry time. */
  reason: string | null;
  outputs: unknown;
  /** Form field types of an approval (for `rivet approve --field`). */
  fieldTypes: Record<string, string>;
}

function entry(task: string, item: number | null, workflow?: Workflow): TaskSummary {
  const t = workflow?.task(task);
  const fields =
    (t?.kind === 'approval' ? (t.spec as { fields?: Record<string, { type?: string }> }).fields : undefined) ?? {};
  const fieldTypes: Record<string, string> = {};
  for (const [k, v] of Object.entries(fields)) fieldTypes[k] = v.type ?? 'string';
  return {
    task,
    item,
    kind: t?.kind ?? null,
    status: 'pending',
    attempts: 0,
    startedAt: null,
    finishedAt: null,
    cached: null,
    reason: null,
    outputs: null,
    fieldTypes,
  };
}

export function fold(events: readonly StoredEvent[], workflow?: Workflow): TaskSummary[] {
  const byKey = new Map<string, TaskSummary>();
  const key = (t: string, i: number | null): string => (i === null ? t : `${t}[${i}]`);
  if (workflow !== undefined) for (const t of workflow.tasks) byKey.set(t.id, entry(t.id, null, workflow));
  const get = (t: string, i: number | null): TaskSummary => {
    let s = byKey.get(key(t, i));
    if (s === undefined) {
      s = entry(t, i, workflow);
      byKey.set(key(t, i), s);
    }
    return s;
  };
  for (const e of events) {
    if (e.type === 'run.resumed') {
      for (const r of (e.data?.reset ?? []) as { task: string; item: number | null }[]) {
        for (const [k, s] of byKey)
          if (s.task === r.task && (r.item === null || s.item === r.item))
            byKey.set(k, { ...entry(s.task, s.item, workflow), attempts: s.attempts });
      }
      continue;
    }
    if (e.task === null) continue;
    const d = e.data ?? {};
    if (e.type === 'task.expanded') {
      byKey.delete(e.task);
      (d.items as unknown[]).forEach((_, i) => get(e.task!, i));
      continue;
    }
    const s = get(e.task, e.item);
    switch (e.type) {
      case 'task.started':
        s.status = 'running';
        s.attempts = e.attempt ?? s.attempts + 1;
        s.startedAt = e.at;
        s.reason = null;
        break;
      case 'task.waiting':
        s.status = 'waiting';
        break;
      case 'task.succeeded':
        s.status = 'succeeded';
        s.finishedAt = e.at;
        s.outputs = d.outputs ?? null;
        s.cached = (d.cached as { run?: string } | undefined)?.run ?? null;
        break;
      case 'task.failed': {
        const msg = (d.error as { message?: string } | undefined)?.message ?? 'failed';
        s.finishedAt = e.at;
        if (typeof d.retry_at === 'number') {
          s.status = 'retrying';
          s.reason = `${msg}; retry at ${new Date(d.retry_at).toISOString()}`;
        } else {
          s.status = 'failed';
          s.reason = msg;
        }
        break;
      }
      case 'task.skipped':
        s.status = 'skipped';
        s.reason = typeof d.reason === 'string' ? d.reason : null;
        break;
      case 'task.cancelled':
        s.status = 'cancelled';
        s.finishedAt = e.at;
        break;
      case 'task.interrupted':
        s.status = 'interrupted';
        break;
      default:
        break;
    }
  }
  const order = new Map(workflow?.tasks.map((t, i) => [t.id, i]) ?? []);
  return [...byKey.values()].sort(
    (a, b) => (order.get(a.task) ?? 1e9) - (order.get(b.task) ?? 1e9) || (a.item ?? -1) - (b.item ?? -1),
  );
}
