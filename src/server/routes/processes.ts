/** Processes: long-running supervised commands defined by `process:` files. */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ProcessInfo } from '../../processes/supervisor.ts';
import { canDo, canSee } from '../auth.ts';
import type { ServerContext } from '../context.ts';
import { ApiError, notFound } from '../errors.ts';
import { lastEventId, openSse, wantsSse } from '../sse.ts';
import { authorize, guardOf, iso, name, op, principalOf } from './common.ts';

const processSchema = {
  type: 'object',
  properties: {
    name: { type: 'string' },
    status: {
      type: 'string',
      enum: ['stopped', 'starting', 'ready', 'running', 'stopping', 'backoff', 'exited', 'failed'],
    },
    desired: { type: 'string', enum: ['running', 'stopped'] },
    pid: { type: ['integer', 'null'] },
    startedAt: { type: ['string', 'null'] },
    readyAt: { type: ['string', 'null'] },
    restarts: { type: 'integer' },
    exitCode: { type: ['integer', 'null'] },
    signal: { type: ['string', 'null'] },
    lastError: { type: ['string', 'null'] },
    version: { type: 'string' },
    canControl: { type: 'boolean', description: 'Whether the caller may start, stop or restart it.' },
  },
} as const;

const logSchema = {
  type: 'object',
  properties: {
    seq: { type: 'integer' },
    at: { type: 'string' },
    stream: { type: 'string', enum: ['stdout', 'stderr', 'info'] },
    line: { type: 'string' },
  },
} as const;

const publicProcess = (p: ProcessInfo, canControl: boolean): Record<string, unknown> => ({
  name: p.name,
  status: p.status,
  desired: p.desired,
  pid: p.pid,
  startedAt: iso(p.startedAt),
  readyAt: iso(p.readyAt),
  restarts: p.restarts,
  exitCode: p.exitCode,
  signal: p.signal,
  lastError: p.lastError,
  version: p.version,
  canControl,
});

const params = { type: 'object', required: ['name'], properties: { name } } as const;

export function registerProcessRoutes(app: FastifyInstance, ctx: ServerContext): void {
  const visible = async (req: FastifyRequest, action: 'read' | 'run'): Promise<ProcessInfo> => {
    const { name: n } = req.params as { name: string };
    req.auditTarget = `process/${n}`;
    const info = ctx.supervisor.get(n);
    if (info === undefined) throw notFound(`process ${n}`);
    authorize(req, await guardOf(ctx, n), action, `process ${n}`);
    return info;
  };

  app.get(
    '/v1/processes',
    op('read', {
      operationId: 'listProcesses',
      summary: 'Processes the caller may see, with their status',
      tags: ['processes'],
      response: { 200: { type: 'object', properties: { items: { type: 'array', items: processSchema } } } },
    }),
    async (req) => {
      const p = principalOf(req);
      const items = [];
      for (const info of ctx.supervisor.list()) {
        const guard = await guardOf(ctx, info.name);
        if (canSee(p, guard)) items.push(publicProcess(info, canDo(p, 'run', guard)));
      }
      return { items };
    },
  );

  app.get(
    '/v1/processes/:name',
    op('read', {
      operationId: 'getProcess',
      summary: 'A process and its status (with readiness)',
      tags: ['processes'],
      params,
      response: { 200: processSchema },
    }),
    async (req) => {
      const info = await visible(req, 'read');
      return publicProcess(info, canDo(principalOf(req), 'run', await guardOf(ctx, info.name)));
    },
  );

  for (const action of ['start', 'stop', 'restart'] as const) {
    const takesInputs = action !== 'stop';
    app.post(
      `/v1/processes/:name/${action}`,
      {
        // The body is optional: `{"inputs": {...}}` only to start with other inputs than the defaults.
        preValidation: async (req: FastifyRequest) => {
          req.body ??= {};
        },
        ...op('run', {
          operationId: `${action}Process`,
          summary:
            action === 'start'
              ? 'Starts a process (answers once it is spawned; readiness shows in its status)'
              : action === 'stop'
                ? 'Stops a process: its stop signal, the grace period, then SIGKILL to its process group'
                : 'Stops and starts a process again',
          ...(takesInputs
            ? {
                description:
                  "`inputs` (checked against the process file's `inputs`; a 400 names each bad field) replace the defaults " +
                  'for this start and the restarts that follow it, until the next start with other inputs.',
              }
            : {}),
          tags: ['processes'],
          params,
          body: {
            type: 'object',
            additionalProperties: false,
            properties: takesInputs ? { inputs: { type: 'object', additionalProperties: true } } : {},
          },
          response: { 200: processSchema },
          extraErrors: takesInputs ? [503] : [],
        }),
      },
      async (req) => {
        const info = await visible(req, 'run');
        if (takesInputs && !ctx.accepting) throw new ApiError('RV710', 'the server is shutting down');
        const { inputs } = req.body as { inputs?: Record<string, unknown> };
        if (inputs !== undefined) {
          const problems = ctx.defineProcess(info.name, inputs);
          if (problems.length > 0) {
            throw new ApiError(
              'RV601',
              `${problems.length} input(s) are not valid: ${problems.map((d) => `${d.pointer} ${d.message}`).join('; ')}`,
              {
                in: 'body',
                pointer: problems[0]!.pointer,
                details: problems,
              },
            );
          }
        }
        const after = await ctx.supervisor[action](info.name);
        return publicProcess(after, true);
      },
    );
  }

  app.get(
    '/v1/processes/:name/logs',
    op('read', {
      operationId: 'processLogs',
      summary: "A process's recent output: JSON, or a live stream with `Accept: text/event-stream`",
      tags: ['processes'],
      params,
      querystring: {
        type: 'object',
        additionalProperties: false,
        properties: {
          after: { type: 'integer', minimum: 0, description: 'Lines after this sequence number.' },
          limit: { type: 'integer', minimum: 1, maximum: 5000, default: 500 },
        },
      },
      produces: ['application/json', 'text/event-stream'],
      response: { 200: { type: 'object', properties: { items: { type: 'array', items: logSchema } } } },
      extraErrors: [429],
    }),
    async (req, reply) => {
      const info = await visible(req, 'read');
      const q = req.query as { after?: number; limit: number };
      const publicLine = (l: { seq: number; at: number; stream: string; line: string }): Record<string, unknown> => ({
        ...l,
        at: iso(l.at),
      });
      if (!wantsSse(req)) return { items: ctx.supervisor.logs(info.name, q.after, q.limit).map(publicLine) };
      const canControl = canDo(principalOf(req), 'run', await guardOf(ctx, info.name));
      const sse = openSse(ctx, req, reply);
      let cursor = lastEventId(req, q.after);
      const send = (l: { seq: number; at: number; stream: string; line: string }): void => {
        if (l.seq <= cursor) return;
        cursor = l.seq;
        sse.send(l.seq, 'log', publicLine(l));
      };
      // Subscribe first, then send the backlog: a line arriving in between is sent once (the cursor).
      const off = ctx.supervisor.subscribe(info.name, {
        log: send,
        status: (s) => sse.send(null, 'status', publicProcess(s, canControl)),
      });
      for (const l of ctx.supervisor.logs(info.name, cursor, 5000)) send(l);
      sse.onClose(off);
      return reply;
    },
  );
}
