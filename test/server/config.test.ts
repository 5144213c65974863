// The server's configuration: `resolveServerConfig` refuses bad settings with RV701 naming the
// setting and where it came from, and applies flags > environment > file > defaults; `rivet
// server` itself exits non-zero with the RV701 message on a bad setting; RIVET_ADMIN_TOKEN gives
// the first admin's token (nothing printed), and a malformed one stops the start.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { RivetError } from '../../src/errors.ts';
import { mintToken } from '../../src/server/auth.ts';
import { type ConfigSources, resolveServerConfig } from '../../src/server/config.ts';
import { freePort, makeApi, spawnServer, tempDir } from '../helpers/server.ts';

const BIN = resolve(import.meta.dirname, '../../bin/rivet.js');

/** The RV701 message of a configuration that must be refused. */
function refused(sources: Partial<ConfigSources>): string {
  try {
    resolveServerConfig({ env: {}, flags: {}, ...sources });
  } catch (error) {
    assert.ok(error instanceof RivetError, String(error));
    assert.equal(error.code, 'RV701');
    return error.message;
  }
  assert.fail(`accepted: ${JSON.stringify(sources)}`);
}

/** Runs `rivet ARGS` to its exit. */
function rivet(args: string[], env: Record<string, string>): Promise<{ code: number | null; stderr: string }> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      env: { PATH: process.env.PATH ?? '', NO_COLOR: '1', ...env },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', fail);
    child.on('exit', (code) => done({ code, stderr }));
  });
}

