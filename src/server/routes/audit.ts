/** The audit log: every mutating request, allowed or denied. */
import type { FastifyInstance } from 'fastify';
import type { ServerContext } from '../context.ts';
import { iso, op, requireRole, timeParam } from './common.ts';

export function registerAuditRoutes(app: FastifyInstance, ctx: ServerContext): void {
  app.get(
    '/v1/audit',
    op('admin', {
      operationId: 'listAudit',
      summary: 'Audit entries, newest first, with filters and cursor pagination',
      tags: ['audit'],
      querystring: {
        type: 'object',
        additionalProperties: false,
        properties: {
          actor: { type: 'string', maxLength: 64 },
          action: { type: 'string', maxLength: 64, description: 'An operationId, e.g. startRun.' },
          outcome: { type: 'string', enum: ['allowed', 'denied', 'failed'] },
          since: { type: 'string' },
          until: { type: 'string' },
          limit: { type: 'integer', minimum: 1, maximum: 500, default: 50 },
          cursor: { type: 'string', pattern: '^\\d{1,15}$' },
        },
      },
      response: {
        200: {
          type: 'object',
          properties: {
            items: {
              type: 'array',
              items: {
                type: 'object',
                properties: {
                  seq: { type: 'integer' },
                  at: { type: 'string' },
                  actor: { type: 'string' },
                  action: { type: 'string' },
                  target: { type: ['string', 'null'] },
                  outcome: { type: 'string' },
                  status: { type: 'integer' },
                  detail: { type: ['string', 'null'] },
                },
              },
            },
            next: { type: ['string', 'null'] },
          },
        },
      },
    }),
    async (req) => {
      requireRole(req, 'admin');
      ctx.audit.flush();
      const q = req.query as {
        actor?: string;
        action?: string;
        outcome?: 'allowed' | 'denied' | 'failed';
        since?: string;
        until?: string;
        limit: number;
        cursor?: string;
      };
      const entries = ctx.data.listAudit({
        ...(q.actor === undefined ? {} : { actor: q.actor }),
        ...(q.action === undefined ? {} : { action: q.action }),
        ...(q.outcome === undefined ? {} : { outcome: q.outcome }),
        ...(q.since === undefined ? {} : { since: timeParam(q.since, 'since')! }),
        ...(q.until === undefined ? {} : { until: timeParam(q.until, 'until')! }),
        ...(q.cursor === undefined ? {} : { before: Number(q.cursor) }),
        limit: q.limit + 1,
      });
      const page = entries.slice(0, q.limit);
      return {
        items: page.map((e) => ({ ...e, at: iso(e.at) })),
        next: entries.length > q.limit ? String(page.at(-1)!.seq) : null,
      };
    },
  );
}
