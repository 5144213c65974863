/**
 * Tests of the process supervisor with real child processes and a real SQLite store: readiness by
 * log line, TCP and HTTP, stop escalation to SIGKILL, restart policies and their limits, the log
 * ring and live stream, secret redaction, shutdown, and recovery after a server killed with -9.
 * Nothing asserts durations: tests wait on conditions with a bounded poll.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Redactor } from '../engine/redact.ts';
import { groupAlive, killGroup } from '../kinds/process-group.ts';
import { SqliteStore } from '../store/sqlite/sqlite-store.ts';
import { LogRing } from './log-ring.ts';
import { parseTcpTarget } from './readiness.ts';
import { afterExit, MAX_RESTART_DELAY_MS, restartDelay, resolveProcess, type ProcessSpec } from './spec.ts';
import { type ProcessInfo, type ProcessStatus, Supervisor } from './supervisor.ts';

const NODE = process.execPath;
const BASE_ENV = { PATH: process.env.PATH ?? '/usr/bin:/bin' };
/** Keeps a node child alive until it is signalled. */
const IDLE = 'setInterval(() => {}, 1000);';

let scratch = '';
let store: SqliteStore;
let file = '';

before(() => {
  scratch = realpathSync(mkdtempSync(join(tmpdir(), 'rivet-supervisor-test-')));
  store = new SqliteStore(join(scratch, 'rivet.db'));
  file = join(scratch, 'procs', 'web.yaml');
  mkdirSync(join(scratch, 'procs', 'sub'), { recursive: true });
});
after(async () => {
  await store.close();
  rmSync(scratch, { recursive: true, force: true });
});

/** Polls `cond` until it holds; fails after `timeoutMs` with `what` (a bound, not a timing claim). */
async function until(cond: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function node(script: string): string[] {
  return [NODE, '-e', script];
}

interface Fixture {
  readonly sup: Supervisor;
  define(name: string, spec: ProcessSpec, version?: string): void;
  status(name: string): ProcessStatus | undefined;
  info(name: string): ProcessInfo;
  stdout(name: string): string[];
}

/** Runs `body` with a fresh supervisor and always stops every process afterwards. */
async function withSupervisor(
  body: (fx: Fixture) => Promise<void>,
  options: { redact?: (s: string) => string; logLines?: number } = {},
): Promise<void> {
  const sup = new Supervisor({ data: store.serverData(), env: BASE_ENV, ...options });
  // Every group ever started, to prove that none outlives the test.
  const pids = new Set<number>();
  const fx: Fixture = {
    sup,
    define: (name, spec, version = 'v1') => {
      sup.define(name, { file, version, spec });
      sup.subscribe(name, { status: (i) => void (i.pid !== null && pids.add(i.pid)) });
    },
    status: (name) => sup.get(name)?.status,
    info: (name) => sup.get(name)!,
    stdout: (name) =>
      sup
        .logs(name)
        .filter((l) => l.stream === 'stdout')
        .map((l) => l.line),
  };
  try {
    await body(fx);
  } finally {
    await sup.stopAll();
    for (const pid of pids) assert.equal(groupAlive(pid), false, `group ${pid} left alive`);
  }
}

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, 'close');
  return port;
}

