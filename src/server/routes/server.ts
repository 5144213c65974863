/** Health, readiness, metrics and the OpenAPI document. */
import type { FastifyInstance } from 'fastify';
import type { ServerContext } from '../context.ts';
import { ApiError } from '../errors.ts';
import { op } from './common.ts';

export function registerServerRoutes(app: FastifyInstance, ctx: ServerContext): void {
  app.get(
    '/healthz',
    op('public', {
      operationId: 'health',
      summary: 'Liveness: the process answers',
      tags: ['server'],
      response: { 200: { type: 'object', properties: { status: { type: 'string' } } } },
    }),
    async () => ({ status: 'ok' }),
  );

  app.get(
    '/readyz',
    op('public', {
      operationId: 'ready',
      summary: 'Readiness: recovered, listening and taking work',
      tags: ['server'],
      response: {
        200: { type: 'object', properties: { status: { type: 'string' } } },
        503: { type: 'object', properties: { status: { type: 'string' } } },
      },
    }),
    async (_req, reply) => {
      const ok = ctx.ready && ctx.accepting;
      void reply.status(ok ? 200 : 503);
      return { status: ok ? 'ready' : ctx.accepting ? 'starting' : 'stopping' };
    },
  );

  const metrics = ctx.config.metricsPublic ? 'public' : 'read';
  app.get(
    '/metrics',
    op(metrics, {
      operationId: 'metrics',
      summary: 'Prometheus metrics',
      tags: ['server'],
      produces: ['text/plain'],
      response: { 200: { type: 'string' } },
    }),
    async (_req, reply) => {
      void reply.type(ctx.metrics.registry.contentType);
      return ctx.metrics.registry.metrics();
    },
  );

  app.get(
    '/openapi.json',
    op('public', {
      operationId: 'openapi',
      summary: 'This OpenAPI 3.1 document',
      tags: ['server'],
      response: { 200: { type: 'object', additionalProperties: true } },
    }),
    async () => {
      const doc = app.swagger() as unknown;
      if (doc === undefined) throw new ApiError('RV710', 'the document is not ready');
      return doc;
    },
  );
}
