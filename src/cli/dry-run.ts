/**
 * `rivet run FILE --dry-run`: the plan of a run without its effects. The DAG in layers and, per
 * task, its kind, needs and `when`; its `if:` and `for_each` evaluated when they only read what
 * is known before the run (inputs, vars, secrets, env, run, event), else "decided at run time";
 * its cache key and whether the store already holds a result for it; and each templated field
 * of its spec resolved, with `<after tasks.x>` where a value comes from a task's results.
 *
 * Expressions see the same scope as in a run (scope.ts), with run id `dry-run`. Nothing is
 * started, sent or written: the store is only read (cache lookups). Every printed string goes
 * through the run's Redactor, so secrets (and `secret: true` inputs) never reach the output.
 */
import { Redactor } from '../engine/redact.ts';
import { MAX_FANOUT } from '../engine/run-machine.ts';
import { baseScope } from '../engine/scope.ts';
import type { WorkflowSource } from '../engine/types.ts';
import {
  collectReferences,
  compileExpression,
  DEFAULT_BUDGET,
  evaluateTemplate,
  hasTemplate,
  parseTemplate,
  type Reference,
  templateReferences,
} from '../expr/index.ts';
import type { Task } from '../model/index.ts';
import type { Local } from './local.ts';
import { EXIT } from './main.ts';
import { type Io, printable } from './output.ts';

export interface DryRunArgs {
  readonly source: WorkflowSource;
  readonly inputs: Record<string, unknown>;
  readonly local: Local;
  readonly force: readonly string[];
  readonly json: boolean;
}

/** An `if:` (or another expression) decided before the run, or what it waits for. */
export interface Decision {
  readonly decided: boolean;
  readonly value?: unknown;
  /** What only the run knows (`tasks.build`, `run.id`) when not decided. */
  readonly reads?: readonly string[];
  /** The evaluation failed: the task would fail. */
  readonly error?: string;
}

export interface ForEachPlan extends Decision {
  readonly count?: number;
  readonly items?: readonly unknown[];
}

export interface CacheHit {
  readonly run: string;
  readonly at: string;
}

export interface CachePlan {
  readonly key?: string;
  readonly reads?: readonly string[];
  readonly error?: string;
  readonly hit?: CacheHit;
  /** `--force` names the task: its cache is not looked up. */
  readonly forced?: boolean;
  /** A key that reads `item`: the first items' keys, and how many of all items have a result. */
  readonly items?: readonly { readonly index: number; readonly key: string; readonly hit?: CacheHit }[];
  readonly cachedItems?: number;
}

export type Verdict = 'runs' | 'skipped' | 'cached' | 'fails' | 'undecided';

export interface TaskPlan {
  readonly id: string;
  readonly kind: string;
  readonly layer: number;
  readonly needs: readonly string[];
  readonly when: Task['when'];
  readonly if: Decision & { readonly expression?: string };
  readonly for_each?: ForEachPlan;
  readonly cache?: CachePlan;
  /** The spec with its templates resolved (`<after tasks.x>` where results are needed). */
  readonly spec: unknown;
  /** The templated fields of the spec, resolved, by path (`env.TOKEN`, `command[1]`). */
  readonly fields: readonly { readonly path: string; readonly value: unknown }[];
  readonly outcome: { readonly state: Verdict; readonly reason?: string };
}

export interface Plan {
  readonly workflow: string;
  readonly version: string;
  readonly inputs: Record<string, unknown>;
  readonly tasks: readonly TaskPlan[];
}

/** Items and keys shown in text output. */
const PREVIEW = 3;
const MASK = '***';

// ------------------------------------------------------------------------- what is known