describe('readiness', () => {
  it('waits for a log line, then stops the group', async () => {
    await withSupervisor(async (fx) => {
      fx.define('web', {
        command: node(`console.log('booting'); setTimeout(() => console.log('listening on 1234'), 100); ${IDLE}`),
        ready: { log: 'listening on \\d+' },
      });
      const started = await fx.sup.start('web');
      assert.ok(['starting', 'ready'].includes(started.status));
      assert.equal(started.desired, 'running');
      const pgid = started.pid!;
      assert.ok(pgid > 1);
      assert.equal(store.serverData().getProcess('web')?.pgid, pgid);
      const ready = await fx.sup.waitReady('web', 10_000);
      assert.equal(ready.status, 'ready');
      assert.ok(ready.readyAt !== null && ready.readyAt >= ready.startedAt!);
      assert.deepEqual(fx.stdout('web'), ['booting', 'listening on 1234']);

      const again = await fx.sup.start('web');
      assert.equal(again.pid, pgid, 'starting a running process changes nothing');

      const stopped = await fx.sup.stop('web');
      assert.equal(stopped.status, 'stopped');
      assert.equal(stopped.pid, null);
      assert.equal(stopped.desired, 'stopped');
      assert.equal(groupAlive(pgid), false);
      assert.deepEqual(store.serverData().getProcess('web'), {
        name: 'web',
        desired: 'stopped',
        pgid: null,
        pidStart: null,
      });
    });
  });

  it('waits for a TCP port (host:port and a bare port)', async () => {
    await withSupervisor(async (fx) => {
      const [a, b] = [await freePort(), await freePort()];
      const listen = (port: number): string =>
        `setTimeout(() => require('node:net').createServer((s) => s.end()).listen(${port}, '127.0.0.1'), 150);`;
      fx.define('a', { command: node(listen(a)), ready: { tcp: `127.0.0.1:${a}`, timeout: '10s' } });
      fx.define('b', { command: node(listen(b)), ready: { tcp: b, timeout: '10s' } });
      await Promise.all([fx.sup.start('a'), fx.sup.start('b')]);
      assert.equal((await fx.sup.waitReady('a', 10_000)).status, 'ready');
      assert.equal((await fx.sup.waitReady('b', 10_000)).status, 'ready');
    });
  });

  it('waits for an HTTP 2xx answer', async () => {
    await withSupervisor(async (fx) => {
      const port = await freePort();
      // Answers 503 twice, then 200: the probe must keep polling through the failures.
      const server = `let n = 0; require('node:http').createServer((req, res) => {
        res.statusCode = ++n > 2 ? 200 : 503; res.end(String(n)); }).listen(${port}, '127.0.0.1');`;
      fx.define('api', { command: node(server), ready: { http: `http://127.0.0.1:${port}/health` } });
      await fx.sup.start('api');
      const info = await fx.sup.waitReady('api', 10_000);
      assert.equal(info.status, 'ready');
    });
  });

  it('fails a process that is not ready in time and kills its group', async () => {
    await withSupervisor(async (fx) => {
      fx.define('slow', { run: 'sleep 1000 & wait', ready: { log: 'never printed', timeout: '300ms' } });
      const { pid } = await fx.sup.start('slow');
      await assert.rejects(fx.sup.waitReady('slow', 10_000), /not ready after 300 ms/);
      const info = fx.info('slow');
      assert.equal(info.status, 'failed');
      assert.match(info.lastError ?? '', /not ready after 300 ms/);
      assert.equal(groupAlive(pid!), false);
    });
  });

  it('reports a process without a probe as running', async () => {
    await withSupervisor(async (fx) => {
      fx.define('plain', { command: node(IDLE) });
      assert.equal((await fx.sup.start('plain')).status, 'running');
      assert.equal((await fx.sup.waitReady('plain', 1000)).readyAt, null);
    });
  });
});

