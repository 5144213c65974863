// The HTTP API of `rivet server`, route by route, through HTTP only: the happy paths, the error
// shape of every kind of bad request (RV704-RV711 with `in` and `pointer`), workflows (ETag,
// upload, delete, validate, hot reload of the watched folder), users and tokens, /v1/me,
// /metrics, /healthz and /readyz.
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type ApiResponse, startTestServer, type TestServer, until } from '../helpers/server.ts';
import { startRun, waitApproval, waitRun, type Json } from './api-support.ts';

const HELLO = `name: hello
inputs:
  who: { type: string, default: world }
tasks:
  greet:
    shell:
      run: echo "hello, $WHO"
      env: { WHO: "\${{ inputs.who }}" }
`;

const GATE_V1 = `name: gate
tasks:
  ok:
    approval: { message: go? }
  done:
    needs: [ok]
    noop: {}
`;

const GATE_V2 = `${GATE_V1}  extra:
    needs: [done]
    noop: {}
`;

const FRAGILE = `name: fragile
tasks:
  a:
    noop: {}
`;

const upload = (name: string, tasks = 'a') => `name: ${name}\ntasks:\n  ${tasks}:\n    noop: {}\n`;

/** Asserts the one error shape of the API. */
function assertError(
  r: ApiResponse,
  status: number,
  code: string,
  where?: { in?: string; pointer?: string },
  label = '',
): void {
  assert.equal(r.status, status, `${label} status: ${r.text}`);
  assert.match(r.headers.get('content-type') ?? '', /application\/json/, `${label} content type`);
  assert.equal(r.body.statusCode, status, label);
  assert.equal(r.body.code, code, `${label}: ${r.text}`);
  assert.equal(typeof r.body.error, 'string', label);
  assert.equal(typeof r.body.message, 'string', label);
  assert.ok(r.body.message.length > 0, label);
  if (where?.in !== undefined) assert.equal(r.body.in, where.in, `${label}: ${r.text}`);
  if (where?.pointer !== undefined) assert.equal(r.body.pointer, where.pointer, `${label}: ${r.text}`);
}

