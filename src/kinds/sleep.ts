/**
 * `sleep`: waits durably for a duration or until a time. The deadline is checkpointed before
 * the wait, so after a restart the task wakes at its original deadline (at once if overdue).
 */
import type { z } from 'zod';
import { parseDuration } from '../model/index.ts';
import { sleep as definition, type sleepSpec } from '../model/kinds/sleep.ts';
import { type Kind, TaskFailure } from './types.ts';

type SleepSpec = z.output<typeof sleepSpec>;

function deadlineOf(spec: SleepSpec, now: number): number {
  if (spec.duration !== undefined) return now + (parseDuration(spec.duration) ?? 0);
  const until = Date.parse(String(spec.until));
  if (!Number.isFinite(until)) {
    throw new TaskFailure('expression', `sleep.until: ${JSON.stringify(spec.until)} is not an RFC 3339 time`, {
      retryable: false,
    });
  }
  return until;
}

function savedDeadline(previous: unknown): number | undefined {
  if (typeof previous !== 'object' || previous === null) return undefined;
  const d = (previous as { deadline?: unknown }).deadline;
  return typeof d === 'number' ? d : undefined;
}

export const sleepKind: Kind<SleepSpec> = {
  definition,
  async execute(spec, ctx) {
    let deadline = savedDeadline(ctx.previous);
    if (deadline === undefined) {
      deadline = deadlineOf(spec, ctx.clock.now());
      await ctx.checkpoint({ deadline });
    }
    ctx.waiting();
    const left = deadline - ctx.clock.now();
    ctx.logger.line('info', `sleeping until ${new Date(deadline).toISOString()}`);
    if (left > 0) {
      try {
        await ctx.clock.sleep(left, ctx.signal);
      } catch {
        throw new TaskFailure(ctx.signal.reason === 'timeout' ? 'timeout' : 'cancelled', 'sleep interrupted');
      }
    }
    return { result: { woke_at: new Date(ctx.clock.now()).toISOString() } };
  },
};
