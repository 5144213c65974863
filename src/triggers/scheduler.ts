/**
 * The cron scheduler of `rivet server` (RELIABILITY.md S2: no tick fires twice; missed ticks follow
 * the policy below).
 *
 * A schedule is one entry of a workflow's `on.schedule`, with the id `${workflow}#${index}`. A
 * tick is the scheduled instant T of a cron match, in ms. The policy, as documented:
 *
 * - Exactly once per tick. Tick T of schedule S starts its run with the id `tickRunId(S, T)`, the
 *   same on every attempt; the caller answers 'exists' when it already has a run with that id.
 *   T is recorded as S's last tick only after the run has started, so a crash in between fires T
 *   again on restart, under the same id, and no tick ever starts two runs.
 * - First sight: a schedule without stored state starts from now; nothing in the past fires.
 * - Missed ticks are those after the stored last tick and at or before now: after a restart, on
 *   resume, for a schedule that comes back (its workflow was removed or invalid for a while), and
 *   when ticks fell due while a fire was in flight or the process was suspended. `catch_up`
 *   decides what happens to them:
 *   - `none`: the newest missed tick is recorded, nothing fires;
 *   - `latest` (the default): only the newest missed tick fires;
 *   - `all`: every missed tick fires, oldest first; beyond 1000, the rest are handled as `latest`
 *     (only the newest of them fires) and the skip is reported.
 * - A paused schedule fires nothing; its missed ticks follow the policy when it resumes.
 * - A schedule whose definition changes while the server runs (cron, timezone, inputs or
 *   catch_up) starts again from now, like at first sight: the old definition had no missed ticks.
 * - A fire that fails is retried for the same tick every 5 s, 5 attempts in all; then the tick is
 *   recorded as skipped and reported.
 * - A manual trigger fires at once with a fresh run id and records no tick.
 * - Fires of one schedule never overlap; they run one after another, in order.
 *
 * Time comes from the injected clock (one timer per schedule, for its next tick); croner only
 * computes the ticks, its own timers are never used.
 */
import { createHash, randomBytes } from 'node:crypto';
import { Cron } from 'croner';
import type { TimerClock } from '../engine/clock.ts';
import type { ServerData } from '../store/server-types.ts';

export const CATCH_UP_POLICIES = ['none', 'latest', 'all'] as const;
export type CatchUp = (typeof CATCH_UP_POLICIES)[number];
export const DEFAULT_CATCH_UP: CatchUp = 'latest';

/** `all` fires at most this many missed ticks in order; the newest of the rest fires after them. */
export const CATCH_UP_LIMIT = 1000;
/** A failed fire is retried after this delay, for at most FIRE_ATTEMPTS attempts in all. */
export const RETRY_DELAY_MS = 5000;
export const FIRE_ATTEMPTS = 5;

export interface ScheduleDefinition {
  /** `${workflow}#${index}`. */
  readonly id: string;
  readonly workflow: string;
  readonly cron: string;
  /** IANA time zone the cron expression is read in. */
  readonly timezone: string;
  readonly inputs: Readonly<Record<string, unknown>>;
  readonly catchUp: CatchUp;
}

export type FireReason = 'tick' | 'catch_up' | 'manual';

export interface FireRequest {
  readonly schedule: ScheduleDefinition;
  /** The scheduled time in ms (for a manual trigger: the time of the trigger). */
  readonly tick: number;
  /** Start the run with this id; deterministic for (schedule, tick) unless the reason is manual. */
  readonly runId: string;
  readonly reason: FireReason;
}

/** `exists`: a run with that id was already there (a tick fired again after a crash). */
export type FireResult = 'started' | 'exists';

export interface TickEvent {
  readonly scheduleId: string;
  readonly tick: number;
  readonly reason: FireReason;
  /** Null for a tick recorded without firing (catch_up none, or after its last failed attempt). */
  readonly runId: string | null;
  readonly outcome: FireResult | 'skipped';
}

