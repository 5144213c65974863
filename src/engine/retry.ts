/**
 * Whether a failed attempt is retried, and after how long (pure). `retry.on` names the failures
 * that retry: timeout, error (transport and process errors), 5xx, 429, exit_code. Without `on`,
 * every retryable failure retries. Assertions and expression errors never retry unless `on`
 * names them indirectly (they do not: an assumption that broke stays broken). Backoff is fixed or
 * exponential from `delay` (default 1s), capped by `max_delay` (default 5m, or `delay` if longer), with "equal jitter"
 * (half the delay fixed, half random) by default for exponential backoff; `jitter` turns it on or off. A server's Retry-After wins when
 * it asks for longer.
 */
import { parseDuration } from '../model/index.ts';
import type { TaskDocument } from '../model/index.ts';
import type { FailureReason } from '../kinds/types.ts';

export interface FailureInfo {
  readonly reason: FailureReason;
  readonly retryable: boolean;
  readonly status?: number | undefined;
  readonly retryAfterMs?: number | undefined;
}

export type RetryDecision = { readonly retry: false } | { readonly retry: true; readonly delayMs: number };

const NEVER: ReadonlySet<FailureReason> = new Set(['assertion', 'expression', 'limit', 'cancelled', 'rejected']);
/** Longest wait a Retry-After header can ask for. */
export const MAX_RETRY_AFTER_MS = 3_600_000;

function matchesOn(on: readonly (string | number)[], f: FailureInfo): boolean {
  for (const raw of on) {
    const o = String(raw);
    if (o === 'timeout' && f.reason === 'timeout') return true;
    if (o === 'error' && (f.reason === 'error' || f.reason === 'interrupted')) return true;
    if (o === 'exit_code' && f.reason === 'exit_code') return true;
    if (o === '5xx' && f.reason === 'http_status' && f.status !== undefined && f.status >= 500) return true;
    if (o === '429' && f.reason === 'http_status' && f.status === 429) return true;
  }
  return false;
}

/** `attempt` is the number of the attempt that just failed (1 for the first). */
export function retryDecision(
  retry: TaskDocument['retry'],
  failure: FailureInfo,
  attempt: number,
  random: () => number,
): RetryDecision {
  if (retry === undefined || attempt >= retry.attempts) return { retry: false };
  if (!failure.retryable || NEVER.has(failure.reason)) return { retry: false };
  if (retry.on !== undefined && !matchesOn(retry.on, failure)) return { retry: false };
  const base = parseDuration(retry.delay ?? '1s') ?? 1000;
  // The default cap never shortens the delay asked for: `delay: 10m` alone waits 10 minutes.
  const cap = retry.max_delay === undefined ? Math.max(base, 300_000) : (parseDuration(retry.max_delay) ?? 300_000);
  const raw = retry.backoff === 'exponential' ? base * 2 ** (attempt - 1) : base;
  let delay = Math.min(raw, cap);
  if (retry.jitter ?? retry.backoff === 'exponential') delay = delay / 2 + random() * (delay / 2);
  if (failure.retryAfterMs !== undefined) delay = Math.max(delay, Math.min(failure.retryAfterMs, MAX_RETRY_AFTER_MS));
  return { retry: true, delayMs: Math.round(delay) };
}
