/** Workflows: list, get (inputs form schema and DAG), source, upload, delete, validate. */
import type { FastifyInstance } from 'fastify';
import type { InputDefinition } from '../../model/common.ts';
import type { Diagnostic } from '../../model/index.ts';
import { canDo, canSee } from '../auth.ts';
import type { ServerContext } from '../context.ts';
import { ApiError, type ErrorDetail, notFound } from '../errors.ts';
import type { RegisteredWorkflow } from '../registry.ts';
import { anyObject, authorize, guardOf, iso, name, op, principalOf, requireRole } from './common.ts';

const TYPES: Record<string, object> = {
  string: { type: 'string' },
  integer: { type: 'integer' },
  number: { type: 'number' },
  boolean: { type: 'boolean' },
  list: { type: 'array' },
  object: { type: 'object' },
};

/** The JSON Schema of a workflow's inputs (what a form generator or a client needs). */
export function inputsJsonSchema(defs: Readonly<Record<string, InputDefinition>> | undefined): Record<string, unknown> {
  const properties: Record<string, unknown> = {};
  const required: string[] = [];
  for (const [k, d] of Object.entries(defs ?? {})) {
    properties[k] = {
      ...TYPES[d.type ?? 'string'],
      ...(d.title === undefined ? {} : { title: d.title }),
      ...(d.description === undefined ? {} : { description: d.description }),
      ...(d.default === undefined ? {} : { default: d.default }),
      ...(d.pattern === undefined ? {} : { pattern: d.pattern }),
      ...(d.enum === undefined ? {} : { enum: d.enum }),
      ...(d.minimum === undefined ? {} : { minimum: d.minimum }),
      ...(d.maximum === undefined ? {} : { maximum: d.maximum }),
      ...(d.secret === true ? { writeOnly: true, format: 'password' } : {}),
    };
    if (d.required === true && d.default === undefined) required.push(k);
  }
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    type: 'object',
    properties,
    required,
    additionalProperties: false,
  };
}

export function diagnosticDetails(diagnostics: readonly Diagnostic[]): ErrorDetail[] {
  return diagnostics.map((d) => ({
    pointer:
      d.path === undefined
        ? ''
        : `/${d.path.map((p) => String(p).replaceAll('~', '~0').replaceAll('/', '~1')).join('/')}`,
    code: d.code,
    message: d.message,
    line: d.line,
    col: d.col,
    ...(d.hint === undefined ? {} : { hint: d.hint }),
  }));
}

function summary(w: RegisteredWorkflow, canRun: boolean): Record<string, unknown> {
  const doc = w.source.workflow.document;
  const schedules = doc.on?.schedule === undefined ? 0 : Array.isArray(doc.on.schedule) ? doc.on.schedule.length : 1;
  return {
    name: w.name,
    kind: w.kind,
    description: doc.description ?? null,
    catalog: doc.catalog ?? null,
    version: w.source.version,
    origin: w.origin,
    updatedAt: iso(w.updatedAt),
    schedules,
    canRun,
  };
}

const summarySchema = {
  type: 'object',
  properties: {
    name: { type: 'string' },
    kind: { type: 'string', enum: ['tasks', 'process'] },
    description: { type: ['string', 'null'] },
    catalog: { type: ['object', 'null'], additionalProperties: true },
    version: { type: 'string' },
    origin: { type: 'string', enum: ['folder', 'upload'] },
    updatedAt: { type: 'string' },
    schedules: { type: 'integer' },
    canRun: { type: 'boolean', description: 'Whether the caller may start it.' },
  },
} as const;

const detailSchema = {
  type: 'object',
  properties: {
    ...summarySchema.properties,
    file: { type: 'string' },
    inputs: anyObject,
    inputsSchema: anyObject,
    outputs: { type: 'array', items: { type: 'string' } },
    permissions: { type: ['object', 'null'], additionalProperties: true },
    dag: {
      type: 'object',
      properties: {
        nodes: {
          type: 'array',
          items: {
            type: 'object',
            properties: {
              id: { type: 'string' },
              kind: { type: 'string' },
              description: { type: ['string', 'null'] },
              needs: { type: 'array', items: { type: 'string' } },
              when: { type: 'string' },
              forEach: { type: 'boolean' },
            },
          },
        },
        edges: {
          type: 'array',
          items: { type: 'object', properties: { from: { type: 'string' }, to: { type: 'string' } } },
        },
      },
    },
  },
} as const;

const sourceBody = {
  type: 'object',
  required: ['source'],
  additionalProperties: false,
  properties: { source: { type: 'string', description: 'The workflow file as YAML text.' } },
} as const;