describe('stopping', () => {
  it('escalates to SIGKILL when the process ignores the stop signal', async () => {
    await withSupervisor(async (fx) => {
      fx.define('stubborn', {
        command: node(`process.on('SIGTERM', () => console.log('ignoring SIGTERM')); console.log('up'); ${IDLE}`),
        ready: { log: '^up$' },
        stop: { grace: '300ms' },
      });
      const { pid } = await fx.sup.start('stubborn');
      await fx.sup.waitReady('stubborn', 10_000);
      const stopped = await fx.sup.stop('stubborn');
      assert.equal(stopped.status, 'stopped');
      assert.equal(stopped.signal, 'SIGKILL');
      assert.equal(groupAlive(pid!), false);
      const notes = fx.sup.logs('stubborn').filter((l) => l.stream === 'info');
      assert.ok(notes.some((l) => l.line === 'stopping with SIGTERM'));
      assert.ok(notes.some((l) => l.line.includes('SIGKILL')));
    });
  });

  it('uses the configured stop signal', async () => {
    await withSupervisor(async (fx) => {
      fx.define('int', {
        command: node(
          `process.on('SIGINT', () => { console.log('got SIGINT'); process.exit(0); }); console.log('up'); ${IDLE}`,
        ),
        ready: { log: 'up' },
        stop: { signal: 'SIGINT' },
      });
      await fx.sup.start('int');
      await fx.sup.waitReady('int', 10_000);
      const stopped = await fx.sup.stop('int');
      assert.equal(stopped.exitCode, 0);
      assert.ok(fx.stdout('int').includes('got SIGINT'));
    });
  });

  it('stopAll stops everything, background children included, and keeps desired states', async () => {
    await withSupervisor(async (fx) => {
      fx.define('one', { command: node(IDLE) });
      fx.define('two', { run: 'sleep 1000 & sleep 1000 & wait' });
      fx.define('three', {
        command: node(`process.on('SIGTERM', () => {}); console.log('up'); ${IDLE}`),
        ready: { log: 'up' },
        stop: { grace: '200ms' },
      });
      const pids = (await Promise.all(['one', 'two', 'three'].map((n) => fx.sup.start(n)))).map((i) => i.pid!);
      await fx.sup.waitReady('three', 10_000);
      await fx.sup.stopAll();
      for (const pid of pids) assert.equal(groupAlive(pid), false);
      for (const info of fx.sup.list()) {
        assert.equal(info.status, 'stopped');
        assert.equal(info.desired, 'running');
        assert.equal(store.serverData().getProcess(info.name)?.desired, 'running');
      }
    });
  });

  it('remove stops the process and forgets it', async () => {
    await withSupervisor(async (fx) => {
      fx.define('gone', { command: node(IDLE) });
      const { pid } = await fx.sup.start('gone');
      await fx.sup.remove('gone');
      assert.equal(fx.sup.has('gone'), false);
      assert.equal(fx.sup.get('gone'), undefined);
      assert.equal(groupAlive(pid!), false);
      assert.equal(store.serverData().getProcess('gone')?.desired, 'stopped');
      await assert.rejects(fx.sup.start('gone'), /unknown process "gone"/);
    });
  });
});

