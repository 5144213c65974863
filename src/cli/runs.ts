/**
 * `rivet runs list|show|logs|resume|cancel` and `rivet approve`, on the local store. Run ids may
 * be shortened to any unique prefix.
 */
import { userInfo } from 'node:os';
import { RivetError } from '../errors.ts';
import { fold, type TaskSummary } from '../engine/history.ts';
import { parseFrom } from '../engine/engine.ts';
import type { RunRecord, Store } from '../store/types.ts';
import { fromText } from '../model/inputs.ts';
import { type LocalOptions, openLocal } from './local.ts';
import { EXIT } from './main.ts';
import { type Io, paint, printable, printableLine } from './output.ts';
import { duration, unitName } from './report.ts';
import { exitCode, follow, makeReporter, storedWorkflow } from './run.ts';

export async function resolveRunId(store: Store, prefix: string): Promise<string> {
  const found = await store.findRunId(prefix);
  if (found === undefined)
    throw new RivetError('RV602', `no run ${prefix}`, { hint: 'rivet runs list shows the runs' });
  if (Array.isArray(found)) {
    throw new RivetError('RV602', `${prefix} matches several runs: ${found.join(', ')}`, {
      hint: 'give more characters',
    });
  }
  return found;
}

/** A run's event log; a log that cannot be read back (corrupt JSON) is an error, not a crash (C7). */
async function readEventsOf(store: Store, runId: string): ReturnType<Store['readEvents']> {
  try {
    return await store.readEvents(runId);
  } catch (error) {
    throw new RivetError('RV606', `the event log of run ${runId} cannot be read: ${(error as Error).message}`, {
      hint: `rivet runs resume ${runId} marks the run failed with this reason; other runs are not affected`,
    });
  }
}

export function stateMark(io: Io, state: string): string {
  const o = io.stdout;
  switch (state) {
    case 'succeeded':
      return paint(o, 'green', state);
    case 'failed':
      return paint(o, 'red', state);
    case 'running':
    case 'waiting':
    case 'queued':
      return paint(o, 'cyan', state);
    default:
      return paint(o, 'gray', state);
  }
}

export function when(at: number | null): string {
  return at === null ? '-' : new Date(at).toISOString().replace('T', ' ').slice(0, 19);
}

export async function listCommand(
  opts: LocalOptions & { workflow?: string; state?: string; limit?: number; json?: boolean },
  io: Io,
): Promise<number> {
  const local = await openLocal(opts);
  try {
    const runs = await local.store.listRuns({
      ...(opts.workflow === undefined ? {} : { workflow: opts.workflow }),
      ...(opts.state === undefined ? {} : { state: opts.state.split(',') as RunRecord['state'][] }),
      limit: opts.limit ?? 20,
    });
    if (opts.json === true) {
      io.stdout.write(`${JSON.stringify(runs.map(publicRun), null, 2)}\n`);
      return EXIT.ok;
    }
    if (runs.length === 0) {
      io.stdout.write(`no runs in ${local.home}\n`);
      return EXIT.ok;
    }
    for (const r of runs) {
      const took = r.finishedAt !== null && r.startedAt !== null ? duration(r.finishedAt - r.startedAt) : '';
      io.stdout.write(`${r.id}  ${stateMark(io, r.state.padEnd(9))}  ${when(r.createdAt)}  ${r.workflow}  ${took}\n`);
    }
    return EXIT.ok;
  } finally {
    await local.close();
  }
}

/** A run as shown to people and scripts (no owner internals). */
export function publicRun(
  r: Pick<
    RunRecord,
    | 'id'
    | 'workflow'
    | 'version'
    | 'state'
    | 'trigger'
    | 'inputs'
    | 'parentRun'
    | 'createdAt'
    | 'startedAt'
    | 'finishedAt'
    | 'outputs'
    | 'error'
  >,
): Record<string, unknown> {
  return {
    id: r.id,
    workflow: r.workflow,
    version: r.version,
    state: r.state,
    trigger: r.trigger,
    inputs: r.inputs,
    parent_run: r.parentRun,
    created_at: new Date(r.createdAt).toISOString(),
    started_at: r.startedAt === null ? null : new Date(r.startedAt).toISOString(),
    finished_at: r.finishedAt === null ? null : new Date(r.finishedAt).toISOString(),
    outputs: r.outputs,
    error: r.error,
  };
}

