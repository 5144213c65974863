/** Schedules: the `on: schedule` entries of workflows; pause, resume, trigger now. */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ScheduleInfo } from '../../triggers/scheduler.ts';
import { canDo, canSee } from '../auth.ts';
import type { ServerContext } from '../context.ts';
import { ApiError, notFound } from '../errors.ts';
import { anyObject, authorize, guardOf, iso, op, principalOf } from './common.ts';

const scheduleSchema = {
  type: 'object',
  properties: {
    id: { type: 'string', description: '`<workflow>#<index>`' },
    workflow: { type: 'string' },
    cron: { type: 'string' },
    timezone: { type: 'string' },
    catchUp: { type: 'string', enum: ['none', 'latest', 'all'] },
    paused: { type: 'boolean' },
    lastTick: {
      type: ['string', 'null'],
      description: 'The last tick handled (fired or skipped), or when the schedule was first seen.',
    },
    nextTick: { type: ['string', 'null'] },
    inputs: anyObject,
    canControl: { type: 'boolean', description: 'Whether the caller may pause, resume or trigger it.' },
  },
} as const;

const publicSchedule = (s: ScheduleInfo, canControl: boolean): Record<string, unknown> => ({
  ...s,
  lastTick: iso(s.lastTick),
  nextTick: iso(s.nextTick),
  canControl,
});

const idParams = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'string', maxLength: 200, description: '`<workflow>#<index>` (URL-encode the #: %23)' } },
} as const;

export function registerScheduleRoutes(app: FastifyInstance, ctx: ServerContext): void {
  app.get(
    '/v1/schedules',
    op('read', {
      operationId: 'listSchedules',
      summary: 'Schedules of the workflows the caller may see',
      tags: ['schedules'],
      response: { 200: { type: 'object', properties: { items: { type: 'array', items: scheduleSchema } } } },
    }),
    async (req) => {
      const p = principalOf(req);
      const items = [];
      for (const s of ctx.scheduler.list()) {
        const guard = await guardOf(ctx, s.workflow);
        if (canSee(p, guard)) items.push(publicSchedule(s, canDo(p, 'run', guard)));
      }
      return { items };
    },
  );

  const visible = async (req: FastifyRequest, action: 'read' | 'run'): Promise<ScheduleInfo> => {
    const { id } = req.params as { id: string };
    req.auditTarget = `schedule/${id}`;
    const s = ctx.scheduler.get(id);
    if (s === undefined) throw notFound(`schedule ${id}`);
    authorize(req, await guardOf(ctx, s.workflow), action, `schedule ${id}`);
    return s;
  };

  app.get(
    '/v1/schedules/:id',
    op('read', {
      operationId: 'getSchedule',
      summary: 'A schedule',
      tags: ['schedules'],
      params: idParams,
      response: { 200: scheduleSchema },
    }),
    async (req) => {
      const s = await visible(req, 'read');
      return publicSchedule(s, canDo(principalOf(req), 'run', await guardOf(ctx, s.workflow)));
    },
  );

  for (const action of ['pause', 'resume'] as const) {
    app.post(
      `/v1/schedules/:id/${action}`,
      op('run', {
        operationId: `${action}Schedule`,
        summary:
          action === 'pause'
            ? 'Pauses a schedule (kept across restarts)'
            : 'Resumes a schedule; missed ticks follow its catch_up policy',
        tags: ['schedules'],
        params: idParams,
        response: { 200: scheduleSchema },
      }),
      async (req) => {
        const s = await visible(req, 'run');
        const info = action === 'pause' ? ctx.scheduler.pause(s.id) : ctx.scheduler.resume(s.id);
        return publicSchedule(info, true);
      },
    );
  }

  app.post(
    '/v1/schedules/:id/trigger',
    op('run', {
      operationId: 'triggerSchedule',
      summary: "Starts a run of the schedule's workflow now (with the schedule's inputs)",
      tags: ['schedules'],
      params: idParams,
      response: { 202: { type: 'object', properties: { runId: { type: 'string' } } } },
      extraErrors: [503],
    }),
    async (req, reply) => {
      const s = await visible(req, 'run');
      if (!ctx.accepting || !ctx.ready) throw new ApiError('RV710', 'the server is not taking new work now');
      const { runId } = await ctx.scheduler.trigger(s.id);
      req.auditTarget = `run/${runId}`;
      void reply.status(202);
      return { runId };
    },
  );
}
