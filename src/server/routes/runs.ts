/** Runs: start, list, get, cancel, resume, events (SSE), logs, outputs and artifacts. */
import { createReadStream } from 'node:fs';
import { readdir, realpath, stat } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { RivetError } from '../../errors.ts';
import { fold } from '../../engine/history.ts';
import { resolveInputs } from '../../model/inputs.ts';
import {
  type RunRecord,
  type RunState,
  type StoredEvent,
  type StoredLogLine,
  TERMINAL_RUN_STATES,
} from '../../store/types.ts';
import type { ServerContext } from '../context.ts';
import { ApiError, fromRivetError, notFound } from '../errors.ts';
import { lastEventId, openSse, wantsSse } from '../sse.ts';
import {
  anyObject,
  authorize,
  guardOf,
  iso,
  op,
  pageQuery,
  principalOf,
  timeParam,
  visibleNames,
  visibleRun,
} from './common.ts';

const RUN_STATES = ['queued', 'running', 'waiting', 'succeeded', 'failed', 'cancelled'] as const;

export const runSchema = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    workflow: { type: 'string' },
    version: { type: 'string' },
    state: { type: 'string', enum: RUN_STATES },
    trigger: { type: 'string' },
    inputs: anyObject,
    parentRun: { type: ['string', 'null'] },
    parentTask: { type: ['string', 'null'] },
    createdAt: { type: 'string' },
    startedAt: { type: ['string', 'null'] },
    finishedAt: { type: ['string', 'null'] },
    outputs: { type: ['object', 'null'], additionalProperties: true },
    error: { type: ['string', 'null'] },
  },
} as const;

const taskSchema = {
  type: 'object',
  properties: {
    task: { type: 'string' },
    item: { type: ['integer', 'null'] },
    kind: { type: ['string', 'null'] },
    status: { type: 'string' },
    attempts: { type: 'integer' },
    startedAt: { type: ['string', 'null'] },
    finishedAt: { type: ['string', 'null'] },
    cached: { type: ['string', 'null'] },
    reason: { type: ['string', 'null'] },
    outputs: {},
  },
} as const;

const eventSchema = {
  type: 'object',
  properties: {
    seq: { type: 'integer' },
    type: { type: 'string' },
    task: { type: ['string', 'null'] },
    item: { type: ['integer', 'null'] },
    attempt: { type: ['integer', 'null'] },
    at: { type: 'string' },
    data: { type: ['object', 'null'], additionalProperties: true },
  },
} as const;

const logSchema = {
  type: 'object',
  properties: {
    seq: { type: 'integer' },
    task: { type: 'string' },
    item: { type: ['integer', 'null'] },
    attempt: { type: 'integer' },
    stream: { type: 'string', enum: ['stdout', 'stderr', 'info'] },
    at: { type: 'string' },
    line: { type: 'string' },
  },
} as const;

export function publicRun(r: RunRecord): Record<string, unknown> {
  return {
    id: r.id,
    workflow: r.workflow,
    version: r.version,
    state: r.state,
    trigger: r.trigger,
    inputs: r.inputs,
    parentRun: r.parentRun,
    parentTask: r.parentTask,
    createdAt: iso(r.createdAt),
    startedAt: iso(r.startedAt),
    finishedAt: iso(r.finishedAt),
    outputs: r.outputs,
    error: r.error,
  };
}

const publicEvent = (e: StoredEvent): Record<string, unknown> => ({
  seq: e.seq,
  type: e.type,
  task: e.task,
  item: e.item,
  attempt: e.attempt,
  at: iso(e.at),
  data: e.data,
});

/** A log line as both the JSON pages and the stream give it. */
const publicLog = (l: StoredLogLine): Record<string, unknown> => ({
  seq: l.seq,
  task: l.task,
  item: l.item,
  attempt: l.attempt,
  stream: l.stream,
  at: iso(l.at),
  line: l.line,
});

const runParams = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'string', maxLength: 64 } },
} as const;

const TERMINAL_EVENTS = new Set(['run.succeeded', 'run.failed', 'run.cancelled']);

function refuseWhenStopping(ctx: ServerContext): void {
  if (!ctx.accepting || !ctx.ready) throw new ApiError('RV710', 'the server is not taking new work now');
}

