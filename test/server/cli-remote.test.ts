// `rivet run|runs|approve` against a server (RIVET_SERVER, RIVET_TOKEN): the real CLI as a child
// process, a real server on loopback, and the same output and exit codes as the local mode.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { freePort, startTestServer, type TestServer, tempDir, until } from '../helpers/server.ts';
import { RestartableServer } from './restart-helpers.ts';

const BIN = fileURLToPath(new URL('../../bin/rivet.js', import.meta.url));

interface Cli {
  readonly proc: ReturnType<typeof spawn>;
  readonly stdout: () => string;
  readonly stderr: () => string;
  readonly done: Promise<{ code: number | null; stdout: string; stderr: string }>;
}

/** Everything any CLI printed: the token must never be in it. */
const printed: string[] = [];

/** Runs `rivet ARGS` with only the given environment (plus PATH): nothing leaks in from the test's. */
function cli(args: string[], env: Record<string, string | undefined>): Cli {
  const proc = spawn(process.execPath, [BIN, ...args], {
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
    proc.on('close', (code) => {
      printed.push(out, err);
      resolve({ code, stdout: out, stderr: err });
    }),
  );
  return { proc, stdout: () => out, stderr: () => err, done };
}

const WORKFLOWS = {
  'hello.yaml': `name: hello
inputs:
  who: { type: string, default: world }
  times: { type: integer, default: 1, minimum: 1 }
tasks:
  greet:
    shell:
      run: echo "hello $WHO"
      env: { WHO: "\${{ inputs.who }}" }
  count:
    needs: [greet]
    shell:
      run: echo "times=$TIMES"
      env: { TIMES: "\${{ inputs.times }}" }
outputs:
  times: \${{ inputs.times }}
`,
  'broken.yaml': `name: broken
tasks:
  fails:
    shell: { run: 'echo about to fail; exit 3' }
`,
  'gate.yaml': `name: gate
tasks:
  ok:
    approval:
      message: go?
      fields:
        count: { type: integer, default: 0 }
  after:
    needs: [ok]
    shell: { run: echo approved }
outputs:
  decision: \${{ tasks.ok.outputs.decision }}
  count: \${{ tasks.ok.outputs.fields.count }}
`,
  // Waits for a file (named by an input): a test decides when it ends, without timing.
  'wait.yaml': `name: wait
inputs:
  flag: { type: string, required: true }
tasks:
  first:
    shell: { run: echo first }
  hold:
    needs: [first]
    shell:
      run: 'echo holding; while [ ! -f "$FLAG" ]; do sleep 0.05; done; echo released'
      env: { FLAG: "\${{ inputs.flag }}" }
`,
  // A child run per workflow task: shown as parent_task/child_task, as locally.
  'parent.yaml': `name: parent
tasks:
  sub:
    workflow:
      file: hello.yaml
      inputs: { who: child }
`,
  // Fails until a file exists: for resume.
  'flaky.yaml': `name: flaky
inputs:
  flag: { type: string, required: true }
tasks:
  first:
    shell: { run: echo first }
  check:
    needs: [first]
    shell:
      run: 'echo checking; test -f "$FLAG"'
      env: { FLAG: "\${{ inputs.flag }}" }
`,
};

describe('the CLI against a server', () => {
  let server: TestServer;
  let env: Record<string, string>;
  let dir: string;
  const rivet = (args: string[], extra: Record<string, string | undefined> = {}): Cli =>
    cli(args, { ...env, ...extra });

  before(async () => {
    server = await startTestServer({ workflows: WORKFLOWS });
    env = { RIVET_SERVER: server.url, RIVET_TOKEN: server.adminToken };
    dir = tempDir('rivet-cli-remote-');
  });

  after(async () => {
    await server.stop();
    // The token is never printed, by any command (RIVET_TOKEN is not echoed in errors either).
    const secret = server.adminToken.split('.')[1]!;
    for (const text of printed) {
      assert.ok(!text.includes(server.adminToken), 'the token was printed');
      assert.ok(!text.includes(secret), 'the secret part of the token was printed');
    }
  });

  it('runs a workflow by name: exit 0, its tasks and log lines as in the local mode', async () => {
    const r = await rivet(['run', 'hello', '-i', 'who=bob', '-i', 'times=3']).done;
    assert.equal(r.code, 0, r.stderr);
    const id = /^run (\w+) started: hello \(2 tasks\)$/m.exec(r.stdout)?.[1];
    assert.ok(id !== undefined, r.stdout);
    assert.match(r.stdout, /▶ greet started/);
    assert.match(r.stdout, /^greet \| hello bob$/m);
    assert.match(r.stdout, /✓ greet succeeded in/);
    assert.match(r.stdout, /^count \| times=3$/m);
    assert.match(r.stdout, new RegExp(`✓ run ${id} succeeded in`));
    assert.match(r.stdout, /^outputs:\n {2}times: 3$/m);
    // The text was read as the input's declared type (an integer), as locally.
    const run = await server.api('GET', `/v1/runs/${id}`);
    assert.deepEqual(run.body.inputs, { who: 'bob', times: 3 });
    assert.equal(run.body.trigger, 'api');
  });

  it('takes a workflow file for its name:', async () => {
    const r = await rivet(['run', join(server.workflowsDir, 'hello.yaml')]).done;
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /started: hello/);
    assert.match(r.stdout, /^greet \| hello world$/m);
  });

  it('follows child runs: their tasks show as parent_task/child_task', async () => {
    const r = await rivet(['run', 'parent']).done;
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /▶ sub started/);
    assert.match(r.stdout, /▶ sub\/greet started/);
    assert.match(r.stdout, /^sub\/greet \| hello child$/m);
    assert.match(r.stdout, /✓ sub\/count succeeded/);
    assert.match(r.stdout, /✓ sub succeeded/);
  });

  it('a failing run exits 1 with the error', async () => {
    const r = await rivet(['run', 'broken']).done;
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stdout, /^fails \| about to fail$/m);
    assert.match(r.stdout, /✗ fails failed: exit code 3/);
    assert.match(r.stdout, /✗ run \w+ failed in .*: task fails failed: exit code 3/);
  });

  it('bad inputs exit 2 and name the field, as the local mode prints them', async () => {
    const r = await rivet(['run', 'hello', '-i', 'times=abc']).done;
    assert.equal(r.code, 2, r.stdout + r.stderr);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /^hello: error RV601 input "times" expected an integer, got a string \(\/inputs\/times\)$/m);
    const r2 = await rivet(['run', 'hello', '-i', 'times=0', '-i', 'bogus=1']).done;
    assert.equal(r2.code, 2);
    assert.match(r2.stderr, /\(\/inputs\/times\)/);
    assert.match(r2.stderr, /\(\/inputs\/bogus\)/);
    const listed = await server.api('GET', '/v1/runs?state=failed&state=succeeded&state=running&limit=200');
    assert.ok(listed.body.items.every((x: { inputs: { times?: unknown } }) => x.inputs.times !== 'abc'));
  });

  it('an unknown workflow, run or option exits 2 with a clear message', async () => {
    const w = await rivet(['run', 'nope']).done;
    assert.equal(w.code, 2);
    assert.match(w.stderr, /error RV704 no workflow nope on the server at http:\/\/127\.0\.0\.1:\d+/);
    const r = await rivet(['runs', 'show', 'zzzzzzzz']).done;
    assert.equal(r.code, 2);
    assert.match(r.stderr, /error RV602 no run zzzzzzzz/);
    const o = await rivet(['run', 'hello', '--home', dir]).done;
    assert.equal(o.code, 2);
    assert.match(o.stderr, /--home works on the local store only/);
    const f = await rivet(['run', 'hello', '--force', 'nosuch']).done;
    assert.equal(f.code, 2);
    assert.match(f.stderr, /--force nosuch: hello has no task nosuch/);
  });

  it('--json prints the server’s events as NDJSON, exactly', async () => {
    const r = await rivet(['run', 'hello', '--json']).done;
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.equal(lines[0]!.type, 'cli.started');
    assert.deepEqual(lines[0]!.tasks, ['greet', 'count']);
    const id = lines[0]!.run as string;
    assert.deepEqual(lines.at(-1), {
      type: 'cli.finished',
      run: id,
      state: 'succeeded',
      outputs: { times: 1 },
      error: null,
    });
    const events = lines.filter((l) => !String(l.type).startsWith('cli.') && l.type !== 'log' && l.type !== 'note');
    const server_ = await server.api('GET', `/v1/runs/${id}/events`);
    assert.deepEqual(
      events,
      server_.body.items.map((e: Record<string, unknown>) => ({
        type: e.type,
        run: id,
        task: e.task,
        item: e.item,
        attempt: e.attempt,
        at: e.at,
        data: e.data,
      })),
    );
    const logs = lines.filter((l) => l.type === 'log').map((l) => `${l.task}: ${l.line}`);
    assert.deepEqual(logs, ['greet: hello world', 'count: times=1']);
  });

  it('a run waiting for approval: `rivet approve` from another process lets it finish', async () => {
    const run = rivet(['run', 'gate']);
    const id = await until(() => /^run (\w+) started/m.exec(run.stdout())?.[1], 'the run to start');
    await until(async () => {
      const a = await server.api('GET', '/v1/approvals');
      return a.body.items.some((x: { runId: string }) => x.runId === id) ? true : undefined;
    }, 'the approval to wait');
    const approve = await rivet(['approve', id.slice(0, 9), 'ok', '--field', 'count=7', '-m', 'fine']).done;
    assert.equal(approve.code, 0, approve.stderr);
    assert.equal(approve.stdout, `approved ok in run ${id}\n`);
    const r = await run.done;
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /… ok waiting/);
    assert.match(r.stdout, /^ok \| waiting for approval: go\?$/m);
    assert.match(r.stdout, /^after \| approved$/m);
    assert.match(r.stdout, /^ {2}decision: "approve"\n {2}count: 7$/m);
    // Deciding again: the task no longer waits (exit 2, as locally).
    const again = await rivet(['approve', id, 'ok', '--reject']).done;
    assert.equal(again.code, 2);
    assert.match(again.stderr, /error RV604 ok in run \w+ is not waiting for approval \(it is succeeded\)/);
  });

  it('runs list, show and logs give the local layout', async () => {
    const r = await rivet(['run', 'hello', '-i', 'who=list']).done;
    const id = /^run (\w+) started/m.exec(r.stdout)![1]!;
    const list = await rivet(['runs', 'list', '-w', 'hello', '-n', '3']).done;
    assert.equal(list.code, 0, list.stderr);
    const rows = list.stdout.trim().split('\n');
    assert.equal(rows.length, 3);
    assert.match(
      rows[0]!,
      new RegExp(`^${id} {2}succeeded {2}\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d {2}hello {2}\\d+ ms$`),
    );
    const json = await rivet(['runs', 'list', '-s', 'failed', '--json']).done;
    const failed = JSON.parse(json.stdout) as Record<string, unknown>[];
    assert.ok(failed.length >= 1);
    assert.ok(failed.every((x) => x.state === 'failed'));
    assert.deepEqual(Object.keys(failed[0]!), [
      'id',
      'workflow',
      'version',
      'state',
      'trigger',
      'inputs',
      'parent_run',
      'created_at',
      'started_at',
      'finished_at',
      'outputs',
      'error',
    ]);

    const show = await rivet(['runs', 'show', id.slice(0, 10)]).done;
    assert.equal(show.code, 0, show.stderr);
    const lines = show.stdout.split('\n');
    assert.equal(lines[0], `run ${id}  succeeded`);
    assert.match(lines[1]!, /^ {2}workflow {2}hello \(version [0-9a-f]+\)$/);
    assert.equal(lines[2], '  trigger   api');
    assert.match(show.stdout, /^ {2}inputs {4}\{"who":"list","times":1\}$/m);
    assert.match(show.stdout, /^tasks:\n {2}greet {20}succeeded \d+ ms/m);
    assert.match(show.stdout, /^ {2}count {20}succeeded/m);
    assert.match(show.stdout, /^outputs:\n {2}times: 1$/m);
    const showJson = JSON.parse((await rivet(['runs', 'show', id, '--json']).done).stdout) as {
      id: string;
      tasks: { task: string; status: string; startedAt: number }[];
    };
    assert.equal(showJson.id, id);
    assert.deepEqual(
      showJson.tasks.map((t) => `${t.task}=${t.status}`),
      ['greet=succeeded', 'count=succeeded'],
    );
    assert.equal(typeof showJson.tasks[0]!.startedAt, 'number');

    const logs = await rivet(['runs', 'logs', id]).done;
    assert.equal(logs.code, 0);
    assert.equal(logs.stdout, 'greet | hello list\ncount | times=1\n');
    const one = await rivet(['runs', 'logs', id, '-t', 'count', '--json']).done;
    const line = JSON.parse(one.stdout) as Record<string, unknown>;
    assert.equal(line.line, 'times=1');
    assert.equal(line.runId, id);
    assert.equal(typeof line.at, 'number');
  });

  it('runs logs -f follows a run to its end; runs cancel cancels it', async () => {
    const flag = join(dir, 'never');
    const started = await server.api('POST', '/v1/runs', { body: { workflow: 'wait', inputs: { flag } } });
    const id = started.body.id as string;
    const follow = rivet(['runs', 'logs', id, '-f']);
    await until(() => (follow.stdout().includes('hold | holding') ? true : undefined), 'the log line');
    const cancel = await rivet(['runs', 'cancel', id]).done;
    assert.equal(cancel.code, 0, cancel.stderr);
    assert.equal(cancel.stdout, `run ${id} cancelled\n`);
    const f = await follow.done;
    assert.equal(f.code, 0);
    assert.equal(f.stdout, 'first | first\nhold | holding\n');
    assert.equal((await server.api('GET', `/v1/runs/${id}`)).body.state, 'cancelled');
    const again = await rivet(['runs', 'cancel', id]).done;
    assert.equal(again.code, 2);
    assert.match(again.stderr, /error RV604 run \w+ already cancelled/);
  });

  it('Ctrl-C cancels the run through the API and exits 130', async () => {
    const run = rivet(['run', 'wait', '-i', `flag=${join(dir, 'never2')}`]);
    const id = await until(
      () => (run.stdout().includes('hold | holding') ? /^run (\w+) started/m.exec(run.stdout())?.[1] : undefined),
      'the task to run',
    );
    run.proc.kill('SIGINT');
    const r = await run.done;
    assert.equal(r.code, 130, r.stdout + r.stderr);
    assert.match(r.stderr, /cancelling the run/);
    assert.match(r.stdout, /■ hold cancelled/);
    assert.match(r.stdout, new RegExp(`■ run ${id} cancelled in .*: cancelled by admin`));
    assert.equal((await server.api('GET', `/v1/runs/${id}`)).body.state, 'cancelled');
  });

  it('runs resume continues a failed run through the server', async () => {
    const flag = join(dir, 'flaky-flag');
    const first = await rivet(['run', 'flaky', '-i', `flag=${flag}`]).done;
    assert.equal(first.code, 1);
    const id = /^run (\w+) started/m.exec(first.stdout)![1]!;
    writeFileSync(flag, '');
    const r = await rivet(['runs', 'resume', id]).done;
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, new RegExp(`^run ${id} resumed: flaky \\(2 tasks\\)$`, 'm'));
    // Only what the resumption did: the first task is kept, its old lines are not printed again.
    assert.doesNotMatch(r.stdout, /first \| first/);
    assert.match(r.stdout, /▶ check started/);
    assert.match(r.stdout, /✓ check succeeded/);
    assert.match(r.stdout, new RegExp(`✓ run ${id} succeeded`));
  });

  it('without a token, or with a wrong one, exits 2 and names RIVET_TOKEN', async () => {
    const none = await rivet(['runs', 'list'], { RIVET_TOKEN: undefined }).done;
    assert.equal(none.code, 2);
    assert.match(none.stderr, /error RV702 .*API token/);
    assert.match(none.stderr, /RIVET_TOKEN/);
    const wrong = await rivet(['run', 'hello'], { RIVET_TOKEN: `${server.adminToken.slice(0, -3)}AAA` }).done;
    assert.equal(wrong.code, 2);
    assert.match(wrong.stderr, /does not accept the token in RIVET_TOKEN/);
    assert.ok(!wrong.stderr.includes(server.adminToken.slice(0, -3)));
  });

  it('a viewer may list runs but not start one (403 → exit 2)', async () => {
    const viewer = await server.user('vic', 'viewer');
    const list = await rivet(['runs', 'list', '-n', '1'], { RIVET_TOKEN: viewer }).done;
    assert.equal(list.code, 0, list.stderr);
    const r = await rivet(['run', 'hello'], { RIVET_TOKEN: viewer }).done;
    assert.equal(r.code, 2);
    assert.match(r.stderr, /error RV703 vic \(role viewer\) may not run workflow hello/);
  });

  it('a server that is not there: a clear message with the URL, exit 2', async () => {
    const port = await freePort();
    const r = await rivet(['run', 'hello'], { RIVET_SERVER: `http://127.0.0.1:${port}` }).done;
    assert.equal(r.code, 2);
    assert.match(
      r.stderr,
      new RegExp(`error RV710 cannot reach the Rivet server at http://127\\.0\\.0\\.1:${port}: connection refused`),
    );
    const flag = await rivet(['runs', 'list', '--server', `127.0.0.1:${port}`], { RIVET_SERVER: undefined }).done;
    assert.equal(flag.code, 2);
    assert.match(flag.stderr, new RegExp(`http://127\\.0\\.0\\.1:${port}: connection refused`));
  });
});

