/**
 * `approval`: waits durably for a person's decision (a terminal prompt, `rivet approve`, the API,
 * chat). The deadline is checkpointed, so a restart keeps it. When it passes, `default` decides;
 * without a default the task fails with a timeout. A rejection is a decision, not a failure:
 * the task succeeds with `decision: reject` and the workflow's `if:` conditions act on it.
 */
import type { z } from 'zod';
import { parseDuration } from '../model/index.ts';
import { resolveInputs } from '../model/inputs.ts';
import { approval as definition, type approvalSpec } from '../model/kinds/approval.ts';
import { type Decision, type Kind, TaskFailure } from './types.ts';

type ApprovalSpec = z.output<typeof approvalSpec>;

function savedDeadline(previous: unknown): number | null | undefined {
  if (typeof previous !== 'object' || previous === null || !('deadline' in previous)) return undefined;
  const d = (previous as { deadline: unknown }).deadline;
  return typeof d === 'number' ? d : null;
}

function byDefault(spec: ApprovalSpec): Decision {
  if (spec.default === undefined) {
    throw new TaskFailure('timeout', `no decision within ${spec.timeout}`, { retryable: false });
  }
  return { decision: spec.default, approver: 'timeout', comment: `no decision within ${spec.timeout}`, fields: {} };
}

/** Checks the approver's form fields against `fields:` and fills defaults. */
export function approvalFields(spec: ApprovalSpec, given: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const checked = resolveInputs(spec.fields, given);
  if (!checked.ok) {
    throw new TaskFailure('error', checked.problems.map((p) => p.message.replace(/^input/, 'field')).join('; '), {
      retryable: false,
    });
  }
  return checked.values;
}

export const approvalKind: Kind<ApprovalSpec> = {
  definition,
  async execute(spec, ctx) {
    let deadline = savedDeadline(ctx.previous);
    if (deadline === undefined) {
      const ms = spec.timeout === undefined ? undefined : parseDuration(spec.timeout);
      deadline = ms === undefined ? null : ctx.clock.now() + ms;
      await ctx.checkpoint({ deadline });
    }
    ctx.waiting();
    ctx.logger.line('info', `waiting for approval: ${spec.message}`);
    const decision =
      (await ctx.decision({
        deadline,
        message: spec.message,
        ...(spec.approvers === undefined ? {} : { approvers: spec.approvers }),
        ...(spec.fields === undefined ? {} : { fields: spec.fields }),
      })) ?? byDefault(spec);
    const fields = approvalFields(spec, decision.fields);
    ctx.logger.line('info', `${decision.decision === 'approve' ? 'approved' : 'rejected'} by ${decision.approver}`);
    return { result: { decision: decision.decision, approver: decision.approver, comment: decision.comment, fields } };
  },
};