export interface ScheduleInfo {
  readonly id: string;
  readonly workflow: string;
  readonly cron: string;
  readonly timezone: string;
  readonly catchUp: CatchUp;
  readonly paused: boolean;
  readonly lastTick: number | null;
  /** The tick the scheduler waits for; null when paused, stopped or the cron never matches again. */
  readonly nextTick: number | null;
  readonly inputs: Readonly<Record<string, unknown>>;
}

export type ScheduleData = Pick<ServerData, 'getSchedule' | 'setScheduleTick' | 'setSchedulePaused'>;

export interface SchedulerOptions {
  readonly clock: TimerClock;
  readonly data: ScheduleData;
  /** Starts the run with `runId`; answers 'exists' when a run with that id already exists. */
  readonly fire: (request: FireRequest) => Promise<FireResult>;
  /** Failed fires, skipped ticks and invalid definitions. Never throws into the scheduler. */
  readonly onError?: (scheduleId: string, error: unknown) => void;
  /** Each tick handled: fired, found existing, or skipped. */
  readonly onTick?: (event: TickEvent) => void;
}

/** The schedule part of a workflow document (`on.schedule`: one mapping or a list). */
export interface ScheduleDocument {
  readonly cron: string;
  readonly timezone?: string | undefined;
  readonly inputs?: Readonly<Record<string, unknown>> | undefined;
  readonly catch_up?: CatchUp | undefined;
}

export interface ScheduledDocument {
  readonly on?: { readonly schedule?: ScheduleDocument | readonly ScheduleDocument[] | undefined } | undefined;
}

/** The schedules a workflow document declares, in declaration order. Pure. */
export function schedulesOf(workflowName: string, document: ScheduledDocument): ScheduleDefinition[] {
  const declared = document.on?.schedule;
  if (declared === undefined) return [];
  const list: readonly ScheduleDocument[] = Array.isArray(declared) ? declared : [declared as ScheduleDocument];
  return list.map((s, index) => ({
    id: `${workflowName}#${index}`,
    workflow: workflowName,
    cron: s.cron,
    timezone: s.timezone ?? 'UTC',
    inputs: s.inputs ?? {},
    catchUp: s.catch_up ?? DEFAULT_CATCH_UP,
  }));
}

/** The run id shape of the engine's `newRunId`: base-36 ms, then 5 base-36 characters. */
function runIdOf(ms: number, bits: number): string {
  return `${ms.toString(36)}${bits.toString(36).padStart(7, '0').slice(0, 5)}`;
}

/** The run id of a tick: the same for (schedule, tick) in every process, so a tick starts one run. */
export function tickRunId(scheduleId: string, tick: number): string {
  return runIdOf(tick, createHash('sha256').update(`${scheduleId}@${tick}`).digest().readUInt32BE(0));
}

// Same shape as the engine's newRunId, computed here: importing engine.ts costs ~150 ms.
const manualRunId = (now: number): string => runIdOf(now, randomBytes(4).readUInt32BE(0));

interface Compiled {
  readonly def: ScheduleDefinition;
  readonly cron: Cron;
}

/** An armed schedule. Replaced (and aborted) on pause, stop and definition change. */
interface Live extends Compiled {
  /** Aborted when this entry is retired: from then on it fires and records nothing. */
  readonly abort: AbortController;
  /** The newest tick handled (or the first-sight time): the next tick comes after it. */
  after: number;
  nextTick: number | null;
  cancelTimer: (() => void) | null;
}

