/**
 * A scaled clock for the server restart tests (RELIABILITY.md 4.2, S2). TEST-ONLY: off unless
 * `RIVET_TEST_CLOCK` is set, and never set in production.
 *
 *   RIVET_TEST_CLOCK=<base>:<realBase>:<factor>
 *
 * makes the server's clock read `now() = base + (Date.now() - realBase) * factor` and wait
 * `ms / factor` real milliseconds for a timer of `ms`. The test picks `realBase` (its own
 * Date.now() when it starts) and `base` (a fake start, e.g. just before a minute boundary) once
 * and passes the same value to every restart of the server, so time is continuous across kill -9
 * and restarts: with factor 60, a cron minute ticks every real second. `<base>:<factor>` is short
 * for `realBase = base`.
 */
import type { TimerClock } from '../engine/clock.ts';

export interface ScaledClockSpec {
  readonly base: number;
  readonly realBase: number;
  readonly factor: number;
}

/** Parses `RIVET_TEST_CLOCK`; null when unset or empty. Throws on a malformed value. */
export function parseTestClock(text: string | undefined): ScaledClockSpec | null {
  if (text === undefined || text.trim() === '') return null;
  const parts = text.trim().split(':').map(Number);
  const [base, realBase, factor] = parts.length === 2 ? [parts[0]!, parts[0]!, parts[1]!] : parts;
  if (
    (parts.length !== 2 && parts.length !== 3) ||
    !Number.isFinite(base) ||
    !Number.isFinite(realBase) ||
    !Number.isFinite(factor) ||
    factor! <= 0
  ) {
    throw new Error(
      `RIVET_TEST_CLOCK must be <base>:<realBase>:<factor> or <base>:<factor> (ms, ms, > 0), not "${text}"`,
    );
  }
  return { base: base!, realBase: realBase!, factor: factor! };
}

export function scaledClock(spec: ScaledClockSpec): TimerClock {
  const { base, realBase, factor } = spec;
  const now = (): number => Math.floor(base + (Date.now() - realBase) * factor);
  const clock: TimerClock = {
    now,
    setTimer(fn, ms) {
      // The deadline is kept in scaled time and checked on wake-up (rounding never fires early).
      const deadline = now() + Math.max(0, ms);
      let handle: NodeJS.Timeout;
      const arm = (): void => {
        const left = deadline - now();
        if (left <= 0) {
          fn();
          return;
        }
        handle = setTimeout(arm, Math.min(Math.ceil(left / factor), 2_147_483_647));
      };
      handle = setTimeout(arm, Math.min(Math.ceil(Math.max(0, ms) / factor), 2_147_483_647));
      return () => clearTimeout(handle);
    },
    sleep(ms, signal) {
      if (signal?.aborted) return Promise.reject(signal.reason ?? new DOMException('aborted', 'AbortError'));
      return new Promise((resolve, reject) => {
        const onAbort = (): void => {
          cancel();
          reject(signal!.reason ?? new DOMException('aborted', 'AbortError'));
        };
        const cancel = clock.setTimer(() => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        }, ms);
        signal?.addEventListener('abort', onAbort, { once: true });
      });
    },
  };
  return clock;
}

/** The scaled clock `RIVET_TEST_CLOCK` asks for, or null (the server then uses the system clock). */
export function testClockFromEnv(env: NodeJS.ProcessEnv): TimerClock | null {
  const spec = parseTestClock(env.RIVET_TEST_CLOCK);
  return spec === null ? null : scaledClock(spec);
}
