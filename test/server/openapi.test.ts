// The OpenAPI document: valid OpenAPI 3.1 (@seriousme/openapi-schema-validator), every operation
// described (operationId, x-rivet-access, tags, error responses), and true to the server: a
// client built from the document alone checks each request body against the operation's schema
// before sending it, and each answer against the schema documented for its status, through a
// whole run lifecycle (validate, upload, start, events, approve, outputs, pagination, cancel,
// resume).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Validator } from '@seriousme/openapi-schema-validator';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import { startTestServer, type TestServer, until } from '../helpers/server.ts';

interface Operation {
  operationId: string;
  tags?: string[];
  'x-rivet-access'?: string;
  parameters?: { in: string; name: string; required?: boolean; schema: object }[];
  requestBody?: { required?: boolean; content: Record<string, { schema: object }> };
  responses: Record<string, { description?: string; content?: Record<string, { schema: object }> }>;
  security?: unknown[];
}

interface OpenApiDoc {
  openapi: string;
  tags?: { name: string }[];
  paths: Record<string, Record<string, Operation>>;
}

type Spec = Parameters<Validator['validate']>[0];

const METHODS = new Set(['get', 'put', 'post', 'delete', 'patch', 'head', 'options']);

function operations(doc: OpenApiDoc): { method: string; path: string; op: Operation }[] {
  return Object.entries(doc.paths).flatMap(([path, item]) =>
    Object.entries(item)
      .filter(([method]) => METHODS.has(method))
      .map(([method, op]) => ({ method: method.toUpperCase(), path, op })),
  );
}

interface CallOptions {
  params?: Record<string, string>;
  query?: Record<string, string | number | boolean | string[]>;
  body?: unknown;
  headers?: Record<string, string>;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- JSON answers, checked by their schema and assertions
type Json = any;

interface CallResult {
  status: number;
  headers: Headers;
  body: Json;
  text: string;
}

/**
 * A client that knows only the document: it finds the operation by operationId, fills the path,
 * refuses to send a body the operation's schema rejects, and fails on an answer whose status is
 * not documented or whose body does not match the documented schema.
 */
function schemaClient(doc: OpenApiDoc, baseUrl: string, token: string) {
  const ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: false });
  const byId = new Map(operations(doc).map((o) => [o.op.operationId, o]));
  const cache = new Map<string, ValidateFunction>();
  const compile = (key: string, schema: object): ValidateFunction => {
    let v = cache.get(key);
    if (v === undefined) {
      v = ajv.compile(schema);
      cache.set(key, v);
    }
    return v;
  };
  const stats = { requests: 0, responsesChecked: 0 };

  async function call(operationId: string, options: CallOptions = {}): Promise<CallResult> {
    const found = byId.get(operationId);
    assert.ok(found !== undefined, `no operation ${operationId} in the document`);
    const { method, path, op } = found;
    let url = path.replace(/\{([^}]+)\}/g, (_m, name: string) => {
      const value = options.params?.[name];
      assert.ok(value !== undefined, `${operationId}: path parameter ${name} missing`);
      // `*` is the rest of the path (an artifact's `<task>/<file>`): its slashes stay.
      return name === '*' ? value.split('/').map(encodeURIComponent).join('/') : encodeURIComponent(value);
    });
    const search = new URLSearchParams();
    const declared = new Set((op.parameters ?? []).filter((p) => p.in === 'query').map((p) => p.name));
    for (const [k, v] of Object.entries(options.query ?? {})) {
      assert.ok(declared.has(k), `${operationId}: query parameter ${k} is not documented`);
      for (const item of Array.isArray(v) ? v : [v]) search.append(k, String(item));
    }
    if (search.size > 0) url += `?${search}`;
    const headers: Record<string, string> = { authorization: `Bearer ${token}`, ...options.headers };
    let body: string | undefined;
    if (options.body !== undefined) {
      const schema = op.requestBody?.content['application/json']?.schema;
      assert.ok(schema !== undefined, `${operationId} takes no JSON body`);
      const validate = compile(`${operationId} request`, schema);
      assert.ok(
        validate(options.body),
        `${operationId}: the body does not match its schema: ${ajv.errorsText(validate.errors)}`,
      );
      body = JSON.stringify(options.body);
      headers['content-type'] = 'application/json';
    } else {
      assert.ok(op.requestBody?.required !== true, `${operationId} needs a body`);
    }
    stats.requests++;
    const res = await fetch(`${baseUrl}${url}`, { method, headers, ...(body === undefined ? {} : { body }) });
    const text = await res.text();
    const documented = op.responses[String(res.status)];
    assert.ok(documented !== undefined, `${operationId} answered ${res.status}, which it does not document: ${text}`);
    const type = (res.headers.get('content-type') ?? '').split(';')[0]!.trim();
    let parsed: unknown = text;
    if (type === 'application/json') {
      parsed = JSON.parse(text);
      const schema = documented.content?.['application/json']?.schema;
      assert.ok(schema !== undefined, `${operationId} ${res.status}: no JSON schema documented`);
      const validate = compile(`${operationId} ${res.status}`, schema);
      assert.ok(
        validate(parsed),
        `${operationId} ${res.status}: the answer does not match its schema: ${ajv.errorsText(validate.errors)}\n${text}`,
      );
      stats.responsesChecked++;
    } else if (text !== '') {
      assert.ok(
        documented.content !== undefined && Object.keys(documented.content).some((t) => t.startsWith(type)),
        `${operationId} ${res.status}: answered ${type}, documented ${Object.keys(documented.content ?? {}).join(', ')}`,
      );
    }
    return { status: res.status, headers: res.headers, body: parsed, text };
  }

  return { call, stats, ajv };
}

