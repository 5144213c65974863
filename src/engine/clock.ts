/**
 * Time for the engine: a real clock, and a fake one that tests advance by hand (habit 7: control
 * time instead of sleeping). Every timer of the engine (retries, sleeps, timeouts, polls) goes
 * through one Timers heap built on a clock's single `setTimer`.
 */
import type { Clock } from '../kinds/types.ts';

export interface TimerClock extends Clock {
  /** Calls `fn` after `ms`; returns a cancel function. Only the Timers heap calls this. */
  setTimer(fn: () => void, ms: number): () => void;
}

function abortError(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException('aborted', 'AbortError');
}

/** Shared by both clocks: a sleep made of setTimer plus the abort signal. */
function sleepWith(clock: TimerClock, ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.reject(abortError(signal));
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      cancel();
      reject(abortError(signal!));
    };
    const cancel = clock.setTimer(
      () => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      },
      Math.max(0, ms),
    );
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

export const systemClock: TimerClock = {
  now: () => Date.now(),
  setTimer(fn, ms) {
    // setTimeout holds at most 2^31-1 ms; longer waits re-arm.
    let handle: NodeJS.Timeout;
    const deadline = Date.now() + ms;
    const arm = (): void => {
      const left = deadline - Date.now();
      handle = setTimeout(left > 2_147_483_647 ? arm : fn, Math.min(Math.max(0, left), 2_147_483_647));
    };
    arm();
    return () => clearTimeout(handle);
  },
  sleep(ms, signal) {
    return sleepWith(systemClock, ms, signal);
  },
};

interface FakeTimer {
  readonly at: number;
  readonly seq: number;
  readonly fn: () => void;
  cancelled: boolean;
}

/** A clock that only moves when `advance` is called. Timers fire in deadline order. */
export class FakeClock implements TimerClock {
  #now: number;
  #seq = 0;
  #timers: FakeTimer[] = [];

  constructor(start = Date.UTC(2026, 0, 1)) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  setTimer(fn: () => void, ms: number): () => void {
    const timer: FakeTimer = { at: this.#now + Math.max(0, ms), seq: this.#seq++, fn, cancelled: false };
    this.#timers.push(timer);
    return () => {
      timer.cancelled = true;
    };
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return sleepWith(this, ms, signal);
  }

  /** Pending timers' deadlines, earliest first (for tests that want to know what waits). */
  pending(): number[] {
    return this.#timers
      .filter((t) => !t.cancelled)
      .map((t) => t.at)
      .sort((a, b) => a - b);
  }

  /** Moves time forward by `ms`, firing due timers in order and letting promises settle between them. */
  async advance(ms: number): Promise<void> {
    const target = this.#now + ms;
    for (;;) {
      await settle();
      const due = this.#timers
        .filter((t) => !t.cancelled && t.at <= target)
        .sort((a, b) => a.at - b.at || a.seq - b.seq)[0];
      if (due === undefined) break;
      this.#timers = this.#timers.filter((t) => t !== due);
      this.#now = Math.max(this.#now, due.at);
      due.fn();
    }
    this.#now = target;
    this.#timers = this.#timers.filter((t) => !t.cancelled);
    await settle();
  }
}

/** Lets pending promise callbacks and immediates run. */
export async function settle(rounds = 5): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise<void>((r) => setImmediate(r));
}
