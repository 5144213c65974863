/**
 * Authentication and authorization. Tokens are `rvt_<id>.<secret>`: the id finds the record, the
 * secret is checked against its SHA-256 in constant time (tokens carry 256 random bits, so a fast
 * hash is enough; nothing here is a password). Roles grant actions; a workflow's `permissions`
 * and a user's `workflows` narrow what a user may see and do. Admins see everything.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Role, ServerData, TokenRecord, UserRecord } from '../store/server-types.ts';

export const ACTIONS = ['read', 'run', 'approve', 'admin'] as const;
export type Action = (typeof ACTIONS)[number];

/** What each role may do, before a workflow's own `permissions` narrow it. */
export const ROLE_ACTIONS: Readonly<Record<Role, readonly Action[]>> = {
  viewer: ['read'],
  operator: ['read', 'run'],
  approver: ['read', 'approve'],
  admin: ['read', 'run', 'approve', 'admin'],
};

export interface Principal {
  readonly user: string;
  readonly role: Role;
  readonly groups: readonly string[];
  readonly workflows: readonly string[] | null;
  readonly tokenId: string;
}

/** The part of a workflow document that decides who may do what with it. */
export interface Guarded {
  readonly name: string;
  readonly permissions?: { view?: readonly string[]; run?: readonly string[]; approve?: readonly string[] } | undefined;
}

const TOKEN = /^rvt_([a-z0-9]{16})\.([A-Za-z0-9_-]{43})$/;

const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');

export function mintToken(): { id: string; secret: string; token: string; hash: string } {
  const id = randomBytes(10).toString('hex').slice(0, 16);
  const secret = randomBytes(32).toString('base64url');
  return { id, secret, token: `rvt_${id}.${secret}`, hash: sha256(secret) };
}

/** The id and hash of a token given in full (the admin token from the environment). */
export function parseToken(token: string): { id: string; hash: string } | null {
  const m = TOKEN.exec(token);
  return m === null ? null : { id: m[1]!, hash: sha256(m[2]!) };
}

export type AuthResult =
  { readonly ok: true; readonly principal: Principal } | { readonly ok: false; readonly reason: string };

/** Checks an `Authorization` header against the stored tokens. */
export function authenticate(header: string | undefined, data: ServerData, now: number): AuthResult {
  if (header === undefined || header === '') return { ok: false, reason: 'no Authorization header' };
  const m = /^Bearer +(\S+)$/i.exec(header);
  if (m === null) return { ok: false, reason: 'expected "Authorization: Bearer <token>"' };
  const parsed = TOKEN.exec(m[1]!);
  if (parsed === null) return { ok: false, reason: 'malformed token' };
  const record: TokenRecord | undefined = data.getToken(parsed[1]!);
  const given = Buffer.from(sha256(parsed[2]!), 'hex');
  // Compare even when there is no record, so a missing id costs the same as a wrong secret.
  const stored = Buffer.from(record?.hash ?? '0'.repeat(64), 'hex');
  if (!timingSafeEqual(given, stored) || record === undefined) return { ok: false, reason: 'unknown token' };
  if (record.revokedAt !== null) return { ok: false, reason: 'revoked token' };
  if (record.expiresAt !== null && record.expiresAt <= now) return { ok: false, reason: 'expired token' };
  const user: UserRecord | undefined = data.getUser(record.user);
  if (user === undefined) return { ok: false, reason: 'the token user no longer exists' };
  return {
    ok: true,
    principal: { user: user.name, role: user.role, groups: user.groups, workflows: user.workflows, tokenId: record.id },
  };
}

const listAllows = (list: readonly string[] | undefined, p: Principal): boolean =>
  list === undefined || list.includes('*') || list.includes(p.user) || p.groups.some((g) => list.includes(g));

export function hasRole(p: Principal, action: Action): boolean {
  return ROLE_ACTIONS[p.role].includes(action);
}

/** Whether the caller may know the workflow (and its runs, schedules, processes) exists. */
export function canSee(p: Principal, wf: Guarded): boolean {
  if (p.role === 'admin') return true;
  if (p.workflows !== null && !p.workflows.includes(wf.name)) return false;
  const perms = wf.permissions;
  if (perms?.view === undefined) return true;
  // Whoever may run or approve it may see it.
  return [perms.view, perms.run, perms.approve].some((l) => l !== undefined && listAllows(l, p));
}

/** Whether the caller may perform `action` on a workflow it can see. */
export function canDo(p: Principal, action: Action, wf: Guarded): boolean {
  if (!hasRole(p, action)) return false;
  if (p.role === 'admin' || action === 'read' || action === 'admin') return true;
  return listAllows(wf.permissions?.[action], p);
}

/** Whether the caller is one of an approval task's `approvers` (no list: anyone who may approve). */
export function isApprover(p: Principal, approvers: readonly string[] | undefined): boolean {
  return listAllows(approvers, p);
}