export function registerRunRoutes(app: FastifyInstance, ctx: ServerContext): void {
  app.post(
    '/v1/runs',
    op('run', {
      operationId: 'startRun',
      summary: 'Starts a run of a workflow',
      description:
        "Inputs are checked against the workflow's `inputs`; a 400 (RV601) lists each bad field with a JSON pointer such as `/inputs/bucket`.",
      tags: ['runs'],
      body: {
        type: 'object',
        required: ['workflow'],
        additionalProperties: false,
        properties: {
          workflow: { type: 'string', maxLength: 128 },
          inputs: anyObject,
          force: {
            type: 'array',
            items: { type: 'string', maxLength: 128 },
            maxItems: 1000,
            description: 'Tasks whose cache is ignored.',
          },
        },
      },
      response: { 201: runSchema },
      extraErrors: [503],
    }),
    async (req, reply) => {
      const body = req.body as { workflow: string; inputs?: Record<string, unknown>; force?: string[] };
      req.auditTarget = `workflow/${body.workflow}`;
      const w = ctx.registry.get(body.workflow);
      if (w === undefined || w.kind !== 'tasks') throw notFound(`workflow ${body.workflow}`);
      authorize(req, await guardOf(ctx, w.name), 'run', `workflow ${w.name}`);
      refuseWhenStopping(ctx);
      const checked = resolveInputs(w.source.workflow.document.inputs, body.inputs ?? {});
      if (!checked.ok) {
        const details = checked.problems.map((p) => ({ pointer: p.pointer, message: p.message }));
        throw new ApiError(
          'RV601',
          `${details.length} input(s) are not valid: ${details.map((d) => `${d.pointer} ${d.message}`).join('; ')}`,
          {
            in: 'body',
            pointer: details[0]!.pointer,
            details,
          },
        );
      }
      const unknownForce = (body.force ?? []).filter((t) => w.source.workflow.task(t) === undefined);
      if (unknownForce.length > 0) {
        throw new ApiError('RV705', `force names unknown tasks: ${unknownForce.join(', ')}`, {
          in: 'body',
          pointer: '/force',
        });
      }
      let handle;
      try {
        handle = await ctx.engine.startRun({
          source: w.source,
          inputs: checked.values,
          trigger: 'api',
          event: { actor: principalOf(req).user },
          force: body.force ?? [],
        });
      } catch (error) {
        if (error instanceof RivetError) throw fromRivetError(error);
        throw error;
      }
      handle.done.catch(() => undefined);
      req.auditTarget = `run/${handle.runId}`;
      const run = await ctx.store.getRun(handle.runId);
      void reply.status(201).header('location', `/v1/runs/${handle.runId}`);
      return publicRun(run!);
    },
  );

  app.get(
    '/v1/runs',
    op('read', {
      operationId: 'listRuns',
      summary: 'Runs, newest first, with filters and cursor pagination',
      tags: ['runs'],
      querystring: {
        type: 'object',
        additionalProperties: false,
        properties: {
          workflow: { type: 'string', maxLength: 128 },
          state: {
            type: 'array',
            items: { type: 'string', enum: RUN_STATES },
            description: 'One or more states (repeat the parameter).',
          },
          trigger: { type: 'string', maxLength: 64 },
          since: { type: 'string', description: 'Created at or after (ISO 8601 or ms).' },
          until: { type: 'string', description: 'Created before (ISO 8601 or ms).' },
          children: { type: 'boolean', default: false, description: 'Include child runs of workflow tasks.' },
          ...pageQuery,
        },
      },
      response: {
        200: {
          type: 'object',
          properties: { items: { type: 'array', items: runSchema }, next: { type: ['string', 'null'] } },
        },
      },
    }),
    async (req) => {
      const p = principalOf(req);
      const q = req.query as {
        workflow?: string;
        state?: RunState[];
        trigger?: string;
        since?: string;
        until?: string;
        children: boolean;
        limit: number;
        cursor?: string;
      };
      const names = q.workflow === undefined ? await allWorkflowNames(ctx) : [q.workflow];
      const workflows = p.role === 'admin' && q.workflow === undefined ? undefined : await visibleNames(ctx, p, names);
      const runs = await ctx.store.listRuns({
        ...(workflows === undefined ? {} : { workflows }),
        ...(q.state === undefined ? {} : { state: q.state }),
        ...(q.trigger === undefined ? {} : { trigger: q.trigger }),
        ...(q.since === undefined ? {} : { createdAfter: timeParam(q.since, 'since')! }),
        ...(q.until === undefined ? {} : { createdBefore: timeParam(q.until, 'until')! }),
        topLevel: !q.children,
        limit: q.limit + 1,
        ...(q.cursor === undefined ? {} : { before: q.cursor }),
      });
      const page = runs.slice(0, q.limit);
      return { items: page.map(publicRun), next: runs.length > q.limit ? page.at(-1)!.id : null };
    },
  );

  app.get(
    '/v1/runs/:id',
    op('read', {
      operationId: 'getRun',
      summary: 'A run with its task runs',
      tags: ['runs'],
      params: runParams,
      response: {
        200: {
          type: 'object',
          properties: {
            ...runSchema.properties,
            tasks: { type: 'array', items: taskSchema },
            children: { type: 'array', items: runSchema },
          },
        },
      },
    }),
    async (req) => {
      const { run } = await visibleRun(ctx, req, (req.params as { id: string }).id, 'read');
      const events = await ctx.store.readEvents(run.id);
      const workflow =
        ctx.engine.active.get(run.id)?.source.workflow ?? ctx.registry.get(run.workflow)?.source.workflow;
      const sameVersion = workflow !== undefined && ctx.registry.get(run.workflow)?.source.version === run.version;
      const tasks = fold(events, sameVersion || ctx.engine.active.has(run.id) ? workflow : undefined).map((t) => ({
        task: t.task,
        item: t.item,
        kind: t.kind,
        status: t.status,
        attempts: t.attempts,
        startedAt: iso(t.startedAt),
        finishedAt: iso(t.finishedAt),
        cached: t.cached,
        reason: t.reason,
        outputs: t.outputs,
      }));
      const children = (await ctx.store.listChildRuns(run.id)).map(publicRun);
      return { ...publicRun(run), tasks, children };
    },
  );

  app.post(
    '/v1/runs/:id/cancel',
    op('run', {
      operationId: 'cancelRun',
      summary: 'Cancels a run (running tasks get SIGTERM, then SIGKILL after the grace period)',
      tags: ['runs'],
      params: runParams,
      response: { 202: { type: 'object', properties: { id: { type: 'string' }, state: { type: 'string' } } } },
    }),
    async (req, reply) => {
      const { run } = await visibleRun(ctx, req, (req.params as { id: string }).id, 'run');
      if (TERMINAL_RUN_STATES.has(run.state)) throw new ApiError('RV604', `run ${run.id} already ${run.state}`);
      try {
        const result = await ctx.engine.cancelRun(run.id, `cancelled by ${principalOf(req).user}`);
        void reply.status(202);
        return { id: run.id, state: result };
      } catch (error) {
        if (error instanceof RivetError) throw fromRivetError(error);
        throw error;
      }
    },
  );

  app.post(
    '/v1/runs/:id/resume',
    {
      // The body is optional: a resume without `from` may send none at all.
      preValidation: async (req: FastifyRequest) => {
        req.body ??= {};
      },
      ...op('run', {
        operationId: 'resumeRun',
        summary: 'Resumes a failed or cancelled run, or re-runs from a task',
        description:
          'Succeeded tasks are kept; `from` (TASK, TASK[i] or TASK/CHILD_TASK) runs that task and everything downstream again.',
        tags: ['runs'],
        params: runParams,
        body: {
          type: 'object',
          additionalProperties: false,
          properties: { from: { type: 'string', maxLength: 300 } },
        },
        response: { 202: runSchema },
        extraErrors: [503],
      }),
    },
    async (req, reply) => {
      const { run } = await visibleRun(ctx, req, (req.params as { id: string }).id, 'run');
      refuseWhenStopping(ctx);
      const { from } = (req.body ?? {}) as { from?: string };
      if (!TERMINAL_RUN_STATES.has(run.state))
        throw new ApiError('RV604', `run ${run.id} is ${run.state}, not finished`);
      try {
        const handle = await ctx.engine.resumeRun(run.id, from === undefined ? {} : { from });
        handle.done.catch(() => undefined);
      } catch (error) {
        // The engine words a bad `from` for the CLI (RV502, "--from X: ..."); here it is a body field.
        if (error instanceof RivetError && error.code === 'RV502' && from !== undefined) {
          throw new ApiError('RV705', error.message.replace(/^--from /, 'from '), { in: 'body', pointer: '/from' });
        }
        if (error instanceof RivetError) throw fromRivetError(error);
        throw error;
      }
      void reply.status(202);
      return publicRun((await ctx.store.getRun(run.id))!);
    },
  );

  app.get(
    '/v1/runs/:id/events',
    op('read', {
      operationId: 'runEvents',
      summary: "A run's events: JSON, or a live stream with `Accept: text/event-stream`",
      description:
        'The stream sends each event once as `id: <seq>`, `event: <type>`, `data: <json>`, and ends with `event: end` once the run ends. ' +
        'A client that reconnects with `Last-Event-ID` (or `?after=`) continues after that event.',
      tags: ['runs'],
      params: runParams,
      querystring: {
        type: 'object',
        additionalProperties: false,
        properties: { after: { type: 'integer', minimum: 0, description: 'Events after this sequence number.' } },
      },
      produces: ['application/json', 'text/event-stream'],
      response: { 200: { type: 'object', properties: { items: { type: 'array', items: eventSchema } } } },
      extraErrors: [429],
    }),
    async (req, reply) => {
      const { run } = await visibleRun(ctx, req, (req.params as { id: string }).id, 'read');
      const { after } = req.query as { after?: number };
      if (!wantsSse(req)) return { items: (await ctx.store.readEvents(run.id, after ?? 0)).map(publicEvent) };
      streamEvents(ctx, req, reply, run, lastEventId(req, after));
      return reply;
    },
  );

  app.get(
    '/v1/runs/:id/logs',
    op('read', {
      operationId: 'runLogs',
      summary: "A run's log lines: JSON pages, or a live stream with `Accept: text/event-stream`",
      tags: ['runs'],
      params: runParams,
      querystring: {
        type: 'object',
        additionalProperties: false,
        properties: {
          task: { type: 'string', maxLength: 128 },
          after: { type: 'integer', minimum: 0, description: 'Lines after this sequence number.' },
          limit: { type: 'integer', minimum: 1, maximum: 5000, default: 1000 },
        },
      },
      produces: ['application/json', 'text/event-stream'],
      response: {
        200: {
          type: 'object',
          properties: { items: { type: 'array', items: logSchema }, next: { type: ['integer', 'null'] } },
        },
      },
      extraErrors: [429],
    }),
    async (req, reply) => {
      const { run } = await visibleRun(ctx, req, (req.params as { id: string }).id, 'read');
      const q = req.query as { task?: string; after?: number; limit: number };
      if (wantsSse(req)) {
        streamLogs(ctx, req, reply, run, q.task, lastEventId(req, q.after));
        return reply;
      }
      const lines = await ctx.store.readLogs(run.id, {
        ...(q.task === undefined ? {} : { task: q.task }),
        afterSeq: q.after ?? 0,
        limit: q.limit + 1,
      });
      const page = lines.slice(0, q.limit);
      return {
        items: page.map(publicLog),
        next: lines.length > q.limit ? page.at(-1)!.seq : null,
      };
    },
  );

  app.get(
    '/v1/runs/:id/outputs',
    op('read', {
      operationId: 'runOutputs',
      summary: "A run's outputs and each task's outputs",
      tags: ['runs'],
      params: runParams,
      response: {
        200: {
          type: 'object',
          properties: { outputs: { type: ['object', 'null'], additionalProperties: true }, tasks: anyObject },
        },
      },
    }),
    async (req) => {
      const { run } = await visibleRun(ctx, req, (req.params as { id: string }).id, 'read');
      const tasks: Record<string, unknown> = {};
      for (const t of fold(await ctx.store.readEvents(run.id))) {
        if (t.status !== 'succeeded') continue;
        tasks[t.item === null ? t.task : `${t.task}[${t.item}]`] = t.outputs;
      }
      return { outputs: run.outputs, tasks };
    },
  );

  app.get(
    '/v1/runs/:id/artifacts',
    op('read', {
      operationId: 'listArtifacts',
      summary: 'The files tasks of the run kept as artifacts',
      tags: ['runs'],
      params: runParams,
      response: {
        200: {
          type: 'object',
          properties: {
            items: {
              type: 'array',
              items: { type: 'object', properties: { path: { type: 'string' }, size: { type: 'integer' } } },
            },
          },
        },
      },
    }),
    async (req) => {
      const { run } = await visibleRun(ctx, req, (req.params as { id: string }).id, 'read');
      const root = join(ctx.artifactsRoot, run.workflow, run.id);
      const items: { path: string; size: number }[] = [];
      try {
        for (const e of await readdir(root, { recursive: true, withFileTypes: true })) {
          if (!e.isFile()) continue;
          const full = join(e.parentPath, e.name);
          items.push({ path: relative(root, full).split(sep).join('/'), size: (await stat(full)).size });
        }
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      }
      return { items: items.sort((a, b) => a.path.localeCompare(b.path)) };
    },
  );

  app.get(
    '/v1/runs/:id/artifacts/*',
    op('read', {
      operationId: 'getArtifact',
      summary: 'Downloads one artifact file (`<task>/<path>`)',
      tags: ['runs'],
      params: {
        type: 'object',
        required: ['id', '*'],
        properties: { id: { type: 'string', maxLength: 64 }, '*': { type: 'string', maxLength: 1000 } },
      },
      produces: ['application/octet-stream'],
      response: { 200: { type: 'string', format: 'binary' } },
    }),
    async (req, reply) => {
      const params = req.params as { id: string; '*': string };
      const { run } = await visibleRun(ctx, req, params.id, 'read');
      const root = join(ctx.artifactsRoot, run.workflow, run.id);
      const wanted = params['*'];
      let file: string;
      try {
        // realpath on both sides: neither `..` nor a symlink may lead out of the run's folder.
        const realRoot = await realpath(root);
        file = await realpath(join(root, wanted));
        if (!file.startsWith(realRoot + sep) || !(await stat(file)).isFile()) throw new Error('outside');
      } catch {
        throw notFound(`artifact ${wanted}`);
      }
      const name = wanted
        .split('/')
        .at(-1)!
        .replace(/[^A-Za-z0-9._-]/g, '_');
      void reply
        .type('application/octet-stream')
        .header('content-disposition', `attachment; filename="${name}"`)
        .header('x-content-type-options', 'nosniff');
      return reply.send(createReadStream(file));
    },
  );
}