describe('rivet run --server across a server restart', () => {
  it('reconnects with Last-Event-ID and follows the run to its end', async () => {
    const server = new RestartableServer('cli', { 'wait.yaml': WORKFLOWS['wait.yaml'] });
    try {
      await server.start();
      const flag = server.file('flag.path');
      const released = `${flag}.go`;
      const run = cli(['run', 'wait', '-i', `flag=${released}`], {
        RIVET_SERVER: server.url,
        RIVET_TOKEN: server.token,
      });
      await until(() => (run.stdout().includes('hold | holding') ? true : undefined), 'the task to run');
      await server.kill();
      await server.start();
      // The recovered task runs again (at-least-once) and waits for the flag again.
      await until(
        () => (run.stdout().split('hold | holding').length > 2 ? true : undefined),
        'the task to run again',
        60_000,
      );
      writeFileSync(released, '');
      const r = await run.done;
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.match(r.stderr, /lost the connection to http:\/\/127\.0\.0\.1:\d+; reconnecting/);
      assert.match(r.stderr, /reconnected to/);
      assert.match(r.stdout, /hold was running when the engine stopped; it runs again/);
      assert.match(r.stdout, /^hold \| released$/m);
      assert.match(r.stdout, /✓ run \w+ succeeded/);
      // Every event once: the first task started once, and its line was printed once.
      assert.equal(r.stdout.split('▶ first started').length, 2);
      assert.equal(r.stdout.split('first | first').length, 2);
      assert.ok(existsSync(released));
    } finally {
      await server.stop().catch(() => undefined);
      server.cleanup();
    }
  });
});
