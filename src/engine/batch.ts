/**
 * What one engine tick writes, as one transaction, and what happens once it is durable (the
 * effects: starting tasks, arming timers, resolving waiters). A store that fails is retried for a
 * while; nothing queued is acted on until a write succeeds (RELIABILITY.md C8).
 */
import { RivetError } from '../errors.ts';
import type { LogLine, NewEvent, RunUpdate, Store, WriteBatch } from '../store/types.ts';
import { LostOwnershipError } from '../store/types.ts';
import { CRASH_TESTING, crashPoint } from './crash-points.ts';

export interface Pending {
  runs: NonNullable<WriteBatch['runs']>[number][];
  events: NewEvent[];
  updates: RunUpdate[];
  logs: LogLine[];
  cache: NonNullable<WriteBatch['cache']>[number][];
  commandsDone: number[];
  releaseSlots: { key: string; runId: string }[];
  effects: (() => void)[];
  committed: (() => void)[];
}

export const emptyPending = (): Pending => ({
  runs: [],
  events: [],
  updates: [],
  logs: [],
  cache: [],
  commandsDone: [],
  releaseSlots: [],
  effects: [],
  committed: [],
});

export function hasWrites(b: Pending): boolean {
  return (
    b.runs.length +
      b.events.length +
      b.updates.length +
      b.logs.length +
      b.cache.length +
      b.commandsDone.length +
      b.releaseSlots.length >
    0
  );
}

export function hasWork(b: Pending): boolean {
  return hasWrites(b) || b.effects.length > 0 || b.committed.length > 0;
}

/** Writes `batch`, retrying a failing store with backoff for up to `retryMs`; RV606 after that. */
export async function writeWithRetry(
  store: Store,
  batch: WriteBatch,
  fences: ReadonlyMap<string, number>,
  retryMs: number,
  onRetry: (error: Error) => void,
): Promise<void> {
  const started = Date.now();
  let delay = 50;
  for (;;) {
    try {
      if (CRASH_TESTING) crashPoint('before-commit');
      await store.write(batch, fences);
      return;
    } catch (error) {
      if (error instanceof LostOwnershipError) throw error;
      if (Date.now() - started > retryMs) {
        throw new RivetError('RV606', `the store cannot be written: ${(error as Error).message}`, {
          cause: error,
          hint: 'fix the cause (disk space, permissions), then `rivet runs resume RUN`',
        });
      }
      onRetry(error as Error);
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 2000);
    }
  }
}
