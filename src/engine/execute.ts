/**
 * Running one attempt of one unit: the spec rendered, the kind called with its TaskContext
 * (signal, logger, artifacts, checkpoint, waits), the result handed back to the machine. The
 * attempt's timeout is a timer in the engine's heap that aborts the signal with 'timeout'.
 */
import { dirname } from 'node:path';
import { ExpressionError, TemplateSyntaxError } from '../expr/index.ts';
import { parseDuration } from '../model/index.ts';
import {
  type ChildRequest,
  type ChildResult,
  type Decision,
  type DecisionRequest,
  type Kind,
  type TaskContext,
  TaskFailure,
} from '../kinds/types.ts';
import { artifactsPath, freshArtifactsDir, sealArtifacts } from './artifacts.ts';
import { CRASH_TESTING, crashPoint } from './crash-points.ts';
import { type ActiveRun, type Engine, unitKey } from './engine.ts';
import { hasTemplates } from './scope.ts';
import type { Unit } from './state.ts';
import { engineCheckpoint, runChild, waitForDecision } from './waits.ts';

/** Largest outputs of one task, as JSON. */
export const MAX_OUTPUT_BYTES = 1024 * 1024;

export async function executeUnit(engine: Engine, run: ActiveRun, unit: Unit, attempt: number): Promise<void> {
  const m = run.machine;
  const kind = engine.options.kinds.get(unit.node.task.kind);
  const controller = new LazyAbort();
  run.controllers.set(unit, controller);
  const timeout = unit.node.task.document.timeout;
  const ms = timeout === undefined ? undefined : parseDuration(timeout);
  const cancelTimeout = ms === undefined ? null : engine.timers.after(ms, () => controller.abort('timeout'));
  let holdsSlot = true;
  const release = (): void => {
    if (!holdsSlot) return;
    holdsSlot = false;
    engine.releaseSlot();
  };
  const dir = (): string =>
    artifactsPath(engine.options.artifactsRoot, run.source.workflow.name, run.id, unit.node.task.id, unit.item);
  let ctx: UnitContext | undefined;
  try {
    if (kind === undefined) throw new TaskFailure('error', `unknown kind ${unit.node.task.kind}`, { retryable: false });
    const spec = renderedSpec(kind, m.renderSpec.bind(m), unit);
    ctx = new UnitContext(engine, run, unit, attempt, controller, dir, () => {
      release();
      m.at(engine.clock.now()).waiting(unit);
      engine.collect(run);
    });
    const { result } = await Promise.race([kind.execute(spec, ctx), abandonAfterAbort(engine, controller)]);
    if (CRASH_TESTING) crashPoint('after-side-effect', unitKey(unit.node.task.id, unit.item));
    if (unit.status !== 'running' && unit.status !== 'waiting') return;
    // A file named after a secret keeps its name on disk, but the name is masked in every record.
    const artifacts = ctx.artifactsUsed() ? m.options.redactor.value(sealArtifacts(dir())) : {};
    checkOutputSize(result);
    const outputs = m.at(engine.clock.now()).succeed(unit, result, artifacts);
    if (outputs !== null) engine.cacheResult(run, unit, outputs, artifacts);
  } catch (error) {
    if (unit.status !== 'running' && unit.status !== 'waiting') return;
    const failure = toFailure(error, controller);
    if (failure.reason === 'interrupted') return; // the engine is stopping: the run stays recoverable
    if (failure.result !== undefined) engine.log(run, unit, 'info', `result: ${preview(failure.result)}`);
    const retryAt = m.at(engine.clock.now()).fail(unit, failure);
    if (retryAt !== null) engine.armRetry(run, unit);
  } finally {
    cancelTimeout?.();
    run.controllers.delete(unit);
    release();
    engine.collect(run);
  }
}

/** Specs without templates, parsed once per task (defaults applied). */
const staticSpecs = new WeakMap<object, unknown>();

/**
 * A kind that ignores its abort signal cannot hold a run forever: once the attempt is aborted
 * (timeout, cancel) and the kill grace period plus 5 s has passed, the attempt is given up.
 */
