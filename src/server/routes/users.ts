/** Users and their API tokens (admins), and who the caller is. */
import type { FastifyInstance } from 'fastify';
import { parseDuration } from '../../model/duration.ts';
import { ROLES, type TokenRecord, type UserRecord } from '../../store/server-types.ts';
import { mintToken } from '../auth.ts';
import type { ServerContext } from '../context.ts';
import { ApiError, notFound } from '../errors.ts';
import { iso, op, principalOf, requireRole } from './common.ts';

const userName = { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$' } as const;

const userSchema = {
  type: 'object',
  properties: {
    name: { type: 'string' },
    role: { type: 'string', enum: ROLES },
    groups: { type: 'array', items: { type: 'string' } },
    workflows: { type: ['array', 'null'], items: { type: 'string' } },
    createdAt: { type: 'string' },
    createdBy: { type: 'string' },
  },
} as const;

const tokenSchema = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    user: { type: 'string' },
    label: { type: 'string' },
    createdAt: { type: 'string' },
    expiresAt: { type: ['string', 'null'] },
    revokedAt: { type: ['string', 'null'] },
    lastUsedAt: { type: ['string', 'null'] },
  },
} as const;

const publicUser = (u: UserRecord): Record<string, unknown> => ({ ...u, createdAt: iso(u.createdAt) });
// Never the hash: only what identifies a token.
const publicToken = (t: TokenRecord): Record<string, unknown> => ({
  id: t.id,
  user: t.user,
  label: t.label,
  createdAt: iso(t.createdAt),
  expiresAt: iso(t.expiresAt),
  revokedAt: iso(t.revokedAt),
  lastUsedAt: iso(t.lastUsedAt),
});

