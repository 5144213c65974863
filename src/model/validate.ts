/**
 * Loading and validating a workflow definition: YAML, then the schema, then the semantic checks
 * (kinds, graph, inputs, schedules, expressions). Every problem of a file is reported at once,
 * sorted by position. Pure: text in, a Workflow and diagnostics out.
 */
import type { z } from 'zod';
import { checkExpressions, type TaskInfo } from './check-expressions.ts';
import { checkInputs } from './check-inputs.ts';
import { checkSchedules } from './check-schedules.ts';
import { isMap, parseDuration } from './common.ts';
import { buildDag, type Dag } from './dag.ts';
import { type Diagnostic, sortDiagnostics } from './diagnostics.ts';
import { exactlyOne } from './kinds/exclusive.ts';
import { BUILTIN_KINDS, type KindDefinition } from './kinds/index.ts';
import {
  createWorkflowSchema,
  PROCESS_COMMAND,
  TASK_FIELDS,
  type TaskDocument,
  type WorkflowDocument,
} from './schema.ts';
import { schemaDiagnostics } from './schema-issues.ts';
import { didYouMean, withSuggestionBudget } from './suggest.ts';
import { DEFAULT_YAML_LIMITS, parseYaml, type SourceMap, type YamlLimits } from './yaml.ts';

export interface ValidateOptions {
  /** Task kinds besides (or instead of) the built-in ones; plugins add theirs here. */
  readonly kinds?: readonly KindDefinition[];
  readonly limits?: YamlLimits;
  /** Most tasks in one workflow (default MAX_TASKS). */
  readonly maxTasks?: number;
}

/** Tasks in one workflow: beyond this, split it into sub-workflows. */
export const MAX_TASKS = 10_000;

export interface Task {
  readonly id: string;
  readonly kind: string;
  /** The kind's spec as written (templates unevaluated); null for `noop:` with no body. */
  readonly spec: unknown;
  readonly needs: readonly string[];
  readonly when: 'success' | 'failure' | 'always';
  readonly document: TaskDocument;
}

export interface Workflow {
  readonly name: string;
  readonly document: WorkflowDocument;
  /** Tasks in the order they are written. */
  readonly tasks: readonly Task[];
  readonly dag: Dag;
  task(id: string): Task | undefined;
}

export interface ValidationResult {
  /** Present only when there are no diagnostics. */
  readonly workflow: Workflow | undefined;
  readonly diagnostics: readonly Diagnostic[];
  readonly sourceMap: SourceMap;
}

const schemaCache = new WeakMap<readonly KindDefinition[], z.ZodType>();

function schemaFor(kinds: readonly KindDefinition[]): z.ZodType {
  let schema = schemaCache.get(kinds);
  if (schema === undefined) {
    schema = createWorkflowSchema(kinds);
    schemaCache.set(kinds, schema);
  }
  return schema;
}

function needsOf(task: unknown): string[] {
  if (!isMap(task)) return [];
  const n = task.needs;
  if (typeof n === 'string') return [n];
  return Array.isArray(n) ? n.filter((x): x is string => typeof x === 'string') : [];
}

/** Candidates "did you mean" hints may compare per document: at most ~100 ms of suggestions. */
const SUGGESTION_BUDGET = 200_000;

/** Validates workflow text. Never throws on bad input. */
export function validateWorkflowText(text: string, options: ValidateOptions = {}): ValidationResult {
  return withSuggestionBudget(SUGGESTION_BUDGET, () => validate(text, options));
}