/** What a set of references reads that only a run knows. */
function runtimeReads(refs: readonly Reference[], itemKnown: boolean): string[] {
  const out = new Set<string>();
  for (const r of refs) {
    const first = r.path[0];
    if (r.root === 'tasks') out.add(first === undefined ? 'tasks' : `tasks.${first}`);
    else if (r.root === 'run' && (first === undefined || first === 'id' || first === 'started_at'))
      out.add(`run.${first ?? 'id'}`);
    else if ((r.root === 'item' || r.root === 'index') && !itemKnown) out.add(r.root);
    else if (r.root === 'result' || r.root === 'response') out.add(r.root);
  }
  return [...out];
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Evaluates a template when everything it reads is known before the run. */
export function decide(template: string, scope: Record<string, unknown>, itemKnown = false): Decision {
  let refs: Reference[];
  try {
    refs = templateReferences(template);
  } catch (error) {
    return { decided: true, error: messageOf(error) };
  }
  const reads = runtimeReads(refs, itemKnown);
  if (reads.length > 0) return { decided: false, reads };
  try {
    return { decided: true, value: evaluateTemplate(template, scope) };
  } catch (error) {
    return { decided: true, error: messageOf(error) };
  }
}

function placeholder(reads: readonly string[]): string {
  return reads.some((r) => r.startsWith('tasks'))
    ? `<after ${reads.join(', ')}>`
    : `<at run time: ${reads.join(', ')}>`;
}

function asText(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value === null || value === undefined) return '';
  return typeof value === 'object' ? JSON.stringify(value) : String(value);
}

/** One `${{ }}`: its value, or a placeholder saying what it waits for. */
function resolvePart(source: string, scope: Record<string, unknown>, itemKnown: boolean, errors: string[]): unknown {
  try {
    const expr = compileExpression(source);
    const reads = runtimeReads(collectReferences(expr.ast), itemKnown);
    if (reads.length > 0) return placeholder(reads);
    return expr.evaluate(scope, DEFAULT_BUDGET);
  } catch (error) {
    errors.push(messageOf(error));
    return `<error: ${messageOf(error)}>`;
  }
}

/** A string's templates resolved part by part, so known parts show even next to unknown ones. */
function resolveString(s: string, scope: Record<string, unknown>, itemKnown: boolean, errors: string[]): unknown {
  if (!hasTemplate(s)) return s;
  let parts;
  try {
    parts = parseTemplate(s);
  } catch (error) {
    errors.push(messageOf(error));
    return `<error: ${messageOf(error)}>`;
  }
  const values = parts.parts.map((p) => (p.kind === 'text' ? p.text : resolvePart(p.source, scope, itemKnown, errors)));
  return parts.whole ? values[0] : values.map(asText).join('');
}

interface Resolved {
  readonly value: unknown;
  readonly fields: { path: string; value: unknown }[];
  readonly errors: string[];
}

/** A value (a spec) with its templates resolved, and the templated leaves by path. */
export function resolveValue(value: unknown, scope: Record<string, unknown>, itemKnown: boolean): Resolved {
  const fields: { path: string; value: unknown }[] = [];
  const errors: string[] = [];
  const walk = (v: unknown, path: string): unknown => {
    if (typeof v === 'string') {
      if (!hasTemplate(v)) return v;
      const r = resolveString(v, scope, itemKnown, errors);
      fields.push({ path, value: r });
      return r;
    }
    if (Array.isArray(v)) return v.map((x, i) => walk(x, `${path}[${i}]`));
    if (v !== null && typeof v === 'object') {
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v)) out[k] = walk(x, path === '' ? k : `${path}.${k}`);
      return out;
    }
    return v;
  };
  return { value: walk(value, ''), fields, errors };
}

// ------------------------------------------------------------------------- per task

/** The scope of the run's expressions (scope.ts), with no task results. */
export function dryRunScope(
  source: WorkflowSource,
  inputs: Record<string, unknown>,
  local: Local,
  now: number,
): Record<string, unknown> {
  const base = baseScope({
    workflow: source.workflow.name,
    version: source.version,
    runId: 'dry-run',
    trigger: 'cli',
    startedAt: now,
    inputs,
    vars: local.vars,
    secrets: local.secrets,
    env: local.envScope,
    event: null,
  });
  return { ...base, tasks: {} };
}