function abandonAfterAbort(engine: Engine, abort: LazyAbort): Promise<never> {
  return new Promise((_, reject) => {
    abort.onAbort(() => {
      const grace = (engine.options.killGraceMs ?? 10_000) + 5_000;
      engine.timers.after(grace, () => {
        const reason =
          abort.reason === 'timeout' ? 'timeout' : abort.reason === 'interrupted' ? 'interrupted' : 'cancelled';
        reject(
          new TaskFailure(
            reason,
            `the task did not stop within ${grace} ms of being ${reason === 'timeout' ? 'timed out' : reason}; it was abandoned`,
          ),
        );
      });
    });
  });
}

function renderedSpec(
  kind: Kind,
  render: (u: Unit, late?: readonly (readonly string[])[]) => unknown,
  unit: Unit,
): unknown {
  const spec = unit.node.task.spec;
  if (spec === null || spec === undefined) return spec;
  const cached = staticSpecs.get(unit.node.task);
  if (cached !== undefined) return cached;
  const fixed = !hasTemplates(spec);
  const parsed = parseSpec(kind, render, unit);
  if (fixed) staticSpecs.set(unit.node.task, parsed);
  return parsed;
}

function parseSpec(
  kind: Kind,
  render: (u: Unit, late?: readonly (readonly string[])[]) => unknown,
  unit: Unit,
): unknown {
  let raw: unknown;
  try {
    raw = render(unit, kind.lateFields ?? []);
  } catch (error) {
    if (error instanceof ExpressionError || error instanceof TemplateSyntaxError) {
      throw new TaskFailure('expression', error.message, { retryable: false });
    }
    throw error;
  }
  if (raw === null || raw === undefined) return raw;
  let parsed = kind.definition.spec.safeParse(raw);
  // A template that yields a number or boolean where the spec wants text (an argv element, a
  // header) is written as text, as it would be in the YAML.
  for (let i = 0; i < 20 && !parsed.success && stringifyScalars(raw, parsed.error.issues); i++) {
    parsed = kind.definition.spec.safeParse(raw);
  }
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const path = issue?.path ?? [];
  let value: unknown = raw;
  for (const key of path) value = (value as Record<PropertyKey, unknown> | null | undefined)?.[key];
  const got =
    value === null
      ? 'null'
      : Array.isArray(value)
        ? 'a list'
        : typeof value === 'object'
          ? 'a map'
          : String(JSON.stringify(value)).slice(0, 100);
  throw new TaskFailure(
    'expression',
    `${unit.node.task.kind}.${path.join('.')}: ${issue?.message ?? 'invalid'}; the template gave ${got} (after evaluating its templates)`,
    { retryable: false },
  );
}

function stringifyScalars(
  root: unknown,
  issues: readonly { code: string; path: PropertyKey[]; expected?: unknown }[],
): boolean {
  let changed = false;
  for (const issue of issues) {
    if (issue.code !== 'invalid_type' || issue.expected !== 'string' || issue.path.length === 0) continue;
    let parent = root as Record<PropertyKey, unknown>;
    for (const key of issue.path.slice(0, -1)) parent = parent?.[key] as Record<PropertyKey, unknown>;
    const last = issue.path.at(-1)!;
    const value = parent?.[last];
    if (typeof value === 'number' || typeof value === 'boolean') {
      parent[last] = String(value);
      changed = true;
    }
  }
  return changed;
}

function checkOutputSize(result: Readonly<Record<string, unknown>>): void {
  let empty = true;
  for (const _ in result) {
    empty = false;
    break;
  }
  if (empty) return;
  const size = Buffer.byteLength(JSON.stringify(result) ?? '');
  if (size > MAX_OUTPUT_BYTES) {
    throw new TaskFailure('limit', `outputs are ${size} bytes, more than the limit of ${MAX_OUTPUT_BYTES}`, {
      retryable: false,
    });
  }
}

function preview(v: unknown): string {
  const s = JSON.stringify(v) ?? '';
  return s.length > 500 ? `${s.slice(0, 500)}…` : s;
}

function toFailure(error: unknown, signal: { readonly aborted: boolean; readonly reason: unknown }): TaskFailure {
  // The engine stopping aborts with 'interrupted', whatever the kind made of it (an approval or a
  // sleep says "cancelled"): the attempt is left for recovery, not recorded as cancelled.
  if (signal.aborted && signal.reason === 'interrupted') return new TaskFailure('interrupted', 'the engine stopped');
  if (error instanceof TaskFailure) return error;
  if (signal.aborted) {
    const reason =
      signal.reason === 'timeout' ? 'timeout' : signal.reason === 'interrupted' ? 'interrupted' : 'cancelled';
    return new TaskFailure(reason, reason === 'timeout' ? 'timed out' : String(signal.reason));
  }
  if (error instanceof ExpressionError || error instanceof TemplateSyntaxError) {
    return new TaskFailure('expression', error.message, { retryable: false });
  }
  return new TaskFailure('error', error instanceof Error ? error.message : String(error));
}

