/**
 * One timer structure for the whole engine: a binary min-heap of deadlines with a single armed
 * clock timer for the earliest one. Retries, sleeps, timeouts and polls all sit here, so a
 * thousand waiting tasks cost one OS timer, and cancelling is O(1) (lazy deletion).
 */
import type { TimerClock } from './clock.ts';

interface Entry {
  readonly at: number;
  readonly seq: number;
  readonly fn: () => void;
  cancelled: boolean;
}

export class Timers {
  readonly #clock: TimerClock;
  readonly #heap: Entry[] = [];
  #seq = 0;
  #armedAt = Infinity;
  #disarm: (() => void) | undefined;

  constructor(clock: TimerClock) {
    this.#clock = clock;
  }

  get size(): number {
    return this.#heap.length;
  }

  /** Calls `fn` at time `at` (clock ms); returns a cancel function. */
  at(at: number, fn: () => void): () => void {
    const entry: Entry = { at, seq: this.#seq++, fn, cancelled: false };
    this.#push(entry);
    if (at < this.#armedAt) this.#arm();
    return () => {
      entry.cancelled = true;
    };
  }

  after(ms: number, fn: () => void): () => void {
    return this.at(this.#clock.now() + ms, fn);
  }

  /** A Clock-shaped sleep whose timer lives in this heap. */
  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise((resolve, reject) => {
      const onAbort = (): void => {
        cancel();
        reject(signal!.reason);
      };
      const cancel = this.after(Math.max(0, ms), () => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      });
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Drops every timer (engine shutdown). */
  clear(): void {
    this.#heap.length = 0;
    this.#disarm?.();
    this.#disarm = undefined;
    this.#armedAt = Infinity;
  }

  #arm(): void {
    this.#disarm?.();
    this.#disarm = undefined;
    while (this.#heap.length > 0 && this.#heap[0]!.cancelled) this.#pop();
    const first = this.#heap[0];
    if (first === undefined) {
      this.#armedAt = Infinity;
      return;
    }
    this.#armedAt = first.at;
    this.#disarm = this.#clock.setTimer(() => this.#fire(), first.at - this.#clock.now());
  }

  #fire(): void {
    this.#disarm = undefined;
    this.#armedAt = Infinity;
    const now = this.#clock.now();
    while (this.#heap.length > 0 && this.#heap[0]!.at <= now) {
      const entry = this.#pop();
      if (!entry.cancelled) entry.fn();
    }
    this.#arm();
  }

  #less(a: Entry, b: Entry): boolean {
    return a.at < b.at || (a.at === b.at && a.seq < b.seq);
  }

  #push(entry: Entry): void {
    const h = this.#heap;
    h.push(entry);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.#less(h[i]!, h[p]!)) break;
      [h[i], h[p]] = [h[p]!, h[i]!];
      i = p;
    }
  }

  #pop(): Entry {
    const h = this.#heap;
    const top = h[0]!;
    const last = h.pop()!;
    if (h.length > 0) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && this.#less(h[l]!, h[m]!)) m = l;
        if (r < h.length && this.#less(h[r]!, h[m]!)) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m]!, h[i]!];
        i = m;
      }
    }
    return top;
  }
}
