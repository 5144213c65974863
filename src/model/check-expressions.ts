/**
 * Checks every `${{ }}` of a workflow before anything runs: template syntax, CEL syntax and types,
 * and that each reference names something in scope at that place (DESIGN.md section 3).
 */
import type { ErrorCode } from '../errors.ts';
import { analyzeExpression, ExpressionError, knownFunctions, SCOPE_ROOTS } from '../expr/cel.ts';
import { collectReferences, type Reference } from '../expr/refs.ts';
import { hasTemplate, parseTemplate, type Template, TemplateSyntaxError } from '../expr/template.ts';
import type { Dag } from './dag.ts';
import type { Diagnostic, DocPath } from './diagnostics.ts';
import type { KindDefinition } from './kinds/index.ts';
import { spliceContexts, unclosedQuote } from './shell-splice.ts';
import { didYouMean } from './suggest.ts';
import type { SourceMap } from './yaml.ts';
import { isMap } from './common.ts';

/** Fields readable on `tasks.<id>`. */
export const TASK_REFERENCE_FIELDS = ['outputs', 'status', 'artifacts', 'error'] as const;
/** Fields readable on `run`. */
export const RUN_FIELDS = ['id', 'workflow', 'version', 'trigger', 'started_at'] as const;

interface Scope {
  readonly label: string;
  readonly roots: ReadonlySet<string>;
  /** The task whose field holds the expression: tasks it reads must be upstream of it. */
  readonly taskId?: string;
  readonly shell?: boolean;
  readonly whole?: boolean;
}

export interface TaskInfo {
  readonly id: string;
  readonly kind: KindDefinition | undefined;
  readonly forEach: boolean;
  readonly declaredOutputs: readonly string[] | undefined;
}

export interface ExpressionCheckContext {
  readonly sourceMap: SourceMap;
  readonly inputs: readonly string[];
  readonly tasks: ReadonlyMap<string, TaskInfo>;
  readonly dag: Dag;
}

const BASE = ['vars', 'secrets', 'env', 'event'];
const roots = (...names: string[]): ReadonlySet<string> => new Set([...BASE, ...names]);

const WHY_NOT: Record<string, string> = {
  item: '"item" and "index" exist only in a task with for_each',
  index: '"item" and "index" exist only in a task with for_each',
  result: '"result" exists only in a task\'s outputs and assert',
  response: '"response" exists only in the outputs and assert of http tasks',
  tasks: '"tasks" is not available here: the run has not started',
  inputs: '"inputs" is not available here: a trigger computes the inputs from "event"',
  run: '"run" is not available here: the run has not started',
};

export function checkExpressions(doc: Record<string, unknown>, ctx: ExpressionCheckContext): Diagnostic[] {
  const out: Diagnostic[] = [];
  const visit: Visit = (value, path, scope) => {
    forEachString(value, path, (s, p) => checkString(s, p, scope, ctx, out));
  };
  if (isMap(doc.tasks)) {
    for (const [id, task] of Object.entries(doc.tasks)) if (isMap(task)) checkTask(id, task, ctx, visit);
  }
  if (doc.outputs !== undefined) {
    visit(doc.outputs, ['outputs'], { label: 'workflow outputs', roots: roots('inputs', 'run', 'tasks') });
  }
  if (isMap(doc.concurrency)) {
    visit(doc.concurrency.key, ['concurrency', 'key'], { label: 'concurrency key', roots: roots('inputs', 'run') });
  }
  if (isMap(doc.process)) {
    const scope: Scope = { label: 'process', roots: roots('inputs') };
    for (const [field, v] of Object.entries(doc.process)) {
      visit(v, ['process', field], field === 'run' ? { ...scope, shell: true } : scope);
    }
  }
  if (isMap(doc.on)) checkTriggers(doc.on, visit);
  return out;
}

type Visit = (value: unknown, path: (string | number)[], scope: Scope) => void;

