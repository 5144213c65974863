/**
 * The waits a task can hand to the engine: an approval decision (from a terminal prompt, a store
 * command or the API, or a deadline) and a child run (the workflow kind), which is picked up
 * again after a restart or a retry instead of being started twice.
 */
import { dirname, resolve } from 'node:path';
import { loadWorkflow } from '../load.ts';
import { resolveInputs } from '../model/inputs.ts';
import {
  type ChildRequest,
  type ChildResult,
  type Decision,
  type DecisionRequest,
  TaskFailure,
} from '../kinds/types.ts';
import { type ActiveRun, type Engine, unitKey } from './engine.ts';
import type { Unit } from './state.ts';
import type { WorkflowSource } from './types.ts';

export function waitForDecision(
  engine: Engine,
  run: ActiveRun,
  unit: Unit,
  request: DecisionRequest,
  signal: AbortSignal,
): Promise<Decision | null> {
  const key = unitKey(unit.node.task.id, unit.item);
  const early = run.decisions.get(key);
  if (early !== undefined) {
    run.decisions.delete(key);
    return Promise.resolve(early);
  }
  return new Promise((resolvePromise, reject) => {
    const promptAbort = new AbortController();
    let cancelDeadline: (() => void) | null = null;
    const finish = (d: Decision | null): void => {
      run.waiters.delete(key);
      cancelDeadline?.();
      promptAbort.abort();
      signal.removeEventListener('abort', onAbort);
      resolvePromise(d);
    };
    const onAbort = (): void => {
      run.waiters.delete(key);
      cancelDeadline?.();
      promptAbort.abort();
      reject(new TaskFailure(signal.reason === 'timeout' ? 'timeout' : 'cancelled', 'the wait for a decision ended'));
    };
    run.waiters.set(key, finish);
    if (request.deadline !== null) cancelDeadline = engine.timers.at(request.deadline, () => finish(null));
    signal.addEventListener('abort', onAbort, { once: true });
    const prompt = engine.options.prompt;
    if (prompt !== undefined) {
      prompt({ ...request, runId: run.id, task: unit.node.task.id, item: unit.item }, promptAbort.signal).then(
        (d) => {
          if (d !== null && run.waiters.get(key) === finish) finish(d);
        },
        () => undefined,
      );
    }
  });
}

async function loadChildSource(engine: Engine, run: ActiveRun, request: ChildRequest): Promise<WorkflowSource> {
  if (request.file === undefined && request.name !== undefined && engine.options.loadByName !== undefined) {
    const named = engine.options.loadByName(request.name);
    if (named === undefined) {
      throw new TaskFailure('error', `workflow "${request.name}": no such workflow on this server`, {
        retryable: false,
      });
    }
    return named;
  }
  if (request.file === undefined) {
    throw new TaskFailure(
      'error',
      `workflow "${request.name ?? ''}": workflows by name need a Rivet server; use file:`,
      {
        retryable: false,
      },
    );
  }
  const file = resolve(dirname(run.source.file), request.file);
  if (engine.options.loadChild !== undefined) return engine.options.loadChild(file);
  const loaded = await loadWorkflow(file, { kinds: engine.options.kinds.definitions });
  if (loaded.workflow === undefined) {
    const d = loaded.diagnostics[0];
    throw new TaskFailure('error', `${request.file}: ${d?.code ?? ''} ${d?.message ?? 'invalid'}`, {
      retryable: false,
    });
  }
  return {
    workflow: loaded.workflow,
    version: loaded.version,
    file,
    // The text loadWorkflow read and validated, not a second read that could differ.
    source: loaded.sourceMap.text,
  };
}

export async function runChild(
  engine: Engine,
  run: ActiveRun,
  unit: Unit,
  request: ChildRequest,
  signal: AbortSignal,
): Promise<ChildResult> {
  const key = unitKey(unit.node.task.id, unit.item);
  const saved = (unit.checkpoint as { child_run?: unknown } | undefined)?.child_run;
  let childId = typeof saved === 'string' ? saved : await interruptedChild(engine, run.id, key, run.childFrom.has(key));
  let done: Promise<import('./types.ts').RunOutcome>;
  if (childId !== undefined) {
    const record = await engine.options.store.getRun(childId);
    if (record?.state === 'succeeded' && !run.childFrom.has(key)) {
      return { runId: childId, state: 'succeeded', outputs: record.outputs ?? {} };
    }
    const from = run.childFrom.get(key);
    run.childFrom.delete(key);
    done = (await engine.resumeRun(childId, from === undefined ? {} : { from })).done;
  } else {
    const source = await loadChildSource(engine, run, request);
    const checked = resolveInputs(source.workflow.document.inputs, request.inputs);
    if (!checked.ok) {
      throw new TaskFailure('error', checked.problems.map((p) => p.message).join('; '), { retryable: false });
    }
    const handle = await engine.startRun({
      source,
      inputs: checked.values,
      trigger: `workflow:${run.id}/${key}`,
      parent: { runId: run.id, task: unit.node.task.id, item: unit.item },
    });
    childId = handle.runId;
    done = handle.done;
    await engineCheckpoint(engine, run, unit, { child_run: childId });
  }
  const id = childId;
  const onAbort = (): void => void engine.cancelRun(id, `parent run ${run.id} cancelled`).catch(() => undefined);
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    const outcome = await done;
    return {
      runId: id,
      state: outcome.state,
      outputs: outcome.outputs ?? {},
      ...(outcome.error === null ? {} : { error: outcome.error }),
    };
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}

export async function engineCheckpoint(engine: Engine, run: ActiveRun, unit: Unit, state: unknown): Promise<void> {
  if (unit.status !== 'running' && unit.status !== 'waiting') return;
  run.machine.at(engine.clock.now()).checkpoint(unit, state);
  engine.collect(run);
  await engine.committed();
}

/**
 * A child run of this task left unfinished by a crash before its id was checkpointed, or, with
 * `finished` (a resume `--from task/child_task`), the task's latest child run whatever its state.
 */
async function interruptedChild(
  engine: Engine,
  parent: string,
  key: string,
  finished = false,
): Promise<string | undefined> {
  const children = await engine.options.store.listChildRuns(parent);
  const open = children.filter(
    (c) => c.parentTask === key && (finished || ['queued', 'running', 'waiting'].includes(c.state)),
  );
  return open.at(-1)?.id;
}
