/**
 * The data `${{ }}` expressions see in a run: inputs, vars, secrets, env, run, event, the
 * upstream tasks a task reads (`tasks.<id>`), `item`/`index` inside a for_each, and
 * `result`/`response` in a task's own outputs and asserts. Only the tasks a task's templates
 * name are put in its scope, so evaluation costs what the expression reads, not the run's size.
 */
import { templateReferences } from '../expr/index.ts';
import type { KindDefinition, Task } from '../model/index.ts';
import type { TaskNode } from './state.ts';

export interface RunInfo {
  readonly id: string;
  readonly workflow: string;
  readonly version: string;
  readonly trigger: string;
  readonly started_at: string;
}

export interface BaseScope {
  readonly inputs: Readonly<Record<string, unknown>>;
  readonly vars: Readonly<Record<string, unknown>>;
  readonly secrets: Readonly<Record<string, unknown>>;
  readonly env: Readonly<Record<string, unknown>>;
  readonly event: unknown;
  readonly run: RunInfo;
}

/** The scope every expression of a run starts from (the engine's runs and the CLI's dry run). */
export function baseScope(args: {
  readonly workflow: string;
  readonly version: string;
  readonly runId: string;
  readonly trigger: string;
  readonly startedAt: number;
  readonly inputs: Readonly<Record<string, unknown>>;
  readonly vars?: Readonly<Record<string, unknown>> | undefined;
  readonly secrets?: Readonly<Record<string, unknown>> | undefined;
  readonly env?: Readonly<Record<string, unknown>> | undefined;
  readonly event: unknown;
}): BaseScope {
  return {
    inputs: args.inputs,
    vars: args.vars ?? {},
    secrets: args.secrets ?? {},
    env: args.env ?? {},
    event: args.event,
    run: {
      id: args.runId,
      workflow: args.workflow,
      version: args.version,
      trigger: args.trigger,
      started_at: new Date(args.startedAt).toISOString(),
    },
  };
}

/** Task ids referenced by the templates of a value (a task document, or workflow outputs). */
export function referencedTasks(value: unknown): string[] {
  const out = new Set<string>();
  const walk = (v: unknown): void => {
    if (typeof v === 'string') {
      if (!v.includes('${{')) return;
      for (const r of templateReferences(v)) if (r.root === 'tasks' && r.path[0] !== undefined) out.add(r.path[0]);
    } else if (Array.isArray(v)) v.forEach(walk);
    else if (v !== null && typeof v === 'object') Object.values(v).forEach(walk);
  };
  walk(value);
  return [...out];
}

/** Whether any string inside a value holds `${{`. */
export function hasTemplates(value: unknown): boolean {
  if (typeof value === 'string') return value.includes('${{');
  if (Array.isArray(value)) return value.some(hasTemplates);
  if (value !== null && typeof value === 'object') return Object.values(value).some(hasTemplates);
  return false;
}

/** Output names a task is known to produce (null values when it did not succeed). */
export function knownOutputs(task: Task, kind: KindDefinition | undefined): string[] {
  if (task.document.outputs !== undefined) return Object.keys(task.document.outputs);
  return kind === undefined || kind.outputs === 'dynamic' ? [] : [...kind.outputs];
}

/** What `tasks.<id>` shows of a task. */
export function taskView(node: TaskNode, kind: KindDefinition | undefined): Record<string, unknown> {
  const fanOut = node.task.document.for_each !== undefined;
  const view = Object.create(null) as Record<string, unknown>;
  view.status = node.status === 'active' ? 'running' : node.status;
  if (fanOut) {
    view.outputs = node.units.map((u) => (u.status === 'succeeded' ? u.outputs : null));
    view.artifacts = node.units.map((u) => u.artifacts);
    view.error = node.units.find((u) => u.error !== null && u.status !== 'succeeded')?.error?.message ?? null;
    return view;
  }
  const unit = node.units[0];
  if (unit !== undefined && unit.status === 'succeeded') view.outputs = unit.outputs ?? {};
  else {
    const empty = Object.create(null) as Record<string, unknown>;
    for (const name of knownOutputs(node.task, kind)) empty[name] = null;
    view.outputs = empty;
  }
  view.artifacts = unit?.artifacts ?? {};
  view.error = unit !== undefined && unit.status !== 'succeeded' ? (unit.error?.message ?? null) : null;
  return view;
}
