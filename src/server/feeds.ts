/**
 * Live streams of a run's events and logs. The store is the source of truth: an engine
 * notification (sent only after a commit) merely wakes the feed, which reads what is new from the
 * store and hands each subscriber what lies after its own cursor. So a subscriber that connects
 * late, reconnects with `Last-Event-ID`, or reads during a burst sees every record once, in
 * order, and all subscribers of one run share one read.
 */
import type { Engine } from '../engine/engine.ts';
import type { Store, StoredEvent, StoredLogLine } from '../store/types.ts';

export interface Subscriber<T> {
  cursor: number;
  /** Filters records (a task's logs); default all. */
  readonly accept?: (record: T) => boolean;
  readonly send: (record: T) => void;
}

class Feed<T extends { readonly seq: number }> {
  readonly subscribers = new Set<Subscriber<T>>();
  #reading = false;
  #again = false;
  readonly #read: (after: number) => Promise<T[]>;
  readonly #onError: (error: unknown) => void;

  constructor(read: (after: number) => Promise<T[]>, onError: (error: unknown) => void) {
    this.#read = read;
    this.#onError = onError;
  }

  wake(): void {
    if (this.#reading) {
      this.#again = true;
      return;
    }
    this.#reading = true;
    void this.#drain();
  }

  async #drain(): Promise<void> {
    try {
      do {
        this.#again = false;
        if (this.subscribers.size === 0) break;
        const after = Math.min(...[...this.subscribers].map((s) => s.cursor));
        const records = await this.#read(after);
        for (const r of records) {
          for (const s of this.subscribers) {
            if (r.seq <= s.cursor) continue;
            s.cursor = r.seq;
            if (s.accept === undefined || s.accept(r)) s.send(r);
          }
        }
      } while (this.#again);
    } catch (error) {
      this.#onError(error);
    } finally {
      this.#reading = false;
    }
  }
}

export class RunFeeds {
  readonly #store: Store;
  readonly #events = new Map<string, Feed<StoredEvent>>();
  readonly #logs = new Map<string, Feed<StoredLogLine>>();
  readonly #onError: (error: unknown) => void;
  readonly #off: () => void;
  readonly #engine: Engine;

  constructor(store: Store, engine: Engine, onError: (error: unknown) => void) {
    this.#store = store;
    this.#engine = engine;
    this.#onError = onError;
    this.#off = engine.on({
      event: (e) => this.#events.get(e.runId)?.wake(),
      // The engine announces a log line before its batch is written: wake the feed once it is.
      log: (l) => {
        const feed = this.#logs.get(l.runId);
        if (feed !== undefined) engine.afterCommit(() => feed.wake());
      },
    });
  }

  /** Streams a run's events after `cursor`; returns the unsubscribe function. */
  events(runId: string, sub: Subscriber<StoredEvent>): () => void {
    return this.#subscribe(this.#events, runId, sub, (after) => this.#store.readEvents(runId, after));
  }

  logs(runId: string, sub: Subscriber<StoredLogLine>): () => void {
    const off = this.#subscribe(this.#logs, runId, sub, (after) =>
      this.#store.readLogs(runId, { afterSeq: after, limit: 1000 }),
    );
    // Lines announced before this subscription may still be on their way to the store.
    this.#engine.afterCommit(() => this.#logs.get(runId)?.wake());
    return off;
  }

  #subscribe<T extends { readonly seq: number }>(
    feeds: Map<string, Feed<T>>,
    runId: string,
    sub: Subscriber<T>,
    read: (after: number) => Promise<T[]>,
  ): () => void {
    let feed = feeds.get(runId);
    if (feed === undefined) {
      feed = new Feed(read, this.#onError);
      feeds.set(runId, feed);
    }
    feed.subscribers.add(sub);
    feed.wake();
    const f = feed;
    return () => {
      f.subscribers.delete(sub);
      if (f.subscribers.size === 0 && feeds.get(runId) === f) feeds.delete(runId);
    };
  }

  /** Wakes a run's feeds (after a store change the engine did not announce, e.g. a recovery). */
  wake(runId: string): void {
    this.#events.get(runId)?.wake();
    this.#logs.get(runId)?.wake();
  }

  close(): void {
    this.#off();
  }
}
