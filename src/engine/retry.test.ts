/**
 * retryDecision (pure): attempts, fixed and exponential backoff, max_delay, jitter with an
 * injected random source, `retry.on` filtering, failures that never retry, and Retry-After.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { TaskDocument } from '../model/index.ts';
import { type FailureInfo, MAX_RETRY_AFTER_MS, retryDecision } from './retry.ts';

type Retry = NonNullable<TaskDocument['retry']>;

const error: FailureInfo = { reason: 'error', retryable: true };
const half = (): number => 0.5;

/** The delays of attempts 1..n-1 (or null where the decision is not to retry). */
function delays(retry: Retry, failure: FailureInfo = error, random = half): (number | null)[] {
  const out: (number | null)[] = [];
  for (let attempt = 1; attempt < retry.attempts + 1; attempt++) {
    const d = retryDecision(retry, failure, attempt, random);
    out.push(d.retry ? d.delayMs : null);
  }
  return out;
}

describe('retryDecision: attempts', () => {
  test('no retry block: never retries', () => {
    assert.deepEqual(retryDecision(undefined, error, 1, half), { retry: false });
  });

  test('attempts counts the first one: 3 attempts retry after attempts 1 and 2 only', () => {
    assert.deepEqual(delays({ attempts: 3 }), [1000, 1000, null]);
  });

  test('attempts: 1 never retries', () => {
    assert.deepEqual(retryDecision({ attempts: 1 }, error, 1, half), { retry: false });
  });
});

describe('retryDecision: backoff', () => {
  test('fixed backoff waits `delay` every time, without jitter by default', () => {
    assert.deepEqual(delays({ attempts: 4, backoff: 'fixed', delay: '2s' }), [2000, 2000, 2000, null]);
  });

  test('the default delay is 1s', () => {
    assert.deepEqual(delays({ attempts: 2 }), [1000, null]);
  });

  test('exponential backoff doubles from `delay`, capped by max_delay', () => {
    const retry: Retry = { attempts: 6, backoff: 'exponential', delay: '1s', max_delay: '5s', jitter: false };
    assert.deepEqual(delays(retry), [1000, 2000, 4000, 5000, 5000, null]);
  });

  test('the default max_delay is 5m', () => {
    const d = retryDecision({ attempts: 30, backoff: 'exponential', jitter: false }, error, 25, half);
    assert.deepEqual(d, { retry: true, delayMs: 300_000 });
  });

  test('the default max_delay does not shorten a longer delay', () => {
    assert.deepEqual(delays({ attempts: 2, delay: '10m' }), [600_000, null]);
    const retry: Retry = { attempts: 3, backoff: 'exponential', delay: '10m', jitter: false };
    assert.deepEqual(delays(retry), [600_000, 600_000, null]);
    assert.deepEqual(delays({ attempts: 2, delay: '10m', max_delay: '1m' }), [60_000, null], 'an explicit cap wins');
  });

  test('exponential backoff has equal jitter by default: half fixed, half random', () => {
    const retry: Retry = { attempts: 3, backoff: 'exponential', delay: '1s' };
    assert.deepEqual(
      delays(retry, error, () => 0.5),
      [750, 1500, null],
    );
    assert.deepEqual(
      delays(retry, error, () => 0),
      [500, 1000, null],
    );
    assert.deepEqual(
      delays(retry, error, () => 0.999),
      [1000, 1999, null],
    );
  });

  test('jitter applies after the max_delay cap', () => {
    const retry: Retry = { attempts: 10, backoff: 'exponential', delay: '1s', max_delay: '4s' };
    const d = retryDecision(retry, error, 8, () => 0);
    assert.deepEqual(d, { retry: true, delayMs: 2000 });
  });

  test('jitter: true on fixed backoff, jitter: false on exponential', () => {
    assert.deepEqual(
      delays({ attempts: 2, backoff: 'fixed', delay: '4s', jitter: true }, error, () => 0.25),
      [2500, null],
    );
    assert.deepEqual(delays({ attempts: 3, backoff: 'exponential', delay: '3s', jitter: false }), [3000, 6000, null]);
  });

  test('durations with several units and milliseconds', () => {
    assert.deepEqual(delays({ attempts: 2, delay: '1m30s' }), [90_000, null]);
    assert.deepEqual(delays({ attempts: 2, delay: '250ms' }), [250, null]);
  });
});