export function taskLine(
  io: Io,
  t: Pick<TaskSummary, 'task' | 'item' | 'status' | 'attempts' | 'startedAt' | 'finishedAt' | 'cached' | 'reason'>,
): string {
  const took = t.startedAt !== null && t.finishedAt !== null ? duration(t.finishedAt - t.startedAt) : '';
  const extra = [
    t.attempts > 1 ? `${t.attempts} attempts` : '',
    t.cached !== null ? `cached from ${t.cached}` : '',
    t.reason !== null ? printableLine(t.reason) : '',
  ].filter((s) => s !== '');
  return `  ${unitName(t.task, t.item).padEnd(24)} ${stateMark(io, t.status.padEnd(9))} ${took.padEnd(9)} ${extra.join('; ')}`;
}

export async function showCommand(id: string, opts: LocalOptions & { json?: boolean }, io: Io): Promise<number> {
  const local = await openLocal(opts);
  try {
    const runId = await resolveRunId(local.store, id);
    const run = (await local.store.getRun(runId))!;
    const wf = await storedWorkflow(local, run.version);
    const tasks = fold(await readEventsOf(local.store, runId), wf ?? undefined);
    const children = await local.store.listChildRuns(runId);
    if (opts.json === true) {
      io.stdout.write(
        `${JSON.stringify({ ...publicRun(run), tasks, children: children.map((c) => c.id) }, null, 2)}\n`,
      );
      return EXIT.ok;
    }
    io.stdout.write(`run ${run.id}  ${stateMark(io, run.state)}\n`);
    io.stdout.write(`  workflow  ${run.workflow} (version ${run.version})\n  trigger   ${run.trigger}\n`);
    io.stdout.write(`  created   ${when(run.createdAt)}\n  finished  ${when(run.finishedAt)}\n`);
    if (Object.keys(run.inputs).length > 0) io.stdout.write(`  inputs    ${printable(JSON.stringify(run.inputs))}\n`);
    if (run.error !== null) io.stdout.write(`  error     ${printableLine(run.error)}\n`);
    io.stdout.write('tasks:\n');
    for (const t of tasks) io.stdout.write(`${taskLine(io, t)}\n`);
    for (const c of children) io.stdout.write(`child run ${c.id} (${c.parentTask}): ${c.state}\n`);
    if (run.outputs !== null) {
      io.stdout.write('outputs:\n');
      for (const [k, v] of Object.entries(run.outputs))
        io.stdout.write(`  ${k}: ${printable(JSON.stringify(v) ?? 'null')}\n`);
    }
    return EXIT.ok;
  } finally {
    await local.close();
  }
}