function validate(text: string, options: ValidateOptions): ValidationResult {
  const kinds = options.kinds ?? BUILTIN_KINDS;
  const parsed = parseYaml(text, options.limits ?? DEFAULT_YAML_LIMITS);
  const sm = parsed.sourceMap;
  const diagnostics: Diagnostic[] = parsed.diagnostics.map((d) =>
    d.code === 'RV102' && d.path?.length === 1 && d.path[0] === 'tasks'
      ? { ...d, code: 'RV303', message: d.message.replace('duplicate key', 'duplicate task id') }
      : d,
  );
  const finish = (workflow?: Workflow): ValidationResult => {
    const sorted = sortDiagnostics(diagnostics);
    return { workflow: sorted.length === 0 ? workflow : undefined, diagnostics: sorted, sourceMap: sm };
  };
  if (parsed.fatal) return finish();
  const doc = topLevel(parsed.value, sm, diagnostics);
  if (doc === undefined || !withinTaskLimit(doc, options.maxTasks ?? MAX_TASKS, sm, diagnostics)) return finish();
  const checked = checkDocument(doc, kinds, sm, diagnostics);
  if (checked.document === undefined || diagnostics.length > 0) return finish();
  return finish(buildWorkflow(checked.document, checked.tasks, checked.dag));
}

/** The document's top level: a mapping, or a diagnostic saying why not. */
function topLevel(value: unknown, sm: SourceMap, out: Diagnostic[]): Record<string, unknown> | undefined {
  if (value === undefined || value === null) {
    out.push(
      sm.diagnostic('RV100', [], 'the file holds no workflow (it is empty or only comments)', {
        hint: 'a workflow needs at least a name and tasks',
      }),
    );
    return undefined;
  }
  if (!isMap(value)) {
    const got = Array.isArray(value) ? 'a list' : typeof value;
    out.push(sm.diagnostic('RV103', [], `the document must be a mapping of fields (name, tasks, ...), got ${got}`));
    return undefined;
  }
  return value;
}

/** Checked before anything costly: a workflow past the task limit gets that one diagnostic. */
function withinTaskLimit(doc: Record<string, unknown>, max: number, sm: SourceMap, out: Diagnostic[]): boolean {
  const count = isMap(doc.tasks) ? Object.keys(doc.tasks).length : 0;
  if (count <= max) return true;
  out.push(
    sm.diagnostic('RV107', ['tasks'], `the workflow has ${count} tasks; the limit is ${max}`, {
      which: 'key',
      hint: 'split it into sub-workflows (the workflow kind)',
    }),
  );
  return false;
}

/** Every check of a well-formed document; all problems are collected, none stops the others. */
function checkDocument(
  doc: Record<string, unknown>,
  kinds: readonly KindDefinition[],
  sm: SourceMap,
  diagnostics: Diagnostic[],
): { document: WorkflowDocument | undefined; tasks: Map<string, TaskInfo>; dag: Dag } {
  const schema = schemaFor(kinds);
  const result = schema.safeParse(doc);
  if (!result.success) {
    const kindNames = kinds.map((k) => k.name);
    // A loop, not push(...): a spread of 100,000+ diagnostics overflows the call stack.
    for (const d of schemaDiagnostics(result.error.issues, { schema, root: doc, sourceMap: sm, kindNames })) {
      diagnostics.push(d);
    }
  }
  const tasksDoc = isMap(doc.tasks) ? doc.tasks : {};
  checkShape(doc, sm, diagnostics);
  const tasks = checkTasks(tasksDoc, new Map(kinds.map((k) => [k.name, k])), sm, diagnostics);
  const dag = buildDag(Object.keys(tasksDoc).map((id) => ({ id, needs: needsOf(tasksDoc[id]) })));
  checkNeeds(tasksDoc, dag, sm, diagnostics);
  checkInputs(doc, sm, diagnostics);
  checkSchedules(doc, sm, diagnostics);
  const inputs = isMap(doc.inputs) ? Object.keys(doc.inputs) : [];
  for (const d of checkExpressions(doc, { sourceMap: sm, inputs, tasks, dag })) diagnostics.push(d);
  return { document: result.success ? (result.data as WorkflowDocument) : undefined, tasks, dag };
}

/**
 * The Workflow of a document that already passed validation (the validated form kept by the
 * store, keyed by the file's content hash): builds the tasks and the graph without checking
 * again. Never call it on a document that did not come out of validateWorkflowText.
 */
