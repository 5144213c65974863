// The authentication and authorization matrix (RELIABILITY.md 4.6), generated from /openapi.json:
// every operation is called by every kind of caller, with a request built from the document
// (path parameters filled with objects of workflow B, a body derived from the operation's schema
// and checked against it), and each answer (2xx, 401, 403, 404) must match the table of
// docs/api.md. Then: 1,000 randomized probes of B's objects by callers who may not see B (all
// 404, indistinguishable from objects that do not exist), lists and streams filtered the same
// way, server-owned fields refused, no token hash in any answer, CORS closed, and one audit
// entry, with the right actor and outcome, for every mutating request this file sent.
//
// State-changing cells act on throwaway objects where the table says 2xx: a fresh waiting run to
// cancel or approve, a fresh cancelled run to resume, a fresh user or token to delete, a fresh
// uploaded workflow to delete. Cells the table denies act on the shared objects of B, so a
// denial that wrongly succeeds shows up as a mismatch (and may spoil later cells, which is fine:
// the test fails either way).
//
// RIVET_SEED=<n> replays the randomized probes; the seed is printed with every probe failure.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { readSse, startTestServer, type TestServer, until } from '../helpers/server.ts';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- JSON answers, checked by assertions
type Json = any;

const SEED = Number(process.env.RIVET_SEED ?? Math.floor(Math.random() * 2 ** 31));
const PROBES = 1000;

const COLUMNS = ['none', 'bad', 'viewer', 'operator', 'approver', 'admin', 'scoped'] as const;
type Column = (typeof COLUMNS)[number];
type Cell = '2xx' | '401' | '403' | '404';

// --- the workflows -------------------------------------------------------------------------
// B is restricted by `permissions` to the group team-b (the matrix's users are in it; `outsider`
// is not). `scoped` is in team-b too but limited to wf-alpha by its `workflows` list. The group
// releasers may see B and approve it, but neither run it nor decide its `gate` (its approvers).

const ALPHA = `name: wf-alpha
tasks:
  hello:
    shell:
      run: echo alpha
  gate:
    needs: [hello]
    approval: { message: "Go?" }
on:
  schedule:
    - { cron: "0 3 1 1 *" }
`;

const BRAVO = `name: wf-bravo
inputs:
  note: { type: string, default: nothing }
permissions:
  view: [team-b]
  run: [team-b]
  approve: [team-b, releasers]
tasks:
  build:
    shell:
      run: |
        echo "building bravo"
        echo report > "$RIVET_ARTIFACTS/report.txt"
  gate:
    needs: [build]
    approval:
      message: Ship bravo?
      approvers: [team-b]
on:
  schedule:
    - { cron: "0 3 1 1 *" }
`;

const processFile = (name: string, team: string | null): string => `name: ${name}
${team === null ? '' : `permissions: { view: [${team}], run: [${team}], approve: [${team}] }\n`}process:
  run: exec sleep 600
  stop: { signal: SIGTERM, grace: 2s }
`;

const throwaway = (name: string): string => `name: ${name}
tasks:
  one:
    noop: {}
`;

// --- the table of docs/api.md ----------------------------------------------------------------

interface Row {
  operationId: string;
  method: string;
  path: string;
  cells: Record<Column, Cell>;
}

function parseTable(markdown: string): Map<string, Row> {
  const lines = markdown.split('\n');
  const at = lines.findIndex((l) => /^\|\s*operationId\s*\|/.test(l));
  assert.ok(at >= 0, 'docs/api.md has no authorization table');
  const split = (l: string): string[] =>
    l
      .split('|')
      .slice(1, -1)
      .map((c) => c.trim());
  const header = split(lines[at]!);
  const rows = new Map<string, Row>();
  for (const line of lines.slice(at + 2)) {
    if (!line.startsWith('|')) break;
    const cells = split(line);
    const get = (name: string): string => {
      const i = header.indexOf(name);
      assert.ok(i >= 0, `the table has no column ${name}`);
      return cells[i]!;
    };
    const row: Row = {
      operationId: get('operationId'),
      method: get('method'),
      path: get('path'),
      cells: Object.fromEntries(
        COLUMNS.map((c) => {
          const v = get(c);
          assert.ok(['2xx', '401', '403', '404'].includes(v), `${get('operationId')} ${c}: bad cell "${v}"`);
          return [c, v as Cell];
        }),
      ) as Record<Column, Cell>,
    };
    rows.set(row.operationId, row);
  }
  return rows;
}

// --- the document -----------------------------------------------------------------------------

interface Operation {
  operationId: string;
  tags: string[];
  'x-rivet-access': string;
  parameters?: { in: string; name: string }[];
  requestBody?: { content: Record<string, { schema: Record<string, unknown> }> };
}

interface Op {
  method: string;
  path: string;
  op: Operation;
  /** Matches a concrete path. */
  pattern: RegExp;
}