describe('retryDecision: retry.on', () => {
  const cases: { on: Retry['on']; failure: FailureInfo; retries: boolean }[] = [
    { on: ['timeout'], failure: { reason: 'timeout', retryable: true }, retries: true },
    { on: ['timeout'], failure: error, retries: false },
    { on: ['error'], failure: error, retries: true },
    { on: ['error'], failure: { reason: 'interrupted', retryable: true }, retries: true },
    { on: ['error'], failure: { reason: 'timeout', retryable: true }, retries: false },
    { on: ['5xx'], failure: { reason: 'http_status', retryable: true, status: 500 }, retries: true },
    { on: ['5xx'], failure: { reason: 'http_status', retryable: true, status: 503 }, retries: true },
    { on: ['5xx'], failure: { reason: 'http_status', retryable: true, status: 404 }, retries: false },
    { on: ['5xx'], failure: { reason: 'http_status', retryable: true, status: 429 }, retries: false },
    { on: ['5xx'], failure: { reason: 'http_status', retryable: true }, retries: false },
    { on: ['429'], failure: { reason: 'http_status', retryable: true, status: 429 }, retries: true },
    { on: [429], failure: { reason: 'http_status', retryable: true, status: 429 }, retries: true },
    { on: [429], failure: { reason: 'http_status', retryable: true, status: 500 }, retries: false },
    { on: ['exit_code'], failure: { reason: 'exit_code', retryable: true }, retries: true },
    { on: ['exit_code'], failure: error, retries: false },
    { on: ['timeout', '5xx'], failure: { reason: 'http_status', retryable: true, status: 502 }, retries: true },
    { on: ['timeout', '5xx'], failure: { reason: 'exit_code', retryable: true }, retries: false },
  ];
  for (const c of cases) {
    const label = `on ${JSON.stringify(c.on)}: ${c.failure.reason}${c.failure.status === undefined ? '' : ` ${c.failure.status}`} ${c.retries ? 'retries' : 'does not retry'}`;
    test(label, () => {
      assert.equal(retryDecision({ attempts: 3, on: c.on }, c.failure, 1, half).retry, c.retries);
    });
  }

  test('without `on`, every retryable failure retries', () => {
    for (const reason of ['timeout', 'error', 'http_status', 'exit_code', 'interrupted'] as const) {
      assert.equal(
        retryDecision({ attempts: 2 }, { reason, retryable: true, status: 500 }, 1, half).retry,
        true,
        reason,
      );
    }
  });
});

describe('retryDecision: failures that never retry', () => {
  for (const reason of ['assertion', 'expression', 'limit', 'cancelled', 'rejected'] as const) {
    test(`${reason} never retries, even when marked retryable`, () => {
      assert.deepEqual(retryDecision({ attempts: 5 }, { reason, retryable: true }, 1, half), { retry: false });
    });
  }

  test('a failure marked non-retryable does not retry', () => {
    assert.deepEqual(retryDecision({ attempts: 5 }, { reason: 'error', retryable: false }, 1, half), {
      retry: false,
    });
    assert.deepEqual(retryDecision({ attempts: 5, on: ['error'] }, { reason: 'error', retryable: false }, 1, half), {
      retry: false,
    });
  });
});

describe('retryDecision: Retry-After', () => {
  const throttled = (ms: number): FailureInfo => ({
    reason: 'http_status',
    retryable: true,
    status: 429,
    retryAfterMs: ms,
  });

  test('a longer Retry-After wins over the backoff delay', () => {
    assert.deepEqual(retryDecision({ attempts: 3, delay: '1s' }, throttled(30_000), 1, half), {
      retry: true,
      delayMs: 30_000,
    });
  });

  test('a shorter Retry-After does not shorten the backoff', () => {
    assert.deepEqual(retryDecision({ attempts: 3, delay: '10s' }, throttled(2_000), 1, half), {
      retry: true,
      delayMs: 10_000,
    });
  });

  test('Retry-After beyond max_delay is still honoured, up to MAX_RETRY_AFTER_MS', () => {
    const retry: Retry = { attempts: 3, delay: '1s', max_delay: '2s' };
    assert.deepEqual(retryDecision(retry, throttled(60_000), 1, half), { retry: true, delayMs: 60_000 });
    assert.deepEqual(retryDecision(retry, throttled(10 * MAX_RETRY_AFTER_MS), 1, half), {
      retry: true,
      delayMs: MAX_RETRY_AFTER_MS,
    });
  });

  test('Retry-After does not make a last attempt retry', () => {
    assert.deepEqual(retryDecision({ attempts: 2 }, throttled(5_000), 2, half), { retry: false });
  });
});
