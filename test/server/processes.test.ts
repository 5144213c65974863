// Processes through the API only (/v1/processes): start, readiness (HTTP and log), logs as JSON and
// SSE, stop (the port closes), restart (a new pid), restarts on crash up to max_restarts, SIGKILL
// after stop.grace, nothing left alive once the server stops, permissions; and `rivet process`.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  freePort,
  readSse,
  type SseFrame,
  startTestServer,
  type TestServer,
  tempDir,
  until,
} from '../helpers/server.ts';

const NODE = process.execPath;
const BIN = fileURLToPath(new URL('../../bin/rivet.js', import.meta.url));

/** True while the process exists (kill -0; ESRCH once it is gone and reaped). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw error;
  }
}

/**
 * True while a live member of the process group exists. A member whose parent was killed with it
 * (the `sleep` of a shell loop) can stay a zombie until init reaps it: zombies do not count.
 */
function groupAlive(pgid: number): boolean {
  if (!alive(-pgid)) return false;
  if (process.platform !== 'linux') return true;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue;
    }
    // pid (comm) state ppid pgrp ...: comm may hold spaces, so split after its closing paren.
    const [state, , pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(pgrp) === pgid && state !== 'Z' && state !== 'X') return true;
  }
  return false;
}

async function portOpen(port: number): Promise<boolean> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/`);
    await res.text();
    return true;
  } catch {
    return false;
  }
}

/** `rivet ARGS` as a child process with only this environment (and PATH). */
function rivet(
  args: string[],
  env: Record<string, string | undefined>,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const proc = spawn(NODE, [BIN, ...args], {
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  proc.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => proc.on('close', (code) => resolve({ code, stdout, stderr })));
}

interface Info {
  name: string;
  status: string;
  pid: number | null;
  restarts: number;
  readyAt: string | null;
  exitCode: number | null;
  signal: string | null;
  lastError: string | null;
}

/** A web server that listens once `flag` exists (so a test sees it `starting` first). */
const WEB = `import { createServer } from 'node:http';
import { existsSync } from 'node:fs';
const [port, flag] = process.argv.slice(2);
console.log('booting');
const wait = setInterval(() => {
  if (!existsSync(flag)) return;
  clearInterval(wait);
  createServer((req, res) => res.end('ok')).listen(Number(port), '127.0.0.1', () => console.log('listening on ' + port));
}, 20);
`;

/** Ignores SIGTERM: only SIGKILL ends it. */
const STUBBORN = `process.on('SIGTERM', () => console.log('ignoring SIGTERM'));
console.log('up');
setInterval(() => {}, 1000);
`;

function workflows(dir: string, port: number): Record<string, string> {
  const web = join(dir, 'web.mjs');
  const stubborn = join(dir, 'stubborn.mjs');
  writeFileSync(web, WEB);
  writeFileSync(stubborn, STUBBORN);
  const q = JSON.stringify;
  return {
    'web.yaml': `name: web
process:
  command: [${q(NODE)}, ${q(web)}, "${port}", ${q(join(dir, 'web.flag'))}]
  ready: { http: "http://127.0.0.1:${port}/", timeout: 30s }
  stop: { grace: 5s }
`,
    'logready.yaml': `name: logready
process:
  run: 'echo booting; echo "READY now"; while :; do sleep 1; done'
  ready: { log: "^READY", timeout: 30s }
  stop: { grace: 5s }
`,
    'crashy.yaml': `name: crashy
process:
  run: 'echo crashing; exit 1'
  restart: { policy: on_failure, delay: 100ms, max_restarts: 3 }
`,
    'stubborn.yaml': `name: stubborn
process:
  command: [${q(NODE)}, ${q(stubborn)}]
  stop: { signal: SIGTERM, grace: 300ms }
`,
    'hello.yaml': `name: hello
tasks:
  hi:
    shell: { run: echo hi }