/** A task's fields, each with the names in scope there (DESIGN.md section 3). */
function checkTask(id: string, task: Record<string, unknown>, ctx: ExpressionCheckContext, visit: Visit): void {
  const info = ctx.tasks.get(id);
  const kind = info?.kind;
  const item = info?.forEach ? ['item', 'index'] : [];
  const plain: Scope = { label: `task "${id}"`, roots: roots('inputs', 'run', 'tasks', ...item), taskId: id };
  // Where the task's own result is in scope: outputs, assert, and the kind's response conditions.
  const own: Scope = { ...plain, roots: new Set([...plain.roots, 'result', ...(kind?.response ? ['response'] : [])]) };
  const spec = kind === undefined ? undefined : task[kind.name];
  if (kind !== undefined && isMap(spec)) {
    const shellFields = new Set(kind.shellScriptFields ?? []);
    const conditions = kind.responseConditions ?? [];
    const isCondition = (path: readonly string[]): boolean =>
      conditions.some((c) => c.length === path.length && c.every((seg, i) => seg === path[i]));
    const walkSpec = (value: unknown, rel: string[]): void => {
      const path = ['tasks', id, kind.name, ...rel];
      if (isCondition(rel)) visit(value, path, { ...own, whole: true });
      else if (conditions.some((c) => c[0] === rel[0] && c.length > rel.length) && isMap(value)) {
        for (const [k, v] of Object.entries(value)) walkSpec(v, [...rel, k]);
      } else visit(value, path, rel.length === 1 && shellFields.has(rel[0]!) ? { ...plain, shell: true } : plain);
    };
    for (const [field, v] of Object.entries(spec)) walkSpec(v, [field]);
  }
  if (task.if !== undefined) visit(task.if, ['tasks', id, 'if'], { ...plain, whole: true });
  if (task.for_each !== undefined) {
    const scope = { ...plain, roots: roots('inputs', 'run', 'tasks'), whole: typeof task.for_each === 'string' };
    visit(task.for_each, ['tasks', id, 'for_each'], scope);
  }
  if (isMap(task.cache)) visit(task.cache.key, ['tasks', id, 'cache', 'key'], plain);
  if (Array.isArray(task.assert)) visit(task.assert, ['tasks', id, 'assert'], { ...own, whole: true });
  if (task.outputs !== undefined) visit(task.outputs, ['tasks', id, 'outputs'], own);
}

/** Trigger expressions see only the event and deployment data: the run does not exist yet. */
function checkTriggers(on: Record<string, unknown>, visit: Visit): void {
  const trigger: Scope = { label: 'trigger', roots: roots() };
  for (const [kind, spec] of Object.entries(on)) {
    const list = Array.isArray(spec) ? spec : [spec];
    list.forEach((one, i) => {
      if (!isMap(one)) return;
      const base: (string | number)[] = Array.isArray(spec) ? ['on', kind, i] : ['on', kind];
      if (one.inputs !== undefined) visit(one.inputs, [...base, 'inputs'], trigger);
      if (one.filter !== undefined) visit(one.filter, [...base, 'filter'], { ...trigger, whole: true });
      if (one.secret !== undefined) visit(one.secret, [...base, 'secret'], trigger);
    });
  }
}

function forEachString(value: unknown, path: (string | number)[], fn: (s: string, path: DocPath) => void): void {
  if (typeof value === 'string') fn(value, path);
  else if (Array.isArray(value)) value.forEach((v, i) => forEachString(v, [...path, i], fn));
  else if (isMap(value)) for (const [k, v] of Object.entries(value)) forEachString(v, [...path, k], fn);
}

function checkString(s: string, path: DocPath, scope: Scope, ctx: ExpressionCheckContext, out: Diagnostic[]): void {
  const sm = ctx.sourceMap;
  const at = (index: number): number => sm.offsetInString(path, s, index);
  const report = (code: ErrorCode, index: number, message: string, hint?: string): void => {
    out.push(sm.diagnostic(code, path, message, { offset: at(index), ...(hint === undefined ? {} : { hint }) }));
  };
  if (scope.shell) {
    const unclosed = unclosedQuote(s);
    if (unclosed !== undefined) {
      const what = unclosed.context === 'backticks' ? 'backtick' : unclosed.context === 'single-quotes' ? "'" : '"';
      report(
        'RV204',
        unclosed.offset,
        `the ${what} here is never closed in this shell script`,
        'close it, or escape it with \\',
      );
    }
  }
  if (!hasTemplate(s)) {
    if (scope.whole) {
      report('RV204', 0, `${describe(path)} must be a \${{ }} expression`, `write: \${{ ${s} }}`);
    }
    return;
  }
  let template: Template;
  try {
    template = parseTemplate(s);
  } catch (err) {
    if (err instanceof TemplateSyntaxError)
      return report('RV401', err.offset, err.message, 'close the expression with }}');
    throw err;
  }
  if (scope.whole && !template.whole) {
    report('RV204', 0, `${describe(path)} must be exactly one \${{ }} expression, with no text around it`);
  }
  const exprs = template.parts.filter((p) => p.kind === 'expr');
  if (scope.shell) {
    const contexts = spliceContexts(
      s,
      exprs.map((e) => e.start),
    );
    exprs.forEach((e, i) => {
      const c = contexts[i]!;
      if (c === 'word' || c === 'comment') return;
      report(
        'RV408',
        e.start,
        `\${{ ${e.source} }} inside ${c.replace('-', ' ')} of a shell script would splice text into the script`,
        'pass the value through env (env: { VALUE: "${{ … }}" }) and use "$VALUE" in the script, or make the expression a whole shell word',
      );
    });
  }
  for (const e of exprs) {
    let analysis;
    try {
      analysis = analyzeExpression(e.source);
    } catch (err) {
      if (err instanceof ExpressionError) {
        report('RV401', e.sourceStart + err.offset, `invalid expression: ${err.message}`);
        continue;
      }
      throw err;
    }
    const before = out.length;
    for (const ref of collectReferences(analysis.ast)) checkReference(ref, e.sourceStart, scope, ctx, report);
    if (out.length === before && analysis.typeError !== undefined) {
      reportTypeError(analysis.typeError, e.sourceStart, report);
    }
  }
}