describe('server configuration', () => {
  let dir: string;

  before(() => {
    dir = tempDir('rivet-config-');
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  const file = (name: string, text: string): string => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };

  describe('resolveServerConfig', () => {
    it('names the setting and its source for a bad listen address', () => {
      assert.match(refused({ flags: { listen: 'localhost' } }), /listen \(from --listen\): expected HOST:PORT/);
      assert.match(refused({ env: { RIVET_LISTEN: 'nowhere:port' } }), /listen \(from RIVET_LISTEN\)/);
      const f = file('listen.yaml', 'listen: "127.0.0.1"\n');
      assert.match(refused({ file: f }), new RegExp(`listen \\(from ${f}\\)`));
      assert.match(
        refused({ flags: { listen: '127.0.0.1:70000' } }),
        /listen \(from --listen\): port 70000 is over 65535/,
      );
    });

    it('names the setting and its source for a bad body_limit', () => {
      assert.match(refused({ flags: { body_limit: '10 parsecs' } }), /body_limit \(from --body-limit\)/);
      assert.match(refused({ env: { RIVET_BODY_LIMIT: '12' } }), /body_limit \(from RIVET_BODY_LIMIT\)/);
      const f = file('body.yaml', 'body_limit: 5GiB\n');
      assert.match(refused({ file: f }), new RegExp(`body_limit \\(from ${f}\\)`));
    });

    it('refuses an unknown setting in the config file, listing the known ones', () => {
      const f = file('unknown.yaml', 'listen: 127.0.0.1:9000\ncolour: blue\n');
      const message = refused({ file: f });
      assert.match(message, new RegExp(`colour \\(from ${f}\\): unknown setting`));
      assert.doesNotMatch(message, /listen \(/);
      assert.match(message, /known: listen, data, workflows, body_limit, sse_per_token/);
    });

    it('names a bad environment variable', () => {
      const message = refused({ env: { RIVET_SSE_PER_TOKEN: 'abc' } });
      assert.match(message, /sse_per_token \(from RIVET_SSE_PER_TOKEN\)/);
      assert.match(
        refused({ env: { RIVET_METRICS_PUBLIC: 'perhaps' } }),
        /metrics_public \(from RIVET_METRICS_PUBLIC\)/,
      );
      assert.match(refused({ env: { RIVET_SYNCHRONOUS: 'OFF' } }), /synchronous \(from RIVET_SYNCHRONOUS\)/);
      assert.match(
        refused({ env: { RIVET_SHUTDOWN_GRACE: 'a while' } }),
        /shutdown_grace \(from RIVET_SHUTDOWN_GRACE\)/,
      );
    });

    it('lists every bad setting at once', () => {
      const f = file('several.yaml', 'concurrency: 0\n');
      const message = refused({ file: f, env: { RIVET_SSE_PER_TOKEN: 'abc' }, flags: { listen: 'x' } });
      assert.match(message, /listen \(from --listen\)/);
      assert.match(message, /sse_per_token \(from RIVET_SSE_PER_TOKEN\)/);
      assert.match(message, new RegExp(`concurrency \\(from ${f}\\)`));
    });

    it('refuses a config file that cannot be read or is not a mapping', () => {
      assert.match(refused({ file: join(dir, 'missing.yaml') }), /cannot read the config file .*missing\.yaml: ENOENT/);
      assert.match(refused({ file: file('bad.yaml', 'listen: [\n') }), /bad\.yaml is not valid YAML/);
      assert.match(refused({ file: file('list.yaml', '- listen\n') }), /list\.yaml must be a mapping/);
    });

    it('applies flags over environment over file over defaults', () => {
      const f = file(
        'layers.yaml',
        'body_limit: 2KiB\nsse_per_token: 5\nconcurrency: 7\nlog_level: debug\nlisten: 127.0.0.1:7001\n',
      );
      const c = resolveServerConfig({
        file: f,
        env: { RIVET_SSE_PER_TOKEN: '6', RIVET_CONCURRENCY: '8', RIVET_LISTEN: '127.0.0.1:7002', RIVET_UNRELATED: 'x' },
        flags: { concurrency: 9, listen: '[::1]:7003', data: undefined },
      });
      assert.equal(c.bodyLimit, 2048, 'file over default');
      assert.equal(c.ssePerToken, 6, 'env over file');
      assert.equal(c.concurrency, 9, 'flag over env');
      assert.equal(c.host, '::1');
      assert.equal(c.port, 7003);
      assert.equal(c.logLevel, 'debug');
      assert.equal(c.shutdownGraceMs, 30_000, 'default');
      assert.equal(c.killGraceMs, 10_000, 'default');
      assert.equal(c.synchronous, 'FULL', 'default');
      assert.equal(c.metricsPublic, false, 'default');
      assert.equal(c.data, resolve('.rivet'), 'default');
      assert.equal(c.workflows, null);
      assert.equal(c.adminToken, null);
      assert.ok(Object.isFrozen(c));

      const d = resolveServerConfig({ env: {}, flags: {} });
      assert.equal(d.bodyLimit, 1024 * 1024);
      assert.equal(d.ssePerToken, 20);
      assert.equal(d.host, '127.0.0.1');
      assert.equal(d.port, 8080);

      // An empty variable counts as unset; RIVET_HOME is the data folder unless RIVET_DATA is set.
      const e = resolveServerConfig({ env: { RIVET_CONCURRENCY: '', RIVET_HOME: '/srv/rivet' }, flags: {} });
      assert.equal(e.concurrency, 32);
      assert.equal(e.data, '/srv/rivet');
      const g = resolveServerConfig({ env: { RIVET_HOME: '/srv/rivet', RIVET_DATA: '/srv/data' }, flags: {} });
      assert.equal(g.data, '/srv/data');
    });

    it('reads sizes, durations, lists and booleans', () => {
      const c = resolveServerConfig({
        env: {
          RIVET_BODY_LIMIT: '4kb',
          RIVET_SHUTDOWN_GRACE: '1m30s',
          RIVET_CORS_ORIGINS: 'https://a.example, https://b.example',
          RIVET_METRICS_PUBLIC: 'true',
        },
        flags: { kill_grace: '500ms' },
      });
      assert.equal(c.bodyLimit, 4000);
      assert.equal(c.shutdownGraceMs, 90_000);
      assert.equal(c.killGraceMs, 500);
      assert.deepEqual(c.corsOrigins, ['https://a.example', 'https://b.example']);
      assert.equal(c.metricsPublic, true);
    });

    it('checks RIVET_ADMIN_TOKEN without echoing it', () => {
      const good = mintToken().token;
      assert.equal(resolveServerConfig({ env: { RIVET_ADMIN_TOKEN: good }, flags: {} }).adminToken, good);
      for (const bad of ['secret-password', `${good}x`, good.replace('rvt_', 'rvx_'), good.toUpperCase()]) {
        const message = refused({ env: { RIVET_ADMIN_TOKEN: bad } });
        assert.match(message, /RIVET_ADMIN_TOKEN/);
        assert.ok(!message.includes(bad), 'the value is not echoed');
      }
    });
  });

  describe('rivet server', () => {
    it('exits non-zero with the RV701 message on a bad RIVET_LISTEN, creating nothing', async () => {
      const data = join(dir, 'data-bad-listen');
      const r = await rivet(['server', '--data', data], { RIVET_LISTEN: 'localhost' });
      assert.notEqual(r.code, 0);
      assert.notEqual(r.code, null);
      assert.match(r.stderr, /RV701/);
      assert.match(r.stderr, /listen \(from RIVET_LISTEN\): expected HOST:PORT/);
      assert.equal(existsSync(data), false);
    });

    it('exits non-zero on a bad config file setting', async () => {
      const f = file('cli.yaml', 'sse_per_token: lots\n');
      const r = await rivet(['server', '--config', f, '--data', join(dir, 'data-cli')], {});
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /RV701/);
      assert.match(r.stderr, new RegExp(`sse_per_token \\(from ${f}\\)`));
    });

    it('accepts a valid RIVET_ADMIN_TOKEN and prints no token', async () => {
      const token = mintToken().token;
      const root = join(dir, 'admin-ok');
      mkdirSync(join(root, 'workflows'), { recursive: true });
      const server = await spawnServer({
        data: join(root, 'data'),
        workflows: join(root, 'workflows'),
        port: await freePort(),
        env: { RIVET_ADMIN_TOKEN: token, RIVET_LOG_LEVEL: 'info' },
      });
      try {
        const api = makeApi(server.url, token);
        const me = await api('GET', '/v1/me');
        assert.equal(me.status, 200, me.text);
        assert.equal(me.body.user, 'admin');
        assert.equal(me.body.role, 'admin');
        assert.equal((await api('GET', '/v1/me', { token: mintToken().token })).status, 401);
      } finally {
        assert.equal(await server.stop(), 0);
      }
      assert.doesNotMatch(server.stderr(), /rvt_/);
      assert.doesNotMatch(server.stderr(), /shown this once/);
    });

    it('stops the start with RV701 on a malformed RIVET_ADMIN_TOKEN, without echoing it', async () => {
      const bad = 'rvt_0123456789abcdef.too-short';
      const data = join(dir, 'data-bad-token');
      const r = await rivet(['server', '--data', data, '--listen', '127.0.0.1:0'], { RIVET_ADMIN_TOKEN: bad });
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /RV701/);
      assert.match(r.stderr, /RIVET_ADMIN_TOKEN/);
      assert.ok(!r.stderr.includes(bad));
      assert.equal(existsSync(data), false);
    });
  });
});