export function workflowFromValidatedDocument(
  document: WorkflowDocument,
  kinds: readonly KindDefinition[] = BUILTIN_KINDS,
): Workflow {
  const names = kinds.map((k) => k.name);
  const tasksDoc = document.tasks ?? {};
  const infos = new Map<string, TaskInfo>();
  for (const [id, t] of Object.entries(tasksDoc)) {
    const kind = kinds[names.findIndex((n) => Object.hasOwn(t, n))];
    if (kind === undefined) throw new Error(`task ${id} has no known kind (was a plugin removed?)`);
    infos.set(id, { id, kind, forEach: t.for_each !== undefined, declaredOutputs: undefined });
  }
  const dag = buildDag(Object.keys(tasksDoc).map((id) => ({ id, needs: needsOf(tasksDoc[id]) })));
  return buildWorkflow(document, infos, dag);
}

function buildWorkflow(document: WorkflowDocument, infos: ReadonlyMap<string, TaskInfo>, dag: Dag): Workflow {
  const tasks: Task[] = Object.entries(document.tasks ?? {}).map(([id, t]) => {
    const kind = infos.get(id)!.kind!.name;
    return {
      id,
      kind,
      spec: (t as Record<string, unknown>)[kind] ?? null,
      needs: needsOf(t),
      when: t.when ?? 'success',
      document: t,
    };
  });
  const byId = new Map(tasks.map((t) => [t.id, t]));
  return { name: document.name, document, tasks, dag, task: (id) => byId.get(id) };
}

function checkShape(doc: Record<string, unknown>, sm: SourceMap, out: Diagnostic[]): void {
  if (doc.tasks === undefined && doc.process === undefined) {
    out.push(
      sm.diagnostic('RV203', ['tasks'], 'a workflow needs "tasks" (or "process" for a long-running process)', {
        which: 'key',
      }),
    );
  } else if (doc.tasks !== undefined && doc.process !== undefined) {
    out.push(
      sm.diagnostic('RV204', ['process'], '"tasks" and "process" cannot be used together', {
        which: 'key',
        hint: 'put the process in its own file',
      }),
    );
  } else if (isMap(doc.tasks) && Object.keys(doc.tasks).length === 0) {
    out.push(sm.diagnostic('RV204', ['tasks'], '"tasks" is empty', { which: 'key', hint: 'add at least one task' }));
  }
  if (isMap(doc.process)) {
    for (const issue of exactlyOne(doc.process, PROCESS_COMMAND)) {
      out.push(
        sm.diagnostic(issue.code, ['process', ...issue.path], `${issue.message} (in process)`, { which: 'key' }),
      );
    }
  }
}

function checkTasks(
  tasks: Record<string, unknown>,
  kinds: ReadonlyMap<string, KindDefinition>,
  sm: SourceMap,
  out: Diagnostic[],
): Map<string, TaskInfo> {
  const infos = new Map<string, TaskInfo>();
  for (const [id, task] of Object.entries(tasks)) {
    if (!isMap(task)) {
      infos.set(id, { id, kind: undefined, forEach: false, declaredOutputs: undefined });
      continue;
    }
    const present = Object.keys(task).filter((k) => kinds.has(k));
    if (present.length > 1) {
      out.push(
        sm.diagnostic(
          'RV207',
          ['tasks', id, present[1]!],
          `task "${id}" has more than one kind: ${present.join(', ')}`,
          {
            which: 'key',
            hint: 'split it into one task per kind, joined with needs',
          },
        ),
      );
    }
    const kind = present.length > 0 ? kinds.get(present[0]!) : undefined;
    if (present.length === 0) {
      // Unknown keys that look like kinds are reported by the schema mapping as unknown kinds.
      const others = Object.keys(task).filter((k) => !(TASK_FIELDS as readonly string[]).includes(k));
      if (others.length === 0) {
        out.push(
          sm.diagnostic('RV207', ['tasks', id], `task "${id}" has no kind`, {
            which: 'key',
            hint: `add one of: ${[...kinds.keys()].join(', ')}`,
          }),
        );
      }
    }
    const spec = task[kind?.name ?? ''];
    if (kind !== undefined && (isMap(spec) || spec === null)) {
      const fields = isMap(spec) ? spec : {};
      const issues = [
        ...(kind.exclusive
          ? exactlyOne(fields, kind.exclusive.fields, { optional: kind.exclusive.optional ?? false })
          : []),
        ...(kind.check?.(fields) ?? []),
      ];
      for (const issue of issues) {
        out.push(
          sm.diagnostic(issue.code, ['tasks', id, kind.name, ...issue.path], `${issue.message} (in task "${id}")`, {
            which: 'key',
            ...(issue.hint === undefined ? {} : { hint: issue.hint }),
          }),
        );
      }
    }
    checkTaskFieldPairs(id, task, sm, out);
    const retry = task.retry;
    if (isMap(retry) && typeof retry.delay === 'string' && typeof retry.max_delay === 'string') {
      const d = parseDuration(retry.delay);
      const m = parseDuration(retry.max_delay);
      if (d !== undefined && m !== undefined && m < d) {
        out.push(
          sm.diagnostic(
            'RV204',
            ['tasks', id, 'retry', 'max_delay'],
            `retry.max_delay (${retry.max_delay}) is shorter than retry.delay (${retry.delay})`,
          ),
        );
      }
    }
    infos.set(id, {
      id,
      kind,
      forEach: task.for_each !== undefined,
      declaredOutputs: isMap(task.outputs) ? Object.keys(task.outputs) : undefined,
    });
  }
  return infos;
}