/** Every reference of every template inside a value. */
function valueRefs(value: unknown): Reference[] {
  if (typeof value === 'string') return templateRefsSafe(value);
  if (Array.isArray(value)) return value.flatMap(valueRefs);
  if (value !== null && typeof value === 'object') return Object.values(value).flatMap(valueRefs);
  return [];
}

function forEachPlan(task: Task, scope: Record<string, unknown>): ForEachPlan | undefined {
  const fe = task.document.for_each;
  if (fe === undefined) return undefined;
  let d: Decision;
  if (typeof fe === 'string') d = decide(fe, scope);
  else {
    const reads = runtimeReads(valueRefs(fe), false);
    const r = reads.length > 0 ? undefined : resolveValue(fe, scope, false);
    if (r === undefined) d = { decided: false, reads };
    else d = r.errors.length > 0 ? { decided: true, error: r.errors[0]! } : { decided: true, value: r.value };
  }
  if (!d.decided || d.error !== undefined) return d;
  if (!Array.isArray(d.value)) return { decided: true, error: `for_each: expected a list, got ${typeName(d.value)}` };
  if (d.value.length > MAX_FANOUT) {
    return { decided: true, error: `for_each: ${d.value.length} items, more than the limit of ${MAX_FANOUT}` };
  }
  return { decided: true, count: d.value.length, items: d.value };
}

function typeName(v: unknown): string {
  if (Array.isArray(v)) return 'a list';
  if (v === null) return 'null';
  return typeof v === 'object' ? 'a map' : `a ${typeof v}`;
}

function itemScope(
  scope: Record<string, unknown>,
  items: readonly unknown[] | undefined,
  i: number,
): Record<string, unknown> {
  return items === undefined || items.length <= i ? scope : { ...scope, item: items[i], index: i };
}

async function lookup(local: Local, key: string): Promise<CacheHit | undefined> {
  const entry = await local.store.lookupCache(key, Date.now());
  return entry === undefined ? undefined : { run: entry.runId, at: new Date(entry.createdAt).toISOString() };
}

async function cachePlan(
  task: Task,
  scope: Record<string, unknown>,
  fe: ForEachPlan | undefined,
  args: DryRunArgs,
): Promise<CachePlan | undefined> {
  const cache = task.document.cache;
  if (cache === undefined) return undefined;
  const items = fe?.items;
  const forced = args.force.includes(task.id);
  const perItem = templateRefsSafe(cache.key).some((r) => r.root === 'item' || r.root === 'index');
  const first = decide(cache.key, itemScope(scope, items, 0), items !== undefined && items.length > 0);
  if (!first.decided) return { reads: first.reads ?? [] };
  if (first.error !== undefined) return { error: first.error };
  if (!perItem || items === undefined) {
    const key = String(first.value);
    if (forced) return { key, forced };
    const hit = await lookup(args.local, key);
    return hit === undefined ? { key } : { key, hit };
  }
  return perItemCache(cache.key, scope, items, forced, args.local);
}

function templateRefsSafe(template: string): Reference[] {
  try {
    return templateReferences(template);
  } catch {
    return [];
  }
}

async function perItemCache(
  template: string,
  scope: Record<string, unknown>,
  items: readonly unknown[],
  forced: boolean,
  local: Local,
): Promise<CachePlan> {
  const shown: { index: number; key: string; hit?: CacheHit }[] = [];
  let cachedItems = 0;
  for (let i = 0; i < items.length; i++) {
    let key: string;
    try {
      key = String(evaluateTemplate(template, itemScope(scope, items, i)));
    } catch (error) {
      return { error: `item ${i}: ${messageOf(error)}` };
    }
    const hit = forced ? undefined : await lookup(local, key);
    if (hit !== undefined) cachedItems++;
    if (i < PREVIEW) shown.push(hit === undefined ? { index: i, key } : { index: i, key, hit });
  }
  return forced ? { items: shown, forced } : { items: shown, cachedItems };
}

