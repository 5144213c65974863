// Every example workflow runs as written: the fake platform API of examples/platform-api on a
// free port, the real `rivet run --json` in a temporary store, approvals from a second process
// with the real `rivet approve`, and the requests the platform saw checked against each story.
// (examples/dev_server.yaml is a process, not a run: it is checked by starting its command.)
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { RecordedRequest } from '../examples/platform-api/server.ts';

const repo = fileURLToPath(new URL('../', import.meta.url));
const SECRETS = 'examples/config/secrets.example.yml';

interface CliEvent {
  readonly type: string;
  readonly run?: string;
  readonly task?: string | null;
  readonly item?: number | null;
  readonly line?: string;
  readonly state?: string;
  readonly outputs?: Record<string, unknown> | null;
  readonly error?: string | null;
  readonly data?: Record<string, unknown> | null;
}

interface RunResult {
  readonly code: number;
  readonly runId: string;
  readonly events: readonly CliEvent[];
  readonly state: string | undefined;
  readonly outputs: Record<string, unknown> | null;
  readonly error: string | null;
  readonly stderr: string;
  /** Task (or task[item]) → its last state in this run's events. */
  readonly tasks: Readonly<Record<string, string>>;
  readonly logs: string;
}

let server: ChildProcess;
let api = '';
let tmp = '';
let varsFile = '';
let homes = 0;

const exited = (child: ChildProcess): Promise<number> =>
  new Promise((done) => child.once('close', (code) => done(code ?? -1)));