describe('the HTTP API', () => {
  let s: TestServer;
  let finishedRun: string;

  before(async () => {
    s = await startTestServer({ workflows: { 'hello.yaml': HELLO, 'gate.yaml': GATE_V1, 'fragile.yaml': FRAGILE } });
    finishedRun = await startRun(s.api, 'hello');
    await waitRun(s.api, finishedRun);
  });
  after(async () => {
    await s?.stop();
  });

  describe('bad requests', () => {
    it('refuses a body that is not JSON with 400 RV705 in the body', async () => {
      for (const [method, path] of [
        ['POST', '/v1/runs'],
        ['POST', '/v1/users'],
        ['PUT', '/v1/workflows/x'],
        ['POST', '/v1/tokens'],
      ] as const) {
        const r = await s.api(method, path, { raw: '{"a":' });
        assertError(r, 400, 'RV705', { in: 'body' }, `${method} ${path}`);
      }
    });

    it('names each unknown field with a pointer', async () => {
      const cases: [string, string, object, string][] = [
        ['POST', '/v1/runs', { workflow: 'hello', zzz: 1 }, '/zzz'],
        ['POST', '/v1/users', { name: 'u1', role: 'viewer', colour: 'red' }, '/colour'],
        ['POST', '/v1/tokens', { user: 'admin', scope: 'all' }, '/scope'],
        ['PUT', '/v1/workflows/x', { source: upload('x'), force: true }, '/force'],
        ['POST', '/v1/workflows/validate', { source: upload('x'), strict: true }, '/strict'],
        ['POST', `/v1/runs/${finishedRun}/resume`, { from: 'greet', at: 3 }, '/at'],
        ['POST', `/v1/runs/${finishedRun}/approvals/ok`, { decision: 'approve', why: 'x' }, '/why'],
      ];
      for (const [method, path, body, pointer] of cases) {
        const r = await s.api(method, path, { body });
        assertError(r, 400, 'RV705', { in: 'body', pointer }, `${method} ${path}`);
        assert.ok(
          (r.body.details as { pointer: string }[]).some((d) => d.pointer === pointer),
          `details name ${pointer}`,
        );
      }
    });

    it('refuses values of the wrong type and missing required fields', async () => {
      const cases: [string, string, unknown, string][] = [
        ['POST', '/v1/runs', { workflow: 5 }, '/workflow'],
        ['POST', '/v1/runs', { workflow: 'hello', inputs: [] }, '/inputs'],
        ['POST', '/v1/runs', { workflow: 'hello', force: 'greet' }, '/force'],
        ['POST', '/v1/users', { name: 'u1', role: 'god' }, '/role'],
        ['POST', '/v1/users', { name: 'u1', role: 'viewer', groups: 'ops' }, '/groups'],
        ['POST', `/v1/runs/${finishedRun}/approvals/ok`, { decision: 'maybe' }, '/decision'],
        ['PUT', '/v1/workflows/x', { source: 42 }, '/source'],
        ['POST', '/v1/runs', {}, '/workflow'],
        ['POST', '/v1/users', { name: 'u1' }, '/role'],
        ['POST', '/v1/tokens', {}, '/user'],
        ['PUT', '/v1/workflows/x', {}, '/source'],
        ['POST', `/v1/runs/${finishedRun}/approvals/ok`, {}, '/decision'],
      ];
      for (const [method, path, body, pointer] of cases) {
        const r = await s.api(method, path, { body });
        assertError(r, 400, 'RV705', { in: 'body', pointer }, `${method} ${path} ${JSON.stringify(body)}`);
      }
      // A body that is JSON but not an object.
      assertError(await s.api('POST', '/v1/runs', { raw: '[1,2]' }), 400, 'RV705', { in: 'body' });
    });

    it('refuses a body over the limit with 413 RV706', async () => {
      const big = JSON.stringify({ workflow: 'hello', inputs: { who: 'x'.repeat(1024 * 1024) } });
      const r = await s.api('POST', '/v1/runs', { raw: big });
      assertError(r, 413, 'RV706');
      const yaml = `name: x\ndescription: ${'y'.repeat(1024 * 1024)}\ntasks:\n  a:\n    noop: {}\n`;
      assertError(await s.api('PUT', '/v1/workflows/x', { raw: yaml, contentType: 'application/yaml' }), 413, 'RV706');
    });

    it('refuses a content type the operation does not take with 415 RV709', async () => {
      const cases: [string, string, string, string][] = [
        ['POST', '/v1/runs', 'text/plain', '{"workflow":"hello"}'],
        ['POST', '/v1/runs', 'application/yaml', 'workflow: hello\n'],
        ['POST', '/v1/runs', 'application/xml', '<run/>'],
        ['POST', '/v1/users', 'application/x-www-form-urlencoded', 'name=u&role=viewer'],
        ['PUT', '/v1/workflows/x', 'text/plain', upload('x')],
        ['PUT', '/v1/workflows/x', 'application/octet-stream', upload('x')],
      ];
      for (const [method, path, contentType, raw] of cases) {
        const r = await s.api(method, path, { raw, contentType });
        assertError(r, 415, 'RV709', undefined, `${method} ${path} as ${contentType}`);
      }
      // Nothing was created by the refused requests.
      assert.equal((await s.api('GET', '/v1/workflows/x')).status, 404);
      assert.equal((await s.api('GET', '/v1/users/u')).status, 404);
    });

    it('answers 404 RV704 for unknown ids of every kind', async () => {
      const cases: [string, string, unknown?][] = [
        ['GET', '/v1/runs/nosuchrun0000'],
        ['GET', '/v1/runs/nosuchrun0000/events'],
        ['GET', '/v1/runs/nosuchrun0000/logs'],
        ['GET', '/v1/runs/nosuchrun0000/outputs'],
        ['GET', '/v1/runs/nosuchrun0000/artifacts'],
        ['GET', '/v1/runs/nosuchrun0000/artifacts/a/b.txt'],
        ['GET', '/v1/runs/NOT-AN-ID!'],
        ['POST', '/v1/runs/nosuchrun0000/cancel'],
        ['POST', '/v1/runs/nosuchrun0000/resume', {}],
        ['POST', '/v1/runs/nosuchrun0000/approvals/ok', { decision: 'approve' }],
        ['POST', '/v1/runs', { workflow: 'nosuchworkflow' }],
        ['GET', '/v1/workflows/nosuchworkflow'],
        ['GET', '/v1/workflows/nosuchworkflow/source'],
        ['DELETE', '/v1/workflows/nosuchworkflow'],
        ['GET', '/v1/users/nosuchuser'],
        ['DELETE', '/v1/users/nosuchuser'],
        ['DELETE', '/v1/tokens/0123456789abcdef'],
        ['GET', '/v1/schedules/nosuchworkflow%230'],
        ['POST', '/v1/schedules/nosuchworkflow%230/pause'],
        ['POST', '/v1/schedules/nosuchworkflow%230/resume'],
        ['POST', '/v1/schedules/nosuchworkflow%230/trigger'],
      ];
      for (const [method, path, body] of cases) {
        const r = await s.api(method, path, body === undefined ? {} : { body });
        assertError(r, 404, 'RV704', undefined, `${method} ${path}`);
      }
    });

    it('answers 404 JSON for unknown routes, with or without a token', async () => {
      for (const [method, path] of [
        ['GET', '/v1/nothing'],
        ['POST', '/v2/runs'],
        ['GET', '/'],
        ['PATCH', '/v1/runs'],
      ] as const) {
        assertError(await s.api(method, path), 404, 'RV704', undefined, `${method} ${path}`);
        assertError(await s.api(method, path, { token: null }), 404, 'RV704', undefined, `${method} ${path}`);
      }
    });

    it('refuses query parameters out of range with `in: querystring`', async () => {
      const cases: [string, string][] = [
        ['/v1/runs?limit=0', '/limit'],
        ['/v1/runs?limit=abc', '/limit'],
        ['/v1/runs?limit=201', '/limit'],
        ['/v1/runs?limit=1.5', '/limit'],
        ['/v1/runs?state=bogus', '/state/0'],
        ['/v1/runs?children=maybe', '/children'],
        ['/v1/runs?since=yesterday', '/since'],
        ['/v1/runs?colour=red', '/colour'],
        [`/v1/runs/${finishedRun}/logs?limit=0`, '/limit'],
        [`/v1/runs/${finishedRun}/logs?after=-1`, '/after'],
        [`/v1/runs/${finishedRun}/events?after=x`, '/after'],
        ['/v1/approvals?mine=perhaps', '/mine'],
        ['/v1/workflows?kind=other', '/kind'],
      ];
      for (const [path, pointer] of cases) {
        assertError(await s.api('GET', path), 400, 'RV705', { in: 'querystring', pointer }, path);
      }
    });
  });

  describe('workflows', () => {
    it('lists the workflows with their version and origin', async () => {
      const r = await s.api('GET', '/v1/workflows');
      assert.equal(r.status, 200);
      const hello = (r.body.items as Json[]).find((w) => w.name === 'hello');
      assert.equal(hello.origin, 'folder');
      assert.equal(hello.kind, 'tasks');
      assert.match(hello.version, /^[0-9a-f]{16}$/);
      assert.equal(hello.canRun, true);
      assert.deepEqual(
        (r.body.items as Json[]).map((w) => w.name),
        [...(r.body.items as Json[]).map((w) => w.name)].sort(),
      );
    });

    it('gets a workflow with an ETag, and 304 for If-None-Match', async () => {
      const r = await s.api('GET', '/v1/workflows/hello');
      assert.equal(r.status, 200);
      const etag = r.headers.get('etag');
      assert.equal(etag, `"${r.body.version}"`);
      assert.deepEqual(r.body.inputsSchema.properties.who, { type: 'string', default: 'world' });
      assert.deepEqual(
        (r.body.dag.nodes as Json[]).map((n) => [n.id, n.kind]),
        [['greet', 'shell']],
      );
      const same = await s.api('GET', '/v1/workflows/hello', { headers: { 'if-none-match': etag! } });
      assert.equal(same.status, 304);
      assert.equal(same.text, '');
      const other = await s.api('GET', '/v1/workflows/hello', { headers: { 'if-none-match': '"0000"' } });
      assert.equal(other.status, 200);
    });

    it('serves the source as YAML', async () => {
      const r = await s.api('GET', '/v1/workflows/hello/source');
      assert.equal(r.status, 200);
      assert.match(r.headers.get('content-type')!, /^application\/yaml/);
      assert.equal(r.text, HELLO);
    });

    it('uploads as JSON (201), replaces as YAML (200), runs the new version, deletes (204)', async () => {
      const created = await s.api('PUT', '/v1/workflows/up1', { body: { source: upload('up1') } });
      assert.equal(created.status, 201, created.text);
      assert.equal(created.body.origin, 'upload');
      const replaced = await s.api('PUT', '/v1/workflows/up1', {
        raw: upload('up1', 'b'),
        contentType: 'application/yaml',
      });
      assert.equal(replaced.status, 200, replaced.text);
      assert.notEqual(replaced.body.version, created.body.version);
      assert.equal((await s.api('GET', '/v1/workflows/up1/source')).text, upload('up1', 'b'));
      const run = await waitRun(s.api, await startRun(s.api, 'up1'));
      assert.equal(run.state, 'succeeded');
      assert.equal(run.version, replaced.body.version);

      const removed = await s.api('DELETE', '/v1/workflows/up1');
      assert.equal(removed.status, 204);
      assertError(await s.api('GET', '/v1/workflows/up1'), 404, 'RV704');
      assertError(await s.api('DELETE', '/v1/workflows/up1'), 404, 'RV704');
      // Its past run stays.
      assert.equal((await s.api('GET', `/v1/runs/${run.id}`)).status, 200);
    });

    it('refuses invalid YAML with 400 RV711 and a located detail', async () => {
      const r = await s.api('PUT', '/v1/workflows/broken', {
        raw: 'name: broken\ntasks: [\n',
        contentType: 'application/yaml',
      });
      assertError(r, 400, 'RV711', { in: 'body', pointer: '/source' });
      const d = r.body.details[0];
      assert.equal(typeof d.line, 'number');
      assert.equal(typeof d.col, 'number');
      assert.match(d.code, /^RV1\d\d$/);
      assertError(await s.api('GET', '/v1/workflows/broken'), 404, 'RV704');
    });

    it('refuses an invalid definition with each problem located', async () => {
      const source = 'name: bad\ntasks:\n  a:\n    noop: {}\n    bogus: 1\n  b:\n    needs: [zz]\n    noop: {}\n';
      const r = await s.api('PUT', '/v1/workflows/bad', { body: { source } });
      assertError(r, 400, 'RV711', { in: 'body', pointer: '/source' });
      const codes = (r.body.details as Json[]).map((d) => `${d.code}@${d.line}:${d.col}`);
      assert.ok(codes.includes('RV201@5:5'), codes.join(' '));
      assert.ok(
        (r.body.details as Json[]).some((d) => d.code === 'RV301'),
        codes.join(' '),
      );
    });

    it('refuses an upload whose name differs from the URL', async () => {
      const r = await s.api('PUT', '/v1/workflows/one', { body: { source: upload('two') } });
      assertError(r, 400, 'RV711', { in: 'body' });
      assert.equal(r.body.details[0].pointer, '/name');
      assert.equal((await s.api('GET', '/v1/workflows/one')).status, 404);
      assert.equal((await s.api('GET', '/v1/workflows/two')).status, 404);
    });

    it('refuses to upload over or delete a workflow of the watched folder (409)', async () => {
      assertError(await s.api('PUT', '/v1/workflows/hello', { body: { source: upload('hello') } }), 409, 'RV708');
      assertError(await s.api('DELETE', '/v1/workflows/hello'), 409, 'RV708');
      assert.equal((await s.api('GET', '/v1/workflows/hello/source')).text, HELLO);
    });

    it('validates without saving', async () => {
      const ok = await s.api('POST', '/v1/workflows/validate', { body: { source: upload('vv') } });
      assert.equal(ok.status, 200);
      assert.deepEqual(ok.body, { valid: true, name: 'vv', details: [] });
      const bad = await s.api('POST', '/v1/workflows/validate', {
        raw: 'name: vv\ntasks:\n  a:\n    nop: {}\n',
        contentType: 'application/yaml',
      });
      assert.equal(bad.status, 200);
      assert.equal(bad.body.valid, false);
      assert.deepEqual(
        (bad.body.details as Json[]).map((d) => [d.code, d.line, d.col, d.pointer]),
        [['RV207', 4, 5, '/tasks/a/nop']],
      );
      assert.equal((await s.api('GET', '/v1/workflows/vv')).status, 404);
    });
  });

  describe('hot reload of the watched folder', () => {
    it('picks up a new file', async () => {
      writeFileSync(join(s.workflowsDir, 'fresh.yaml'), upload('fresh'));
      const w = await until(async () => {
        const r = await s.api('GET', '/v1/workflows/fresh');
        return r.status === 200 ? r.body : undefined;
      }, 'the new file to be loaded');
      assert.equal(w.origin, 'folder');
      assert.equal((await waitRun(s.api, await startRun(s.api, 'fresh'))).state, 'succeeded');
    });

    it('keeps a waiting run on its version while new runs get the new one', async () => {
      const v1 = (await s.api('GET', '/v1/workflows/gate')).body.version as string;
      const old = await startRun(s.api, 'gate');
      await waitApproval(s.api, old, 'ok');
      writeFileSync(join(s.workflowsDir, 'gate.yaml'), GATE_V2);
      const v2 = await until(async () => {
        const v = (await s.api('GET', '/v1/workflows/gate')).body.version as string;
        return v === v1 ? undefined : v;
      }, 'the changed file to be loaded');

      const fresh = await startRun(s.api, 'gate');
      await waitApproval(s.api, fresh, 'ok');
      for (const id of [old, fresh]) {
        const d = await s.api('POST', `/v1/runs/${id}/approvals/ok`, { body: { decision: 'approve' } });
        assert.equal(d.status, 200, d.text);
      }
      const oldRun = await waitRun(s.api, old);
      const newRun = await waitRun(s.api, fresh);
      assert.equal(oldRun.state, 'succeeded');
      assert.equal(oldRun.version, v1);
      assert.equal(newRun.state, 'succeeded');
      assert.equal(newRun.version, v2);
      const tasksOf = async (id: string) =>
        ((await s.api('GET', `/v1/runs/${id}`)).body.tasks as Json[]).map((t) => t.task).sort();
      assert.deepEqual(await tasksOf(old), ['done', 'ok']);
      assert.deepEqual(await tasksOf(fresh), ['done', 'extra', 'ok']);
    });

    it('keeps the last good version of a file made invalid and lists the problem for admins', async () => {
      const good = (await s.api('GET', '/v1/workflows/fragile')).body.version as string;
      const file = join(s.workflowsDir, 'fragile.yaml');
      writeFileSync(file, 'name: fragile\ntasks:\n  a:\n    noop: {}\n    oops: 1\n');
      const problem = await until(async () => {
        const r = await s.api('GET', '/v1/workflows');
        return (r.body.problems as Json[]).find((p) => p.file === file);
      }, 'the problem to be listed');
      assert.equal(problem.details[0].code, 'RV201');
      assert.equal(problem.details[0].line, 5);
      const still = await s.api('GET', '/v1/workflows/fragile');
      assert.equal(still.status, 200);
      assert.equal(still.body.version, good);
      assert.equal((await waitRun(s.api, await startRun(s.api, 'fragile'))).version, good);

      const viewer = await s.user('reload-viewer', 'viewer');
      assert.deepEqual((await s.api('GET', '/v1/workflows', { token: viewer })).body.problems, []);

      // Removing the file removes the workflow and its problem.
      rmSync(file);
      await until(
        async () => ((await s.api('GET', '/v1/workflows/fragile')).status === 404 ? true : undefined),
        'removal',
      );
      const r = await s.api('GET', '/v1/workflows');
      assert.equal(
        (r.body.problems as Json[]).find((p) => p.file === file),
        undefined,
      );
    });
  });

  describe('users and tokens', () => {
    it('creates users and tokens, refuses duplicates, and never shows a hash', async () => {
      const u = await s.api('POST', '/v1/users', { body: { name: 'alice', role: 'operator', groups: ['ops'] } });
      assert.equal(u.status, 201, u.text);
      assert.equal(u.body.role, 'operator');
      assert.equal(u.body.createdBy, 'admin');
      assertError(await s.api('POST', '/v1/users', { body: { name: 'alice', role: 'viewer' } }), 409, 'RV708');
      assertError(await s.api('POST', '/v1/tokens', { body: { user: 'nobody' } }), 400, 'RV705', {
        in: 'body',
        pointer: '/user',
      });

      const t = await s.api('POST', '/v1/tokens', { body: { user: 'alice', label: 'laptop' } });
      assert.equal(t.status, 201, t.text);
      assert.match(t.body.token, /^rvt_[a-z0-9]{16}\.[A-Za-z0-9_-]{43}$/);
      assert.equal(t.body.token.slice(4, 20), t.body.id);
      assert.equal(t.headers.get('cache-control'), 'no-store');
      assert.equal(t.body.hash, undefined);

      const me = await s.api('GET', '/v1/me', { token: t.body.token });
      assert.equal(me.status, 200);
      assert.deepEqual(me.body, {
        user: 'alice',
        role: 'operator',
        groups: ['ops'],
        workflows: null,
        tokenId: t.body.id,
      });

      const users = await s.api('GET', '/v1/users');
      assert.ok((users.body.items as Json[]).some((x) => x.name === 'alice'));
      assert.equal((await s.api('GET', '/v1/users/alice')).body.name, 'alice');

      for (const path of ['/v1/tokens', '/v1/tokens?user=alice']) {
        const list = await s.api('GET', path);
        assert.equal(list.status, 200);
        assert.ok((list.body.items as Json[]).some((x) => x.id === t.body.id && x.label === 'laptop'));
        assert.doesNotMatch(list.text, /hash|rvt_/);
        for (const item of list.body.items as Json[]) assert.deepEqual(Object.keys(item).includes('token'), false);
      }
    });

    it('revokes a token: the next request with it is 401', async () => {
      const token = await s.user('bob', 'viewer');
      assert.equal((await s.api('GET', '/v1/me', { token })).status, 200);
      const id = token.slice(4, 20);
      assert.equal((await s.api('DELETE', `/v1/tokens/${id}`)).status, 204);
      const r = await s.api('GET', '/v1/me', { token });
      assertError(r, 401, 'RV702');
      assert.match(r.headers.get('www-authenticate') ?? '', /^Bearer/);
      const listed = (await s.api('GET', '/v1/tokens?user=bob')).body.items as Json[];
      assert.notEqual(listed.find((x) => x.id === id).revokedAt, null);
    });

    it('deletes a user: its tokens are 401, and an admin cannot delete itself', async () => {
      const one = await s.user('carol', 'operator');
      const two = (await s.api('POST', '/v1/tokens', { body: { user: 'carol' } })).body.token as string;
      assert.equal((await s.api('DELETE', '/v1/users/carol')).status, 204);
      for (const token of [one, two]) assertError(await s.api('GET', '/v1/runs', { token }), 401, 'RV702');
      assertError(await s.api('GET', '/v1/users/carol'), 404, 'RV704');
      assertError(await s.api('DELETE', '/v1/users/admin'), 409, 'RV708');
    });

    it('sets expiresAt from expiresIn, and an expired token is 401', async () => {
      await s.api('POST', '/v1/users', { body: { name: 'dave', role: 'viewer' } });
      const long = await s.api('POST', '/v1/tokens', { body: { user: 'dave', expiresIn: '30d' } });
      assert.equal(long.status, 201);
      const span = Date.parse(long.body.expiresAt) - Date.parse(long.body.createdAt);
      assert.equal(span, 30 * 86_400_000);
      assert.equal((await s.api('GET', '/v1/me', { token: long.body.token })).status, 200);

      const short = await s.api('POST', '/v1/tokens', { body: { user: 'dave', expiresIn: '1ms' } });
      assert.equal(short.status, 201);
      await until(async () => {
        const r = await s.api('GET', '/v1/me', { token: short.body.token });
        return r.status === 401 ? r : undefined;
      }, 'the token to expire');

      for (const expiresIn of ['soon', '0s', '-1d']) {
        assertError(
          await s.api('POST', '/v1/tokens', { body: { user: 'dave', expiresIn } }),
          400,
          'RV705',
          { in: 'body', pointer: '/expiresIn' },
          expiresIn,
        );
      }
    });

    it('answers 401 without a token or with a malformed one, and 403 for a non-admin', async () => {
      assertError(await s.api('GET', '/v1/me', { token: null }), 401, 'RV702');
      assertError(await s.api('GET', '/v1/me', { token: 'rvt_nope' }), 401, 'RV702');
      assertError(await s.api('GET', '/v1/me', { headers: { authorization: 'Basic YTpi' } }), 401, 'RV702');
      const viewer = await s.user('erin', 'viewer');
      assertError(await s.api('GET', '/v1/users', { token: viewer }), 403, 'RV703');
      assertError(
        await s.api('POST', '/v1/users', { token: viewer, body: { name: 'x', role: 'admin' } }),
        403,
        'RV703',
      );
    });
  });

  describe('server routes', () => {
    it('answers /healthz and /readyz without a token', async () => {
      const h = await s.api('GET', '/healthz', { token: null });
      assert.equal(h.status, 200);
      assert.deepEqual(h.body, { status: 'ok' });
      const r = await s.api('GET', '/readyz', { token: null });
      assert.equal(r.status, 200);
      assert.deepEqual(r.body, { status: 'ready' });
    });

    it('serves Prometheus metrics after runs (with a token)', async () => {
      assertError(await s.api('GET', '/metrics', { token: null }), 401, 'RV702');
      const r = await s.api('GET', '/metrics');
      assert.equal(r.status, 200);
      assert.match(r.headers.get('content-type')!, /^text\/plain/);
      const lines = r.text.split('\n');
      const sample = (re: RegExp): string[] => lines.filter((l) => !l.startsWith('#') && re.test(l));
      const started = sample(/^rivet_runs_started_total\{workflow="hello"\} (\d+)/);
      assert.equal(started.length, 1, 'runs started of hello');
      assert.ok(Number(started[0]!.split(' ')[1]) >= 1);
      assert.ok(
        sample(/^rivet_tasks_finished_total\{workflow="hello",kind="shell",state="succeeded"\} [1-9]/).length === 1,
      );
      const buckets = sample(/^rivet_task_duration_seconds_bucket\{/).filter(
        (l) => l.includes('workflow="hello"') && l.includes('le="+Inf"'),
      );
      assert.equal(buckets.length, 1, 'the +Inf bucket of hello');
      assert.ok(Number(buckets[0]!.split(' ').at(-1)) >= 1);
      for (const gauge of ['rivet_queue_depth', 'rivet_tasks_running', 'rivet_task_capacity']) {
        assert.equal(sample(new RegExp(`^${gauge} \\d+$`)).length, 1, gauge);
      }
      assert.equal(sample(/^rivet_task_capacity 32$/).length, 1);
      assert.ok(sample(/^rivet_nodejs_eventloop_lag_seconds [\d.e-]+$/).length === 1, 'event-loop lag');
      for (const line of lines.filter((l) => l !== '' && !l.startsWith('#'))) {
        assert.match(line, /^[a-zA-Z_:][a-zA-Z0-9_:]*(\{.*\})? -?[\d.e+-]+|NaN|[+-]Inf$/, line);
      }
    });
  });
});