export async function logsCommand(
  id: string,
  opts: LocalOptions & { task?: string; follow?: boolean; json?: boolean },
  io: Io,
): Promise<number> {
  const local = await openLocal(opts);
  try {
    const runId = await resolveRunId(local.store, id);
    let after = 0;
    for (;;) {
      const lines = await local.store.readLogs(runId, {
        ...(opts.task === undefined ? {} : { task: opts.task }),
        afterSeq: after,
      });
      for (const l of lines) {
        after = l.seq;
        if (opts.json === true) io.stdout.write(`${JSON.stringify(l)}\n`);
        else io.stdout.write(`${paint(io.stdout, 'gray', `${unitName(l.task, l.item)} |`)} ${printable(l.line)}\n`);
      }
      if (opts.follow !== true) return EXIT.ok;
      const run = await local.store.getRun(runId);
      if (run === undefined || ['succeeded', 'failed', 'cancelled'].includes(run.state)) {
        if (lines.length === 0) return EXIT.ok;
        continue;
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  } finally {
    await local.close();
  }
}

export async function resumeCommand(
  id: string,
  opts: LocalOptions & { from?: string; json?: boolean; concurrency?: number; killGrace?: number },
  io: Io,
): Promise<number> {
  const local = await openLocal(opts);
  try {
    const runId = await resolveRunId(local.store, id);
    parseFrom(opts.from);
    const run = (await local.store.getRun(runId))!;
    const engine = local.engine({
      ...(opts.concurrency === undefined ? {} : { capacity: opts.concurrency }),
      ...(opts.killGrace === undefined ? {} : { killGraceMs: opts.killGrace }),
    });
    const workflow = await storedWorkflow(local, run.version);
    const tasks = workflow?.tasks.map((t) => t.id) ?? [];
    const reporter = await makeReporter(io, opts.json === true, tasks.length);
    // The live view starts from the run's state so far, not from every task pending.
    if (reporter.history !== undefined) {
      // A log that cannot be read back is the engine's to report (it fails the run with the reason).
      const past = await local.store.readEvents(runId).catch(() => []);
      reporter.history(past);
    }
    const outcome = await follow(
      engine,
      () => engine.resumeRun(runId, opts.from === undefined ? {} : { from: opts.from }),
      reporter,
      { workflow: run.workflow, tasks, resumed: true },
    );
    await engine.close();
    reporter.finish(outcome);
    return exitCode(outcome);
  } finally {
    await local.close();
  }
}

export async function cancelCommand(id: string, opts: LocalOptions, io: Io): Promise<number> {
  const local = await openLocal(opts);
  try {
    const runId = await resolveRunId(local.store, id);
    const engine = local.engine();
    const how = await engine.cancelRun(runId, `cancelled by ${userInfo().username}`);
    await engine.close();
    io.stdout.write(
      how === 'requested' ? `asked the process running ${runId} to cancel it\n` : `run ${runId} cancelled\n`,
    );
    return EXIT.ok;
  } finally {
    await local.close();
  }
}

export async function approveCommand(
  id: string,
  unit: string,
  opts: LocalOptions & { reject?: boolean; comment?: string; field?: readonly string[]; as?: string },
  io: Io,
): Promise<number> {
  const local = await openLocal(opts);
  try {
    const runId = await resolveRunId(local.store, id);
    const m = /^([a-z_][a-z0-9_]*)(?:\[(\d+)\])?$/.exec(unit);
    if (m === null) throw new RivetError('RV502', `${unit}: expected TASK or TASK[INDEX]`);
    const task = m[1]!;
    const item = m[2] === undefined ? null : Number(m[2]);
    const run0 = (await local.store.getRun(runId))!;
    const wf = await storedWorkflow(local, run0.version);
    const waiting = fold(await readEventsOf(local.store, runId), wf ?? undefined).find(
      (t) => t.task === task && t.item === item,
    );
    if (waiting === undefined || waiting.kind !== 'approval' || waiting.status !== 'waiting') {
      throw new RivetError(
        'RV604',
        `${unit} in run ${runId} is not waiting for approval${waiting === undefined ? '' : ` (it is ${waiting.status})`}`,
      );
    }
    const fields: Record<string, unknown> = {};
    for (const pair of opts.field ?? []) {
      const eq = pair.indexOf('=');
      if (eq <= 0) throw new RivetError('RV502', `--field ${JSON.stringify(pair)}: expected name=value`);
      fields[pair.slice(0, eq)] = fromText(waiting.fieldTypes[pair.slice(0, eq)] ?? 'string', pair.slice(eq + 1));
    }
    await local.store.postCommand({
      runId,
      type: 'decide',
      task,
      item,
      data: {
        decision: opts.reject === true ? 'reject' : 'approve',
        approver: opts.as ?? userInfo().username,
        comment: opts.comment ?? '',
        fields,
      },
      createdAt: Date.now(),
    });
    const run = await local.store.getRun(runId);
    const live = run?.owner !== null && run?.owner !== undefined;
    io.stdout.write(
      `${opts.reject === true ? 'rejected' : 'approved'} ${unit} in run ${runId}` +
        (live ? '\n' : `; no process is running it now: rivet runs resume ${runId}\n`),
    );
    return EXIT.ok;
  } finally {
    await local.close();
  }
}
