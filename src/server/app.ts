/**
 * The HTTP application: Fastify with route schemas (the source of the OpenAPI document), bearer
 * authentication on every non-public route, one error shape, CORS closed unless configured, and
 * an audit entry for every mutating request, allowed or not. `buildApp` returns the app without
 * listening (STYLE habit 15); `startServer` listens.
 */
import cors from '@fastify/cors';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { Ajv } from 'ajv';
import Fastify, {
  LogController,
  type FastifyBaseLogger,
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
} from 'fastify';
import { RivetError } from '../errors.ts';
import { authenticate, type Principal } from './auth.ts';
import type { ServerContext } from './context.ts';
import { ApiError, type ErrorBody, fromRivetError } from './errors.ts';
import { registerRoutes } from './routes/index.ts';
import pkg from '../../package.json' with { type: 'json' };

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal | null;
    /** What the request acted on, for the audit log (set by handlers). */
    auditTarget: string | null;
    /** Why a request was refused, for the audit log. */
    auditDetail: string | null;
  }
  interface FastifyContextConfig {
    /** Who may call the route: `public` needs no token; the others need one (and the action is checked in the handler). */
    access?: 'public' | 'read' | 'run' | 'approve' | 'admin';
  }
}

const MUTATING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
const YAML_TYPES = ['application/yaml', 'application/x-yaml', 'text/yaml'];

/** Fastify's validation issue → a JSON pointer to the offending value. */
function pointerOf(v: { instancePath: string; keyword: string; params: Record<string, unknown> }): string {
  if (v.keyword === 'additionalProperties') return `${v.instancePath}/${String(v.params.additionalProperty)}`;
  if (v.keyword === 'required') return `${v.instancePath}/${String(v.params.missingProperty)}`;
  return v.instancePath;
}

function messageOf(v: { keyword: string; message?: string; params: Record<string, unknown> }): string {
  if (v.keyword === 'additionalProperties') return `unknown field "${String(v.params.additionalProperty)}"`;
  if (v.keyword === 'required') return `missing required field "${String(v.params.missingProperty)}"`;
  return v.message ?? 'invalid value';
}

function toApiError(error: FastifyError & { validation?: unknown[]; validationContext?: string }): ApiError {
  if (error instanceof ApiError) return error;
  if (error instanceof RivetError) return fromRivetError(error);
  if (error.validation !== undefined) {
    const part = (error.validationContext ?? 'body') as ErrorBody['in'] & string;
    const details = (
      error.validation as { instancePath: string; keyword: string; message?: string; params: Record<string, unknown> }[]
    ).map((v) => ({ pointer: pointerOf(v), message: messageOf(v) }));
    const first = details[0]!;
    return new ApiError('RV705', `${part} ${first.pointer === '' ? '' : `${first.pointer}: `}${first.message}`, {
      in: part,
      pointer: first.pointer,
      details,
    });
  }
  switch (error.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new ApiError('RV706', error.message);
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new ApiError('RV709', error.message);
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new ApiError('RV705', error.message, { in: 'body', pointer: '' });
  }
  if (error instanceof SyntaxError || error.code === 'FST_ERR_CTP_INVALID_JSON_BODY') {
    return new ApiError('RV705', `the body is not valid JSON: ${error.message}`, { in: 'body', pointer: '' });
  }
  if (error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500) {
    return new ApiError('RV705', error.message);
  }
  return new ApiError('RV705', 'internal error');
}