async function allWorkflowNames(ctx: ServerContext): Promise<string[]> {
  // Registered workflows plus those of past runs (a removed workflow's runs stay listable).
  const names = new Set(ctx.registry.list().map((w) => w.name));
  for (const n of await ctx.store.listWorkflowNames()) names.add(n);
  return [...names];
}

function streamEvents(
  ctx: ServerContext,
  req: FastifyRequest,
  reply: Parameters<typeof openSse>[2],
  run: RunRecord,
  cursor: number,
): void {
  const sse = openSse(ctx, req, reply);
  let ended = false;
  let lastTerminal: number | null = null;
  const off = ctx.feeds.events(run.id, {
    cursor,
    send: (e) => {
      sse.send(e.seq, e.type, publicEvent(e));
      // A resumed run has an earlier end in its log: only an end that nothing follows in the same
      // read (the feed sends a read's records synchronously) ends the stream.
      lastTerminal = TERMINAL_EVENTS.has(e.type) ? e.seq : null;
      if (lastTerminal !== null) {
        const seq = lastTerminal;
        queueMicrotask(() => {
          if (lastTerminal === seq) finish();
        });
      }
    },
  });
  const finish = (): void => {
    if (ended) return;
    ended = true;
    sse.send(null, 'end', { id: run.id });
    sse.end();
  };
  sse.onClose(off);
  // A run that ended before this request: the feed's first read holds everything, then it ends.
  if (TERMINAL_RUN_STATES.has(run.state)) {
    void ctx.store.readEvents(run.id, cursor).then((rest) => {
      if (rest.length === 0 || !rest.some((e) => TERMINAL_EVENTS.has(e.type))) finish();
    });
  }
}