describe('restart policies', () => {
  it('on_failure restarts a crashing process until max_restarts, then fails', async () => {
    await withSupervisor(async (fx) => {
      fx.define('crash', {
        command: node(`console.log('run'); process.exit(1)`),
        restart: { policy: 'on_failure', max_restarts: 2, delay: '20ms' },
      });
      const seen: number[] = [];
      fx.sup.subscribe('crash', { status: (i) => void seen.push(i.restarts) });
      await fx.sup.start('crash');
      await until(() => fx.status('crash') === 'failed', 'the process to give up');
      const info = fx.info('crash');
      assert.equal(info.restarts, 2);
      assert.equal(info.exitCode, 1);
      assert.match(info.lastError ?? '', /exited with code 1; gave up after 2 restarts/);
      assert.deepEqual(fx.stdout('crash'), ['run', 'run', 'run']);
      assert.deepEqual([...new Set(seen)], [0, 1, 2], 'the counter grows by one per restart');
      assert.equal(info.desired, 'running', 'giving up does not change what was asked for');
    });
  });

  it('on_failure restarts after a signal but not after exit 0', async () => {
    await withSupervisor(async (fx) => {
      fx.define('ok', { command: node('0'), restart: { policy: 'on_failure', delay: '20ms' } });
      await fx.sup.start('ok');
      await until(() => fx.status('ok') === 'exited', 'a clean exit');
      assert.equal(fx.info('ok').restarts, 0);

      fx.define('killed', {
        command: node(`console.log('up'); ${IDLE}`),
        ready: { log: 'up' },
        restart: { policy: 'on_failure', delay: '20ms' },
      });
      const first = await fx.sup.start('killed');
      await fx.sup.waitReady('killed', 10_000);
      killGroup(first.pid!, 'SIGKILL');
      await until(() => fx.info('killed').restarts === 1 && fx.status('killed') === 'ready', 'a restart');
      assert.notEqual(fx.info('killed').pid, first.pid);
      assert.equal(fx.info('killed').lastError, 'killed by SIGKILL');
    });
  });

  it('always restarts after exit 0, and a stop cancels the pending restart', async () => {
    await withSupervisor(async (fx) => {
      fx.define('loop', { command: node(`console.log('pass')`), restart: { policy: 'always', delay: '20ms' } });
      await fx.sup.start('loop');
      await until(() => fx.info('loop').restarts >= 2, 'two restarts');
      const stopped = await fx.sup.stop('loop');
      assert.equal(stopped.status, 'stopped');
      const count = stopped.restarts;
      const lines = fx.sup.logs('loop').length;
      // Another process started and ended afterwards proves time passed without a restart of loop.
      fx.define('tick', { command: node('0') });
      await fx.sup.start('tick');
      await until(() => fx.status('tick') === 'exited', 'tick to end');
      assert.equal(fx.info('loop').restarts, count);
      assert.equal(fx.sup.logs('loop').length, lines);
    });
  });

  it('never leaves an ended process ended', async () => {
    await withSupervisor(async (fx) => {
      fx.define('zero', { command: node('0'), restart: { policy: 'never' } });
      fx.define('three', { run: 'echo bad >&2; exit 3' });
      await Promise.all([fx.sup.start('zero'), fx.sup.start('three')]);
      await until(() => fx.status('zero') === 'exited' && fx.status('three') === 'failed', 'both to end');
      assert.equal(fx.info('zero').restarts, 0);
      assert.equal(fx.info('zero').lastError, null);
      const three = fx.info('three');
      assert.equal(three.exitCode, 3);
      assert.equal(three.restarts, 0);
      assert.equal(three.lastError, 'exited with code 3');
      assert.deepEqual(
        fx.sup
          .logs('three')
          .filter((l) => l.stream === 'stderr')
          .map((l) => l.line),
        ['bad'],
      );
    });
  });

  it('fails a command that cannot start, with a clear error', async () => {
    await withSupervisor(async (fx) => {
      fx.define('missing', { command: ['/nonexistent/rivet-test-binary'] });
      const info = await fx.sup.start('missing');
      assert.equal(info.status, 'failed');
      assert.equal(info.lastError, 'command not found: /nonexistent/rivet-test-binary');
      fx.define('nofolder', { command: node('0'), cwd: 'no-such-folder' });
      assert.match((await fx.sup.start('nofolder')).lastError ?? '', /^folder not found: /);
    });
  });
});