export async function buildApp(ctx: ServerContext): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: ctx.log as FastifyBaseLogger,
    // Requests are logged once, at debug, by the onResponse hook below (not twice at info).
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: ctx.config.bodyLimit,
    return503OnClosing: true,
    forceCloseConnections: true,
  });
  // Bodies are checked strictly (no coercion, unknown fields refused); query strings and path
  // parameters are text, so numbers and booleans there are coerced.
  const strict = new Ajv({
    removeAdditional: false,
    coerceTypes: false,
    useDefaults: false,
    allErrors: true,
    strict: false,
  });
  const loose = new Ajv({
    removeAdditional: false,
    coerceTypes: 'array',
    useDefaults: true,
    allErrors: false,
    strict: false,
  });
  app.setValidatorCompiler(({ schema, httpPart }) =>
    httpPart === 'body' ? strict.compile(schema) : loose.compile(schema),
  );

  app.decorateRequest('principal', null);
  app.decorateRequest('auditTarget', null);
  app.decorateRequest('auditDetail', null);

  app.addContentTypeParser(YAML_TYPES, { parseAs: 'string' }, (_req, body, done) => done(null, { source: body }));

  await app.register(cors, {
    // Closed unless origins are configured: no Access-Control-Allow-Origin for `null` or unknown origins.
    origin: ctx.config.corsOrigins.length === 0 ? false : [...ctx.config.corsOrigins],
    credentials: false,
  });

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Rivet Automation API',
        version: pkg.version,
        description:
          'Workflows, runs, approvals, processes, schedules, audit, users and tokens of a Rivet server. ' +
          'Every operation needs `Authorization: Bearer <token>` unless it says otherwise; ' +
          '`x-rivet-access` names the action it needs (docs/api.md).',
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
      tags: [
        { name: 'workflows' },
        { name: 'runs' },
        { name: 'approvals' },
        { name: 'processes' },
        { name: 'schedules' },
        { name: 'audit' },
        { name: 'users' },
        { name: 'server' },
      ],
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs', staticCSP: true });

  app.addHook('onRoute', (route) => {
    // The viewer's own routes are public and stay out of the document.
    if (route.url.startsWith('/docs')) {
      route.config = { ...(route.config as object), access: 'public' };
      route.schema = { ...(route.schema ?? {}), hide: true };
    }
  });

  const lastTouched = new Map<string, number>();
  app.addHook('onRequest', async (req, reply) => {
    const access = req.routeOptions.config.access;
    if (access === 'public' || access === undefined) return;
    const result = authenticate(req.headers.authorization, ctx.data, ctx.clock.now());
    if (!result.ok) {
      req.auditDetail = result.reason;
      void reply.header('www-authenticate', 'Bearer realm="rivet"');
      throw new ApiError('RV702', `authentication required: ${result.reason}`);
    }
    req.principal = result.principal;
    // When a token was last used, kept to the minute: one write per token per minute, not per request.
    const now = ctx.clock.now();
    if (now - (lastTouched.get(result.principal.tokenId) ?? 0) >= 60_000) {
      lastTouched.set(result.principal.tokenId, now);
      ctx.data.touchToken(result.principal.tokenId, now);
    }
  });

  // Fastify parses text/plain (and the YAML parser above serves every route), so a body of a type
  // the operation does not declare would reach validation and answer 400; it is a 415.
  app.addHook('preParsing', async (req) => {
    const schema = req.routeOptions.schema as { body?: unknown; consumes?: string[] } | undefined;
    const type = req.headers['content-type'];
    if (schema?.body === undefined || type === undefined) return;
    const mime = type.split(';')[0]!.trim().toLowerCase();
    const accepted = schema.consumes ?? ['application/json'];
    const yaml = accepted.includes('application/yaml') && YAML_TYPES.includes(mime);
    if (!accepted.includes(mime) && !yaml) {
      throw new ApiError('RV709', `this operation accepts ${accepted.join(' or ')}, not ${mime}`, {
        in: 'headers',
        pointer: '/content-type',
      });
    }
  });

  app.addHook('onResponse', async (req, reply) => {
    const route = req.routeOptions.url ?? 'unknown';
    ctx.metrics.http.observe({ method: req.method, route, status: String(reply.statusCode) }, reply.elapsedTime / 1000);
    req.log.debug({ method: req.method, url: req.url, status: reply.statusCode, ms: reply.elapsedTime }, 'request');
    if (!MUTATING.has(req.method)) return;
    const status = reply.statusCode;
    const schema = req.routeOptions.schema as { operationId?: string } | undefined;
    ctx.audit.add({
      at: ctx.clock.now(),
      actor: req.principal?.user ?? 'anonymous',
      action: schema?.operationId ?? `${req.method} ${route}`,
      target: req.auditTarget ?? (Object.values((req.params ?? {}) as Record<string, string>).join('/') || null),
      outcome: status < 400 ? 'allowed' : status === 401 || status === 403 || status === 404 ? 'denied' : 'failed',
      status,
      detail: req.auditDetail,
    });
  });

  app.setErrorHandler(async (error: FastifyError, req: FastifyRequest, reply: FastifyReply) => {
    const api = toApiError(error);
    if (api.code === 'RV705' && api.message === 'internal error') {
      req.log.error({ err: error }, 'request failed');
      return reply.status(500).send({ statusCode: 500, code: 'RV705', error: 'internal', message: 'internal error' });
    }
    if (req.auditDetail === null && api.statusCode !== 401) req.auditDetail = api.message.slice(0, 500);
    return reply.status(api.statusCode).send(api.body());
  });

  app.setNotFoundHandler(async (req, reply) => {
    const api = new ApiError('RV704', `no route ${req.method} ${req.url.split('?')[0]}`);
    return reply.status(404).send(api.body());
  });

  app.addHook('onClose', async () => ctx.audit.flush());
  registerRoutes(app, ctx);
  return app;
}
