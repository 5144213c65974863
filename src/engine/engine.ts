/**
 * The executor around RunMachine: it owns runs, writes what the machines decide in batches (all
 * that happens in one tick is one transaction), and only after a batch is durable does it act
 * on it: start tasks, arm timers, report events. Kinds run behind the Kind interface; the
 * store behind the Store interface. See docs/engine.md.
 */
import { randomBytes } from 'node:crypto';
import { RivetError } from '../errors.ts';
import { evaluateTemplate } from '../expr/index.ts';
import type { Decision } from '../kinds/types.ts';
import { parseDuration } from '../model/index.ts';
import { currentOwner, ownerAlive as ownerAliveFn } from '../store/owner.ts';
import type { LogLine, NewEvent, RunRecord, RunState } from '../store/types.ts';
import { TERMINAL_RUN_STATES } from '../store/types.ts';
import { systemClock, type TimerClock } from './clock.ts';
import { CRASH_TESTING, crashPoint } from './crash-points.ts';
import { Redactor } from './redact.ts';
import { replayRun } from './replay.ts';
import { RunMachine } from './run-machine.ts';
import { type BaseScope, baseScope } from './scope.ts';
import type { Unit } from './state.ts';
import { executeUnit, type LazyAbort } from './execute.ts';
import { emptyPending, hasWork, hasWrites, type Pending, writeWithRetry } from './batch.ts';
import {
  cutLine,
  defaultChildEnv,
  expressionFailure,
  fromProblem,
  killLeftoverGroups,
  parseFrom,
  safe,
} from './support.ts';

export { MAX_LOG_LINE, parseFrom } from './support.ts';
import { Timers } from './timers.ts';
import type { EngineListener, EngineOptions, RunHandle, RunOutcome, StartRequest, WorkflowSource } from './types.ts';

/** Time-sortable, URL-safe run ids: base-36 milliseconds plus random characters. */
export function newRunId(now: number): string {
  const rand = randomBytes(4).readUInt32BE(0).toString(36).padStart(7, '0').slice(0, 5);
  return `${now.toString(36)}${rand}`;
}

export const unitKey = (task: string, item: number | null): string => (item === null ? task : `${task}[${item}]`);

/** A run this engine executes now. */
export interface ActiveRun {
  readonly id: string;
  readonly machine: RunMachine;
  readonly source: WorkflowSource;
  readonly record: { readonly concurrencyKey: string | null; readonly parentRun: string | null };
  epoch: number;
  lastState: RunState | null;
  finalized: boolean;
  waitingForSlot: boolean;
  /** What starts the run once its concurrency slot is free. */
  pendingStart: (() => void) | null;
  readonly controllers: Map<Unit, LazyAbort>;
  readonly cacheKeys: Map<Unit, string>;
  readonly waiters: Map<string, (d: Decision | null) => void>;
  readonly decisions: Map<string, Decision>;
  /** Child-task path to resume a child run from (`--from parent/child`). */
  readonly childFrom: Map<string, string>;
  readonly cancelRunTimeout: (() => void) | null;
  readonly resolve: (o: RunOutcome) => void;
  readonly done: Promise<RunOutcome>;
}

export class Engine {
  readonly options: EngineOptions;
  readonly clock: TimerClock;
  readonly timers: Timers;
  readonly redactor: Redactor;
  readonly childEnv: Readonly<Record<string, string>>;
  readonly capacity: number;
  readonly active = new Map<string, ActiveRun>();
  readonly #listeners = new Set<EngineListener>();
  #pending = emptyPending();
  #scheduled = false;
  #flushing = false;
  #busy = 0;
  #poller: NodeJS.Timeout | undefined;
  #fatal: Error | null = null;
  #stopping = false;
  readonly #savedVersions = new Set<string>();

  constructor(options: EngineOptions) {
    this.options = options;
    this.clock = options.clock ?? systemClock;
    this.timers = new Timers(this.clock);
    this.redactor = new Redactor(options.secrets ?? {});
    this.capacity = options.capacity ?? 32;
    this.childEnv = options.childEnv ?? defaultChildEnv();
  }