describe('definitions, environment and logs', () => {
  it('runs in cwd relative to the file, with env values as text', async () => {
    await withSupervisor(async (fx) => {
      fx.define('env', { run: 'pwd; echo "$N $B $S"', cwd: 'sub', env: { N: 5, B: true, S: 'text' } });
      await fx.sup.start('env');
      await until(() => fx.status('env') === 'exited', 'the script to end');
      assert.deepEqual(fx.stdout('env'), [join(scratch, 'procs', 'sub'), '5 true text']);
    });
  });

  it('applies a new definition at the next start', async () => {
    await withSupervisor(async (fx) => {
      fx.define('ver', { command: node(`console.log('v1'); ${IDLE}`), ready: { log: 'v1' } });
      await fx.sup.start('ver');
      await fx.sup.waitReady('ver', 10_000);
      fx.define('ver', { command: node(`console.log('v2'); ${IDLE}`), ready: { log: 'v2' } }, 'v2');
      assert.deepEqual(fx.stdout('ver'), ['v1']);
      const info = await fx.sup.restart('ver');
      assert.equal(info.version, 'v2');
      await fx.sup.waitReady('ver', 10_000);
      assert.deepEqual(fx.stdout('ver'), ['v1', 'v2']);
    });
  });

  it('keeps the newest lines in a ring, readable with a cursor', async () => {
    await withSupervisor(
      async (fx) => {
        fx.define('chatty', { command: node(`for (let i = 0; i < 30; i++) console.log('line ' + i)`) });
        await fx.sup.start('chatty');
        await until(() => fx.status('chatty') === 'exited', 'the process to end');
        const all = fx.sup.logs('chatty');
        assert.equal(all.length, 10);
        for (let i = 1; i < all.length; i++) assert.equal(all[i]!.seq, all[i - 1]!.seq + 1);
        const out = all.filter((l) => l.stream === 'stdout').map((l) => l.line);
        assert.equal(out.at(-1), 'line 29');
        assert.equal(out.length, all.findLastIndex((l) => l.stream === 'stdout') + 1);
        const cursor = all[4]!.seq;
        assert.deepEqual(fx.sup.logs('chatty', cursor, 2), all.slice(5, 7));
        assert.deepEqual(fx.sup.logs('chatty', undefined, 3), all.slice(-3));
        assert.deepEqual(fx.sup.logs('chatty', all.at(-1)!.seq), []);
        assert.deepEqual(fx.sup.logs('nobody'), []);
      },
      { logLines: 10 },
    );
  });

  it('streams lines and statuses live until unsubscribed', async () => {
    await withSupervisor(async (fx) => {
      fx.define('live', { command: node(`console.log('a'); console.error('b'); console.log('c')`) });
      const lines: string[] = [];
      const statuses: ProcessStatus[] = [];
      const stop = fx.sup.subscribe('live', {
        log: (l) => l.stream !== 'info' && lines.push(`${l.stream}:${l.line}`),
        status: (i) => void statuses.push(i.status),
      });
      fx.sup.subscribe('live', {
        log: () => {
          throw new Error('a broken listener');
        },
      });
      await fx.sup.start('live');
      await until(() => fx.status('live') === 'exited', 'the process to end');
      assert.deepEqual(
        lines.filter((l) => l.startsWith('stdout')),
        ['stdout:a', 'stdout:c'],
      );
      assert.ok(lines.includes('stderr:b'));
      assert.deepEqual(statuses, ['running', 'exited']);
      stop();
      await fx.sup.start('live');
      await until(() => fx.status('live') === 'exited' && fx.stdout('live').length === 4, 'the second run');
      assert.equal(statuses.length, 2);
    });
  });

  it('masks secrets in kept and streamed lines', async () => {
    const secret = 'hunter2-very-secret';
    const redactor = new Redactor({ DB_PASSWORD: secret });
    await withSupervisor(
      async (fx) => {
        fx.define('leaky', { run: 'echo "password=$PASS"; echo "$PASS" >&2; exit 4', env: { PASS: secret } });
        const streamed: string[] = [];
        fx.sup.subscribe('leaky', { log: (l) => void streamed.push(l.line) });
        await fx.sup.start('leaky');
        await until(() => fx.status('leaky') === 'failed', 'the script to end');
        const kept = fx.sup.logs('leaky').map((l) => l.line);
        assert.ok(kept.includes('password=***'));
        assert.ok(kept.includes('***'));
        for (const line of [...kept, ...streamed]) assert.ok(!line.includes(secret), line);
      },
      { redact: (s) => redactor.text(s) },
    );
  });

  it('cuts lines longer than 64 KiB', async () => {
    await withSupervisor(async (fx) => {
      fx.define('long', { command: node(`console.log('x'.repeat(100000)); console.log('after')`) });
      await fx.sup.start('long');
      await until(() => fx.status('long') === 'exited', 'the process to end');
      const [long, next] = fx.stdout('long');
      assert.ok(long!.length < 70_000 && long!.includes('truncated'));
      assert.equal(next, 'after');
    });
  });
});

