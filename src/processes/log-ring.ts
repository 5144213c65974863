/**
 * The recent output of one process, in a fixed-size ring: a process that runs for weeks must not
 * grow the server's memory. Sequence numbers keep counting across restarts of the process, so a
 * client can resume after the last line it saw; a new server starts them above the last one's
 * (`first`: its start time in µs), so a client that follows across a server restart sees the new
 * lines instead of waiting for the count to catch up.
 */

export type ProcessLogStream = 'stdout' | 'stderr' | 'info';

export interface ProcessLogLine {
  readonly seq: number;
  readonly at: number;
  readonly stream: ProcessLogStream;
  readonly line: string;
}

export class LogRing {
  readonly #capacity: number;
  readonly #lines: (ProcessLogLine | undefined)[];
  readonly #first: number;
  #next: number;

  constructor(capacity: number, first = 1) {
    if (!Number.isSafeInteger(capacity) || capacity < 1) throw new RangeError(`logLines must be at least 1`);
    this.#capacity = capacity;
    this.#first = first;
    this.#next = first;
    this.#lines = new Array<ProcessLogLine | undefined>(capacity);
  }

  push(at: number, stream: ProcessLogStream, line: string): ProcessLogLine {
    const entry = Object.freeze({ seq: this.#next, at, stream, line });
    this.#lines[this.#next % this.#capacity] = entry;
    this.#next++;
    return entry;
  }

  /**
   * Lines with a sequence number above `afterSeq`, oldest first, at most `limit`. Without
   * `afterSeq`, the newest `limit` lines (a tail).
   */
  read(afterSeq?: number, limit = this.#capacity): ProcessLogLine[] {
    const oldest = Math.max(this.#first, this.#next - this.#capacity);
    const count = Math.max(0, Math.min(limit, this.#capacity));
    const from =
      afterSeq === undefined ? Math.max(oldest, this.#next - count) : Math.max(oldest, Math.floor(afterSeq) + 1);
    const out: ProcessLogLine[] = [];
    for (let seq = from; seq < this.#next && out.length < count; seq++) out.push(this.#lines[seq % this.#capacity]!);
    return out;
  }
}