  on(listener: EngineListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  get busy(): number {
    return this.#busy;
  }

  /** Work waiting for capacity: ready tasks not started, and runs queued for a concurrency slot. */
  queueDepth(): number {
    let depth = 0;
    for (const run of this.active.values()) depth += run.waitingForSlot ? 1 : run.machine.readyDepth;
    return depth;
  }

  // ------------------------------------------------------------------ starting runs

  async startRun(request: StartRequest): Promise<RunHandle> {
    this.#assertUsable();
    const { source } = request;
    const now = this.clock.now();
    const id = request.id ?? newRunId(now);
    const inputs = this.#storedInputs(source, request.inputs);
    // A version is its content hash: once saved by this engine, saving it again changes nothing.
    if (!this.#savedVersions.has(source.version)) {
      await this.options.store.saveWorkflowVersion({
        version: source.version,
        name: source.workflow.name,
        file: source.file,
        source: source.source,
        createdAt: now,
      });
      this.#savedVersions.add(source.version);
    }
    const scope = this.buildScope(source, request.inputs, id, request.trigger ?? 'manual', request.event ?? null, now);
    const concurrencyKey = this.#concurrencyKey(source, scope);
    // Through the retrying write: a store that is briefly busy or full does not crash the start (C8).
    await this.#write({
      ...emptyPending(),
      runs: [
        {
          id,
          workflow: source.workflow.name,
          version: source.version,
          trigger: request.trigger ?? 'manual',
          inputs,
          parentRun: request.parent?.runId ?? null,
          parentTask: request.parent === undefined ? null : unitKey(request.parent.task, request.parent.item),
          concurrencyKey,
          createdAt: now,
        },
      ],
      events: [
        {
          runId: id,
          type: 'run.created',
          task: null,
          item: null,
          attempt: null,
          at: now,
          data: this.redactor.value({
            workflow: source.workflow.name,
            version: source.version,
            file: source.file,
            trigger: request.trigger ?? 'manual',
            inputs,
            event: request.event ?? null,
            force: request.force ?? [],
            parent: request.parent ?? null,
          }),
        },
      ],
    });
    const claim = await this.options.store.claimRun(id, currentOwner());
    if (!claim.ok) throw new RivetError('RV603', claim.reason);
    const created = await this.options.store.readEvents(id);
    for (const e of created) for (const l of this.#listeners) safe(() => l.event?.(e));
    const machine = this.buildMachine(id, source, scope, request.force ?? []);
    const run = this.#activate(id, machine, source, claim.epoch, concurrencyKey, request.parent?.runId ?? null, now);
    await this.#begin(run, () => machine.at(this.clock.now()).start());
    return { runId: id, done: run.done };
  }