export function registerUserRoutes(app: FastifyInstance, ctx: ServerContext): void {
  app.get(
    '/v1/me',
    op('read', {
      operationId: 'whoAmI',
      summary: 'The caller: user, role, groups and token',
      tags: ['users'],
      response: {
        200: {
          type: 'object',
          properties: {
            user: { type: 'string' },
            role: { type: 'string' },
            groups: { type: 'array', items: { type: 'string' } },
            workflows: { type: ['array', 'null'], items: { type: 'string' } },
            tokenId: { type: 'string' },
          },
        },
      },
    }),
    async (req) => principalOf(req),
  );

  app.get(
    '/v1/users',
    op('admin', {
      operationId: 'listUsers',
      summary: 'Users',
      tags: ['users'],
      response: { 200: { type: 'object', properties: { items: { type: 'array', items: userSchema } } } },
    }),
    async (req) => {
      requireRole(req, 'admin');
      return { items: ctx.data.listUsers().map(publicUser) };
    },
  );

  app.post(
    '/v1/users',
    op('admin', {
      operationId: 'createUser',
      summary: 'Creates a user with a role',
      description:
        '`groups` are matched by workflow `permissions` and approval `approvers`; `workflows` limits the workflows the user may see at all.',
      tags: ['users'],
      body: {
        type: 'object',
        required: ['name', 'role'],
        additionalProperties: false,
        properties: {
          name: userName,
          role: { type: 'string', enum: ROLES },
          groups: { type: 'array', items: { type: 'string', maxLength: 64 }, maxItems: 100 },
          workflows: { type: 'array', items: { type: 'string', maxLength: 128 }, maxItems: 1000 },
        },
      },
      response: { 201: userSchema },
    }),
    async (req, reply) => {
      const p = requireRole(req, 'admin');
      const body = req.body as { name: string; role: UserRecord['role']; groups?: string[]; workflows?: string[] };
      req.auditTarget = `user/${body.name}`;
      if (ctx.data.getUser(body.name) !== undefined) throw new ApiError('RV708', `the user ${body.name} exists`);
      const user: UserRecord = {
        name: body.name,
        role: body.role,
        groups: body.groups ?? [],
        workflows: body.workflows ?? null,
        createdAt: ctx.clock.now(),
        createdBy: p.user,
      };
      ctx.data.putUser(user);
      void reply.status(201);
      return publicUser(user);
    },
  );

  const nameParams = { type: 'object', required: ['name'], properties: { name: { type: 'string', maxLength: 64 } } };

  app.get(
    '/v1/users/:name',
    op('admin', {
      operationId: 'getUser',
      summary: 'A user',
      tags: ['users'],
      params: nameParams,
      response: { 200: userSchema },
    }),
    async (req) => {
      requireRole(req, 'admin');
      const { name } = req.params as { name: string };
      const user = ctx.data.getUser(name);
      if (user === undefined) throw notFound(`user ${name}`);
      return publicUser(user);
    },
  );

  app.delete(
    '/v1/users/:name',
    op('admin', {
      operationId: 'deleteUser',
      summary: 'Deletes a user and revokes its tokens',
      tags: ['users'],
      params: nameParams,
      response: { 204: { type: 'null', description: 'Deleted' } },
    }),
    async (req, reply) => {
      const p = requireRole(req, 'admin');
      const { name } = req.params as { name: string };
      req.auditTarget = `user/${name}`;
      if (name === p.user) throw new ApiError('RV708', 'an admin cannot delete itself; ask another admin');
      if (!ctx.data.deleteUser(name, ctx.clock.now())) throw notFound(`user ${name}`);
      return reply.status(204).send();
    },
  );

  app.get(
    '/v1/tokens',
    op('admin', {
      operationId: 'listTokens',
      summary: 'API tokens (never their secrets or hashes)',
      tags: ['users'],
      querystring: {
        type: 'object',
        additionalProperties: false,
        properties: { user: { type: 'string', maxLength: 64 } },
      },
      response: { 200: { type: 'object', properties: { items: { type: 'array', items: tokenSchema } } } },
    }),
    async (req) => {
      requireRole(req, 'admin');
      const { user } = req.query as { user?: string };
      return { items: ctx.data.listTokens(user).map(publicToken) };
    },
  );

  app.post(
    '/v1/tokens',
    op('admin', {
      operationId: 'createToken',
      summary: 'Creates an API token for a user; the token is in this answer only',
      tags: ['users'],
      body: {
        type: 'object',
        required: ['user'],
        additionalProperties: false,
        properties: {
          user: { type: 'string', maxLength: 64 },
          label: { type: 'string', maxLength: 200 },
          expiresIn: { type: 'string', maxLength: 32, description: 'A duration such as 30d; default never.' },
        },
      },
      response: { 201: { type: 'object', properties: { ...tokenSchema.properties, token: { type: 'string' } } } },
    }),
    async (req, reply) => {
      requireRole(req, 'admin');
      const body = req.body as { user: string; label?: string; expiresIn?: string };
      req.auditTarget = `user/${body.user}`;
      if (ctx.data.getUser(body.user) === undefined) {
        throw new ApiError('RV705', `no user ${body.user}; create it first (POST /v1/users)`, {
          in: 'body',
          pointer: '/user',
        });
      }
      let expiresAt: number | null = null;
      if (body.expiresIn !== undefined) {
        const ms = parseDuration(body.expiresIn);
        if (ms === undefined || ms <= 0) {
          throw new ApiError('RV705', `expiresIn: "${body.expiresIn}" is not a duration such as 30d`, {
            in: 'body',
            pointer: '/expiresIn',
          });
        }
        expiresAt = ctx.clock.now() + ms;
      }
      const minted = mintToken();
      const record: TokenRecord = {
        id: minted.id,
        user: body.user,
        label: body.label ?? '',
        hash: minted.hash,
        createdAt: ctx.clock.now(),
        expiresAt,
        revokedAt: null,
        lastUsedAt: null,
      };
      ctx.data.putToken(record);
      req.auditTarget = `token/${minted.id}`;
      void reply.status(201).header('cache-control', 'no-store');
      return { ...publicToken(record), token: minted.token };
    },
  );

  app.delete(
    '/v1/tokens/:id',
    op('admin', {
      operationId: 'revokeToken',
      summary: 'Revokes a token',
      tags: ['users'],
      params: { type: 'object', required: ['id'], properties: { id: { type: 'string', maxLength: 64 } } },
      response: { 204: { type: 'null', description: 'Revoked' } },
    }),
    async (req, reply) => {
      requireRole(req, 'admin');
      const { id } = req.params as { id: string };
      req.auditTarget = `token/${id}`;
      if (!ctx.data.revokeToken(id, ctx.clock.now())) throw notFound(`token ${id}`);
      return reply.status(204).send();
    },
  );
}
