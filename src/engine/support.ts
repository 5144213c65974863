/** Small pieces of the executor: log-line limits, leftover process groups, --from, child env. */
import { RivetError } from '../errors.ts';
import { killGroup, staleGroupAlive } from '../kinds/process-group.ts';
import { TaskFailure } from '../kinds/types.ts';
import type { RunMachine } from './run-machine.ts';

/** Longest log line kept; longer ones are cut (after redaction) with a marker. */
export const MAX_LOG_LINE = 64 * 1024;

export function cutLine(line: string): string {
  return line.length > MAX_LOG_LINE ? `${line.slice(0, MAX_LOG_LINE)}… [line truncated]` : line;
}

/**
 * Process groups that shell tasks of a dead engine left running (their checkpointed pgid and
 * start time) are killed at recovery, not only by a retry: a task that does not run again (failed
 * after too many interruptions, or its run cancelled while orphaned) must leave nothing behind (C4).
 */
export function killLeftoverGroups(machine: RunMachine): void {
  for (const node of machine.nodes) {
    for (const unit of node.units) {
      if (unit.status !== 'running' && unit.status !== 'waiting') continue;
      const { pgid, start_time: start } = (unit.checkpoint ?? {}) as { pgid?: unknown; start_time?: unknown };
      if (typeof pgid !== 'number') continue;
      try {
        if (staleGroupAlive(pgid, typeof start === 'number' ? start : null)) killGroup(pgid, 'SIGKILL');
      } catch {
        // a group this engine may not signal (RangeError): left to the retry, as before
      }
    }
  }
}

export function safe(fn: () => void): void {
  try {
    fn();
  } catch {
    // A listener never breaks the engine (habit 14).
  }
}

export function defaultChildEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (
      v === undefined ||
      k.startsWith('RIVET_SECRET_') ||
      k === 'RIVET_TOKEN' ||
      k === 'RIVET_ADMIN_TOKEN' ||
      k.startsWith('RIVET_CRASH') ||
      k === 'RIVET_TEST_FAULT'
    )
      continue;
    env[k] = v;
  }
  return env;
}

export function expressionFailure(where: string, error: unknown): TaskFailure {
  return new TaskFailure('expression', `${where}: ${(error as Error).message}`, { retryable: false });
}

/** Why a parsed `--from` names nothing of this run, or null when it is fine. */
export function fromProblem(machine: RunMachine, from: NonNullable<ReturnType<typeof parseFrom>>): string | null {
  const node = machine.node(from.task);
  const name = from.item === null ? from.task : `${from.task}[${from.item}]`;
  if (node === undefined) return `--from ${name}: the run has no task ${from.task}`;
  if (from.item !== null && node.units[from.item]?.item !== from.item) {
    return `--from ${name}: task ${from.task} has no item ${from.item} in this run`;
  }
  if (from.child !== undefined && node.task.kind !== 'workflow') {
    return `--from ${name}/${from.child}: task ${from.task} is not a workflow task`;
  }
  return null;
}

/** `task`, `task[3]` or `task/child_task` (a task of the child run of a workflow task). */
export function parseFrom(from: string | undefined): { task: string; item: number | null; child?: string } | undefined {
  if (from === undefined) return undefined;
  const m = /^([a-z_][a-z0-9_]*)(?:\[(\d+)\])?(?:\/(.+))?$/.exec(from);
  if (m === null) {
    throw new RivetError('RV502', `--from ${JSON.stringify(from)}: expected TASK, TASK[INDEX] or TASK/CHILD_TASK`);
  }
  return {
    task: m[1]!,
    item: m[2] === undefined ? null : Number(m[2]),
    ...(m[3] === undefined ? {} : { child: m[3] }),
  };
}