function describe(path: DocPath): string {
  return `"${String(path[path.length - 1])}"`;
}

const CEL_TYPE_NAMES: ReadonlySet<string> = new Set([
  'int',
  'uint',
  'double',
  'bool',
  'string',
  'bytes',
  'list',
  'map',
  'null_type',
  'type',
]);

type Report = (code: ErrorCode, index: number, message: string, hint?: string) => void;

function checkReference(ref: Reference, base: number, scope: Scope, ctx: ExpressionCheckContext, report: Report): void {
  const segAt = (i: number): number => base + (ref.segmentStarts[i] ?? ref.start);
  // CEL's type names are identifiers too: `type(x) == map`.
  if (CEL_TYPE_NAMES.has(ref.root) && ref.path.length === 0) return;
  if (!scope.roots.has(ref.root)) {
    if ((SCOPE_ROOTS as readonly string[]).includes(ref.root)) {
      return report(
        'RV402',
        base + ref.start,
        `${WHY_NOT[ref.root] ?? `"${ref.root}" is not available here`} (in ${scope.label})`,
      );
    }
    const hint = didYouMean(ref.root, scope.roots) ?? `in scope here: ${[...scope.roots].join(', ')}`;
    return report('RV402', base + ref.start, `unknown variable "${ref.root}"`, hint);
  }
  const [first, second, third] = ref.path;
  if (ref.root === 'inputs' && first !== undefined && !ctx.inputs.includes(first)) {
    const hint =
      didYouMean(first, ctx.inputs) ??
      (ctx.inputs.length ? `declared inputs: ${ctx.inputs.join(', ')}` : 'declare it under inputs:');
    return report('RV403', segAt(0), `unknown input "${first}"`, hint);
  }
  if (ref.root === 'run' && first !== undefined && !(RUN_FIELDS as readonly string[]).includes(first)) {
    return report(
      'RV402',
      segAt(0),
      `unknown field "run.${first}"`,
      didYouMean(first, RUN_FIELDS) ?? `run has: ${RUN_FIELDS.join(', ')}`,
    );
  }
  if (ref.root !== 'tasks' || first === undefined) return;
  const task = ctx.tasks.get(first);
  if (task === undefined) {
    return report('RV404', segAt(0), `unknown task "${first}"`, didYouMean(first, ctx.tasks.keys()));
  }
  // With a dependency cycle (reported on its own) "upstream" has no meaning: check self-reference only.
  const cyclic = ctx.dag.cycles.length > 0;
  if (scope.taskId !== undefined && (first === scope.taskId || (!cyclic && !ctx.dag.isUpstream(first, scope.taskId)))) {
    return report(
      'RV405',
      segAt(0),
      first === scope.taskId
        ? `task "${first}" refers to itself`
        : `task "${first}" is not upstream of task "${scope.taskId}", so it may not have run yet`,
      first === scope.taskId
        ? 'use "result" in the task\'s own outputs and assert'
        : `add "${first}" to the needs of "${scope.taskId}"`,
    );
  }
  if (second === undefined) return;
  if (!(TASK_REFERENCE_FIELDS as readonly string[]).includes(second)) {
    return report(
      'RV402',
      segAt(1),
      `unknown field "${second}" of task "${first}"`,
      didYouMean(second, TASK_REFERENCE_FIELDS) ?? `tasks have: ${TASK_REFERENCE_FIELDS.join(', ')}`,
    );
  }
  if (second !== 'outputs' || third === undefined || task.forEach) return;
  const known = task.declaredOutputs ?? (task.kind?.outputs === 'dynamic' ? undefined : task.kind?.outputs);
  if (known !== undefined && !known.includes(third)) {
    report(
      'RV406',
      segAt(2),
      `task "${first}" has no output "${third}"`,
      didYouMean(third, known) ?? (known.length ? `its outputs: ${known.join(', ')}` : 'it declares no outputs'),
    );
  }
}

/** What people from other languages reach for, and the CEL function that does it. */
const FUNCTION_ALIASES: Record<string, string> = {
  length: 'size',
  len: 'size',
  count: 'size',
  toUpperCase: 'upperAscii',
  upper: 'upperAscii',
  toLowerCase: 'lowerAscii',
  lower: 'lowerAscii',
  includes: 'contains',
  strip: 'trim',
  str: 'string',
  toString: 'string',
  parseInt: 'int',
};

function reportTypeError(err: ExpressionError, base: number, report: Report): void {
  const overload = /no matching overload for '(?:[^'(]*\.)?(\w+)\(/.exec(err.message);
  const name = overload?.[1];
  if (name !== undefined && !knownFunctions().has(name)) {
    const alias = FUNCTION_ALIASES[name];
    const hint = alias !== undefined ? `CEL calls it ${alias}()` : didYouMean(name, knownFunctions());
    return report('RV407', base + err.offset, `unknown function "${name}"`, hint);
  }
  report('RV407', base + err.offset, `expression error: ${err.message}`);
}