function ifDecision(task: Task, scope: Record<string, unknown>): TaskPlan['if'] {
  const expression = task.document.if;
  if (expression === undefined) return { decided: true, value: true };
  return { expression, ...decide(expression, scope) };
}

async function planTask(
  task: Task,
  layer: number,
  scope: Record<string, unknown>,
  args: DryRunArgs,
  done: ReadonlyMap<string, TaskPlan>,
): Promise<TaskPlan> {
  const fe = forEachPlan(task, scope);
  const items = fe?.items;
  const resolved = resolveValue(task.spec, itemScope(scope, items, 0), items !== undefined && items.length > 0);
  const cache = await cachePlan(task, scope, fe, args);
  const base = {
    id: task.id,
    kind: task.kind,
    layer,
    needs: task.needs,
    when: task.when,
    if: ifDecision(task, scope),
    ...(fe === undefined ? {} : { for_each: fe }),
    ...(cache === undefined ? {} : { cache }),
    spec: resolved.value,
    fields: resolved.fields,
  };
  return { ...base, outcome: verdict(base, resolved.errors, done) };
}

// ------------------------------------------------------------------------- the verdict

type Outcome = TaskPlan['outcome'];

/** What `when` makes of the needed tasks' verdicts: a skip, or a doubt, or nothing. */
function whenVerdict(task: Pick<TaskPlan, 'needs' | 'when'>, done: ReadonlyMap<string, TaskPlan>): Outcome | null {
  if (task.needs.length === 0 || task.when === 'always') return null;
  const needs = task.needs.flatMap((n) => (done.has(n) ? [done.get(n)!] : []));
  if (task.when === 'failure') {
    if (needs.some((n) => n.outcome.state === 'fails')) return null;
    const cannotFail = needs.every((n) => n.outcome.state === 'skipped' || n.outcome.state === 'cached');
    return cannotFail
      ? { state: 'skipped', reason: 'when: failure, and no needed task can fail' }
      : { state: 'undecided', reason: 'runs only if a needed task fails' };
  }
  const blocked = needs.find((n) => n.outcome.state === 'skipped' || n.outcome.state === 'fails');
  if (blocked !== undefined) {
    return {
      state: 'skipped',
      reason: `needs: ${blocked.id} ${blocked.outcome.state === 'fails' ? 'would fail' : 'is skipped'}`,
    };
  }
  const unsure = needs.find((n) => n.outcome.state === 'undecided');
  return unsure === undefined ? null : { state: 'undecided', reason: `runs if ${unsure.id} succeeds` };
}

/** What the run would do with the task, in the engine's order: when, if, for_each, cache. */
function verdict(
  p: Omit<TaskPlan, 'outcome'>,
  specErrors: readonly string[],
  done: ReadonlyMap<string, TaskPlan>,
): Outcome {
  const w = whenVerdict(p, done);
  if (w?.state === 'skipped') return w;
  const doubts: string[] = w === null ? [] : [w.reason!];
  if (p.if.error !== undefined) return { state: 'fails', reason: `if: ${p.if.error}` };
  if (!p.if.decided) doubts.push(`if reads ${(p.if.reads ?? []).join(', ')}`);
  else if (p.if.value !== true) {
    return { state: 'skipped', reason: `if: condition is ${JSON.stringify(p.if.value) ?? 'undefined'}` };
  }
  if (p.for_each?.error !== undefined) return { state: 'fails', reason: p.for_each.error };
  if (p.for_each?.count === 0) return { state: 'runs', reason: 'no items: nothing to do' };
  if (specErrors.length > 0) return { state: 'fails', reason: specErrors[0]! };
  if (p.cache?.error !== undefined) return { state: 'fails', reason: `cache.key: ${p.cache.error}` };
  const c = p.cache;
  const allCached = c?.hit !== undefined || (c?.cachedItems !== undefined && c.cachedItems === p.for_each?.count);
  if (doubts.length > 0) return { state: 'undecided', reason: doubts.join('; ') };
  if (allCached) {
    return { state: 'cached', reason: c?.hit !== undefined ? `cached by run ${c.hit.run}` : 'every item is cached' };
  }
  return { state: 'runs' };
}