function operationsOf(doc: { paths: Record<string, Record<string, Operation>> }): Op[] {
  return Object.entries(doc.paths).flatMap(([path, item]) =>
    Object.entries(item).map(([method, op]) => ({
      method: method.toUpperCase(),
      path,
      op,
      pattern: new RegExp(
        `^${path
          .split(/(\{[^}]+\})/)
          .map((part) =>
            part === '{*}' ? '.+' : part.startsWith('{') ? '[^/]+' : part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'),
          )
          .join('')}$`,
      ),
    })),
  );
}

/** A minimal body that the schema accepts: its required fields, from `values` or by type. */
function minimalBody(schema: Record<string, unknown>, values: Record<string, unknown>): unknown {
  const props = (schema.properties ?? {}) as Record<string, Record<string, unknown>>;
  const out: Record<string, unknown> = {};
  for (const key of (schema.required ?? []) as string[]) {
    const p = props[key] ?? {};
    if (key in values) out[key] = values[key];
    else if (Array.isArray(p.enum)) out[key] = p.enum[0];
    else if (p.type === 'string') out[key] = 'x';
    else if (p.type === 'integer' || p.type === 'number') out[key] = p.minimum ?? 0;
    else if (p.type === 'boolean') out[key] = false;
    else if (p.type === 'array') out[key] = [];
    else out[key] = {};
  }
  return out;
}

// --- a PRNG for the probes ------------------------------------------------------------------------

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');

// ------------------------------------------------------------------------------------------------

interface Caller {
  readonly column: Column;
  readonly label: string;
  /** The Authorization header, or null for none. */
  readonly authorization: string | null;
  /** The actor the audit log must name. */
  readonly actor: string;
}

interface Sent {
  readonly actor: string;
  readonly action: string;
  readonly status: number;
}

interface Res {
  status: number;
  headers: Headers;
  body: Json;
  text: string;
}

