/**
 * The run state machine (pure: no I/O, no timers). It decides; the executor (engine.ts) acts.
 * Every decision is an event appended to `pending`, applied to the state at once, and written
 * durably by the executor before any effect of it happens (a start, a timer, a child run).
 *
 * Scheduling is event-driven: a task that ends decrements the `remaining` count of its
 * dependents (O(out-degree)); a dependent at zero is considered (`when`, `if`, `for_each`) and
 * either skipped (and the skip propagates) or queued. Nothing scans all tasks in a loop except
 * `rebuild` after a replay.
 */
import { ExpressionError, evaluateTemplate, renderValue, TemplateSyntaxError } from '../expr/index.ts';
import type { KindDefinition, Workflow } from '../model/index.ts';
import { TaskFailure } from '../kinds/types.ts';
import type { Redactor } from './redact.ts';
import { retryDecision } from './retry.ts';
import { type BaseScope, hasTemplates, referencedTasks, taskView } from './scope.ts';
import {
  activate,
  applyTaskEvent,
  IllegalEventError,
  newNode,
  type RunEvent,
  type RunStats,
  settleNode,
  setUnitStatus,
  type TaskNode,
  TERMINAL_TASK,
  type Unit,
  type UnitError,
} from './state.ts';

/** Most items a for_each may expand to (RELIABILITY.md 4.10). */
export const MAX_FANOUT = 10_000;
/** Attempts cut short by the engine stopping before a task is failed instead of retried again. */
export const MAX_INTERRUPTIONS = 3;

export type RunPhase = 'queued' | 'running' | 'cancelling' | 'succeeded' | 'failed' | 'cancelled';

export interface MachineOptions {
  readonly runId: string;
  readonly workflow: Workflow;
  readonly kinds: ReadonlyMap<string, KindDefinition>;
  readonly scope: BaseScope;
  readonly redactor: Redactor;
  readonly random: () => number;
  /** Tasks whose cache is ignored this run (`--force`). */
  readonly force?: ReadonlySet<string>;
}

export class RunMachine {
  readonly options: MachineOptions;
  readonly nodes: TaskNode[];
  readonly #byId = new Map<string, TaskNode>();
  /** Events decided but not yet handed to the executor. */
  pending: RunEvent[] = [];
  /** Nodes with units that may start. */
  readonly #ready: TaskNode[] = [];
  #readyHead = 0;
  phase: RunPhase = 'queued';
  outputs: Record<string, unknown> | null = null;
  error: string | null = null;
  cancelReason: string | null = null;
  #now = 0;
  readonly #stats: RunStats = { running: 0, waiting: 0 };
  /** Tasks not terminal yet. */
  #openCount = 0;
  #refs: (string[] | null)[];

  constructor(options: MachineOptions) {
    this.options = options;
    this.nodes = options.workflow.tasks.map((t, i) =>
      newNode(i, t, options.workflow.dag.needs[i]!.length, this.#stats),
    );
    this.#openCount = this.nodes.length;
    for (const n of this.nodes) this.#byId.set(n.task.id, n);
    this.#refs = this.nodes.map(() => null);
  }

  node(id: string): TaskNode | undefined {
    return this.#byId.get(id);
  }

  kind(node: TaskNode): KindDefinition | undefined {
    return this.options.kinds.get(node.task.kind);
  }

  /** Sets the time stamped on the events decided next. */
  at(now: number): this {
    this.#now = now;
    return this;
  }

  #emit(
    type: string,
    node: TaskNode | null,
    unit: Unit | null,
    data: Record<string, unknown> | null,
    attempt?: number,
  ): void {
    const event: RunEvent & { readonly runId: string } = {
      runId: this.options.runId,
      type,
      task: node?.task.id ?? null,
      item: unit?.item ?? null,
      attempt: attempt ?? (unit === null ? null : unit.attempt),
      at: this.#now,
      data,
    };
    this.apply(event);
    this.pending.push(event);
  }

