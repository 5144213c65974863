/** Shared pieces of the route modules: schemas, access declarations and object guards. */
import { load } from 'js-yaml';
import type { FastifyRequest } from 'fastify';
import type { Action, Guarded, Principal } from '../auth.ts';
import { canDo, canSee, hasRole } from '../auth.ts';
import type { ServerContext } from '../context.ts';
import { ApiError, errorSchema, notFound } from '../errors.ts';
import type { RunRecord } from '../../store/types.ts';

export type Access = 'public' | Action;

const ERRORS_BY_ACCESS: Record<Access, number[]> = {
  public: [400],
  read: [400, 401, 403, 404],
  run: [400, 401, 403, 404, 409],
  approve: [400, 401, 403, 404, 409],
  admin: [400, 401, 403, 404, 409],
};

/**
 * A route's schema with its access (`x-rivet-access`, read by the authorization matrix test and
 * docs/api.md) and the error responses it may give.
 */
export function op(
  access: Access,
  schema: {
    operationId: string;
    summary: string;
    tags: string[];
    description?: string;
    params?: object;
    querystring?: object;
    body?: object;
    consumes?: string[];
    produces?: string[];
    response: Record<number, unknown>;
    extraErrors?: number[];
  },
): { config: { access: Access }; schema: Record<string, unknown> } {
  const { extraErrors = [], response, ...rest } = schema;
  const errors = Object.fromEntries(
    [...ERRORS_BY_ACCESS[access], ...extraErrors, ...(schema.body === undefined ? [] : [413, 415])].map((c) => [
      c,
      { description: 'An error (docs/errors.md)', ...errorSchema },
    ]),
  );
  return {
    config: { access },
    schema: {
      ...rest,
      'x-rivet-access': access,
      ...(access === 'public' ? { security: [] } : {}),
      response: { ...errors, ...response },
    },
  };
}

export const principalOf = (req: FastifyRequest): Principal => {
  if (req.principal === null) throw new ApiError('RV702', 'authentication required');
  return req.principal;
};

/** A role check for routes that act on no workflow (users, tokens, audit). */
export function requireRole(req: FastifyRequest, action: Action): Principal {
  const p = principalOf(req);
  if (!hasRole(p, action)) {
    req.auditDetail = `role ${p.role} may not ${action}`;
    throw new ApiError('RV703', `the role ${p.role} may not perform this action (needs ${action})`);
  }
  return p;
}

const storedGuards = new Map<string, Guarded>();

/** Who may see and act on a workflow's objects: the registered definition, else the run's stored version. */
export async function guardOf(ctx: ServerContext, name: string, version?: string): Promise<Guarded> {
  const registered = ctx.registry.get(name);
  if (registered !== undefined) return { name, permissions: registered.source.workflow.document.permissions };
  if (version === undefined) return { name };
  let guard = storedGuards.get(version);
  if (guard === undefined) {
    const stored = await ctx.store.getWorkflowVersion(version);
    let permissions: Guarded['permissions'];
    try {
      const doc = stored === undefined ? undefined : (load(stored.source) as { permissions?: Guarded['permissions'] });
      permissions = doc?.permissions;
    } catch {
      permissions = undefined;
    }
    guard = { name, permissions };
    storedGuards.set(version, guard);
  }
  return guard;
}

/**
 * Checks that the caller may see the object (else 404, so existence does not leak) and, for an
 * action other than read, may perform it (else 403).
 */
export function authorize(req: FastifyRequest, guard: Guarded, action: Action, what: string): Principal {
  const p = principalOf(req);
  if (!canSee(p, guard)) {
    req.auditDetail = `${what} is not visible to ${p.user}`;
    throw notFound(what);
  }
  if (!canDo(p, action, guard)) {
    req.auditDetail = `${p.user} (${p.role}) may not ${action} ${what}`;
    throw new ApiError('RV703', `${p.user} (role ${p.role}) may not ${action} ${what}`);
  }
  return p;
}

/** A run the caller may see (404 otherwise), checked for `action`. */
export async function visibleRun(
  ctx: ServerContext,
  req: FastifyRequest,
  id: string,
  action: Action,
): Promise<{ run: RunRecord; principal: Principal }> {
  req.auditTarget = `run/${id}`;
  const run = /^[a-z0-9]{1,40}$/.test(id) ? await ctx.store.getRun(id) : undefined;
  if (run === undefined) throw notFound(`run ${id}`);
  const principal = authorize(req, await guardOf(ctx, run.workflow, run.version), action, `run ${id}`);
  return { run, principal };
}

/** The names of the workflows the caller may see, among those named in `names`. */
export async function visibleNames(ctx: ServerContext, p: Principal, names: Iterable<string>): Promise<string[]> {
  const out: string[] = [];
  for (const name of names) if (canSee(p, await guardOf(ctx, name))) out.push(name);
  return out;
}

export const iso = (ms: number | null | undefined): string | null =>
  ms === null || ms === undefined ? null : new Date(ms).toISOString();

/** A time given as ISO 8601 text or milliseconds since the epoch. */
export function timeParam(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  const ms = /^\d+$/.test(value) ? Number(value) : Date.parse(value);
  if (Number.isNaN(ms)) {
    throw new ApiError('RV705', `querystring /${name}: expected an ISO 8601 time or milliseconds`, {
      in: 'querystring',
      pointer: `/${name}`,
    });
  }
  return ms;
}

export const pageQuery = {
  limit: { type: 'integer', minimum: 1, maximum: 200, default: 50, description: 'Most items per page.' },
  cursor: { type: 'string', maxLength: 200, description: 'The `next` value of the previous page.' },
} as const;

export const anyObject = { type: 'object', additionalProperties: true } as const;
export const nullableString = { type: ['string', 'null'] } as const;
export const name = { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$' } as const;