  /** Inputs as stored: `secret: true` inputs are masked (they are kept in memory only). */
  #storedInputs(source: WorkflowSource, inputs: Readonly<Record<string, unknown>>): Record<string, unknown> {
    const defs = source.workflow.document.inputs ?? {};
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(inputs)) out[k] = defs[k]?.secret === true ? '***' : v;
    return this.redactor.value(out);
  }

  buildScope(
    source: WorkflowSource,
    inputs: Readonly<Record<string, unknown>>,
    id: string,
    trigger: string,
    event: unknown,
    startedAt: number,
  ): BaseScope {
    return baseScope({
      workflow: source.workflow.name,
      version: source.version,
      runId: id,
      trigger,
      startedAt,
      inputs,
      vars: this.options.vars,
      secrets: this.options.secrets,
      env: this.options.envScope,
      event,
    });
  }

  #concurrencyKey(source: WorkflowSource, scope: BaseScope): string | null {
    const c = source.workflow.document.concurrency;
    if (c?.key === undefined) return null;
    // A key template sees inputs, vars and run only; a secret in it is stored masked.
    return this.redactor.text(String(evaluateTemplate(c.key, { ...scope, tasks: {} })));
  }

  buildMachine(id: string, source: WorkflowSource, scope: BaseScope, force: readonly string[]): RunMachine {
    const secretInputs: Record<string, string> = {};
    for (const [k, def] of Object.entries(source.workflow.document.inputs ?? {})) {
      const v = scope.inputs[k];
      if (def.secret === true && v !== undefined && v !== null) secretInputs[`input:${k}`] = String(v);
    }
    const redactor =
      Object.keys(secretInputs).length === 0
        ? this.redactor
        : new Redactor({ ...(this.options.secrets ?? {}), ...secretInputs });
    return new RunMachine({
      runId: id,
      workflow: source.workflow,
      kinds: this.options.kinds.definitionMap,
      scope,
      redactor,
      random: this.options.random ?? Math.random,
      force: new Set(force),
    });
  }

  #activate(
    id: string,
    machine: RunMachine,
    source: WorkflowSource,
    epoch: number,
    concurrencyKey: string | null,
    parentRun: string | null,
    startedAt: number,
  ): ActiveRun {
    let resolve!: (o: RunOutcome) => void;
    const done = new Promise<RunOutcome>((r) => (resolve = r));
    const timeout = source.workflow.document.timeout;
    const ms = timeout === undefined ? undefined : parseDuration(timeout);
    const run: ActiveRun = {
      id,
      machine,
      source,
      record: { concurrencyKey, parentRun },
      epoch,
      lastState: null,
      finalized: false,
      waitingForSlot: false,
      pendingStart: null,
      controllers: new Map(),
      cacheKeys: new Map(),
      waiters: new Map(),
      decisions: new Map(),
      childFrom: new Map(),
      cancelRunTimeout:
        ms === undefined
          ? null
          : this.timers.at(startedAt + ms, () => this.#cancelActive(run, `run timed out after ${timeout}`)),
      resolve,
      done,
    };
    this.active.set(id, run);
    this.#ensurePoller();
    return run;
  }

  /** Takes the run's concurrency slot (or leaves it queued), then lets `start` decide. */
  async #begin(run: ActiveRun, start: () => void): Promise<void> {
    const key = run.record.concurrencyKey;
    if (key !== null) {
      const limit = run.source.workflow.document.concurrency?.limit ?? 1;
      const ok = await this.options.store.acquireSlot(key, limit, run.id, ownerAliveFn);
      if (!ok) {
        run.waitingForSlot = true;
        run.pendingStart = start;
        this.#log(run, null, 'info', `queued: ${limit} run(s) with concurrency key "${key}" are running`);
        this.#schedule();
        return;
      }
    }
    start();
    this.collect(run);
  }

  // ------------------------------------------------------------------ resuming and recovering

  /** Replays a stored run and takes it over: recovers it if it was interrupted, else resumes it. */
  async resumeRun(
    runId: string,
    options: { readonly from?: string; readonly recoverOnly?: boolean } = {},
  ): Promise<RunHandle> {
    this.#assertUsable();
    const existing = this.active.get(runId);
    if (existing !== undefined) return { runId, done: existing.done };
    const store = this.options.store;
    const record = await store.getRun(runId);
    if (record === undefined) throw new RivetError('RV602', `no run ${runId}`);
    if (record.state === 'succeeded' && options.from === undefined) {
      throw new RivetError('RV604', `run ${runId} succeeded; there is nothing to resume`, {
        hint: 'use --from TASK to run a task and everything downstream of it again',
      });
    }
    const from = parseFrom(options.from);
    const claim = await store.claimRun(runId, currentOwner());
    if (!claim.ok) {
      throw new RivetError('RV603', claim.reason, {
        hint: 'only one engine executes a run; wait for it or stop that process',
      });
    }
    const replayed = await replayRun(this, record);
    if (replayed.poisoned !== null) {
      await this.#failPoisoned(record, claim.epoch, replayed.poisoned);
      const outcome: RunOutcome = { runId, state: 'failed', outputs: null, error: replayed.poisoned };
      return { runId, done: Promise.resolve(outcome) };
    }
    const { machine, source } = replayed;
    killLeftoverGroups(machine);
    const problem =
      from === undefined
        ? null
        : !machine.done
          ? `run ${runId} did not finish (it was interrupted): resume it without --from first, or cancel it`
          : fromProblem(machine, from);
    if (problem !== null) {
      // Checked before the run is activated: a bad --from must leave it as it was, unowned.
      await store.releaseRun(runId, claim.epoch);
      throw new RivetError('RV502', problem);
    }
    const run = this.#activate(
      runId,
      machine,
      source,
      claim.epoch,
      record.concurrencyKey,
      record.parentRun,
      // A finished run that is resumed gets a whole run timeout again; a recovered one keeps its deadline.
      TERMINAL_RUN_STATES.has(record.state) ? this.clock.now() : (record.startedAt ?? record.createdAt),
    );
    if (from?.child !== undefined) run.childFrom.set(unitKey(from.task, from.item), from.child);
    await this.#begin(run, () => {
      machine.at(this.clock.now());
      if (machine.done) {
        if (options.recoverOnly === true) return;
        machine.resume(from === undefined ? undefined : { task: from.task, item: from.item });
      } else if (machine.phase === 'queued') machine.start();
      else for (const unit of machine.recover()) this.#armRetry(run, unit);
    });
    if (options.recoverOnly === true && machine.done) this.#finalize(run);
    return { runId, done: run.done };
  }

  async #failPoisoned(record: RunRecord, epoch: number, reason: string): Promise<void> {
    const now = this.clock.now();
    const error = this.redactor.text(`the run's stored state cannot be read: ${reason}`);
    await this.options.store.write(
      {
        events: [
          { runId: record.id, type: 'run.failed', task: null, item: null, attempt: null, at: now, data: { error } },
        ],
        updates: [{ id: record.id, state: 'failed', finishedAt: now, error }],
      },
      new Map([[record.id, epoch]]),
    );
    await this.options.store.releaseRun(record.id, epoch);
  }

  /**
   * Runs left running by a process that died (top-level ones; children are picked up by their
   * parent's workflow task).
   */
  async orphanedRuns(): Promise<RunRecord[]> {
    const runs = await this.options.store.listRuns({
      state: ['queued', 'running', 'waiting'],
      topLevel: true,
      limit: 1000,
    });
    // A run never started, without an owner, created a moment ago is being started by another
    // process (between its insert and its claim): taking it over would fail one of them.
    const starting = (r: RunRecord): boolean =>
      r.owner === null && r.startedAt === null && this.clock.now() - r.createdAt < 60_000;
    return runs.filter((r) => !this.active.has(r.id) && (r.owner === null || !ownerAliveFn(r.owner)) && !starting(r));
  }

  // ------------------------------------------------------------------ commands

  /** Cancels a run this engine executes, or asks its owner to, or cancels an orphaned one. */
  async cancelRun(runId: string, reason = 'cancelled by user'): Promise<'cancelling' | 'requested'> {
    const run = this.active.get(runId);
    if (run !== undefined) {
      this.#cancelActive(run, reason);
      return 'cancelling';
    }
    const record = await this.options.store.getRun(runId);
    if (record === undefined) throw new RivetError('RV602', `no run ${runId}`);
    if (TERMINAL_RUN_STATES.has(record.state)) throw new RivetError('RV604', `run ${runId} already ${record.state}`);
    if (record.owner !== null && ownerAliveFn(record.owner)) {
      await this.options.store.postCommand({
        runId,
        type: 'cancel',
        task: null,
        item: null,
        data: { reason },
        createdAt: this.clock.now(),
      });
      return 'requested';
    }
    const handle = await this.resumeRun(runId, { recoverOnly: true });
    const active = this.active.get(runId);
    if (active !== undefined) this.#cancelActive(active, reason);
    await handle.done;
    return 'cancelling';
  }

  #cancelActive(run: ActiveRun, reason: string): void {
    if (run.waitingForSlot) {
      // A run still queued for its slot starts (or resumes) only to be cancelled at once.
      run.waitingForSlot = false;
      const start = run.pendingStart;
      run.pendingStart = null;
      run.machine.at(this.clock.now());
      start?.();
    }
    if (run.machine.done) {
      this.collect(run);
      return;
    }
    const running = run.machine.at(this.clock.now()).cancel(reason);
    for (const unit of running)
      run.controllers.get(unit)?.abort(reason.startsWith('run timed out') ? 'timeout' : 'cancelled');
    this.collect(run);
  }

  /**
   * Delivers an approval decision to a task of a run this engine executes (kept until the task
   * waits, when it is not waiting yet). False when the run is not here or the task is no approval.
   */
  decide(runId: string, task: string, item: number | null, decision: Decision): boolean {
    const run = this.active.get(runId);
    if (run === undefined) return false;
    // Only an approval task of this run (and, for a for_each, one of its items) takes a decision.
    const node = run.machine.node(task);
    if (node === undefined || node.task.kind !== 'approval') return false;
    if ((item === null) !== (node.task.document.for_each === undefined)) return false;
    const key = unitKey(task, item);
    const waiter = run.waiters.get(key);
    if (waiter !== undefined) waiter(decision);
    else run.decisions.set(key, decision);
    return true;
  }

  #ensurePoller(): void {
    if (this.#poller !== undefined) return;
    this.#poller = setInterval(() => void this.#poll(), this.options.commandPollMs ?? 250);
  }

  #polling = false;
  readonly #takenCommands = new Set<number>();

  async #poll(): Promise<void> {
    if (this.active.size === 0) {
      clearInterval(this.#poller);
      this.#poller = undefined;
      return;
    }
    if (this.#polling) return;
    this.#polling = true;
    try {
      const commands = await this.options.store.takeCommands([...this.active.keys()]);
      for (const c of commands) {
        // A command is deleted by the next batch; until then a later poll sees it again.
        if (this.#takenCommands.has(c.id)) continue;
        this.#takenCommands.add(c.id);
        this.#pending.committed.push(() => this.#takenCommands.delete(c.id));
        const run = this.active.get(c.runId);
        this.#pending.commandsDone.push(c.id);
        if (run === undefined) continue;
        if (c.type === 'cancel')
          this.#cancelActive(run, typeof c.data.reason === 'string' ? c.data.reason : 'cancelled');
        else this.decide(c.runId, c.task ?? '', c.item, c.data as unknown as Decision);
      }
      if (commands.length > 0) this.#schedule();
      for (const run of this.active.values()) if (run.waitingForSlot) await this.#retrySlot(run);
      const ids = [...this.active.keys()];
      if (this.#heartbeatDue()) await this.options.store.heartbeat(currentOwner(), ids, Date.now());
    } catch (error) {
      this.#log(null, null, 'info', `polling the store failed: ${(error as Error).message}`);
    } finally {
      this.#polling = false;
    }
  }

  #lastHeartbeat = 0;
  #heartbeatDue(): boolean {
    const now = Date.now();
    if (now - this.#lastHeartbeat < 10_000) return false;
    this.#lastHeartbeat = now;
    return true;
  }

  async #retrySlot(run: ActiveRun): Promise<void> {
    const key = run.record.concurrencyKey!;
    const limit = run.source.workflow.document.concurrency?.limit ?? 1;
    if (!(await this.options.store.acquireSlot(key, limit, run.id, ownerAliveFn))) return;
    run.waitingForSlot = false;
    const start = run.pendingStart;
    run.pendingStart = null;
    start?.();
    this.collect(run);
  }

  // ------------------------------------------------------------------ batching and effects

  /** Moves what a machine decided into the pending batch; finalizes a run that ended. */
  collect(run: ActiveRun): void {
    const m = run.machine;
    if (m.pending.length > 0) {
      const events = m.pending;
      m.pending = [];
      // The machine stamps its run id on every event it decides.
      for (const e of events) this.#pending.events.push(e as NewEvent);
    }
    if (m.done) this.#finalize(run);
    else {
      const a = m.activity();
      const state: RunState = run.waitingForSlot ? 'queued' : a.running === 0 && a.waiting > 0 ? 'waiting' : 'running';
      if (state !== run.lastState) {
        this.#pending.updates.push({
          id: run.id,
          state,
          ...(run.lastState === null || run.lastState === 'queued' ? { startedAt: this.clock.now() } : {}),
        });
        run.lastState = state;
      }
    }
    this.#schedule();
  }

  #finalize(run: ActiveRun): void {
    if (run.finalized) return;
    run.finalized = true;
    const m = run.machine;
    const state = m.phase as RunOutcome['state'];
    this.#pending.updates.push({
      id: run.id,
      state,
      finishedAt: this.clock.now(),
      outputs: m.outputs,
      error: m.error,
    });
    if (run.record.concurrencyKey !== null)
      this.#pending.releaseSlots.push({ key: run.record.concurrencyKey, runId: run.id });
    run.cancelRunTimeout?.();
    this.#pending.committed.push(() => {
      this.active.delete(run.id);
      void this.options.store.releaseRun(run.id, run.epoch).catch(() => undefined);
      run.resolve({ runId: run.id, state, outputs: m.outputs, error: m.error });
    });
  }

  /** Runs `effect` once everything decided so far is durable. */
  afterCommit(effect: () => void): void {
    this.#pending.effects.push(effect);
    this.#schedule();
  }

  /** Resolves once everything decided so far is durable. */
  committed(): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.#fatal !== null) return reject(this.#fatal);
      this.#pending.committed.push(resolve);
      this.#schedule();
    });
  }

  log(run: ActiveRun, unit: Unit | null, stream: LogLine['stream'], line: string): void {
    this.#log(run, unit, stream, line);
  }

  #log(run: ActiveRun | null, unit: Unit | null, stream: LogLine['stream'], line: string): void {
    if (run === null) {
      for (const l of this.#listeners)
        l.log?.({ runId: '', task: '', item: null, attempt: 0, stream, at: this.clock.now(), line });
      return;
    }
    const entry: LogLine = {
      runId: run.id,
      task: unit?.node.task.id ?? '',
      item: unit?.item ?? null,
      attempt: unit?.attempt ?? 0,
      stream,
      at: this.clock.now(),
      line: cutLine(run.machine.options.redactor.text(line)),
    };
    this.#pending.logs.push(entry);
    for (const l of this.#listeners) safe(() => l.log?.(entry));
    this.#schedule();
  }

  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(() => void this.#flush());
  }

  async #flush(): Promise<void> {
    this.#scheduled = false;
    if (this.#flushing || this.#fatal !== null) return;
    this.#pump();
    const batch = this.#pending;
    this.#pending = emptyPending();
    this.#flushing = true;
    try {
      if (hasWrites(batch)) await this.#write(batch);
      if (CRASH_TESTING && batch.events.length > 0) crashPoint('after-commit');
      for (const e of batch.events) for (const l of this.#listeners) safe(() => l.event?.(e));
      for (const effect of batch.effects) effect();
      for (const c of batch.committed) c();
      if (CRASH_TESTING && batch.events.some((e) => e.type === 'task.succeeded')) crashPoint('after-record');
    } catch (error) {
      this.#die(error as Error);
      return;
    } finally {
      this.#flushing = false;
    }
    if (hasWork(this.#pending)) this.#schedule();
  }

  /** Writes a batch; retries a failing store for a while, acting on nothing meanwhile (C8). */
  async #write(batch: Pending): Promise<void> {
    const fences = new Map<string, number>();
    for (const run of this.active.values()) fences.set(run.id, run.epoch);
    await writeWithRetry(this.options.store, batch, fences, this.options.storeRetryMs ?? 30_000, (error) => {
      for (const l of this.#listeners) {
        safe(() =>
          l.log?.({
            runId: '',
            task: '',
            item: null,
            attempt: 0,
            stream: 'info',
            at: Date.now(),
            line: `store write failed (${error.message}); retrying`,
          }),
        );
      }
    });
  }

  /** A fatal store problem: stop acting, abort tasks, and fail every waiting caller. */
  #die(error: Error): void {
    this.#fatal = error;
    this.#stopping = true;
    for (const run of this.active.values()) {
      for (const c of run.controllers.values()) c.abort('cancelled');
      run.resolve({ runId: run.id, state: 'failed', outputs: null, error: error.message });
    }
    this.timers.clear();
    clearInterval(this.#poller);
    this.#poller = undefined;
    for (const l of this.#listeners)
      safe(() =>
        l.log?.({ runId: '', task: '', item: null, attempt: 0, stream: 'info', at: Date.now(), line: error.message }),
      );
  }

  get fatal(): Error | null {
    return this.#fatal;
  }

  #assertUsable(): void {
    if (this.#fatal !== null) throw this.#fatal;
  }

  /** Starts ready units while the engine has capacity. */
  #pump(): void {
    if (this.#stopping) return;
    for (const run of this.active.values()) {
      if (run.waitingForSlot || run.machine.done) continue;
      const m = run.machine.at(this.clock.now());
      const perRun = this.options.runCapacity ?? Infinity;
      while (this.#busy < this.capacity && m.activity().running < perRun) {
        const unit = m.nextReady();
        if (unit === undefined) break;
        this.#busy++;
        this.#launch(run, unit);
      }
      if (m.pending.length > 0) this.collect(run);
      if (this.#busy >= this.capacity) break;
    }
  }

  #launch(run: ActiveRun, unit: Unit): void {
    const m = run.machine;
    let key: string | null;
    try {
      key = m.cacheKey(unit);
    } catch (error) {
      this.#busy--;
      m.fail(unit, expressionFailure('cache.key', error));
      this.collect(run);
      return;
    }
    if (key === null) return this.#start(run, unit);
    if (m.forced(unit)) {
      run.cacheKeys.set(unit, key);
      return this.#start(run, unit);
    }
    // A result queued in the batch about to be written (a needed task with the same key that just
    // succeeded) is not in the store yet; it is committed before or with whatever this decides.
    const now = this.clock.now();
    const queued = this.#pending.cache.findLast((c) => c.key === key && (c.expiresAt === null || c.expiresAt > now));
    void (queued === undefined ? this.options.store.lookupCache(key, now) : Promise.resolve(queued)).then(
      (entry) => {
        if (unit.status !== 'starting') {
          this.#busy--;
          return;
        }
        if (entry === undefined) {
          run.cacheKeys.set(unit, key);
          this.#start(run, unit);
          return;
        }
        this.#busy--;
        m.at(this.clock.now()).cacheHit(unit, entry);
        this.#log(run, unit, 'info', `cached: key "${key}" has a result from run ${entry.runId}`);
        this.collect(run);
      },
      (error: unknown) => this.#die(error as Error),
    );
  }

  #start(run: ActiveRun, unit: Unit): void {
    const attempt = run.machine.at(this.clock.now()).begin(unit);
    this.collect(run);
    this.afterCommit(() => void executeUnit(this, run, unit, attempt));
  }

  /** Gives back the engine slot a unit held (when it ends, or starts waiting). */
  releaseSlot(): void {
    this.#busy--;
    this.#schedule();
  }

  #armRetry(run: ActiveRun, unit: Unit): void {
    if (unit.retryAt === null) return;
    this.timers.at(unit.retryAt, () => {
      run.machine.at(this.clock.now()).retryDue(unit);
      this.collect(run);
    });
  }

  armRetry(run: ActiveRun, unit: Unit): void {
    this.afterCommit(() => this.#armRetry(run, unit));
  }

  /** Queues a cache entry for a unit that succeeded (same transaction as its success). */
  cacheResult(run: ActiveRun, unit: Unit, outputs: unknown, artifacts: Readonly<Record<string, string>>): void {
    const key = run.cacheKeys.get(unit);
    if (key === undefined) return;
    run.cacheKeys.delete(unit);
    const ttl = unit.node.task.document.cache?.ttl;
    const ms = ttl === undefined ? undefined : parseDuration(ttl);
    const now = this.clock.now();
    this.#pending.cache.push({
      key,
      runId: run.id,
      task: unit.node.task.id,
      item: unit.item,
      outputs,
      artifacts,
      createdAt: now,
      expiresAt: ms === undefined ? null : now + ms,
    });
  }

  // ------------------------------------------------------------------ stopping

  /**
   * Stops the engine. `cancel`: cancels every run and waits for them (Ctrl-C). `release`: stops
   * starting work, aborts running tasks as interrupted, and leaves the runs recoverable.
   */
  async close(mode: 'cancel' | 'release' = 'release'): Promise<void> {
    if (mode === 'cancel') {
      const runs = [...this.active.values()];
      for (const run of runs) this.#cancelActive(run, 'cancelled by user');
      await Promise.all(runs.map((r) => r.done));
    } else {
      this.#stopping = true;
      for (const run of this.active.values()) for (const c of run.controllers.values()) c.abort('interrupted');
    }
    await this.committed().catch(() => undefined);
    this.#stopping = true;
    for (const run of this.active.values())
      await this.options.store.releaseRun(run.id, run.epoch).catch(() => undefined);
    this.timers.clear();
    clearInterval(this.#poller);
    this.#poller = undefined;
  }

  /**
   * Stops starting tasks (a server that is stopping): running ones go on and finish, and their
   * results are recorded; `close('release')` then leaves what is left to recovery.
   */
  drain(): void {
    this.#stopping = true;
  }

  /** SIGKILLs every process group of running shell tasks (a second Ctrl-C). */
  killAll(): void {
    for (const run of this.active.values()) {
      for (const unit of run.controllers.keys()) {
        const pgid = (unit.checkpoint as { pgid?: unknown } | undefined)?.pgid;
        if (typeof pgid === 'number') {
          try {
            process.kill(-pgid, 'SIGKILL');
          } catch {
            // already gone
          }
        }
      }
    }
  }
}