// ------------------------------------------------------------------------- the plan

function shownInputs(source: WorkflowSource, inputs: Record<string, unknown>): Record<string, unknown> {
  const defs = source.workflow.document.inputs ?? {};
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(inputs)) out[k] = defs[k]?.secret === true ? MASK : v;
  return out;
}

/** The Redactor of the run: deployment secrets and `secret: true` inputs. */
export function dryRunRedactor(source: WorkflowSource, inputs: Record<string, unknown>, local: Local): Redactor {
  const secretInputs: Record<string, string> = {};
  for (const [k, def] of Object.entries(source.workflow.document.inputs ?? {})) {
    const v = inputs[k];
    if (def.secret === true && v !== undefined && v !== null) secretInputs[`input:${k}`] = asText(v);
  }
  return new Redactor({ ...local.secrets, ...secretInputs });
}

/** The plan, unredacted (the caller redacts before printing). */
export async function buildPlan(args: DryRunArgs, now = Date.now()): Promise<Plan> {
  const { source, inputs } = args;
  const scope = dryRunScope(source, inputs, args.local, now);
  const done = new Map<string, TaskPlan>();
  const tasks: TaskPlan[] = [];
  for (const [layer, ids] of source.workflow.dag.layers().entries()) {
    for (const id of ids) {
      const plan = await planTask(source.workflow.task(id)!, layer + 1, scope, args, done);
      done.set(id, plan);
      tasks.push(plan);
    }
  }
  return { workflow: source.workflow.name, version: source.version, inputs: shownInputs(source, inputs), tasks };
}

// ------------------------------------------------------------------------- text output

function show(value: unknown): string {
  return JSON.stringify(value) ?? 'null';
}

/** A field's value: JSON, or an indented block for text of several lines (a script). */
function fieldLines(path: string, value: unknown, indent: string): string[] {
  if (typeof value === 'string' && value.includes('\n')) {
    return [
      `${indent}${path}: |`,
      ...value
        .replace(/\n$/, '')
        .split('\n')
        .map((l) => `${indent}  ${l}`),
    ];
  }
  return [`${indent}${path}: ${show(value)}`];
}

function ifLine(d: TaskPlan['if']): string | null {
  if (d.expression === undefined) return null;
  const head = `    if: ${d.expression} → `;
  if (!d.decided) return `${head}decided at run time (reads ${(d.reads ?? []).join(', ')})`;
  if (d.error !== undefined) return `${head}error: ${d.error} → the task fails`;
  if (d.value === true) return `${head}true → runs`;
  return `${head}${d.value === false ? 'false' : `${show(d.value)} (not true)`} → skipped`;
}

function forEachLine(fe: ForEachPlan): string {
  if (!fe.decided) return `    for_each: decided at run time (reads ${(fe.reads ?? []).join(', ')})`;
  if (fe.error !== undefined) return `    for_each: error: ${fe.error} → the task fails`;
  const items = fe.items ?? [];
  const first = items.slice(0, PREVIEW).map(show).join(', ');
  const more = items.length > PREVIEW ? `, … (${items.length - PREVIEW} more)` : '';
  return `    for_each: ${items.length} ${items.length === 1 ? 'item' : 'items'}${items.length > 0 ? `: ${first}${more}` : ''}`;
}