/**
 * An AbortController created only when someone looks at the signal or aborts: most tasks finish
 * without either, and a controller (an EventTarget) per task is a measurable cost at 10k tasks.
 */
export class LazyAbort {
  #controller: AbortController | undefined;
  #reason: unknown;
  #aborted = false;

  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
      if (this.#aborted) this.#controller.abort(this.#reason);
    }
    return this.#controller.signal;
  }

  get aborted(): boolean {
    return this.#aborted;
  }

  get reason(): unknown {
    return this.#reason;
  }

  abort(reason: unknown): void {
    if (this.#aborted) return;
    this.#aborted = true;
    this.#reason = reason;
    this.#controller?.abort(reason);
    for (const fn of this.#listeners) fn();
    this.#listeners = [];
  }

  #listeners: (() => void)[] = [];

  /** Calls `fn` when (or if already) aborted. */
  onAbort(fn: () => void): void {
    if (this.#aborted) fn();
    else this.#listeners.push(fn);
  }
}

/** The TaskContext of one attempt (methods on the prototype: no closures per task). */
class UnitContext implements TaskContext {
  readonly #engine: Engine;
  readonly #run: ActiveRun;
  readonly #unit: Unit;
  readonly #abort: LazyAbort;
  readonly #dir: () => string;
  readonly #onWaiting: () => void;
  #artifactsDir: string | undefined;
  readonly attempt: number;
  readonly previous: unknown;

  constructor(
    engine: Engine,
    run: ActiveRun,
    unit: Unit,
    attempt: number,
    abort: LazyAbort,
    dir: () => string,
    onWaiting: () => void,
  ) {
    this.#engine = engine;
    this.#run = run;
    this.#unit = unit;
    this.#abort = abort;
    this.#dir = dir;
    this.#onWaiting = onWaiting;
    this.attempt = attempt;
    this.previous = unit.checkpoint;
  }

  get runId(): string {
    return this.#run.id;
  }
  get taskId(): string {
    return this.#unit.node.task.id;
  }
  get item(): number | null {
    return this.#unit.item;
  }
  get idempotencyKey(): string {
    const u = this.#unit;
    return u.item === null ? `${this.#run.id}/${u.node.task.id}` : `${this.#run.id}/${u.node.task.id}/${u.item}`;
  }
  get signal(): AbortSignal {
    return this.#abort.signal;
  }
  get logger(): TaskContext['logger'] {
    return {
      line: (stream, text) =>
        this.#engine.log(
          this.#run,
          this.#unit,
          stream,
          // Cut after redaction (in engine.log), so a secret across the cut is still masked whole.
          text,
        ),
    };
  }
  get artifactsDir(): string {
    this.#artifactsDir ??= freshArtifactsDir(this.#dir());
    return this.#artifactsDir;
  }
  artifactsUsed(): boolean {
    return this.#artifactsDir !== undefined;
  }
  get baseDir(): string {
    return dirname(this.#run.source.file);
  }
  get env(): Readonly<Record<string, string>> {
    return this.#engine.childEnv;
  }
  get clock(): TaskContext['clock'] {
    const engine = this.#engine;
    return { now: () => engine.clock.now(), sleep: (ms, s) => engine.timers.sleep(ms, s) };
  }
  get killGraceMs(): number {
    return this.#engine.options.killGraceMs ?? 10_000;
  }
  async checkpoint(state: unknown): Promise<void> {
    await engineCheckpoint(this.#engine, this.#run, this.#unit, state);
  }
  waiting(): void {
    this.#onWaiting();
  }
  evaluate(template: string, extra: Readonly<Record<string, unknown>>): unknown {
    return this.#run.machine.evaluate(template, this.#unit, extra);
  }
  decision(request: DecisionRequest): Promise<Decision | null> {
    return waitForDecision(this.#engine, this.#run, this.#unit, request, this.#abort.signal);
  }
  child(request: ChildRequest): Promise<ChildResult> {
    return runChild(this.#engine, this.#run, this.#unit, request, this.#abort.signal);
  }
  redact(text: string): string {
    return this.#run.machine.options.redactor.text(text);
  }
}