export function registerWorkflowRoutes(app: FastifyInstance, ctx: ServerContext): void {
  app.get(
    '/v1/workflows',
    op('read', {
      operationId: 'listWorkflows',
      summary: 'The workflows and processes the caller may see',
      tags: ['workflows'],
      querystring: {
        type: 'object',
        additionalProperties: false,
        properties: { kind: { type: 'string', enum: ['tasks', 'process'] } },
      },
      response: {
        200: {
          type: 'object',
          properties: {
            items: { type: 'array', items: summarySchema },
            problems: {
              type: 'array',
              description: 'Files that could not be loaded (admins only).',
              items: {
                type: 'object',
                properties: { file: { type: 'string' }, details: { type: 'array', items: anyObject } },
              },
            },
          },
        },
      },
    }),
    async (req) => {
      const p = principalOf(req);
      const { kind } = req.query as { kind?: string };
      const items = ctx.registry
        .list()
        .filter(
          (w) =>
            (kind === undefined || w.kind === kind) &&
            canSee(p, { name: w.name, permissions: w.source.workflow.document.permissions }),
        )
        .map((w) => summary(w, canDo(p, 'run', { name: w.name, permissions: w.source.workflow.document.permissions })));
      const problems =
        p.role === 'admin'
          ? ctx.registry.problems().map((x) => ({ file: x.file, details: diagnosticDetails(x.diagnostics) }))
          : [];
      return { items, problems };
    },
  );

  const workflowParams = { type: 'object', required: ['name'], properties: { name } } as const;

  const visible = async (req: Parameters<typeof principalOf>[0], wfName: string): Promise<RegisteredWorkflow> => {
    req.auditTarget = `workflow/${wfName}`;
    const w = ctx.registry.get(wfName);
    if (w === undefined) throw notFound(`workflow ${wfName}`);
    authorize(req, await guardOf(ctx, wfName), 'read', `workflow ${wfName}`);
    return w;
  };

  app.get(
    '/v1/workflows/:name',
    op('read', {
      operationId: 'getWorkflow',
      summary: 'A workflow with the JSON Schema of its inputs and its DAG',
      description: 'Answers an `ETag` (the version); `If-None-Match` with it gives 304.',
      tags: ['workflows'],
      params: workflowParams,
      response: { 200: detailSchema, 304: { type: 'null', description: 'Not modified' } },
    }),
    async (req, reply) => {
      const w = await visible(req, (req.params as { name: string }).name);
      const etag = `"${w.source.version}"`;
      void reply.header('etag', etag);
      if (req.headers['if-none-match'] === etag) return reply.status(304).send();
      const doc = w.source.workflow.document;
      const p = principalOf(req);
      const tasks = w.source.workflow.tasks;
      return {
        ...summary(w, canDo(p, 'run', { name: w.name, permissions: doc.permissions })),
        file: w.source.file,
        inputs: doc.inputs ?? {},
        inputsSchema: inputsJsonSchema(doc.inputs),
        outputs: Object.keys(doc.outputs ?? {}),
        permissions: doc.permissions ?? null,
        dag: {
          nodes: tasks.map((t) => ({
            id: t.id,
            kind: t.kind,
            description: t.document.description ?? null,
            needs: [...t.needs],
            when: t.when,
            forEach: t.document.for_each !== undefined,
          })),
          edges: tasks.flatMap((t) => t.needs.map((n) => ({ from: n, to: t.id }))),
        },
      };
    },
  );

  app.get(
    '/v1/workflows/:name/source',
    op('read', {
      operationId: 'getWorkflowSource',
      summary: 'The workflow file as YAML',
      tags: ['workflows'],
      params: workflowParams,
      produces: ['application/yaml'],
      response: { 200: { type: 'string' } },
    }),
    async (req, reply) => {
      const w = await visible(req, (req.params as { name: string }).name);
      void reply.header('etag', `"${w.source.version}"`).type('application/yaml; charset=utf-8');
      return w.source.source;
    },
  );

  app.put(
    '/v1/workflows/:name',
    op('admin', {
      operationId: 'putWorkflow',
      summary: 'Uploads (creates or replaces) a workflow',
      description:
        'The body is `{"source": "<yaml>"}` or the YAML itself with `Content-Type: application/yaml`. ' +
        'Runs in flight keep the version they started with. A name owned by the watched folder gives 409.',
      tags: ['workflows'],
      params: workflowParams,
      body: sourceBody,
      consumes: ['application/json', 'application/yaml'],
      response: { 200: summarySchema, 201: summarySchema },
    }),
    async (req, reply) => {
      const { name: wfName } = req.params as { name: string };
      req.auditTarget = `workflow/${wfName}`;
      requireRole(req, 'admin');
      const { source } = req.body as { source: string };
      const result = await ctx.registry.upload(wfName, source);
      if (!result.ok) {
        if ('conflict' in result) throw new ApiError('RV708', result.conflict);
        const details = diagnosticDetails(result.diagnostics);
        const first = details[0];
        throw new ApiError(
          'RV711',
          `the workflow has ${details.length} error(s)${first === undefined ? '' : `; first: ${first.line}:${first.col} ${first.code} ${first.message}`}`,
          {
            in: 'body',
            pointer: '/source',
            details,
          },
        );
      }
      void reply.status(result.created ? 201 : 200);
      return summary(result.workflow, true);
    },
  );

  app.delete(
    '/v1/workflows/:name',
    op('admin', {
      operationId: 'deleteWorkflow',
      summary: 'Removes an uploaded workflow (its past runs stay)',
      tags: ['workflows'],
      params: workflowParams,
      response: { 204: { type: 'null', description: 'Removed' } },
    }),
    async (req, reply) => {
      const { name: wfName } = req.params as { name: string };
      req.auditTarget = `workflow/${wfName}`;
      requireRole(req, 'admin');
      const result = await ctx.registry.remove(wfName);
      if (result === 'not_found') throw notFound(`workflow ${wfName}`);
      if (result === 'folder') {
        throw new ApiError('RV708', `the workflow "${wfName}" comes from the watched folder; delete its file there`);
      }
      return reply.status(204).send();
    },
  );

  app.post(
    '/v1/workflows/validate',
    op('read', {
      operationId: 'validateWorkflow',
      summary: 'Validates a workflow definition without saving it',
      tags: ['workflows'],
      body: sourceBody,
      consumes: ['application/json', 'application/yaml'],
      response: {
        200: {
          type: 'object',
          properties: {
            valid: { type: 'boolean' },
            name: { type: ['string', 'null'] },
            details: { type: 'array', items: anyObject },
          },
        },
      },
    }),
    async (req) => {
      const { source } = req.body as { source: string };
      const result = ctx.registry.validate(source);
      return result.ok
        ? { valid: true, name: result.name, details: [] }
        : { valid: false, name: null, details: diagnosticDetails(result.diagnostics) };
    },
  );
}