/** Fields that only mean something together with another one. */
function checkTaskFieldPairs(id: string, task: Record<string, unknown>, sm: SourceMap, out: Diagnostic[]): void {
  if ((task.when === 'failure' || task.when === 'always') && needsOf(task).length === 0) {
    out.push(
      sm.diagnostic('RV204', ['tasks', id, 'when'], `"when: ${task.when}" in task "${id}" has no needs to look at`, {
        which: 'key',
        hint: 'add the tasks whose outcome decides this one to needs',
      }),
    );
  }
  if (task.concurrency !== undefined && task.for_each === undefined) {
    out.push(
      sm.diagnostic('RV204', ['tasks', id, 'concurrency'], `"concurrency" in task "${id}" applies to for_each items`, {
        which: 'key',
        hint: 'add for_each, or remove concurrency (workflow-wide limits go under the top-level concurrency)',
      }),
    );
  }
}

function checkNeeds(tasks: Record<string, unknown>, dag: Dag, sm: SourceMap, out: Diagnostic[]): void {
  const ids = Object.keys(tasks);
  for (const id of ids) {
    const task = tasks[id];
    if (!isMap(task)) continue;
    const list = typeof task.needs === 'string' ? [task.needs] : Array.isArray(task.needs) ? task.needs : [];
    list.forEach((need, i) => {
      if (typeof need !== 'string') return;
      const path = typeof task.needs === 'string' ? ['tasks', id, 'needs'] : ['tasks', id, 'needs', i];
      if (need === id) {
        out.push(sm.diagnostic('RV302', path, `task "${id}" needs itself`, { hint: 'remove it from its own needs' }));
      } else if (!Object.hasOwn(tasks, need)) {
        out.push(
          sm.diagnostic('RV301', path, `task "${id}" needs "${need}", which does not exist`, {
            hint: didYouMean(need, ids) ?? `tasks: ${ids.slice(0, 10).join(', ')}`,
          }),
        );
      }
    });
  }
  for (const cycle of dag.cycles) {
    if (cycle.length === 2) continue; // a self-need, reported above
    const shown =
      cycle.length > 41 ? [...cycle.slice(0, 20), `… ${cycle.length - 40} more …`, ...cycle.slice(-20)] : cycle;
    const first = cycle[0]!;
    const next = cycle[1]!;
    const needs = tasks[first] as Record<string, unknown>;
    const path = Array.isArray(needs.needs)
      ? ['tasks', first, 'needs', needs.needs.indexOf(next)]
      : ['tasks', first, 'needs'];
    out.push(
      sm.diagnostic('RV302', path, `dependency cycle: ${shown.join(' → ')} (each task needs the next)`, {
        hint: 'remove one of these needs so the tasks can be ordered',
      }),
    );
  }
}
