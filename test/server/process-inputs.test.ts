/** Starting a process with inputs other than its defaults: API and `rivet process start -i`. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { startTestServer, type TestServer, until } from '../helpers/server.ts';

const BIN = fileURLToPath(new URL('../../bin/rivet.js', import.meta.url));

/** Runs the CLI without blocking this process (the server answers from here). */
function cli(args: string[], env: NodeJS.ProcessEnv): Promise<{ status: number | null; out: string }> {
  const child = spawn(process.execPath, [BIN, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  return new Promise((r) => child.on('close', (status) => r({ status, out })));
}

const ECHOER = `name: echoer
inputs:
  greeting: { type: string, default: hello }
  times: { type: integer, default: 1, minimum: 1 }
process:
  command: ["${process.execPath}", "-e", "console.log('greeting=' + process.env.G + ' times=' + process.env.T); setInterval(() => {}, 1000)"]
  env: { G: "\${{ inputs.greeting }}", T: "\${{ inputs.times }}" }
  ready: { log: "^greeting=" }
  stop: { grace: 2s }
`;

describe('process inputs', () => {
  let s: TestServer;
  before(async () => {
    s = await startTestServer({ workflows: { 'echoer.yaml': ECHOER } });
  });
  after(async () => s.stop());

  const lastGreeting = async (): Promise<string | undefined> => {
    const { body } = await s.api('GET', '/v1/processes/echoer/logs');
    return (body.items as { line: string }[]).filter((l) => l.line.startsWith('greeting=')).at(-1)?.line;
  };
  const startAndRead = async (body?: unknown): Promise<string> => {
    const r = await s.api('POST', '/v1/processes/echoer/start', body === undefined ? {} : { body });
    assert.equal(r.status, 200, r.text);
    await until(
      async () => ((await s.api('GET', '/v1/processes/echoer')).body.status === 'ready' ? true : undefined),
      'ready',
    );
    const line = await lastGreeting();
    assert.ok(line !== undefined);
    assert.equal((await s.api('POST', '/v1/processes/echoer/stop')).status, 200);
    return line;
  };

  it('starts with the defaults, then with given inputs; bad inputs are a 400 per field', async () => {
    assert.equal(await startAndRead(), 'greeting=hello times=1');
    assert.equal(await startAndRead({ inputs: { greeting: 'hi', times: 3 } }), 'greeting=hi times=3');
    const bad = await s.api('POST', '/v1/processes/echoer/start', { body: { inputs: { times: 'x', nope: 1 } } });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.code, 'RV601');
    assert.deepEqual(bad.body.details.map((d: { pointer: string }) => d.pointer).sort(), [
      '/inputs/nope',
      '/inputs/times',
    ]);
    assert.equal((await s.api('GET', '/v1/processes/echoer')).body.status, 'stopped', 'a refused start starts nothing');
    const stop = await s.api('POST', '/v1/processes/echoer/stop', { body: { inputs: {} } });
    assert.equal(stop.status, 400, 'stop takes no inputs');
  });

  it('rivet process start -i reads each value as its input type', async () => {
    const env = { ...process.env, RIVET_SERVER: s.url, RIVET_TOKEN: s.adminToken, NO_COLOR: '1' };
    const started = await cli(['process', 'start', 'echoer', '-i', 'times=5', '--wait'], env);
    assert.equal(started.status, 0, started.out);
    assert.equal(await lastGreeting(), 'greeting=hello times=5');
    const stopped = await cli(['process', 'stop', 'echoer'], env);
    assert.equal(stopped.status, 0, stopped.out);
  });
});