/** Ticks in (after, now]: the first `limit` of them in order, and the newest. */
function missedTicks(
  cron: Cron,
  after: number,
  now: number,
  limit: number,
): { first: number[]; newest: number | null } {
  const first: number[] = [];
  let cursor = after;
  while (first.length < limit) {
    const next = cron.nextRun(new Date(cursor))?.getTime();
    if (next === undefined || next > now) return { first, newest: first.at(-1) ?? null };
    first.push(next);
    cursor = next;
  }
  // More than `limit`: jump to the newest instead of walking every tick (a per-second cron down
  // for a month has 2.6 million), then step forward in case previousRuns stopped short.
  const previous = cron.previousRuns(1, new Date(now + 1))[0]?.getTime();
  if (previous !== undefined && previous > cursor && previous <= now) cursor = previous;
  for (;;) {
    const next = cron.nextRun(new Date(cursor))?.getTime();
    if (next === undefined || next > now) return { first, newest: cursor };
    cursor = next;
  }
}

const sameDefinition = (a: ScheduleDefinition, b: ScheduleDefinition): boolean =>
  a.workflow === b.workflow &&
  a.cron === b.cron &&
  a.timezone === b.timezone &&
  a.catchUp === b.catchUp &&
  JSON.stringify(a.inputs) === JSON.stringify(b.inputs);

function compile(def: ScheduleDefinition): Cron {
  const cron = new Cron(def.cron, { paused: true, timezone: def.timezone });
  cron.nextRun(); // an unknown time zone only throws once a date is computed
  return cron;
}

export class Scheduler {
  readonly #clock: TimerClock;
  readonly #data: ScheduleData;
  readonly #fire: SchedulerOptions['fire'];
  readonly #onError: NonNullable<SchedulerOptions['onError']>;
  readonly #onTick: SchedulerOptions['onTick'];
  #schedules = new Map<string, Compiled>();
  readonly #live = new Map<string, Live>();
  /** Per schedule id, the tail of its fires: each new one waits for the previous (no overlap). */
  readonly #chains = new Map<string, Promise<unknown>>();
  #started = false;

  constructor(options: SchedulerOptions) {
    this.#clock = options.clock;
    this.#data = options.data;
    this.#fire = options.fire;
    this.#onError = options.onError ?? ((id, error) => console.error(`rivet scheduler: ${id}:`, error));
    this.#onTick = options.onTick;
  }

