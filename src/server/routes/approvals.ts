/** Approvals: what waits for a decision, and deciding it. */
import type { FastifyInstance } from 'fastify';
import type { InputDefinition } from '../../model/common.ts';
import { resolveInputs } from '../../model/inputs.ts';
import { canDo, canSee, isApprover } from '../auth.ts';
import type { ServerContext } from '../context.ts';
import { ApiError } from '../errors.ts';
import { anyObject, guardOf, iso, op, principalOf, visibleRun } from './common.ts';

const approvalSchema = {
  type: 'object',
  properties: {
    runId: { type: 'string' },
    workflow: { type: 'string' },
    task: { type: 'string' },
    item: { type: ['integer', 'null'] },
    message: { type: ['string', 'null'] },
    approvers: { type: ['array', 'null'], items: { type: 'string' } },
    fields: anyObject,
    deadline: { type: ['string', 'null'] },
    since: { type: 'string' },
    canDecide: { type: 'boolean', description: 'Whether the caller may approve or reject it.' },
  },
} as const;

export function registerApprovalRoutes(app: FastifyInstance, ctx: ServerContext): void {
  app.get(
    '/v1/approvals',
    op('read', {
      operationId: 'listApprovals',
      summary: 'Approvals waiting for a decision',
      description: 'Those of workflows the caller may see; `mine=true` keeps those the caller may decide.',
      tags: ['approvals'],
      querystring: {
        type: 'object',
        additionalProperties: false,
        properties: { mine: { type: 'boolean', default: false } },
      },
      response: { 200: { type: 'object', properties: { items: { type: 'array', items: approvalSchema } } } },
    }),
    async (req) => {
      const p = principalOf(req);
      const { mine } = req.query as { mine: boolean };
      const items = [];
      for (const a of ctx.approvals.list()) {
        const workflow = ctx.engine.active.get(a.runId)?.source.workflow.name;
        if (workflow === undefined) continue;
        const guard = await guardOf(ctx, workflow);
        if (!canSee(p, guard)) continue;
        const canDecide = canDo(p, 'approve', guard) && isApprover(p, a.approvers ?? undefined);
        if (mine && !canDecide) continue;
        items.push({ ...a, workflow, deadline: iso(a.deadline), since: iso(a.since), canDecide });
      }
      return { items };
    },
  );

  app.post(
    '/v1/runs/:id/approvals/:task',
    op('approve', {
      operationId: 'decideApproval',
      summary: 'Approves or rejects an approval task of a run',
      description:
        "Needs the `approve` action on the workflow, and the caller must be one of the task's `approvers` when it names any.",
      tags: ['approvals'],
      params: {
        type: 'object',
        required: ['id', 'task'],
        properties: { id: { type: 'string', maxLength: 64 }, task: { type: 'string', maxLength: 128 } },
      },
      body: {
        type: 'object',
        required: ['decision'],
        additionalProperties: false,
        properties: {
          decision: { type: 'string', enum: ['approve', 'reject'] },
          comment: { type: 'string', maxLength: 10_000 },
          fields: anyObject,
          item: { type: 'integer', minimum: 0, description: 'The for_each item, for an approval task with for_each.' },
        },
      },
      response: {
        200: {
          type: 'object',
          properties: { runId: { type: 'string' }, task: { type: 'string' }, decision: { type: 'string' } },
        },
      },
    }),
    async (req) => {
      const { id, task } = req.params as { id: string; task: string };
      const body = req.body as {
        decision: 'approve' | 'reject';
        comment?: string;
        fields?: Record<string, unknown>;
        item?: number;
      };
      const { run, principal } = await visibleRun(ctx, req, id, 'approve');
      req.auditTarget = `run/${run.id}/${task}`;
      const pending = ctx.approvals.get(run.id, task, body.item ?? null);
      if (pending === undefined)
        throw new ApiError('RV604', `task ${task} of run ${run.id} is not waiting for a decision`);
      if (!isApprover(principal, pending.approvers ?? undefined)) {
        req.auditDetail = `${principal.user} is not one of the approvers (${(pending.approvers ?? []).join(', ')})`;
        throw new ApiError('RV703', `${principal.user} is not one of this task's approvers`);
      }
      // Checked here, while the task still waits: a typo in a field is the approver's to fix, and
      // must not reach the task, which would fail the run on it.
      const checked = resolveInputs(pending.fields as Readonly<Record<string, InputDefinition>>, body.fields ?? {});
      if (!checked.ok) {
        const details = checked.problems.map((p) => ({
          pointer: p.pointer.replace(/^\/inputs\//, '/fields/'),
          message: p.message.replace(/\binput(s?)\b/g, 'field$1'),
        }));
        throw new ApiError('RV705', `the form is not valid: ${details.map((d) => d.message).join('; ')}`, {
          in: 'body',
          pointer: details[0]!.pointer,
          details,
        });
      }
      const decided = ctx.approvals.decide(run.id, task, body.item ?? null, {
        decision: body.decision,
        approver: principal.user,
        comment: body.comment ?? '',
        fields: body.fields ?? {},
      });
      if (!decided) throw new ApiError('RV604', `task ${task} of run ${run.id} is no longer waiting for a decision`);
      req.auditDetail = body.decision;
      return { runId: run.id, task, decision: body.decision };
    },
  );
}