const DEPLOY = `name: deploy
description: Builds a service, waits for approval, ships it
inputs:
  service: { type: string, required: true, pattern: '^[a-z]+$' }
  replicas: { type: integer, default: 2, minimum: 1, maximum: 10 }
tasks:
  build:
    shell:
      run: |
        echo "building $SERVICE"
        echo ok > "$RIVET_ARTIFACTS/build.txt"
      env: { SERVICE: "\${{ inputs.service }}" }
  gate:
    needs: [build]
    approval: { message: "Ship \${{ inputs.service }}?" }
  ship:
    needs: [gate]
    shell:
      run: echo shipped
outputs:
  service: \${{ inputs.service }}
  approver: \${{ tasks.gate.outputs.approver }}
`;

const QUICK = `name: quick
tasks:
  one:
    noop: {}
`;

describe('the OpenAPI document', () => {
  let server: TestServer;
  let doc: OpenApiDoc;

  before(async () => {
    server = await startTestServer({ workflows: { 'quick.yaml': QUICK } });
    const res = await fetch(`${server.url}/openapi.json`);
    assert.equal(res.status, 200);
    doc = (await res.json()) as OpenApiDoc;
  });

  after(async () => {
    await server?.stop();
  });

  it('is valid OpenAPI 3.1', async () => {
    const validator = new Validator();
    const result = await validator.validate(doc as unknown as Spec);
    assert.equal(result.valid, true, JSON.stringify(result.errors, null, 2));
    assert.equal(validator.version, '3.1');
    assert.match(doc.openapi, /^3\.1\./);
    // The validator does refuse a broken document (no responses, a parameter without a name).
    const broken = structuredClone(doc) as unknown as { paths: Record<string, Record<string, object>> };
    delete (broken.paths['/healthz']!.get as { responses?: unknown }).responses;
    (broken.paths['/healthz']!.get as { parameters?: unknown }).parameters = [{ in: 'nowhere' }];
    assert.equal((await new Validator().validate(broken as unknown as Spec)).valid, false);
  });

  it('describes every operation: operationId, x-rivet-access, tags, error responses', () => {
    const ops = operations(doc);
    assert.ok(ops.length >= 40, `${ops.length} operations`);
    const ids = ops.map((o) => o.op.operationId);
    assert.equal(new Set(ids).size, ids.length, 'operationIds are unique');
    const tags = new Set((doc.tags ?? []).map((t) => t.name));
    for (const { method, path, op } of ops) {
      const where = `${method} ${path}`;
      assert.match(op.operationId ?? '', /^[a-z][A-Za-z]+$/, `${where}: operationId`);
      const access = op['x-rivet-access'];
      assert.ok(
        ['public', 'read', 'run', 'approve', 'admin'].includes(access ?? ''),
        `${where}: x-rivet-access ${access}`,
      );
      assert.ok((op.tags ?? []).length > 0, `${where}: tags`);
      for (const t of op.tags ?? []) assert.ok(tags.has(t), `${where}: tag ${t} is not declared`);
      const codes = Object.keys(op.responses);
      assert.ok(
        codes.some((c) => /^2\d\d$/.test(c)),
        `${where}: no success response`,
      );
      assert.ok(codes.includes('400'), `${where}: no 400 response`);
      if (access === 'public') {
        assert.deepEqual(op.security, [], `${where}: a public operation declares no security`);
      } else {
        for (const c of ['401', '403', '404']) assert.ok(codes.includes(c), `${where}: no ${c} response`);
      }
      if (op.requestBody !== undefined) {
        for (const c of ['413', '415']) assert.ok(codes.includes(c), `${where}: no ${c} response`);
      }
      for (const c of codes.filter((x) => /^[45]/.test(x) && !(path === '/readyz' && x === '503'))) {
        for (const [type, media] of Object.entries(op.responses[c]!.content ?? {})) {
          const schema = media.schema as { required?: string[] };
          assert.deepEqual(
            schema.required,
            ['statusCode', 'code', 'error', 'message'],
            `${where} ${c} ${type}: the error shape`,
          );
        }
      }
    }
  });

  it('drives a run lifecycle with a client built from the document', async () => {
    const { call, stats, ajv } = schemaClient(doc, server.url, server.adminToken);

    const validated = await call('validateWorkflow', { body: { source: DEPLOY } });
    assert.equal(validated.status, 200);
    assert.equal(validated.body.valid, true, JSON.stringify(validated.body.details));
    assert.equal(validated.body.name, 'deploy');
    const broken = await call('validateWorkflow', { body: { source: 'name: x\ntasks: 3\n' } });
    assert.equal(broken.status, 200);
    assert.equal(broken.body.valid, false);

    assert.equal((await call('putWorkflow', { params: { name: 'deploy' }, body: { source: DEPLOY } })).status, 201);
    assert.equal((await call('putWorkflow', { params: { name: 'deploy' }, body: { source: DEPLOY } })).status, 200);

    const wf = await call('getWorkflow', { params: { name: 'deploy' } });
    assert.equal(wf.status, 200);
    const etag = wf.headers.get('etag');
    assert.equal(etag, `"${wf.body.version}"`);
    const notModified = await call('getWorkflow', { params: { name: 'deploy' }, headers: { 'if-none-match': etag! } });
    assert.equal(notModified.status, 304);
    assert.equal(notModified.text, '');
    assert.deepEqual(
      wf.body.dag.nodes.map((n: { id: string }) => n.id),
      ['build', 'gate', 'ship'],
    );
    // The inputs form: a JSON Schema that Ajv compiles, that accepts the inputs sent below and
    // refuses what startRun refuses.
    const inputsValid = ajv.compile(wf.body.inputsSchema);
    const inputs = { service: 'billing', replicas: 3 };
    assert.ok(inputsValid(inputs), ajv.errorsText(inputsValid.errors));
    assert.equal(inputsValid({ service: 'Billing!' }), false);
    assert.equal(inputsValid({ replicas: 3 }), false);
    assert.equal(inputsValid({ service: 'billing', extra: 1 }), false);
    const refused = await call('startRun', { body: { workflow: 'deploy', inputs: { service: 'Billing!' } } });
    assert.equal(refused.status, 400);
    assert.equal(refused.body.code, 'RV601');
    assert.equal(refused.body.pointer, '/inputs/service');

    const source = await call('getWorkflowSource', { params: { name: 'deploy' } });
    assert.equal(source.status, 200);
    assert.equal(source.text, DEPLOY);

    const started = await call('startRun', { body: { workflow: 'deploy', inputs } });
    assert.equal(started.status, 201);
    const runId = started.body.id as string;
    assert.equal(started.headers.get('location'), `/v1/runs/${runId}`);
    assert.deepEqual(started.body.inputs, inputs);
    assert.equal(started.body.trigger, 'api');

    assert.equal((await call('getRun', { params: { id: runId } })).status, 200);

    // Follow the events (JSON, with `after`) until the approval waits.
    let after = 0;
    const seen: string[] = [];
    await until(async () => {
      const page = await call('runEvents', { params: { id: runId }, query: { after } });
      assert.equal(page.status, 200);
      for (const e of page.body.items as { seq: number; type: string; task: string | null }[]) {
        assert.ok(e.seq > after, 'events come in order, once');
        after = e.seq;
        seen.push(`${e.type}${e.task === null ? '' : `:${e.task}`}`);
      }
      return seen.includes('task.waiting:gate') ? true : undefined;
    }, 'the approval to wait');
    assert.ok(seen.includes('task.succeeded:build'), seen.join(' '));

    const approvals = await call('listApprovals', { query: { mine: true } });
    assert.equal(approvals.status, 200);
    const pending = approvals.body.items.find((a: { runId: string }) => a.runId === runId);
    assert.equal(pending?.task, 'gate');
    assert.equal(pending?.canDecide, true);

    const decided = await call('decideApproval', {
      params: { id: runId, task: 'gate' },
      body: { decision: 'approve', comment: 'looks good' },
    });
    assert.equal(decided.status, 200);
    assert.deepEqual(decided.body, { runId, task: 'gate', decision: 'approve' });
    const again = await call('decideApproval', { params: { id: runId, task: 'gate' }, body: { decision: 'approve' } });
    assert.equal(again.status, 409);
    assert.equal(again.body.code, 'RV604');

    const done = await until(async () => {
      const r = await call('getRun', { params: { id: runId } });
      return ['succeeded', 'failed', 'cancelled'].includes(r.body.state) ? r.body : undefined;
    }, 'the run to end');
    assert.equal(done.state, 'succeeded', JSON.stringify(done));
    assert.deepEqual(
      done.tasks.map((t: { task: string; status: string }) => `${t.task}=${t.status}`),
      ['build=succeeded', 'gate=succeeded', 'ship=succeeded'],
    );

    const outputs = await call('runOutputs', { params: { id: runId } });
    assert.equal(outputs.status, 200);
    assert.deepEqual(outputs.body.outputs, { service: 'billing', approver: 'admin' });
    assert.equal(outputs.body.tasks.gate.decision, 'approve');

    const logs = await call('runLogs', { params: { id: runId }, query: { task: 'build' } });
    assert.equal(logs.status, 200);
    assert.ok(
      logs.body.items.some((l: { line: string }) => l.line === 'building billing'),
      logs.text,
    );

    const artifacts = await call('listArtifacts', { params: { id: runId } });
    assert.deepEqual(artifacts.body.items, [{ path: 'build/build.txt', size: 3 }]);
    const artifact = await call('getArtifact', { params: { id: runId, '*': 'build/build.txt' } });
    assert.equal(artifact.status, 200);
    assert.equal(artifact.text, 'ok\n');

    // Pagination: 5 runs, pages of 2, every run once.
    const quick: string[] = [];
    for (let i = 0; i < 5; i++) {
      const r = await call('startRun', { body: { workflow: 'quick' } });
      assert.equal(r.status, 201);
      quick.push(r.body.id);
    }
    const collected: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await call('listRuns', {
        query: { workflow: 'quick', limit: 2, ...(cursor === undefined ? {} : { cursor }) },
      });
      assert.equal(page.status, 200);
      assert.ok(page.body.items.length <= 2);
      collected.push(...page.body.items.map((r: { id: string }) => r.id));
      cursor = page.body.next ?? undefined;
      pages++;
    } while (cursor !== undefined && pages < 10);
    assert.equal(pages, 3);
    assert.equal(new Set(collected).size, collected.length, 'no run twice');
    assert.deepEqual([...collected].sort(), [...quick].sort());
    const everything = await call('listRuns', { query: { limit: 200 } });
    assert.ok(everything.body.items.some((r: { id: string }) => r.id === runId));
    const succeededOnly = await call('listRuns', { query: { workflow: 'deploy', state: ['succeeded'] } });
    assert.deepEqual(
      succeededOnly.body.items.map((r: { id: string }) => r.id),
      [runId],
    );

    // Cancel another run while it waits, then resume it: it waits again, and ends once approved.
    const other = (await call('startRun', { body: { workflow: 'deploy', inputs: { service: 'web' } } })).body.id;
    await until(async () => {
      const a = await call('listApprovals');
      return a.body.items.some((x: { runId: string }) => x.runId === other) ? true : undefined;
    }, 'the second run to wait');
    const cancelled = await call('cancelRun', { params: { id: other } });
    assert.equal(cancelled.status, 202);
    await until(async () => {
      const r = await call('getRun', { params: { id: other } });
      return r.body.state === 'cancelled' ? true : undefined;
    }, 'the cancellation');
    const cancelAgain = await call('cancelRun', { params: { id: other } });
    assert.equal(cancelAgain.status, 409);

    const resumed = await call('resumeRun', { params: { id: other }, body: {} });
    assert.equal(resumed.status, 202);
    assert.equal(resumed.body.id, other);
    await until(async () => {
      const a = await call('listApprovals');
      return a.body.items.some((x: { runId: string }) => x.runId === other) ? true : undefined;
    }, 'the resumed run to wait again');
    assert.equal(
      (await call('decideApproval', { params: { id: other, task: 'gate' }, body: { decision: 'approve' } })).status,
      200,
    );
    const end = await until(async () => {
      const r = await call('getRun', { params: { id: other } });
      return ['succeeded', 'failed', 'cancelled'].includes(r.body.state) ? r.body.state : undefined;
    }, 'the resumed run to end');
    assert.equal(end, 'succeeded');

    // The rest of what an ordinary client reads.
    for (const id of [
      'listWorkflows',
      'listSchedules',
      'listProcesses',
      'whoAmI',
      'listUsers',
      'listTokens',
      'listAudit',
    ]) {
      assert.equal((await call(id)).status, 200, id);
    }
    assert.equal((await call('health')).status, 200);
    assert.equal((await call('ready')).status, 200);
    // Unknown query parameters are refused, not ignored (docs/api.md).
    const unknownParam = await fetch(`${server.url}/v1/runs?status=failed`, {
      headers: { authorization: `Bearer ${server.adminToken}` },
    });
    assert.equal(unknownParam.status, 400);
    assert.equal(((await unknownParam.json()) as { in: string }).in, 'querystring');
    const missing = await call('getRun', { params: { id: 'nosuchrun' } });
    assert.equal(missing.status, 404);
    assert.equal(missing.body.code, 'RV704');

    assert.equal(
      stats.responsesChecked,
      stats.requests - 3,
      'every JSON answer checked (all but source, artifact, 304)',
    );
    console.log(`openapi: ${stats.requests} requests, ${stats.responsesChecked} answers checked against their schema`);
  });
});