  /** Replaces the set of schedules: new ones start, removed ones stop, changed ones re-arm. */
  sync(definitions: readonly ScheduleDefinition[]): void {
    const next = new Map<string, Compiled>();
    for (const def of definitions) {
      if (next.has(def.id)) throw new Error(`schedule "${def.id}" is defined twice`);
      const old = this.#schedules.get(def.id);
      if (old !== undefined && sameDefinition(old.def, def)) {
        next.set(def.id, old);
        continue;
      }
      try {
        next.set(def.id, { def, cron: compile(def) });
      } catch (error) {
        this.#report(def.id, new Error(`schedule "${def.id}" is not scheduled: ${String(error)}`, { cause: error }));
      }
    }
    const previous = this.#schedules;
    this.#schedules = next;
    for (const id of previous.keys()) if (!next.has(id)) this.#retire(id);
    for (const [id, compiled] of next) {
      if (previous.get(id) === compiled || !this.#started) continue;
      this.#retire(id);
      void this.#activate(compiled, previous.has(id));
    }
  }

  /** Loads the stored state, handles missed ticks and arms the timers. Resolves once catch-up is done. */
  async start(): Promise<void> {
    if (this.#started) return;
    this.#started = true;
    await Promise.all([...this.#schedules.values()].map((c) => this.#activate(c)));
  }

  /** Cancels every timer and retry. Fires in flight are not recorded. Idempotent. */
  stop(): void {
    this.#started = false;
    for (const id of [...this.#live.keys()]) this.#retire(id);
  }

  list(): ScheduleInfo[] {
    return [...this.#schedules.keys()].sort().map((id) => this.get(id)!);
  }

  get(id: string): ScheduleInfo | undefined {
    const compiled = this.#schedules.get(id);
    if (compiled === undefined) return undefined;
    const { def } = compiled;
    const state = this.#data.getSchedule(id);
    return {
      id,
      workflow: def.workflow,
      cron: def.cron,
      timezone: def.timezone,
      catchUp: def.catchUp,
      paused: state?.paused ?? false,
      lastTick: state?.lastTick ?? null,
      nextTick: this.#live.get(id)?.nextTick ?? null,
      inputs: def.inputs,
    };
  }

  pause(id: string): ScheduleInfo {
    this.#require(id);
    this.#data.setSchedulePaused(id, true, this.#clock.now());
    this.#retire(id);
    return this.get(id)!;
  }

  /** Resumes a paused schedule; its missed ticks follow its catch-up policy. */
  resume(id: string): ScheduleInfo {
    const compiled = this.#require(id);
    if (this.#data.getSchedule(id)?.paused === true) {
      this.#data.setSchedulePaused(id, false, this.#clock.now());
      if (this.#started) void this.#activate(compiled);
    }
    return this.get(id)!;
  }

  /** Fires the schedule now (reason manual) with a fresh run id, after any fire in flight. */
  async trigger(id: string): Promise<{ runId: string }> {
    const { def } = this.#require(id);
    return this.#enqueue(id, async () => {
      const tick = this.#clock.now();
      const runId = manualRunId(tick);
      const outcome = await this.#fire({ schedule: def, tick, runId, reason: 'manual' });
      this.#emit({ scheduleId: id, tick, reason: 'manual', runId, outcome });
      return { runId };
    });
  }

  #require(id: string): Compiled {
    const compiled = this.#schedules.get(id);
    if (compiled === undefined) throw new Error(`unknown schedule "${id}"`);
    return compiled;
  }

  /** `fromNow`: skip the missed ticks (a changed definition), as at first sight. */
  #activate(compiled: Compiled, fromNow = false): Promise<void> {
    const { id } = compiled.def;
    if (this.#data.getSchedule(id)?.paused === true) return Promise.resolve();
    const live: Live = { ...compiled, abort: new AbortController(), after: 0, nextTick: null, cancelTimer: null };
    this.#live.set(id, live);
    return this.#enqueue(id, () => this.#due(live, null, fromNow)).catch(() => undefined);
  }

  #retire(id: string): void {
    const live = this.#live.get(id);
    if (live === undefined) return;
    this.#live.delete(id);
    live.abort.abort();
    live.cancelTimer?.();
    live.cancelTimer = null;
    live.nextTick = null;
  }

  #enqueue<T>(id: string, work: () => Promise<T>): Promise<T> {
    const result = (this.#chains.get(id) ?? Promise.resolve()).then(work);
    const tail = result.catch(() => undefined);
    this.#chains.set(id, tail);
    void tail.then(() => {
      if (this.#chains.get(id) === tail) this.#chains.delete(id);
    });
    return result;
  }

  /** Fires `tick` if given (the armed timer's), then the missed ticks by policy, then arms the next. */
  async #due(live: Live, tick: number | null, fromNow = false): Promise<void> {
    const { id } = live.def;
    let ok = true;
    try {
      if (tick !== null) await this.#fireTick(live, tick, 'tick');
      if (live.abort.signal.aborted) return;
      const now = this.#clock.now();
      let last = this.#data.getSchedule(id)?.lastTick ?? null;
      if (last === null || (fromNow && last < now)) {
        this.#data.setScheduleTick(id, now, now);
        last = now;
      }
      live.after = Math.max(live.after, last);
      await this.#catchUp(live, now);
    } catch (error) {
      ok = false;
      this.#report(id, error);
    } finally {
      this.#arm(live, ok);
    }
  }

  async #catchUp(live: Live, now: number): Promise<void> {
    const { id, catchUp } = live.def;
    const { first, newest } = missedTicks(live.cron, live.after, now, catchUp === 'all' ? CATCH_UP_LIMIT : 1);
    if (newest === null) return;
    if (catchUp === 'none') {
      this.#record(live, newest);
      this.#emit({ scheduleId: id, tick: newest, reason: 'catch_up', runId: null, outcome: 'skipped' });
      return;
    }
    const ticks = catchUp === 'all' ? first : [];
    if (newest !== ticks.at(-1)) {
      if (catchUp === 'all') {
        this.#report(
          id,
          new Error(
            `schedule "${id}" missed more than ${CATCH_UP_LIMIT} ticks; fired the first ${CATCH_UP_LIMIT}, ` +
              `then only the newest (${new Date(newest).toISOString()})`,
          ),
        );
      }
      ticks.push(newest);
    }
    for (const t of ticks) {
      if (live.abort.signal.aborted) return;
      await this.#fireTick(live, t, 'catch_up');
    }
  }

  /** Fires one tick, retrying on failure, and records it once fire() resolved. */
  async #fireTick(live: Live, tick: number, reason: FireReason): Promise<void> {
    const { id } = live.def;
    const runId = tickRunId(id, tick);
    for (let attempt = 1; ; attempt++) {
      if (live.abort.signal.aborted) return; // paused or stopped while this fire waited its turn
      try {
        const outcome = await this.#fire({ schedule: live.def, tick, runId, reason });
        // Retired meanwhile (stop, pause, new definition): record nothing, as after a crash; the
        // tick fires again under the same id if the policy wants it, and the caller dedupes it.
        if (live.abort.signal.aborted) return;
        this.#record(live, tick);
        this.#emit({ scheduleId: id, tick, reason, runId, outcome });
        return;
      } catch (error) {
        if (live.abort.signal.aborted) return;
        if (attempt >= FIRE_ATTEMPTS) {
          this.#report(
            id,
            new Error(
              `schedule "${id}": tick ${new Date(tick).toISOString()} skipped after ${attempt} failed attempts`,
              {
                cause: error,
              },
            ),
          );
          this.#record(live, tick);
          this.#emit({ scheduleId: id, tick, reason, runId: null, outcome: 'skipped' });
          return;
        }
        this.#report(id, error);
      }
      try {
        await this.#clock.sleep(RETRY_DELAY_MS, live.abort.signal);
      } catch {
        return; // retired while waiting
      }
    }
  }