`,
  };
}

describe('processes over HTTP', () => {
  let server: TestServer;
  let dir: string;
  let port: number;
  const seenPids = new Set<number>();

  const get = async (name: string): Promise<Info> => {
    const r = await server.api('GET', `/v1/processes/${name}`);
    assert.equal(r.status, 200, r.text);
    if (r.body.pid !== null) seenPids.add(r.body.pid as number);
    return r.body as Info;
  };
  const post = async (name: string, action: string): Promise<Info> => {
    const r = await server.api('POST', `/v1/processes/${name}/${action}`);
    assert.equal(r.status, 200, r.text);
    if (r.body.pid !== null) seenPids.add(r.body.pid as number);
    return r.body as Info;
  };
  const status = (name: string, wanted: string): Promise<Info> =>
    until(async () => {
      const p = await get(name);
      return p.status === wanted ? p : undefined;
    }, `${name} to be ${wanted}`);

  before(async () => {
    dir = tempDir('rivet-processes-');
    port = await freePort();
    server = await startTestServer({ workflows: workflows(dir, port) });
  });

  after(async () => {
    await server.stop();
    // The server stopped every process it started: none of their groups is left.
    for (const pid of seenPids) {
      assert.equal(alive(pid), false, `pid ${pid} outlived the server`);
      assert.equal(groupAlive(pid), false, `process group ${pid} outlived the server`);
    }
  });

  it('lists the processes, stopped at first', async () => {
    const r = await server.api('GET', '/v1/processes');
    assert.equal(r.status, 200);
    assert.deepEqual(
      r.body.items.map((p: Info) => `${p.name}=${p.status}`),
      ['crashy=stopped', 'logready=stopped', 'stubborn=stopped', 'web=stopped'],
    );
  });

  it('start: starting until the HTTP probe passes, then ready; stop closes the port', async () => {
    const started = await post('web', 'start');
    assert.equal(started.status, 'starting');
    assert.equal(typeof started.pid, 'number');
    assert.equal((await get('web')).status, 'starting');
    assert.equal(await portOpen(port), false);
    writeFileSync(join(dir, 'web.flag'), '');
    const ready = await status('web', 'ready');
    assert.equal(ready.pid, started.pid);
    assert.ok(ready.readyAt !== null);
    assert.equal(await portOpen(port), true);

    const stopped = await post('web', 'stop');
    assert.equal(stopped.status, 'stopped');
    assert.equal(stopped.pid, null);
    assert.equal(alive(started.pid!), false);
    assert.equal(await portOpen(port), false);
  });

  it('restart gives a new pid; the old one is gone', async () => {
    const first = await post('web', 'start');
    await status('web', 'ready');
    const again = await post('web', 'restart');
    assert.notEqual(again.pid, first.pid);
    assert.equal(alive(first.pid!), false);
    await status('web', 'ready');
    assert.equal(await portOpen(port), true);
    await post('web', 'stop');
  });

  it('readiness by log line; logs as JSON and as a live SSE stream', async () => {
    const started = await post('logready', 'start');
    const ready = await status('logready', 'ready');
    assert.equal(ready.pid, started.pid);
    const logs = await server.api('GET', '/v1/processes/logready/logs');
    assert.equal(logs.status, 200);
    const lines = logs.body.items.map((l: { stream: string; line: string }) => `${l.stream}:${l.line}`);
    assert.ok(lines.includes('stdout:booting'), lines.join('\n'));
    assert.ok(lines.includes('stdout:READY now'));
    assert.ok(lines.includes('info:ready'));
    const seqs = logs.body.items.map((l: { seq: number }) => l.seq);
    assert.deepEqual(
      seqs,
      [...seqs].sort((a: number, b: number) => a - b),
    );

    // SSE: the backlog, then what a restart prints, each line once.
    const frames: SseFrame[] = [];
    const stop = new AbortController();
    const reading = readSse(`${server.url}/v1/processes/logready/logs`, server.adminToken, (f) => frames.push(f), {
      signal: stop.signal,
    });
    await until(() => (frames.some((f) => f.data.line === 'READY now') ? true : undefined), 'the backlog');
    const restarted = await post('logready', 'restart');
    await until(
      () => (frames.filter((f) => f.data.line === 'READY now').length === 2 ? true : undefined),
      'the lines of the restart',
    );
    stop.abort();
    assert.equal((await reading).status, 200);
    const logFrames = frames.filter((f) => f.event === 'log');
    const ids = logFrames.map((f) => Number(f.id));
    assert.deepEqual(
      ids,
      [...new Set(ids)].sort((a, b) => a - b),
      'each line once, in order',
    );
    assert.ok(logFrames.some((f) => f.data.line === `started, pid ${restarted.pid}`));
    assert.ok(frames.some((f) => f.event === 'status' && f.data.status === 'ready'));
    await post('logready', 'stop');
    assert.equal(groupAlive(restarted.pid!), false, 'the whole group (sh and its sleep) is gone');
  });

  it('restarts on crash with on_failure, then fails after max_restarts', async () => {
    await post('crashy', 'start');
    await until(async () => ((await get('crashy')).restarts >= 1 ? true : undefined), 'a first restart');
    const failed = await status('crashy', 'failed');
    assert.equal(failed.restarts, 3);
    assert.equal(failed.exitCode, 1);
    assert.match(failed.lastError ?? '', /gave up after 3 restarts in a row/);
    const logs = await server.api('GET', '/v1/processes/crashy/logs');
    const crashes = logs.body.items.filter((l: { line: string }) => l.line === 'crashing');
    assert.equal(crashes.length, 4, 'the first run and 3 restarts');
  });

  it('a process that ignores SIGTERM is killed with SIGKILL after stop.grace', async () => {
    const started = await post('stubborn', 'start');
    assert.equal(started.status, 'running');
    await until(async () => {
      const l = await server.api('GET', '/v1/processes/stubborn/logs');
      return l.body.items.some((x: { line: string }) => x.line === 'up') ? true : undefined;
    }, 'the process to be up');
    const stopped = await post('stubborn', 'stop');
    assert.equal(stopped.status, 'stopped');
    assert.equal(stopped.signal, 'SIGKILL');
    assert.equal(alive(started.pid!), false);
    const logs = await server.api('GET', '/v1/processes/stubborn/logs');
    assert.ok(
      logs.body.items.some((x: { line: string }) => x.line === 'ignoring SIGTERM'),
      'it got SIGTERM first',
    );
  });

  it('a viewer cannot start a process (403); a user scoped to another workflow sees none (404)', async () => {
    const viewer = await server.user('viv', 'viewer');
    const seen = await server.api('GET', '/v1/processes/web', { token: viewer });
    assert.equal(seen.status, 200);
    assert.equal(seen.body.canControl, false);
    const denied = await server.api('POST', '/v1/processes/web/start', { token: viewer });
    assert.equal(denied.status, 403);
    assert.equal(denied.body.code, 'RV703');
    const scoped = await server.user('sam', 'operator', { workflows: ['hello'] });
    for (const [method, path] of [
      ['GET', '/v1/processes/web'],
      ['POST', '/v1/processes/web/start'],
      ['POST', '/v1/processes/web/stop'],
      ['GET', '/v1/processes/web/logs'],
    ] as const) {
      const r = await server.api(method, path, { token: scoped });
      assert.equal(r.status, 404, `${method} ${path}`);
      assert.equal(r.body.code, 'RV704');
    }
    const list = await server.api('GET', '/v1/processes', { token: scoped });
    assert.deepEqual(list.body.items, []);
    assert.equal((await get('web')).status, 'stopped', 'nothing was started by the denied calls');
  });

  it('rivet process start|status|stop|logs through the server; without one it exits 2', async () => {
    const env = { RIVET_SERVER: server.url, RIVET_TOKEN: server.adminToken };
    const start = await rivet(['process', 'start', 'web', '--wait'], env);
    assert.equal(start.code, 0, start.stderr);
    const pid = Number(/pid (\d+)/.exec(start.stdout)?.[1]);
    seenPids.add(pid);
    assert.match(start.stdout, /^started web\nweb {2}ready {5}pid \d+ +restarts 0 +ready since /);
    const one = await rivet(['process', 'status', join(server.workflowsDir, 'web.yaml')], env);
    assert.equal(one.code, 0, one.stderr);
    assert.match(one.stdout, /^process web {2}ready\n {2}pid {7}\d+\n {2}restarts {2}0\n/);
    const all = await rivet(['process', 'status'], env);
    assert.equal(all.code, 0);
    assert.match(all.stdout, /^web +ready +pid \d+ +restarts 0 +ready since/m);
    assert.match(all.stdout, /^crashy +failed +pid - +restarts 3 /m);
    const logs = await rivet(['process', 'logs', 'web'], env);
    assert.match(logs.stdout, /^web \| listening on \d+$/m);
    assert.match(logs.stdout, /^rivet \| ready$/m);
    const stop = await rivet(['process', 'stop', 'web'], env);
    assert.equal(stop.code, 0, stop.stderr);
    assert.match(stop.stdout, /^stopped web\nweb {2}stopped /);
    assert.equal(alive(pid), false);
    const unknown = await rivet(['process', 'status', 'nope'], env);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /error RV704 no process nope on the server/);
    const local = await rivet(['process', 'start', 'web'], {});
    assert.equal(local.code, 2);
    assert.match(local.stderr, /rivet process needs a server/);
    assert.match(local.stderr, /RIVET_SERVER/);
  });
});

describe('when the server stops', () => {
  it('no process it started is left alive', async () => {
    const dir = tempDir('rivet-processes-stop-');
    const port = await freePort();
    writeFileSync(join(dir, 'web.flag'), '');
    const server = await startTestServer({ workflows: workflows(dir, port) });
    const pids: number[] = [];
    for (const name of ['web', 'logready', 'stubborn']) {
      const r = await server.api('POST', `/v1/processes/${name}/start`);
      assert.equal(r.status, 200, r.text);
      pids.push(r.body.pid as number);
    }
    await until(async () => {
      const r = await server.api('GET', '/v1/processes');
      const up = r.body.items.filter((p: Info) => p.status === 'ready' || p.status === 'running');
      return up.length === 3 ? true : undefined;
    }, 'three processes up');
    await server.stop();
    for (const pid of pids) {
      assert.equal(alive(pid), false, `pid ${pid} outlived the server`);
      assert.equal(groupAlive(pid), false, `process group ${pid} outlived the server`);
    }
    assert.equal(await portOpen(port), false);
  });
});