function cacheLines(c: CachePlan, count: number | undefined): string[] {
  if (c.reads !== undefined) return [`    cache: key decided at run time (reads ${c.reads.join(', ')})`];
  if (c.error !== undefined) return [`    cache: key error: ${c.error} → the task fails`];
  if (c.items !== undefined) {
    const keys = c.items.map((k) => show(k.key)).join(', ');
    const more = count !== undefined && count > c.items.length ? ', …' : '';
    const n = c.cachedItems ?? 0;
    const status =
      c.forced === true
        ? 'ignored (--force): every item runs'
        : `${n} of ${count ?? 0} items cached${n > 0 ? ' (those would be skipped)' : ''}`;
    return [`    cache: key per item (${keys}${more}) → ${status}`];
  }
  const key = `    cache: key ${show(c.key)} → `;
  if (c.forced === true) return [`${key}ignored (--force): runs`];
  if (c.hit !== undefined) return [`${key}cached by run ${c.hit.run} at ${c.hit.at}: would be skipped`];
  return [`${key}no result stored yet: runs`];
}

function taskLines(t: TaskPlan): string[] {
  const verdict = `${t.outcome.state === 'undecided' ? 'decided at run time' : t.outcome.state}${t.outcome.reason === undefined ? '' : ` (${t.outcome.reason})`}`;
  const lines = [`  ${t.id} (${t.kind}) → ${verdict}`];
  if (t.needs.length > 0)
    lines.push(`    needs: ${t.needs.join(', ')}${t.when === 'success' ? '' : ` (when: ${t.when})`}`);
  const ifl = ifLine(t.if);
  if (ifl !== null) lines.push(ifl);
  if (t.for_each !== undefined) lines.push(forEachLine(t.for_each));
  if (t.cache !== undefined) lines.push(...cacheLines(t.cache, t.for_each?.count));
  if (t.fields.length > 0) {
    lines.push(`    ${t.kind}${t.for_each?.count !== undefined && t.for_each.count > 0 ? ' (for item 0)' : ''}:`);
    for (const f of t.fields) lines.push(...fieldLines(f.path, f.value, '      '));
  }
  return lines;
}

export function planText(plan: Plan): string {
  const lines = [
    `dry run of ${plan.workflow} (version ${plan.version.slice(0, 12)}): nothing is started, sent or written`,
  ];
  const inputs = Object.entries(plan.inputs);
  if (inputs.length > 0) lines.push('', 'inputs:', ...inputs.map(([k, v]) => `  ${k}: ${show(v)}`));
  let layer = 0;
  for (const t of plan.tasks) {
    if (t.layer !== layer) {
      layer = t.layer;
      lines.push('', `layer ${layer}`);
    }
    lines.push(...taskLines(t));
  }
  const counts = new Map<Verdict, number>();
  for (const t of plan.tasks) counts.set(t.outcome.state, (counts.get(t.outcome.state) ?? 0) + 1);
  const summary = [...counts].map(([s, n]) => `${s === 'undecided' ? 'decided at run time' : s}: ${n}`).join(', ');
  lines.push('', `${plan.tasks.length} ${plan.tasks.length === 1 ? 'task' : 'tasks'}: ${summary}`);
  return `${lines.join('\n')}\n`;
}

/** The `--json` document. */
export function planJson(plan: Plan): unknown {
  return {
    workflow: plan.workflow,
    version: plan.version,
    inputs: plan.inputs,
    tasks: plan.tasks.map(({ fields: _fields, ...t }) => t),
  };
}

export async function dryRun(args: DryRunArgs, io: Io): Promise<number> {
  const redactor = dryRunRedactor(args.source, args.inputs, args.local);
  for (const name of redactor.tooShort) {
    io.stderr.write(
      `warning: secret ${printable(name)} is shorter than 4 characters and cannot be masked in the plan\n`,
    );
  }
  const plan = await buildPlan(args);
  if (args.json) {
    const doc = redactor.value(planJson(plan));
    io.stdout.write(`${redactor.text(JSON.stringify(doc, null, 2))}\n`);
  } else {
    io.stdout.write(printable(redactor.text(planText(plan))));
  }
  return EXIT.ok;
}