describe('recover', () => {
  it('kills the group left by a server killed with -9 and starts the process again', async () => {
    const spec: ProcessSpec = { run: 'echo up; sleep 1000 & wait', ready: { log: 'up' } };
    // Server A runs in its own node process, starts the process, prints its pgid and is killed -9.
    const script = join(scratch, 'server-a.ts');
    writeFileSync(
      script,
      `import { SqliteStore } from ${JSON.stringify(join(import.meta.dirname, '../store/sqlite/sqlite-store.ts'))};
import { Supervisor } from ${JSON.stringify(join(import.meta.dirname, 'supervisor.ts'))};
const store = new SqliteStore(${JSON.stringify(store.path)});
const sup = new Supervisor({ data: store.serverData(), env: { PATH: process.env.PATH ?? '' } });
sup.define('crashy', { file: ${JSON.stringify(file)}, version: 'v1', spec: ${JSON.stringify(spec)} });
await sup.start('crashy');
const info = await sup.waitReady('crashy', 10000);
console.log('PGID=' + info.pid);
setInterval(() => {}, 1000);
`,
    );
    const serverA = spawn(NODE, [script], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    serverA.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    let oldPgid = 0;
    try {
      await until(() => /PGID=\d+\n/.test(out), 'server A to start its process');
      oldPgid = Number(/PGID=(\d+)/.exec(out)![1]);
      serverA.kill('SIGKILL');
      await once(serverA, 'exit');
      assert.equal(groupAlive(oldPgid), true, 'the process outlives its server');
      assert.equal(store.serverData().getProcess('crashy')?.pgid, oldPgid);

      await withSupervisor(async (fx) => {
        fx.define('crashy', spec);
        assert.equal(fx.info('crashy').desired, 'running');
        await fx.sup.recover();
        assert.equal(groupAlive(oldPgid), false, 'the old group is killed');
        const info = await fx.sup.waitReady('crashy', 10_000);
        assert.ok(info.pid !== null && info.pid !== oldPgid);
        assert.equal(store.serverData().getProcess('crashy')?.pgid, info.pid);
        await fx.sup.stopAll();
        assert.equal(groupAlive(info.pid), false);
        assert.equal(store.serverData().getProcess('crashy')?.desired, 'running');
      });
    } finally {
      serverA.kill('SIGKILL');
      if (oldPgid > 1 && groupAlive(oldPgid)) killGroup(oldPgid, 'SIGKILL');
    }
  });

  it('leaves stopped processes stopped and ignores a group that is gone', async () => {
    await withSupervisor(async (fx) => {
      store.serverData().putProcess({ name: 'idle', desired: 'stopped', pgid: 999_999_999, pidStart: '1' }, 0);
      fx.define('idle', { command: node(IDLE) });
      await fx.sup.recover();
      assert.equal(fx.status('idle'), 'stopped');
      assert.equal(store.serverData().getProcess('idle')?.pgid, null);
    });
  });
});

describe('pure parts', () => {
  it('computes restart decisions and backoff', () => {
    const restart = { policy: 'on_failure', maxRestarts: 3, delayMs: 1000 } as const;
    assert.deepEqual(afterExit(restart, true, 0), { action: 'restart', delayMs: 1000 });
    assert.deepEqual(afterExit(restart, true, 2), { action: 'restart', delayMs: 4000 });
    assert.deepEqual(afterExit(restart, true, 3), { action: 'gave_up' });
    assert.deepEqual(afterExit(restart, false, 0), { action: 'exited' });
    assert.deepEqual(afterExit({ ...restart, policy: 'never' }, true, 0), { action: 'failed' });
    assert.deepEqual(afterExit({ ...restart, policy: 'always', maxRestarts: null }, false, 50), {
      action: 'restart',
      delayMs: MAX_RESTART_DELAY_MS,
    });
    assert.equal(restartDelay(45_000, 3), 45_000);
  });

  it('parses TCP targets and rejects bad definitions', () => {
    assert.deepEqual(parseTcpTarget(8080), { host: 'localhost', port: 8080 });
    assert.deepEqual(parseTcpTarget('db:5432'), { host: 'db', port: 5432 });
    assert.deepEqual(parseTcpTarget('[::1]:80'), { host: '::1', port: 80 });
    assert.throws(() => parseTcpTarget('db:99999'), /not a port or host:port/);
    assert.throws(() => resolveProcess(file, { command: ['x'], ready: { log: '(' } }), /invalid regular expression/);
    assert.throws(() => resolveProcess(file, { command: ['x'], ready: { http: 'ftp://x' } }), /http:\/\//);
    assert.deepEqual(resolveProcess(file, { run: 'echo hi' }).args, ['-c', '--', 'echo hi']);
    assert.throws(() => new LogRing(0), RangeError);
  });
});