function streamLogs(
  ctx: ServerContext,
  req: FastifyRequest,
  reply: Parameters<typeof openSse>[2],
  run: RunRecord,
  task: string | undefined,
  cursor: number,
): void {
  const sse = openSse(ctx, req, reply);
  const accept = (l: StoredLogLine): boolean => task === undefined || l.task === task;
  const sub = {
    cursor,
    accept,
    send: (l: StoredLogLine) => sse.send(l.seq, 'log', publicLog(l)),
  };
  const offLogs = ctx.feeds.logs(run.id, sub);
  // The stream ends once the run ends, after every line written before its end.
  let ending = false;
  const end = async (): Promise<void> => {
    if (ending) return;
    ending = true;
    for (;;) {
      const rest = await ctx.store.readLogs(run.id, { afterSeq: sub.cursor, limit: 1000 });
      for (const l of rest) {
        if (l.seq <= sub.cursor) continue;
        sub.cursor = l.seq;
        if (accept(l)) sub.send(l);
      }
      if (rest.length < 1000) break;
    }
    sse.send(null, 'end', { id: run.id });
    sse.end();
  };
  const offEnd = ctx.engine.on({
    event: (e) => {
      if (e.runId === run.id && TERMINAL_EVENTS.has(e.type)) void end();
    },
  });
  sse.onClose(() => {
    offLogs();
    offEnd();
  });
  if (TERMINAL_RUN_STATES.has(run.state)) void end();
}