describe('authorization matrix (RELIABILITY 4.6)', () => {
  let server: TestServer;
  let foreign: TestServer;
  let ops: Op[];
  let table: Map<string, Row>;
  const sent: Sent[] = [];
  const answers: { operationId: string; text: string }[] = [];
  /** Every token this file saw, to look for their secrets and hashes in answers. */
  const tokens = new Set<string>();
  const callers: Caller[] = [];
  const tokenOf: Record<string, string> = {};
  const bRuns = new Set<string>();
  let aRun: string;
  let bRun: string;
  let bCancelled: string;
  let counter = 0;

  const operationOf = (method: string, path: string): string => {
    const p = path.split('?')[0]!;
    const found = ops
      .filter((o) => o.method === method && o.pattern.test(p))
      // The most specific template wins (/v1/workflows/validate over /v1/workflows/{name}).
      .sort((a, b) => b.path.replace(/\{[^}]+\}/g, '').length - a.path.replace(/\{[^}]+\}/g, '').length)[0];
    assert.ok(found !== undefined, `no operation for ${method} ${p}`);
    return found.op.operationId;
  };

  /** Sends a request; mutating ones are remembered for the audit check. */
  async function send(
    method: string,
    path: string,
    options: { authorization?: string | null; actor?: string; body?: unknown; headers?: Record<string, string> } = {},
  ): Promise<Res> {
    const authorization = options.authorization === undefined ? `Bearer ${server.adminToken}` : options.authorization;
    const headers: Record<string, string> = { ...options.headers };
    if (authorization !== null) headers.authorization = authorization;
    let body: string | undefined;
    if (options.body !== undefined) {
      body = JSON.stringify(options.body);
      headers['content-type'] = 'application/json';
    }
    const res = await fetch(`${server.url}${path}`, { method, headers, ...(body === undefined ? {} : { body }) });
    // A stream that opened (a leak, for a probe) would never end: note it and close it.
    const stream = (res.headers.get('content-type') ?? '').startsWith('text/event-stream');
    if (stream) await res.body?.cancel();
    const text = stream ? '(an event stream)' : await res.text();
    const operationId = operationOf(method, path);
    let parsed: unknown = text;
    if ((res.headers.get('content-type') ?? '').includes('json') && text !== '') parsed = JSON.parse(text);
    answers.push({ operationId, text });
    if (operationId === 'createToken' && res.status === 201) tokens.add((parsed as { token: string }).token);
    if (['POST', 'PUT', 'PATCH', 'DELETE'].includes(method)) {
      sent.push({
        actor: options.actor ?? (authorization === null ? 'anonymous' : 'admin'),
        action: operationId,
        status: res.status,
      });
    }
    return { status: res.status, headers: res.headers, body: parsed, text };
  }

  const as = (c: Caller) => ({ authorization: c.authorization, actor: c.actor });
  const callerOf = (label: string): Caller => callers.find((c) => c.label === label)!;

  async function createUser(name: string, role: string, extra: object = {}): Promise<string> {
    const u = await send('POST', '/v1/users', { body: { name, role, ...extra } });
    assert.equal(u.status, 201, u.text);
    const t = await send('POST', '/v1/tokens', { body: { user: name, label: 'authz' } });
    assert.equal(t.status, 201, t.text);
    return t.body.token as string;
  }

  async function upload(source: string): Promise<void> {
    const name = /^name: (\S+)/.exec(source)![1]!;
    const r = await send('PUT', `/v1/workflows/${name}`, { body: { source } });
    assert.ok(r.status === 201 || r.status === 200, r.text);
  }

  const waitingApproval = (runId: string) =>
    until(async () => {
      const a = await send('GET', '/v1/approvals');
      return a.body.items.some((x: { runId: string }) => x.runId === runId) ? true : undefined;
    }, `run ${runId} to wait for its approval`);

  /** A fresh run of `workflow` waiting at its approval. */
  async function waitingRun(workflow = 'wf-bravo'): Promise<string> {
    const r = await send('POST', '/v1/runs', { body: { workflow } });
    assert.equal(r.status, 201, r.text);
    if (workflow === 'wf-bravo') bRuns.add(r.body.id);
    await waitingApproval(r.body.id);
    return r.body.id;
  }

  async function cancelledRun(): Promise<string> {
    const id = await waitingRun();
    assert.equal((await send('POST', `/v1/runs/${id}/cancel`)).status, 202);
    await until(async () => {
      const r = await send('GET', `/v1/runs/${id}`);
      return r.body.state === 'cancelled' ? true : undefined;
    }, `run ${id} to be cancelled`);
    return id;
  }

  before(async () => {
    table = parseTable(readFileSync(new URL('../../docs/api.md', import.meta.url), 'utf8'));
    [server, foreign] = await Promise.all([
      startTestServer(),
      startTestServer({ settings: { cors_origins: ['https://ui.example'] } }),
    ]);
    tokens.add(server.adminToken).add(foreign.adminToken);
    const doc = await fetch(`${server.url}/openapi.json`).then((r) => r.json());
    ops = operationsOf(doc as { paths: Record<string, Record<string, Operation>> });

    for (const source of [ALPHA, BRAVO, processFile('proc-bravo', 'team-b'), processFile('proc-alpha', null)]) {
      await upload(source);
    }
    tokenOf.viewer = await createUser('viewer', 'viewer', { groups: ['team-b'] });
    tokenOf.operator = await createUser('operator', 'operator', { groups: ['team-b'] });
    tokenOf.approver = await createUser('approver', 'approver', { groups: ['team-b'] });
    tokenOf.admin2 = await createUser('admin2', 'admin', { groups: ['team-b'] });
    tokenOf.scoped = await createUser('scoped', 'operator', { groups: ['team-b'], workflows: ['wf-alpha'] });
    tokenOf.outsider = await createUser('outsider', 'viewer');

    // Tokens that do not authenticate.
    const viewer = tokenOf.viewer;
    const revoked = await send('POST', '/v1/tokens', { body: { user: 'viewer', label: 'to revoke' } });
    assert.equal((await send('DELETE', `/v1/tokens/${revoked.body.id}`)).status, 204);
    const expired = await send('POST', '/v1/tokens', { body: { user: 'viewer', label: 'short', expiresIn: '1ms' } });
    assert.equal(expired.status, 201, expired.text);
    await until(async () => {
      const r = await send('GET', '/v1/me', { authorization: `Bearer ${expired.body.token}` });
      return r.status === 401 ? true : undefined;
    }, 'the 1ms token to expire');
    const ghost = await createUser('ghost', 'operator');
    assert.equal((await send('DELETE', '/v1/users/ghost')).status, 204);
    const secretAt = viewer.length - 5;
    const flipped = viewer.slice(0, secretAt) + (viewer[secretAt] === 'A' ? 'B' : 'A') + viewer.slice(secretAt + 1);
    const bad: [string, string | null][] = [
      ['Bearer nothing', 'Bearer nothing'],
      ['Bearer (empty)', 'Bearer '],
      ['empty header', ''],
      ['Basic', 'Basic dmlld2VyOnZpZXdlcg=='],
      ['token without scheme', viewer],
      ['truncated', `Bearer ${viewer.slice(0, -1)}`],
      ['one character changed', `Bearer ${flipped}`],
      ['revoked', `Bearer ${revoked.body.token}`],
      ['expired', `Bearer ${expired.body.token}`],
      ['deleted user', `Bearer ${ghost}`],
      ['another install', `Bearer ${foreign.adminToken}`],
    ];
    callers.push({ column: 'none', label: 'none', authorization: null, actor: 'anonymous' });
    for (const [label, authorization] of bad) callers.push({ column: 'bad', label, authorization, actor: 'anonymous' });
    for (const [column, user] of [
      ['viewer', 'viewer'],
      ['operator', 'operator'],
      ['approver', 'approver'],
      ['admin', 'admin2'],
      ['scoped', 'scoped'],
    ] as const) {
      callers.push({ column, label: user, authorization: `Bearer ${tokenOf[user]}`, actor: user });
    }

    // Objects: a run of A, and runs of B (waiting, with an artifact; cancelled).
    aRun = await waitingRun('wf-alpha');
    bRun = await waitingRun();
    bCancelled = await cancelledRun();
    const art = await send('GET', `/v1/runs/${bRun}/artifacts`);
    assert.deepEqual(art.body.items, [{ path: 'build/report.txt', size: 7 }]);
  });

  after(async () => {
    await Promise.all([server?.stop(), foreign?.stop()]);
  });

  // --- building a request for a cell ---------------------------------------------------------

  interface Request {
    method: string;
    path: string;
    body?: unknown;
  }

  /** The objects a cell acts on: throwaway ones where the cell is allowed to change them. */
  async function targetsFor(operationId: string, allowed: boolean): Promise<Record<string, string>> {
    const t: Record<string, string> = {
      run: bRun,
      task: 'gate',
      artifact: 'build/report.txt',
      schedule: 'wf-bravo#0',
      process: 'proc-bravo',
      workflow: 'wf-bravo',
      user: 'viewer',
      token: '',
    };
    switch (operationId) {
      case 'cancelRun':
      case 'decideApproval':
        if (allowed) t.run = await waitingRun();
        break;
      case 'resumeRun':
        t.run = allowed ? await cancelledRun() : bCancelled;
        break;
      case 'deleteWorkflow':
        if (allowed) {
          t.workflow = `tmp-${++counter}`;
          await upload(throwaway(t.workflow));
        }
        break;
      case 'deleteUser':
        t.user = `throwaway-${++counter}`;
        assert.equal((await send('POST', '/v1/users', { body: { name: t.user, role: 'viewer' } })).status, 201);
        break;
      case 'revokeToken': {
        const r = await send('POST', '/v1/tokens', { body: { user: 'viewer', label: 'throwaway' } });
        t.token = r.body.id;
        break;
      }
    }
    return t;
  }

  const ajv = new Ajv2020({ strict: false, allErrors: true });

  async function requestFor(o: Op, allowed: boolean): Promise<Request> {
    const id = o.op.operationId;
    const tag = o.op.tags[0];
    const t = await targetsFor(id, allowed);
    const path = o.path.replace(/\{([^}]+)\}/g, (_m, name: string) => {
      if (name === '*') return t.artifact!;
      if (name === 'task') return t.task!;
      if (name === 'name') {
        if (tag === 'workflows') return t.workflow!;
        if (tag === 'processes') return t.process!;
        if (tag === 'users') return t.user!;
      }
      if (name === 'id') {
        if (tag === 'runs' || tag === 'approvals') return t.run!;
        if (tag === 'schedules') return encodeURIComponent(t.schedule!);
        if (tag === 'users') return t.token!;
      }
      assert.fail(`${id}: no object to fill the path parameter ${name} (tag ${tag}); teach this test about it`);
    });
    const schema = o.op.requestBody?.content['application/json']?.schema;
    if (schema === undefined) return { method: o.method, path };
    const body = minimalBody(schema, {
      source: BRAVO,
      workflow: 'wf-bravo',
      user: 'viewer',
      name: `fresh-${++counter}`,
    });
    const validate = ajv.compile(schema);
    assert.ok(validate(body), `${id}: the derived body does not match its schema: ${ajv.errorsText(validate.errors)}`);
    return { method: o.method, path, body };
  }

  const classify = (status: number): string =>
    status >= 200 && status < 300 ? '2xx' : [401, 403, 404].includes(status) ? String(status) : `other ${status}`;

  it('matches the table of docs/api.md for every operation and caller', async () => {
    const documented = new Set(ops.map((o) => o.op.operationId));
    assert.deepEqual(
      [...table.keys()].filter((k) => !documented.has(k)),
      [],
      'rows of docs/api.md for operations the server does not have',
    );
    const mismatches: string[] = [];
    let checked = 0;
    let unauthenticated2xx = 0;
    const cells = new Set<string>();
    for (const o of ops) {
      const id = o.op.operationId;
      const row = table.get(id);
      assert.ok(row !== undefined, `docs/api.md has no row for ${id} (${o.method} ${o.path})`);
      assert.equal(`${row.method} ${row.path}`, `${o.method} ${o.path}`, `${id}: method and path`);
      for (const caller of callers) {
        const expected = row.cells[caller.column];
        const req = await requestFor(o, expected === '2xx');
        const res = await send(req.method, req.path, {
          ...as(caller),
          ...(req.body === undefined ? {} : { body: req.body }),
        });
        const got = classify(res.status);
        checked++;
        cells.add(`${id} ${caller.column}`);
        if (caller.authorization === null || caller.column === 'bad') {
          if (got === '2xx' && o.op['x-rivet-access'] !== 'public') unauthenticated2xx++;
          if (res.status === 401) assert.equal(res.headers.get('www-authenticate'), 'Bearer realm="rivet"');
        }
        if (got !== expected) {
          mismatches.push(
            `${id} as ${caller.label} (${caller.column}): expected ${expected}, got ${res.status} ${res.text.slice(0, 200)}`,
          );
        }
        if (res.status >= 400) {
          assert.match(String(res.body.code), /^RV\d{3}$/, `${id} as ${caller.label}: the error shape: ${res.text}`);
        }
      }
    }
    console.log(
      `authz: ${ops.length} operations x ${COLUMNS.length} columns = ${cells.size} table cells, ` +
        `${checked} requests (${callers.length} callers), ${mismatches.length} mismatches`,
    );
    assert.equal(cells.size, ops.length * COLUMNS.length);
    assert.deepEqual(mismatches, []);
    assert.equal(unauthenticated2xx, 0, 'unauthenticated 2xx outside the public operations');
  });

  // --- object level: B's objects by callers who may not see B -------------------------------------

  it(`answers ${PROBES} randomized probes of B's objects with 404, as for objects that do not exist (seed ${SEED})`, async () => {
    const random = mulberry32(SEED);
    const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
    const fakeId = (): string =>
      Array.from({ length: 13 }, () => pick([...'abcdefghijklmnopqrstuvwxyz0123456789'])).join('');
    const all = await send('GET', '/v1/runs?workflow=wf-bravo&limit=200&children=true');
    for (const r of all.body.items) bRuns.add(r.id);
    const runIds = [...bRuns];
    const who = [
      callerOf('scoped'),
      { ...callerOf('viewer'), label: 'outsider', authorization: `Bearer ${tokenOf.outsider}`, actor: 'outsider' },
    ];

    // Each probe: an operation on one of B's objects (or a made-up one of the same kind).
    type Probe = {
      op: string;
      method: string;
      path: (id: string) => string;
      ids: () => string;
      fake: () => string;
      body?: unknown;
      sse?: boolean;
    };
    const run = (suffix: string, method = 'GET', body?: unknown, sse = false): Omit<Probe, 'op'> => ({
      method,
      path: (id) => `/v1/runs/${id}${suffix}`,
      ids: () => pick(runIds),
      fake: fakeId,
      ...(body === undefined ? {} : { body }),
      sse,
    });
    const probes: Probe[] = [
      { op: 'getRun', ...run('') },
      { op: 'cancelRun', ...run('/cancel', 'POST') },
      { op: 'resumeRun', ...run('/resume', 'POST', { from: 'build' }) },
      { op: 'runEvents', ...run('/events') },
      { op: 'runEvents (stream)', ...run('/events', 'GET', undefined, true) },
      { op: 'runLogs', ...run('/logs') },
      { op: 'runLogs (stream)', ...run('/logs', 'GET', undefined, true) },
      { op: 'runOutputs', ...run('/outputs') },
      { op: 'listArtifacts', ...run('/artifacts') },
      { op: 'getArtifact', ...run('/artifacts/build/report.txt') },
      { op: 'decideApproval', ...run('/approvals/gate', 'POST', { decision: 'approve' }) },
      ...(['', '/pause', '/resume', '/trigger'] as const).map((suffix) => ({
        op: `schedule${suffix}`,
        method: suffix === '' ? 'GET' : 'POST',
        path: (id: string) => `/v1/schedules/${encodeURIComponent(id)}${suffix}`,
        ids: () => 'wf-bravo#0',
        fake: () => pick(['wf-bravo#1', 'wf-bravo#9', `${fakeId()}#0`]),
      })),
      ...(['', '/start', '/stop', '/restart', '/logs'] as const).map((suffix) => ({
        op: `process${suffix}`,
        method: suffix === '' || suffix === '/logs' ? 'GET' : 'POST',
        path: (id: string) => `/v1/processes/${id}${suffix}`,
        ids: () => 'proc-bravo',
        fake: () => `proc-${fakeId()}`,
      })),
      {
        op: 'processLogs (stream)',
        method: 'GET',
        path: (id: string) => `/v1/processes/${id}/logs`,
        ids: () => 'proc-bravo',
        fake: () => `proc-${fakeId()}`,
        sse: true,
      },
      ...(['', '/source'] as const).map((suffix) => ({
        op: `workflow${suffix}`,
        method: 'GET',
        path: (id: string) => `/v1/workflows/${id}${suffix}`,
        ids: () => pick(['wf-bravo', 'proc-bravo']),
        fake: () => `wf-${fakeId()}`,
      })),
    ];
    const secretNames = [...runIds, 'wf-bravo', 'proc-bravo', 'team-b', 'Ship bravo', 'report.txt'];
    const shapes = new Map<string, Set<string>>();
    const failures: string[] = [];
    let real = 0;
    for (let i = 0; i < PROBES; i++) {
      const probe = pick(probes);
      const caller = pick(who);
      const isReal = random() < 0.6;
      const id = isReal ? probe.ids() : probe.fake();
      if (isReal) real++;
      const startRun = probe.op === 'workflow' && random() < 0.3;
      const res = startRun
        ? await send('POST', '/v1/runs', { ...as(caller), body: { workflow: id } })
        : await send(probe.method, probe.path(id), {
            ...as(caller),
            ...(probe.body === undefined ? {} : { body: probe.body }),
            ...(probe.sse === true ? { headers: { accept: 'text/event-stream' } } : {}),
          });
      const what = `probe ${i} (seed ${SEED}): ${caller.label} ${startRun ? `startRun ${id}` : `${probe.method} ${probe.path(id)}`}`;
      if (res.status !== 404) failures.push(`${what}: ${res.status} ${res.text.slice(0, 200)}`);
      // The answer names only what the caller sent; once that is blanked out it is the same text
      // for B's objects as for objects that do not exist.
      const blanked = res.text.replaceAll(id, '<id>').replaceAll(encodeURIComponent(id), '<id>');
      for (const s of secretNames)
        if (blanked.includes(s)) failures.push(`${what}: the answer contains "${s}": ${res.text}`);
      const key = startRun ? 'startRun' : probe.op;
      if (!shapes.has(key)) shapes.set(key, new Set());
      shapes.get(key)!.add(blanked);
    }
    assert.deepEqual(failures.slice(0, 20), [], `${failures.length} failures`);
    for (const [op, bodies] of shapes) {
      assert.equal(
        bodies.size,
        1,
        `seed ${SEED}: ${op} answers differ between B's objects and missing ones: ${[...bodies].join(' | ')}`,
      );
    }
    console.log(`authz: ${PROBES} probes (${real} of B's real objects, ${shapes.size} kinds), seed ${SEED}, all 404`);
  });

  it("leaves B's objects out of every list, and refuses B's streams, for scoped and outsider", async () => {
    const bProcesses = ['proc-bravo'];
    const lists = [
      '/v1/workflows',
      '/v1/workflows?kind=process',
      '/v1/runs',
      '/v1/runs?limit=200&children=true',
      '/v1/runs?workflow=wf-bravo',
      '/v1/runs?state=waiting&state=cancelled',
      '/v1/approvals',
      '/v1/approvals?mine=true',
      '/v1/schedules',
      '/v1/processes',
    ];
    const hidden = [...bRuns, 'wf-bravo', ...bProcesses];
    for (const user of ['scoped', 'outsider']) {
      const authorization = `Bearer ${tokenOf[user]}`;
      for (const path of lists) {
        const res = await send('GET', path, { authorization, actor: user });
        assert.equal(res.status, 200, `${user} ${path}`);
        for (const h of hidden)
          assert.ok(!res.text.includes(h), `${user} ${path} shows ${h}: ${res.text.slice(0, 300)}`);
      }
      // Streams of B's run and process: refused before any stream opens.
      for (const path of [`/v1/runs/${bRun}/events`, `/v1/runs/${bRun}/logs`, '/v1/processes/proc-bravo/logs']) {
        const r = await readSse(`${server.url}${path}`, tokenOf[user]!, () => assert.fail('a frame'));
        assert.equal(r.status, 404, `${user} SSE ${path}`);
      }
    }
    // Controls: those lists do show B to a member of team-b, and A to scoped.
    const control = await send('GET', '/v1/runs?limit=200', {
      authorization: `Bearer ${tokenOf.viewer}`,
      actor: 'viewer',
    });
    assert.ok(control.text.includes(bRun) && control.text.includes(aRun));
    for (const path of ['/v1/approvals', '/v1/schedules', '/v1/workflows']) {
      const r = await send('GET', path, { authorization: `Bearer ${tokenOf.viewer}`, actor: 'viewer' });
      assert.ok(r.text.includes('wf-bravo'), `viewer ${path}`);
    }
    const processes = await send('GET', '/v1/processes', {
      authorization: `Bearer ${tokenOf.scoped}`,
      actor: 'scoped',
    });
    assert.deepEqual(
      processes.body.items.map((p: { name: string }) => p.name),
      [],
      'scoped is limited to wf-alpha: no process at all',
    );
    const outsiderProcesses = await send('GET', '/v1/processes', {
      authorization: `Bearer ${tokenOf.outsider}`,
      actor: 'outsider',
    });
    assert.deepEqual(
      outsiderProcesses.body.items.map((p: { name: string }) => p.name),
      ['proc-alpha'],
    );
    const scopedRuns = await send('GET', '/v1/runs?limit=200', {
      authorization: `Bearer ${tokenOf.scoped}`,
      actor: 'scoped',
    });
    assert.deepEqual(
      scopedRuns.body.items.map((r: { id: string }) => r.id),
      [aRun],
    );
    // Streams need a token, and work for whoever may see the run.
    assert.equal(
      (await fetch(`${server.url}/v1/runs/${bRun}/events`, { headers: { accept: 'text/event-stream' } })).status,
      401,
    );
    const stop = new AbortController();
    let frames = 0;
    const opened = await readSse(
      `${server.url}/v1/runs/${bRun}/events`,
      tokenOf.viewer!,
      () => {
        frames++;
        stop.abort();
      },
      { signal: stop.signal },
    );
    assert.equal(opened.status, 200);
    assert.ok(frames >= 1);
  });

  it("narrows roles on visible objects with 403: the workflow's permissions, the task's approvers (admins too)", async () => {
    const approver2 = {
      authorization: `Bearer ${await createUser('approver2', 'approver', { groups: ['releasers'] })}`,
      actor: 'approver2',
    };
    const operator2 = {
      authorization: `Bearer ${await createUser('operator2', 'operator', { groups: ['releasers'] })}`,
      actor: 'operator2',
    };
    const run = await waitingRun();
    for (const who of [approver2, operator2]) {
      assert.equal(
        (await send('GET', `/v1/runs/${run}`, who)).status,
        200,
        `${who.actor} sees B through its approve list`,
      );
    }
    const approvals = await send('GET', '/v1/approvals', approver2);
    const pending = approvals.body.items.find((a: { runId: string }) => a.runId === run);
    assert.equal(pending?.canDecide, false, 'listed, but not decidable by approver2');
    const decide = (who: { authorization: string; actor: string }) =>
      send('POST', `/v1/runs/${run}/approvals/gate`, { ...who, body: { decision: 'approve' } });
    const notApprover = await decide(approver2);
    assert.equal(notApprover.status, 403, notApprover.text);
    assert.match(notApprover.body.message, /approvers/);
    assert.equal(
      (await decide({ authorization: `Bearer ${server.adminToken}`, actor: 'admin' })).status,
      403,
      'admins too',
    );
    for (const [method, path, body] of [
      ['POST', '/v1/runs', { workflow: 'wf-bravo' }],
      ['POST', `/v1/runs/${run}/cancel`, undefined],
      ['POST', `/v1/schedules/${encodeURIComponent('wf-bravo#0')}/trigger`, undefined],
      ['POST', '/v1/processes/proc-bravo/start', undefined],
    ] as const) {
      const res = await send(method, path, { ...operator2, ...(body === undefined ? {} : { body }) });
      assert.equal(res.status, path.includes('processes') ? 404 : 403, `operator2 ${path}: ${res.text}`);
    }
    const listed = await send('GET', '/v1/workflows', operator2);
    assert.equal(listed.body.items.find((w: { name: string }) => w.name === 'wf-bravo')?.canRun, false);
    // A member of the approvers decides it.
    assert.equal((await decide({ authorization: `Bearer ${tokenOf.approver}`, actor: 'approver' })).status, 200);
  });

  // --- property level --------------------------------------------------------------------------------

  it('refuses server-owned fields in writes (400, unknown field)', async () => {
    const operator = { authorization: `Bearer ${tokenOf.operator}`, actor: 'operator' };
    for (const [field, value] of [
      ['state', 'succeeded'],
      ['id', 'abc'],
      ['createdBy', 'admin'],
      ['trigger', 'schedule'],
      ['createdAt', '2020-01-01T00:00:00Z'],
    ] as const) {
      const res = await send('POST', '/v1/runs', { ...operator, body: { workflow: 'wf-bravo', [field]: value } });
      assert.equal(res.status, 400, `${field}: ${res.text}`);
      assert.equal(res.body.code, 'RV705');
      assert.equal(res.body.pointer, `/${field}`);
      assert.match(res.body.message, /unknown field/);
    }
    for (const body of [
      { name: 'sneaky', role: 'viewer', createdBy: 'rivet' },
      { name: 'sneaky', role: 'viewer', createdAt: 0 },
    ]) {
      const res = await send('POST', '/v1/users', { body });
      assert.equal(res.status, 400, res.text);
    }
    for (const body of [
      { user: 'viewer', hash: '0'.repeat(64) },
      { user: 'viewer', id: 'aaaaaaaaaaaaaaaa' },
      { user: 'viewer', revokedAt: null },
    ]) {
      const res = await send('POST', '/v1/tokens', { body });
      assert.equal(res.status, 400, res.text);
    }
    assert.equal((await send('GET', '/v1/users/sneaky')).status, 404);
  });

  it('never answers a token hash, a hash field, or a token secret outside its creation', async () => {
    const tokenList = await send('GET', '/v1/tokens');
    assert.ok(tokenList.body.items.length >= 8);
    for (const t of tokenList.body.items)
      assert.deepEqual(Object.keys(t).sort(), [
        'createdAt',
        'expiresAt',
        'id',
        'label',
        'lastUsedAt',
        'revokedAt',
        'user',
      ]);
    const secrets = [...tokens].map((t) => t.split('.')[1]!);
    const hashes = secrets.map(sha256);
    let scanned = 0;
    for (const a of answers) {
      scanned++;
      assert.doesNotMatch(a.text, /"hash"\s*:/, `${a.operationId} answered a hash field`);
      for (const h of hashes) assert.ok(!a.text.includes(h), `${a.operationId} answered a token hash`);
      if (a.operationId === 'createToken') continue;
      for (const s of secrets) assert.ok(!a.text.includes(s), `${a.operationId} answered a token secret`);
    }
    console.log(`authz: ${scanned} answers scanned for ${hashes.length} token hashes and secrets`);
  });

  // --- CORS ---------------------------------------------------------------------------------------------

  it('answers no Access-Control-Allow-Origin unless the origin is configured, and never with credentials', async () => {
    const preflight = (url: string, origin: string) =>
      fetch(`${url}/v1/runs`, {
        method: 'OPTIONS',
        headers: {
          origin,
          'access-control-request-method': 'POST',
          'access-control-request-headers': 'authorization, content-type',
        },
      });
    const simple = (url: string, origin: string) => fetch(`${url}/healthz`, { headers: { origin } });
    for (const origin of ['null', 'https://evil.example', 'https://ui.example']) {
      for (const res of [await preflight(server.url, origin), await simple(server.url, origin)]) {
        assert.equal(res.headers.get('access-control-allow-origin'), null, `closed server, Origin: ${origin}`);
        assert.equal(res.headers.get('access-control-allow-credentials'), null);
        await res.text();
      }
    }
    for (const origin of ['null', 'https://evil.example', 'https://ui.example.evil.example']) {
      for (const res of [await preflight(foreign.url, origin), await simple(foreign.url, origin)]) {
        assert.equal(res.headers.get('access-control-allow-origin'), null, `configured server, Origin: ${origin}`);
        await res.text();
      }
    }
    for (const res of [
      await preflight(foreign.url, 'https://ui.example'),
      await simple(foreign.url, 'https://ui.example'),
    ]) {
      assert.equal(res.headers.get('access-control-allow-origin'), 'https://ui.example');
      assert.equal(res.headers.get('access-control-allow-credentials'), null);
      await res.text();
    }
  });

  // --- audit --------------------------------------------------------------------------------------------

  it('audits every mutating request once, with its actor and outcome', async () => {
    const expectedOutcome = (status: number): string =>
      status < 400 ? 'allowed' : [401, 403, 404].includes(status) ? 'denied' : 'failed';
    const key = (e: { actor: string; action: string; status: number; outcome: string }): string =>
      `${e.actor} ${e.action} ${e.status} ${e.outcome}`;
    const want = new Map<string, number>();
    for (const s of sent) {
      const k = key({ ...s, outcome: expectedOutcome(s.status) });
      want.set(k, (want.get(k) ?? 0) + 1);
    }
    // Entries are written once the answer is sent: wait until they are all there.
    const readAll = async (): Promise<{ actor: string; action: string; status: number; outcome: string }[]> => {
      const items = [];
      let cursor: string | null = null;
      do {
        const page: Res = await fetch(`${server.url}/v1/audit?limit=500${cursor === null ? '' : `&cursor=${cursor}`}`, {
          headers: { authorization: `Bearer ${server.adminToken}` },
        }).then(async (r) => ({ status: r.status, headers: r.headers, body: await r.json(), text: '' }));
        assert.equal(page.status, 200);
        items.push(...page.body.items);
        cursor = page.body.next;
      } while (cursor !== null);
      return items;
    };
    const entries = await until(async () => {
      const all = await readAll();
      return all.length >= sent.length ? all : undefined;
    }, `${sent.length} audit entries`);
    const got = new Map<string, number>();
    for (const e of entries) got.set(key(e), (got.get(key(e)) ?? 0) + 1);
    const diff: string[] = [];
    for (const k of new Set([...want.keys(), ...got.keys()])) {
      if (want.get(k) !== got.get(k)) diff.push(`${k}: sent ${want.get(k) ?? 0}, audited ${got.get(k) ?? 0}`);
    }
    assert.deepEqual(diff, []);
    assert.equal(entries.length, sent.length);
    const anonymous = entries.filter((e) => e.actor === 'anonymous');
    assert.ok(anonymous.length > 0 && anonymous.every((e) => e.outcome === 'denied' && e.status === 401));
    const outcomes = { allowed: 0, denied: 0, failed: 0 } as Record<string, number>;
    for (const e of entries) outcomes[e.outcome] = (outcomes[e.outcome] ?? 0) + 1;
    console.log(
      `authz: ${sent.length} mutating requests, ${entries.length} audit entries (${JSON.stringify(outcomes)}), 100% matched`,
    );
  });
});