  #record(live: Live, tick: number): void {
    this.#data.setScheduleTick(live.def.id, tick, this.#clock.now());
    live.after = Math.max(live.after, tick);
  }

  /** `healthy`: the last pass did not fail (after a failure, overdue ticks wait for the next tick). */
  #arm(live: Live, healthy = true): void {
    live.cancelTimer?.();
    live.cancelTimer = null;
    live.nextTick = null;
    if (live.abort.signal.aborted) return;
    const now = this.#clock.now();
    // A tick that fell due while the last fires were in flight (a catch-up computes its ticks
    // before firing them) is a missed tick: a catch-up pass handles it now, by the policy.
    const overdue = healthy && live.after > 0 ? live.cron.nextRun(new Date(live.after))?.getTime() : undefined;
    if (overdue !== undefined && overdue <= now) {
      live.nextTick = overdue;
      live.cancelTimer = this.#clock.setTimer(() => {
        live.cancelTimer = null;
        void this.#enqueue(live.def.id, () => this.#due(live, null)).catch(() => undefined);
      }, 0);
      return;
    }
    const next = live.cron.nextRun(new Date(Math.max(live.after, now)))?.getTime();
    if (next === undefined) return;
    live.nextTick = next;
    live.cancelTimer = this.#clock.setTimer(() => {
      live.cancelTimer = null;
      void this.#enqueue(live.def.id, () => this.#due(live, next)).catch(() => undefined);
    }, next - now);
  }

  #emit(event: TickEvent): void {
    try {
      this.#onTick?.(event);
    } catch (error) {
      this.#report(event.scheduleId, error);
    }
  }

  #report(id: string, error: unknown): void {
    try {
      this.#onError(id, error);
    } catch {
      // A failing error listener must not stop the scheduler.
    }
  }
}