function rivet(args: readonly string[]): ChildProcess {
  return spawn(process.execPath, ['bin/rivet.js', ...args], {
    cwd: repo,
    env: { ...process.env, NO_COLOR: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** A fresh store folder. */
const newHome = (): string => join(tmp, `home-${++homes}`);

/**
 * `rivet run FILE --json` with the examples' vars (pointing at our server) and fake secrets. When
 * `approve` names a task, `rivet approve RUN TASK ...args` decides it once it waits.
 */
async function run(
  file: string,
  args: readonly string[],
  opts: { home?: string; approve?: { task: string; args: readonly string[] } } = {},
): Promise<RunResult> {
  const child = rivet([
    'run',
    file,
    '--json',
    '--home',
    opts.home ?? newHome(),
    '--vars-file',
    varsFile,
    '--secrets-file',
    SECRETS,
    ...args,
  ]);
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const events: CliEvent[] = [];
  let approval: Promise<number> | undefined;
  for await (const line of createInterface({ input: child.stdout! })) {
    const e = JSON.parse(line) as CliEvent;
    events.push(e);
    if (opts.approve !== undefined && e.type === 'task.waiting' && e.task === opts.approve.task) {
      const approve = rivet(['approve', e.run!, opts.approve.task, '--home', opts.home!, ...opts.approve.args]);
      approval = exited(approve);
    }
  }
  const code = await exited(child);
  if (opts.approve !== undefined) assert.equal(await approval, 0, `rivet approve did not run or failed: ${stderr}`);
  const finished = events.find((e) => e.type === 'cli.finished');
  const tasks: Record<string, string> = {};
  for (const e of events) {
    if (!e.type.startsWith('task.') || e.task === null || e.task === undefined) continue;
    if (['task.checkpoint', 'task.expanded'].includes(e.type)) continue;
    tasks[e.item === null || e.item === undefined ? e.task : `${e.task}[${e.item}]`] = e.type.slice(5);
  }
  return {
    code,
    runId: events.find((e) => e.type === 'cli.started')?.run ?? '',
    events,
    state: finished?.state,
    outputs: finished?.outputs ?? null,
    error: finished?.error ?? null,
    stderr,
    tasks,
    logs: events
      .filter((e) => e.type === 'log')
      .map((e) => e.line)
      .join('\n'),
  };
}

async function requests(filter: (r: RecordedRequest) => boolean = () => true): Promise<RecordedRequest[]> {
  const body = (await (await fetch(`${api}/_requests`)).json()) as { requests: RecordedRequest[] };
  return body.requests.filter(filter);
}

const body = (r: RecordedRequest): Record<string, unknown> => r.body as Record<string, unknown>;

before(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'rivet-examples-'));
  server = spawn(process.execPath, ['examples/platform-api/server.ts', '--port', '0', '--quiet'], {
    cwd: repo,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  for await (const line of createInterface({ input: server.stdout! })) {
    const m = /listening on (http:\/\/\S+)/.exec(line);
    if (m !== null) {
      api = m[1]!;
      break;
    }
  }
  assert.match(api, /^http:\/\/127\.0\.0\.1:\d+$/);
  varsFile = join(tmp, 'vars.yml');
  writeFileSync(
    varsFile,
    readFileSync(join(repo, 'examples/config/vars.yml'), 'utf8').replaceAll('http://127.0.0.1:8787', api),
  );
});

after(() => {
  server?.kill();
  if (tmp !== '') rmSync(tmp, { recursive: true, force: true });
});

/** The example files these tests run; a new example must be added here. */
const RUN_HERE = [
  'canary_release.yaml',
  'etl_daily.yaml',
  'provision_bucket.yaml',
  'release_on_message.yaml',
  'reset_sandbox.yaml',
  'team_chores.yaml',
];

test('every example workflow but the dev_server process is run by this file', () => {
  const files = readdirSync(join(repo, 'examples')).filter((f) => f.endsWith('.yaml'));
  assert.deepEqual(files.filter((f) => f !== 'dev_server.yaml').sort(), RUN_HERE);
});

describe('the examples run end to end against examples/platform-api', { concurrency: true, timeout: 60_000 }, () => {
  test('provision_bucket: approved, creates the bucket once, configures it and resolves the ticket', async () => {
    const home = newHome();
    const inputs = ['--input', 'team=payments', '--input', 'bucket=t-invoices', '--input', 'ticket=PAY-101'];
    const approve = { task: 'approve', args: ['--field', 'quota_gb=200', '--comment', 'ok'] };
    const r = await run('examples/provision_bucket.yaml', inputs, { home, approve });
    assert.equal(r.code, 0, r.stderr + r.error);
    assert.equal(r.outputs?.state, 'ready');
    assert.match(String(r.outputs?.bucket_id), /^bkt-\d+$/);
    assert.equal(r.tasks.ticket_declined, 'skipped');
    assert.equal(r.tasks.hand_over, 'skipped');
    assert.equal(r.tasks.page_oncall, 'skipped');

    const bucketPath = `/platform/buckets/${String(r.outputs?.bucket_id)}`;
    const mine = await requests(
      (q) => q.path.includes('PAY-101') || q.path === bucketPath || JSON.stringify(q).includes('t-invoices'),
    );
    const creates = mine.filter((q) => q.method === 'POST' && q.path === '/platform/buckets');
    assert.deepEqual(
      creates.map((q) => [q.status, q.bearer, q.idempotency_key]),
      [[201, true, `${r.runId}/create`]],
    );
    const patch = mine.find((q) => q.method === 'PATCH')!;
    assert.deepEqual(body(patch), {
      quota_gb: 200,
      retention_days: 30,
      labels: { team: 'payments', cost_center: 'CC-4100' },
    });
    const transitions = mine.filter((q) => q.path === '/jira/rest/api/2/issue/PAY-101/transitions');
    assert.deepEqual(
      transitions.map((q) => [(body(q).transition as { id: string }).id, q.status]),
      [
        ['21', 204],
        ['31', 204],
      ],
    );

    // The same request again: the POST answers 409 (it exists), the run still succeeds, and
    // there is still one bucket of that name.
    const again = await run('examples/provision_bucket.yaml', inputs, { home, approve });
    assert.equal(again.code, 0, again.stderr + again.error);
    assert.equal(again.outputs?.bucket_id, r.outputs?.bucket_id);
    const list = (await (
      await fetch(`${api}/platform/buckets?name=t-invoices`, { headers: { authorization: 'Bearer test' } })
    ).json()) as { items: unknown[] };
    assert.equal(list.items.length, 1);
    const statuses = (await requests((q) => q.path === '/platform/buckets' && body(q)?.name === 't-invoices')).map(
      (q) => q.status,
    );
    assert.deepEqual(statuses, [201, 409]);
  });

  test('provision_bucket: a quota above 1000 GB leaves the bucket in review and comments on the ticket', async () => {
    const home = newHome();
    const inputs = ['--input', 'team=search', '--input', 'bucket=t-search-index', '--input', 'ticket=PAY-102'];
    const r = await run('examples/provision_bucket.yaml', inputs, {
      home,
      approve: { task: 'approve', args: ['--field', 'quota_gb=5000'] },
    });
    assert.equal(r.code, 0, r.stderr + r.error);
    assert.equal(r.outputs?.state, 'quota_review');
    assert.equal(r.tasks.ticket_resolved, 'skipped');
    assert.equal(r.tasks.hand_over, 'succeeded');
    const comments = await requests((q) => q.path === '/jira/rest/api/2/issue/PAY-102/comment');
    assert.equal(comments.length, 1);
    assert.match(String(body(comments[0]!).body), /t-search-index was created but reports state\s+"quota_review"/);
  });

  test('provision_bucket: rejected, no bucket is created and the ticket is declined with the comment', async () => {
    const home = newHome();
    const inputs = ['--input', 'team=data', '--input', 'bucket=t-rejected', '--input', 'ticket=PAY-103'];
    const r = await run('examples/provision_bucket.yaml', inputs, {
      home,
      approve: { task: 'approve', args: ['--reject', '--comment', 'use the shared bucket', '--as', 'alice'] },
    });
    assert.equal(r.code, 0, r.stderr + r.error);
    assert.deepEqual(r.outputs, { bucket_id: null, state: null });
    for (const t of ['create', 'find_bucket', 'configure', 'ticket_resolved', 'hand_over'])
      assert.equal(r.tasks[t], 'skipped', t);
    assert.equal((await requests((q) => body(q)?.name === 't-rejected')).length, 0);
    const declined = (await requests((q) => q.path === '/jira/rest/api/2/issue/PAY-103/transitions')).at(-1)!;
    assert.deepEqual(body(declined), {
      transition: { id: '41' },
      update: { comment: [{ add: { body: 'Declined by alice: use the shared bucket' } }] },
    });
  });

  test('team_chores to the sandbox: build, tests, deploy (polled), smoke test, sandbox reset, chat', async () => {
    const r = await run('examples/team_chores.yaml', ['--input', 'environment=sandbox', '--input', 'ref=main']);
    assert.equal(r.code, 0, r.stderr + r.error);
    assert.match(String(r.outputs?.image), /^registry\.example\.internal\/checkout:[0-9a-f]{7}$/);
    assert.equal(r.outputs?.url, `${api}/apps/checkout-sandbox`);
    for (const t of ['build', 'tests[0]', 'tests[1]', 'tests[2]', 'deploy', 'smoke_test', 'reset_sandbox', 'notify'])
      assert.equal(r.tasks[t], 'succeeded', t);
    // The child run's tasks show as reset_sandbox/<task>.
    for (const t of ['scale_down', 'recreate_db', 'load_fixtures', 'scale_up'])
      assert.equal(r.tasks[`reset_sandbox/${t}`], 'succeeded', t);
    assert.match(r.logs, /412 passed/);
    const deploy = (await requests((q) => q.path === '/deploy/services/checkout/deployments')).find(
      (q) => body(q).environment === 'sandbox',
    )!;
    assert.deepEqual(body(deploy), {
      environment: 'sandbox',
      image: r.outputs?.image,
      replicas: 2,
      triggered_by: 'cli',
    });
    const polls = await requests(
      (q) => q.method === 'GET' && q.path.startsWith('/deploy/services/checkout/deployments/'),
    );
    assert.ok(polls.length >= 2, 'the deployment is polled until it succeeds');
    const chat = await requests((q) => q.path === '/chat/hooks/releases' && String(body(q).text).includes(r.runId));
    assert.equal(body(chat[0]!).text, `checkout main → sandbox: succeeded (run ${r.runId})`);
  });

  test('team_chores to staging: no sandbox reset', async () => {
    const r = await run('examples/team_chores.yaml', ['--input', 'environment=staging', '--input', 'ref=v1.4.2']);
    assert.equal(r.code, 0, r.stderr + r.error);
    assert.equal(r.outputs?.url, `${api}/apps/checkout-staging`);
    assert.equal(r.tasks.reset_sandbox, 'skipped');
    assert.equal(r.tasks.notify, 'succeeded');
  });

  test('etl_daily: loads a day; the same day again is all cached; --force load reloads', async () => {
    const home = newHome();
    const inputs = ['--input', 'date=2025-11-21'];
    const first = await run('examples/etl_daily.yaml', inputs, { home });
    assert.equal(first.code, 0, first.stderr + first.error);
    const rows = first.outputs?.rows_loaded;
    assert.ok(typeof rows === 'number' && rows > 100, `rows_loaded: ${String(rows)}`);
    assert.equal(first.tasks.report_failure, 'skipped');
    // The source database URL is a secret: masked in the logs.
    assert.match(first.logs, /extracted \d+ rows of orders for 2025-11-20 from \*\*\*/);
    assert.doesNotMatch(first.logs, /fake-db-password/);
    const loads = () => requests((q) => q.path === '/warehouse/tables/daily_facts/partitions');
    assert.deepEqual(
      (await loads()).map((q) => body(q)),
      [{ partition: '2025-11-21', source: 's3://example-lake/facts/day=2025-11-21/', mode: 'replace' }],
    );

    const second = await run('examples/etl_daily.yaml', inputs, { home });
    assert.equal(second.code, 0, second.stderr + second.error);
    assert.equal(second.outputs?.rows_loaded, rows);
    assert.equal(second.events.filter((e) => e.type === 'task.started').length, 0, 'nothing runs again');
    const succeeded = second.events.filter((e) => e.type === 'task.succeeded');
    assert.equal(succeeded.length, 8); // 3 extracts, transform, 3 checks, load
    for (const e of succeeded) assert.deepEqual((e.data?.cached as { run: string }).run, first.runId);
    assert.equal((await loads()).length, 1);

    const forced = await run('examples/etl_daily.yaml', [...inputs, '--force', 'load'], { home });
    assert.equal(forced.code, 0, forced.stderr + forced.error);
    assert.deepEqual(
      forced.events.filter((e) => e.type === 'task.started').map((e) => e.task),
      ['load'],
    );
    assert.equal((await loads()).length, 2);
  });

  test('release_on_message: checks every build in Koji, gates, comments on Bodhi', async () => {
    const builds = '["python-requests-2.32.5-1.fc43","python-urllib3-2.5.0-1.fc43"]';
    const update = 'FEDORA-2025-1a2b3c4d5e';
    const r = await run('examples/release_on_message.yaml', [
      ...['--input', `update=${update}`, '--input', 'release=F43', '--input', `builds=${builds}`],
    ]);
    assert.equal(r.code, 0, r.stderr + r.error);
    assert.deepEqual(r.outputs, { checked: JSON.parse(builds), gate: 'passed' });
    assert.match(r.logs, /PLAY RECAP/);
    assert.equal(r.tasks.comment_failed, 'skipped');
    const comment = (await requests((q) => q.path === '/bodhi/comments' && String(body(q).text).includes(r.runId)))[0]!;
    assert.deepEqual(body(comment), {
      update,
      text: `Gating passed for 2 build(s) (Rivet run ${r.runId}).`,
      karma: 0,
    });
    assert.equal(comment.status, 201);

    const dry = await run('examples/release_on_message.yaml', [
      ...['--input', 'update=FEDORA-2025-0000000001', '--input', 'release=F43', '--input', `builds=${builds}`],
      ...['--input', 'dry_run=true'],
    ]);
    assert.equal(dry.code, 0, dry.stderr + dry.error);
    assert.equal(dry.tasks.comment_passed, 'skipped');
    assert.match(dry.logs, /check mode/);
  });

  test('canary_release: healthy golden signals promote the canary', async () => {
    const r = await run('examples/canary_release.yaml', [
      ...['--input', 'service=checkout', '--input', 'version=v2.14.0', '--input', 'bake=1s'],
    ]);
    assert.equal(r.code, 0, r.stderr + r.error);
    assert.deepEqual(r.outputs, { promoted: true, p99_seconds: 0.182 });
    assert.equal(r.tasks.rollback, 'skipped');
    const mine = await requests(
      (q) => q.path.startsWith('/deploy/services/checkout/canaries') || q.path === '/mesh/routes/checkout',
    );
    assert.deepEqual(
      mine.filter((q) => q.method !== 'GET').map((q) => `${q.method} ${q.path.replace(/can-\d+/, 'ID')}`),
      [
        'POST /deploy/services/checkout/canaries',
        'PATCH /mesh/routes/checkout',
        'POST /deploy/services/checkout/canaries/ID/promote',
      ],
    );
    assert.deepEqual(body(mine.find((q) => q.method === 'PATCH')!), { weights: { stable: 90, canary: 10 } });
    assert.ok(mine.filter((q) => q.method === 'GET').length >= 2, 'the canary is polled until ready');
    const announce = await requests((q) => String(body(q)?.text).startsWith('checkout v2.14.0:'));
    assert.equal(body(announce[0]!).text, 'checkout v2.14.0: promoted to 100% (p99 0.182s at 42.5 req/s)');
  });

  test('canary_release: a slow canary is rolled back by itself', async () => {
    await fetch(`${api}/_control/golden-signals`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ service: 'search', p99_seconds: 0.9 }),
    });
    const r = await run('examples/canary_release.yaml', [
      ...['--input', 'service=search', '--input', 'version=v3.0.1', '--input', 'bake=1s'],
    ]);
    assert.equal(r.code, 1, 'the run fails: a check failed');
    assert.match(String(r.error), /task latency failed: assert\[1\] does not hold/);
    assert.equal(r.outputs?.promoted, false);
    assert.equal(r.tasks.promote, 'skipped');
    for (const t of ['rollback', 'remove_canary', 'announce']) assert.equal(r.tasks[t], 'succeeded', t);
    const mesh = await requests((q) => q.path === '/mesh/routes/search');
    assert.deepEqual(body(mesh.at(-1)!), { weights: { stable: 100, canary: 0 } });
    assert.equal(
      (await requests((q) => q.method === 'DELETE' && q.path.startsWith('/deploy/services/search/'))).length,
      1,
    );
    const announce = await requests((q) => String(body(q)?.text).startsWith('search v3.0.1:'));
    assert.match(String(body(announce[0]!).text), /^search v3\.0\.1: rolled back/);
  });

  test('reset_sandbox on its own, without fixtures', async () => {
    const r = await run('examples/reset_sandbox.yaml', ['--input', 'sandbox=payments', '--input', 'seed=false']);
    assert.equal(r.code, 0, r.stderr + r.error);
    assert.deepEqual(r.outputs, { database: 'payments', seeded: false });
    assert.equal(r.tasks.load_fixtures, 'skipped');
    assert.equal(r.tasks.scale_up, 'succeeded');
    assert.match(r.logs, /namespace sandbox-payments to 0 replica/);
    assert.doesNotMatch(r.logs, /fake-sandbox-db-password/);
  });

  test('the quick start (npm run example) runs the bucket story end to end', async () => {
    const child = spawn(process.execPath, ['examples/quickstart.ts'], {
      cwd: repo,
      env: { ...process.env, RIVET_HOME: newHome(), NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    assert.equal(await exited(child), 0, out);
    assert.match(out, /approved approve in run/);
    assert.match(out, /✓ run \S+ succeeded/);
    assert.match(out, /state: "ready"/);
    assert.match(out, /Ticket PAY-1234 is now Resolved\./);
  });

  test('the dev_server process command starts and answers /healthz', async () => {
    const child = spawn(process.execPath, ['dev-server.mjs'], {
      cwd: join(repo, 'examples/services/checkout'),
      env: { ...process.env, PORT: '0', LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    try {
      let url = '';
      for await (const line of createInterface({ input: child.stdout! })) {
        url = /dev server on (http:\/\/\S+)/.exec(line)?.[1] ?? '';
        if (url !== '') break;
      }
      const res = await fetch(`${url}/healthz`);
      assert.equal(res.status, 200);
      assert.deepEqual(await res.json(), { status: 'ok' });
    } finally {
      child.kill('SIGINT');
      assert.equal(await exited(child), 0);
    }
  });

  test('the platform API honours Idempotency-Key: same key, same answer, one bucket', async () => {
    const create = () =>
      fetch(`${api}/platform/buckets`, {
        method: 'POST',
        headers: { authorization: 'Bearer t', 'content-type': 'application/json', 'idempotency-key': 'run-1/create' },
        body: JSON.stringify({ name: 't-idempotent', team_id: 'team-0101' }),
      });
    const a = await create();
    const b = await create();
    assert.equal(a.status, 201);
    assert.equal(b.status, 201);
    assert.equal(b.headers.get('idempotent-replayed'), 'true');
    assert.deepEqual(await b.json(), await a.json());
    const noToken = await fetch(`${api}/platform/teams?name=payments`);
    assert.equal(noToken.status, 401);
    const recorded = await requests((q) => body(q)?.name === 't-idempotent');
    assert.deepEqual(
      recorded.map((q) => q.replayed),
      [false, true],
    );
  });
});