  /** Applies an event (live or replayed). Throws IllegalEventError for one that cannot happen. */
  apply(e: RunEvent): void {
    if (e.task === null) {
      this.#applyRunEvent(e);
      return;
    }
    const node = this.#byId.get(e.task);
    if (node === undefined) throw new IllegalEventError(`${e.type} for unknown task ${e.task}`);
    const wasOpen = !TERMINAL_TASK.has(node.status);
    applyTaskEvent(node, e);
    const isOpen = !TERMINAL_TASK.has(node.status);
    if (wasOpen !== isOpen) this.#openCount += isOpen ? 1 : -1;
  }

  /** Recounts what transitions keep in step (after a reset, which changes many tasks at once). */
  #recount(): void {
    this.#openCount = 0;
    for (const n of this.nodes) if (!TERMINAL_TASK.has(n.status)) this.#openCount++;
  }

  #applyRunEvent(e: RunEvent): void {
    const d = e.data ?? {};
    switch (e.type) {
      case 'run.created':
      case 'run.recovered':
        return;
      case 'run.started':
        this.phase = 'running';
        return;
      case 'run.cancelling':
        this.phase = 'cancelling';
        this.cancelReason = typeof d.reason === 'string' ? d.reason : 'cancelled';
        return;
      case 'run.resumed':
        this.#applyReset(d);
        this.#recount();
        this.phase = 'running';
        this.outputs = null;
        this.error = null;
        this.cancelReason = null;
        return;
      case 'run.succeeded':
      case 'run.failed':
      case 'run.cancelled':
        this.phase = e.type.slice(4) as RunPhase;
        this.outputs = (d.outputs as Record<string, unknown> | undefined) ?? null;
        this.error = typeof d.error === 'string' ? d.error : null;
        return;
      default:
        throw new IllegalEventError(`unknown event type ${e.type}`);
    }
  }

  get done(): boolean {
    return this.phase === 'succeeded' || this.phase === 'failed' || this.phase === 'cancelled';
  }

  // ---------------------------------------------------------------- starting and recovering

  /** A new run starts: the root tasks are considered. */
  start(): void {
    this.#emit('run.started', null, null, null);
    for (const node of this.nodes) if (node.remaining === 0) this.#consider(node);
    this.#maybeFinish();
  }

  /**
   * After a replay: recounts `remaining`, marks attempts that were running when the engine
   * stopped as interrupted (they run again: at-least-once), re-queues what was ready, and
   * returns the units waiting on a retry timer (the executor re-arms them).
   */
  recover(): Unit[] {
    this.#rebuild();
    this.#emit('run.recovered', null, null, null);
    const retries: Unit[] = [];
    for (const node of this.nodes) {
      if (node.status !== 'active') continue;
      for (const unit of node.units) {
        if (unit.status === 'running' || unit.status === 'waiting') this.#interrupt(unit);
        if (unit.status === 'pending' && unit.retryAt !== null) retries.push(unit);
      }
      this.#enqueue(node);
    }
    if (this.phase === 'cancelling') this.cancel(this.cancelReason ?? 'cancelled');
    else for (const node of this.nodes) if (node.status === 'pending' && node.remaining === 0) this.#consider(node);
    this.#maybeFinish();
    return retries;
  }

  #interrupt(unit: Unit): void {
    this.#emit('task.interrupted', unit.node, unit, null);
    if (unit.interruptions >= MAX_INTERRUPTIONS) {
      this.#finishUnitFailed(
        unit,
        new TaskFailure(
          'interrupted',
          `the engine stopped ${unit.interruptions} times while this task ran; it is not started again (resume the run to try once more)`,
          { retryable: false },
        ),
      );
    }
  }

  #rebuild(): void {
    for (const node of this.nodes) {
      node.remaining = 0;
      for (const need of this.options.workflow.dag.needs[node.index]!) {
        if (!TERMINAL_TASK.has(this.nodes[need]!.status)) node.remaining++;
      }
      node.queued = false;
      node.cursor = 0;
    }
    this.#ready.length = 0;
    this.#readyHead = 0;
  }

  /**
   * Resume a failed or cancelled run (failed, skipped and cancelled tasks run again), or re-run
   * from a task: it and everything downstream run again. `item` limits a for_each task to one item.
   */
  resume(from?: { readonly task: string; readonly item: number | null }): void {
    const reset: { task: string; item: number | null }[] = [];
    if (from === undefined) {
      for (const n of this.nodes) {
        if (n.status !== 'failed' && n.status !== 'skipped' && n.status !== 'cancelled') continue;
        // The succeeded items of a for_each are kept (their side effects happened); the others run again.
        const items = n.units.filter((u) => u.item !== null && u.status !== 'succeeded');
        if (items.length > 0 && items.length < n.units.length) {
          for (const u of items) reset.push({ task: n.task.id, item: u.item });
        } else reset.push({ task: n.task.id, item: null });
      }
    } else {
      const start = this.#byId.get(from.task);
      if (start === undefined) throw new Error(`no task ${from.task} in this run`);
      reset.push({ task: from.task, item: from.item });
      for (const id of this.options.workflow.dag.downstream(start.task.id)) reset.push({ task: id, item: null });
    }
    this.#emit('run.resumed', null, null, { reset });
    this.#rebuild();
    for (const node of this.nodes) {
      if (node.status === 'pending' && node.remaining === 0) this.#consider(node);
      else if (node.status === 'active') this.#enqueue(node);
    }
    this.#maybeFinish();
  }

  #applyReset(d: Readonly<Record<string, unknown>>): void {
    const reset = Array.isArray(d.reset) ? (d.reset as { task: string; item: number | null }[]) : [];
    for (const r of reset) {
      const node = this.#byId.get(r.task);
      if (node === undefined) throw new IllegalEventError(`run.resumed resets unknown task ${r.task}`);
      if (r.item !== null && r.item !== undefined) {
        const unit = node.units[r.item];
        if (unit === undefined)
          throw new IllegalEventError(`run.resumed resets ${r.task}[${r.item}], which does not exist`);
        this.#resetUnit(unit);
        if (node.status !== 'active') node.status = 'active';
        continue;
      }
      if (node.task.document.for_each !== undefined || node.status !== 'active') {
        node.status = 'pending';
        node.units = [];
        node.open = 0;
        node.active = 0;
        node.skipReason = null;
      } else {
        for (const u of node.units) this.#resetUnit(u);
      }
    }
  }

  #resetUnit(unit: Unit): void {
    setUnitStatus(unit, 'pending');
    unit.node.status = 'active';
    unit.outputs = null;
    unit.error = null;
    unit.retryAt = null;
    unit.cached = null;
    unit.checkpoint = undefined;
    unit.interruptions = 0;
  }

  // ---------------------------------------------------------------- deciding what runs

  #consider(node: TaskNode): void {
    if (node.status !== 'pending') return;
    if (this.phase === 'cancelling') {
      this.#emit('task.cancelled', node, null, { reason: this.cancelReason });
      this.#onTerminal(node);
      return;
    }
    const skip = this.#whenBlocks(node);
    if (skip !== null) return this.#skip(node, skip);
    const doc = node.task.document;
    if (doc.if !== undefined) {
      let holds: unknown;
      try {
        holds = this.#eval(doc.if, node, null, {});
      } catch (error) {
        return this.#failWhole(node, this.#asFailure(error, 'if'));
      }
      if (holds !== true) return this.#skip(node, `if: condition is ${JSON.stringify(holds)}`);
    }
    if (doc.for_each !== undefined) {
      let items: unknown;
      try {
        items =
          typeof doc.for_each === 'string'
            ? this.#eval(doc.for_each, node, null, {})
            : renderValue(doc.for_each, this.scopeFor(node, null, {}));
      } catch (error) {
        return this.#failWhole(node, this.#asFailure(error, 'for_each'));
      }
      if (!Array.isArray(items)) {
        return this.#failWhole(
          node,
          new TaskFailure('expression', `for_each: expected a list, got ${typeName(items)}`, { retryable: false }),
        );
      }
      if (items.length > MAX_FANOUT) {
        return this.#failWhole(
          node,
          new TaskFailure('limit', `for_each: ${items.length} items, more than the limit of ${MAX_FANOUT}`, {
            retryable: false,
          }),
        );
      }
      this.#emit('task.expanded', node, null, { items: this.options.redactor.value(items) });
      if ((node.status as string) !== 'active') return this.#onTerminal(node);
    } else activate(node);
    this.#enqueue(node);
  }

  /** Why `when` rules a task out given its needs, or null when it may run. */
  #whenBlocks(node: TaskNode): string | null {
    const needs = this.options.workflow.dag.needs[node.index]!;
    if (needs.length === 0) return null;
    const when = node.task.when;
    if (when === 'always') return null;
    let failed: string | null = null;
    let notOk: string | null = null;
    for (const i of needs) {
      const n = this.nodes[i]!;
      if (n.status === 'failed') failed ??= n.task.id;
      if (n.status !== 'succeeded') notOk ??= `${n.task.id} ${n.status}`;
    }
    if (when === 'failure') return failed === null ? 'when: failure, and no needed task failed' : null;
    return notOk === null ? null : `needs: ${notOk}`;
  }

  #skip(node: TaskNode, reason: string): void {
    // The reason may quote a value (`if: condition is "..."`): masked like any output.
    this.#emit('task.skipped', node, null, { reason: this.options.redactor.text(reason) });
    this.#onTerminal(node);
  }

  /** A task that fails before any unit runs (its `if` or `for_each` could not be evaluated). */
  #failWhole(node: TaskNode, failure: TaskFailure): void {
    this.#emit('task.failed', node, null, { error: this.#errorOf(failure) }, 0);
    this.#onTerminal(node);
  }

  #enqueue(node: TaskNode): void {
    if (node.queued || node.status !== 'active') return;
    node.queued = true;
    this.#ready.push(node);
  }

  /**
   * The next unit that may start, or undefined. Respects each task's `concurrency`; the caller
   * respects the engine's capacity. The unit becomes `starting` (the caller then looks up its
   * cache and calls `begin` or `cacheHit`).
   */
  /** Tasks ready to start and not started yet (a for_each task counts once). */
  get readyDepth(): number {
    return this.#ready.length - this.#readyHead;
  }

  nextReady(): Unit | undefined {
    while (this.#readyHead < this.#ready.length) {
      const node = this.#ready[this.#readyHead]!;
      const unit = this.#startable(node);
      if (unit !== undefined) {
        setUnitStatus(unit, 'starting');
        return unit;
      }
      node.queued = false;
      this.#readyHead++;
      if (this.#readyHead > 1024 && this.#readyHead * 2 > this.#ready.length) {
        this.#ready.splice(0, this.#readyHead);
        this.#readyHead = 0;
      }
    }
    return undefined;
  }

  #startable(node: TaskNode): Unit | undefined {
    if (node.status !== 'active' || this.phase === 'cancelling') return undefined;
    const limit = node.task.document.concurrency ?? Infinity;
    while (node.cursor < node.units.length && node.active < limit) {
      const unit = node.units[node.cursor]!;
      if (unit.status === 'pending' && unit.retryAt === null) return unit;
      node.cursor++;
    }
    return undefined;
  }

  /** The unit's cache key (rendered), or null when the task has none. */
  cacheKey(unit: Unit): string | null {
    const cache = unit.node.task.document.cache;
    if (cache === undefined) return null;
    // Masked the same way on every run, so a key holding a secret still matches, and is stored masked.
    return this.options.redactor.text(String(this.#eval(cache.key, unit.node, unit, {})));
  }

  /** `--force` names the unit's task: its cache is not looked up, and its new result replaces the entry. */
  forced(unit: Unit): boolean {
    return this.options.force?.has(unit.node.task.id) === true;
  }

  cacheHit(
    unit: Unit,
    entry: { runId: string; createdAt: number; outputs: unknown; artifacts: Readonly<Record<string, string>> },
  ): void {
    this.#emit('task.succeeded', unit.node, unit, {
      outputs: entry.outputs,
      artifacts: entry.artifacts,
      cached: { run: entry.runId, at: entry.createdAt },
    });
    this.#unitEnded(unit);
  }

  /** The unit starts its next attempt (durable before the executor runs it). */
  begin(unit: Unit): number {
    const attempt = unit.attempt + 1;
    this.#emit('task.started', unit.node, unit, null, attempt);
    return attempt;
  }

  /** The spec with templates evaluated, except the fields the kind evaluates itself. */
  renderSpec(unit: Unit, late: readonly (readonly string[])[] = []): unknown {
    const spec = unit.node.task.spec;
    if (!hasTemplates(spec)) return spec;
    const scope = this.scopeFor(unit.node, unit, {});
    return renderExcept(spec, scope, late, []);
  }

  waiting(unit: Unit): void {
    if (unit.status === 'running') this.#emit('task.waiting', unit.node, unit, null);
  }

  checkpoint(unit: Unit, state: unknown): void {
    this.#emit('task.checkpoint', unit.node, unit, { state: this.options.redactor.value(state) });
  }

  // ---------------------------------------------------------------- results

  /** An attempt produced a result: outputs and asserts decide success. */
  succeed(
    unit: Unit,
    result: Readonly<Record<string, unknown>>,
    artifacts: Readonly<Record<string, string>>,
  ): Record<string, unknown> | null {
    const node = unit.node;
    const kind = this.kind(node);
    const extra: Record<string, unknown> = { result };
    if (kind?.response === true) extra.response = result;
    let outputs: Record<string, unknown>;
    try {
      for (const [i, a] of (node.task.document.assert ?? []).entries()) {
        const holds = this.#eval(a, node, unit, extra);
        if (holds !== true) {
          throw new TaskFailure('assertion', `assert[${i}] does not hold: ${a}`, { retryable: false });
        }
      }
      outputs = this.#outputsOf(node, unit, kind, result, extra);
    } catch (error) {
      this.fail(unit, this.#asFailure(error, 'outputs'));
      return null;
    }
    outputs = this.options.redactor.value(outputs);
    this.#emit('task.succeeded', node, unit, { outputs, artifacts });
    this.#unitEnded(unit);
    return outputs;
  }

  #outputsOf(
    node: TaskNode,
    unit: Unit,
    kind: KindDefinition | undefined,
    result: Readonly<Record<string, unknown>>,
    extra: Record<string, unknown>,
  ): Record<string, unknown> {
    const declared = node.task.document.outputs;
    const out = Object.create(null) as Record<string, unknown>;
    if (declared !== undefined) {
      for (const [name, template] of Object.entries(declared)) {
        try {
          out[name] =
            typeof template === 'string'
              ? this.#eval(template, node, unit, extra)
              : renderValue(template, this.scopeFor(node, unit, extra));
        } catch (error) {
          throw this.#asFailure(error, `outputs.${name}`);
        }
      }
      return out;
    }
    if (kind === undefined || kind.outputs === 'dynamic') return { ...result };
    for (const name of kind.outputs) out[name] = result[name] ?? null;
    return out;
  }

  /** An attempt failed: retried after a delay, or the unit fails. Returns the retry time or null. */
  fail(unit: Unit, failure: TaskFailure): number | null {
    if (failure.reason === 'cancelled' || this.phase === 'cancelling') {
      const reason = this.cancelReason ?? this.options.redactor.text(failure.message);
      this.#emit('task.cancelled', unit.node, unit, { reason });
      this.#unitEnded(unit);
      return null;
    }
    const used = unit.attempt - unit.interruptions;
    const decision = retryDecision(unit.node.task.document.retry, failure, Math.max(1, used), this.options.random);
    if (decision.retry) {
      const at = this.#now + decision.delayMs;
      this.#emit('task.failed', unit.node, unit, { error: this.#errorOf(failure), retry_at: at });
      return at;
    }
    this.#finishUnitFailed(unit, failure);
    return null;
  }

  #finishUnitFailed(unit: Unit, failure: TaskFailure): void {
    this.#emit('task.failed', unit.node, unit, { error: this.#errorOf(failure) });
    this.#unitEnded(unit);
  }

  /** A retry timer fired: the unit may start again. */
  retryDue(unit: Unit): void {
    if (unit.status !== 'pending' || unit.retryAt === null) return;
    unit.retryAt = null;
    if (this.phase === 'cancelling') {
      this.#emit('task.cancelled', unit.node, unit, { reason: this.cancelReason });
      this.#unitEnded(unit);
      return;
    }
    unit.node.cursor = Math.min(unit.node.cursor, unit.item ?? 0);
    this.#enqueue(unit.node);
  }

  #unitEnded(unit: Unit): void {
    const node = unit.node;
    settleNode(node);
    if (TERMINAL_TASK.has(node.status)) this.#onTerminal(node);
    else this.#enqueue(node);
    this.#maybeFinish();
  }

  #onTerminal(node: TaskNode): void {
    for (const d of this.options.workflow.dag.dependents[node.index]!) {
      const dep = this.nodes[d]!;
      dep.remaining--;
      if (dep.remaining === 0) this.#consider(dep);
    }
  }

  // ---------------------------------------------------------------- cancelling and finishing

  /** Cancels the run: tasks not started are cancelled; the executor aborts the running ones. */
  cancel(reason: string): Unit[] {
    if (this.done) return [];
    if (this.phase !== 'cancelling') this.#emit('run.cancelling', null, null, { reason });
    const running: Unit[] = [];
    for (const node of this.nodes) {
      if (node.status === 'pending') {
        this.#emit('task.cancelled', node, null, { reason });
        continue;
      }
      if (node.status !== 'active') continue;
      for (const unit of node.units) {
        if (unit.status === 'pending' || unit.status === 'starting') {
          this.#emit('task.cancelled', node, unit, { reason });
        } else if (unit.status === 'running' || unit.status === 'waiting') running.push(unit);
      }
      settleNode(node);
    }
    this.#recount();
    this.#maybeFinish();
    return running;
  }

  /** Units running or waiting now (counted for the run's state). */
  activity(): { running: number; waiting: number } {
    return { running: this.#stats.running, waiting: this.#stats.waiting };
  }

  #openTasks(): boolean {
    return this.#openCount > 0;
  }

  #maybeFinish(): void {
    if (this.done || this.phase === 'queued') return;
    if (this.#openTasks()) return;
    if (this.phase === 'cancelling') {
      const timedOut = this.cancelReason?.startsWith('run timed out') === true;
      if (timedOut) this.#emit('run.failed', null, null, { error: this.cancelReason });
      else this.#emit('run.cancelled', null, null, { error: this.cancelReason });
      return;
    }
    // A task cancelled while the run was not (a child run cancelled on its own) fails the run too.
    const failed = this.nodes.find((n) => n.status === 'failed') ?? this.nodes.find((n) => n.status === 'cancelled');
    let outputs: Record<string, unknown> | null = null;
    let error: string | null = null;
    try {
      outputs = this.#runOutputs();
    } catch (e) {
      if (failed === undefined) error = `outputs: ${(e as Error).message}`;
    }
    if (failed !== undefined) {
      const unit = failed.units.find((u) => u.status === failed.status);
      const msg = unit?.error?.message ?? failed.status;
      error = `task ${failed.task.id}${unit !== undefined && unit.item !== null ? `[${unit.item}]` : ''} ${failed.status}: ${msg}`;
    }
    outputs = outputs === null ? null : this.options.redactor.value(outputs);
    if (error === null) this.#emit('run.succeeded', null, null, { outputs });
    else this.#emit('run.failed', null, null, { outputs, error: this.options.redactor.text(error) });
  }

  #runOutputs(): Record<string, unknown> | null {
    const declared = this.options.workflow.document.outputs;
    if (declared === undefined) return null;
    const scope = this.#scopeWithTasks(referencedTasks(declared), {});
    return renderValue(declared, scope) as Record<string, unknown>;
  }

  // ---------------------------------------------------------------- expressions

  /** Evaluates a template in a task's scope. */
  evaluate(template: string, unit: Unit, extra: Readonly<Record<string, unknown>>): unknown {
    return this.#eval(template, unit.node, unit, extra);
  }

  #eval(template: string, node: TaskNode, unit: Unit | null, extra: Readonly<Record<string, unknown>>): unknown {
    return evaluateTemplate(template, this.scopeFor(node, unit, extra));
  }

  scopeFor(node: TaskNode, unit: Unit | null, extra: Readonly<Record<string, unknown>>): Record<string, unknown> {
    let refs = this.#refs[node.index];
    if (refs === null || refs === undefined) {
      refs = referencedTasks(node.task.document);
      this.#refs[node.index] = refs;
    }
    const scope = this.#scopeWithTasks(refs, extra);
    if (unit !== null && unit.item !== null) {
      scope.item = unit.value;
      scope.index = unit.item;
    }
    return scope;
  }

  #scopeWithTasks(ids: readonly string[], extra: Readonly<Record<string, unknown>>): Record<string, unknown> {
    const base = this.options.scope;
    const tasks = Object.create(null) as Record<string, unknown>;
    for (const id of ids) {
      const n = this.#byId.get(id);
      if (n !== undefined) tasks[id] = taskView(n, this.kind(n));
    }
    return { ...base, tasks, ...extra };
  }

  #asFailure(error: unknown, where: string): TaskFailure {
    if (error instanceof TaskFailure) return error;
    if (error instanceof ExpressionError || error instanceof TemplateSyntaxError) {
      return new TaskFailure('expression', `${where}: ${error.message}`, { retryable: false });
    }
    return new TaskFailure('error', `${where}: ${(error as Error).message ?? String(error)}`, { retryable: false });
  }

  #errorOf(f: TaskFailure): UnitError {
    const r = this.options.redactor;
    return {
      reason: f.reason,
      message: r.text(f.message),
      ...(f.status === undefined ? {} : { status: f.status }),
      ...(f.exitCode === undefined ? {} : { exit_code: f.exitCode }),
    };
  }
}

function typeName(v: unknown): string {
  if (Array.isArray(v)) return 'a list';
  if (v === null) return 'null';
  return typeof v === 'object' ? 'a map' : `a ${typeof v}`;
}

/** renderValue, leaving the listed paths as written. */
function renderExcept(
  value: unknown,
  scope: Record<string, unknown>,
  late: readonly (readonly string[])[],
  path: string[],
): unknown {
  if (late.some((p) => p.length === path.length && p.every((s, i) => s === path[i]))) return value;
  if (typeof value === 'string') return evaluateTemplate(value, scope);
  if (Array.isArray(value)) return value.map((v, i) => renderExcept(v, scope, late, [...path, String(i)]));
  if (value !== null && typeof value === 'object') {
    const out = Object.create(null) as Record<string, unknown>;
    for (const [k, v] of Object.entries(value)) out[k] = renderExcept(v, scope, late, [...path, k]);
    return out;
  }
  return value;
}
