// Plugins through the real command line: the example plugin (examples/plugins/checksum.ts) is
// loaded with --plugin (and RIVET_PLUGINS) to validate and run examples/plugins/checksum.yml, and
// every malformed plugin of test/fixtures/plugins/ is refused at load time with RV503 naming the
// file, before any workflow is read or run.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';

const repo = fileURLToPath(new URL('../', import.meta.url));
const PLUGIN = 'examples/plugins/checksum.ts';
const WORKFLOW = 'examples/plugins/checksum.yml';
const tmp = mkdtempSync(join(tmpdir(), 'rivet-plugins-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

function rivet(args: readonly string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, ['bin/rivet.js', ...args], {
    cwd: repo,
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '1', RIVET_PLUGINS: '', ...env },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

interface Line {
  type: string;
  task?: string;
  state?: string;
  outputs?: Record<string, unknown>;
  error?: string;
  data?: Record<string, unknown>;
}
const lines = (stdout: string): Line[] =>
  stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Line);
const sha = (alg: string, data: string | Buffer): string => createHash(alg).update(data).digest('hex');

test('rivet validate knows a plugin kind only when the plugin is loaded', () => {
  const without = rivet(['validate', WORKFLOW]);
  assert.equal(without.code, 2);
  assert.match(without.stdout, /error RV207 unknown task kind "checksum" in task "of_text"/);
  const withPlugin = rivet(['validate', '--plugin', PLUGIN, WORKFLOW]);
  assert.equal(withPlugin.code, 0, withPlugin.stdout + withPlugin.stderr);
  assert.equal(withPlugin.stdout, `ok ${WORKFLOW} (checksum, 5 tasks)\n`);
  const fromEnv = rivet(['validate', WORKFLOW], { RIVET_PLUGINS: PLUGIN });
  assert.equal(fromEnv.code, 0, fromEnv.stdout + fromEnv.stderr);
});

test("the plugin's spec schema checks workflows like a built-in kind's", () => {
  const bad = join(tmp, 'bad.yaml');
  writeFileSync(bad, 'name: bad\ntasks:\n  a:\n    checksum: { text: x, algoritm: md5 }\n');
  const r = rivet(['validate', '--plugin', PLUGIN, bad]);
  assert.equal(r.code, 2);
  assert.match(r.stdout, /bad\.yaml:4:26: error RV201 unknown field "algoritm" in tasks\.a\.checksum/);
  assert.match(r.stdout, /hint: did you mean "algorithm"\?/);
  // A refinement of the schema reports its own message.
  writeFileSync(bad, 'name: bad\ntasks:\n  a:\n    checksum: { algorithm: md5 }\n');
  const neither = rivet(['validate', '--plugin', PLUGIN, bad]);
  assert.match(neither.stdout, /bad\.yaml:4:15: error RV204 tasks\.a\.checksum: set exactly one of text or file/);
});

test('rivet run --plugin runs the checksum tasks: digests as outputs, artifacts read-only', () => {
  const home = join(tmp, 'home-run');
  const r = rivet(['run', WORKFLOW, '--plugin', PLUGIN, '--json', '--home', home]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const events = lines(r.stdout);
  const finished = events.find((e) => e.type === 'cli.finished')!;
  assert.equal(finished.state, 'succeeded');
  assert.equal(finished.outputs?.text_sha256, sha('sha256', 'hello, rivet'));
  assert.equal(finished.outputs?.notes_sha512, sha('sha512', 'release hello, rivet\n'));
  assert.equal(finished.outputs?.notes_bytes, 21);
  const own = events.find((e) => e.type === 'task.succeeded' && e.task === 'of_plugin')!;
  const outputs = own.data?.outputs as Record<string, unknown>;
  assert.deepEqual(outputs, {
    algorithm: 'sha256',
    digest: sha('sha256', readFileSync(join(repo, PLUGIN))),
    bytes: statSync(join(repo, PLUGIN)).size,
  });
  const artifact = (own.data?.artifacts as Record<string, string>)['sha256sum.txt']!;
  assert.ok(artifact.startsWith(join(home, 'artifacts', 'checksum')), artifact);
  assert.equal(readFileSync(artifact, 'utf8'), `${outputs.digest}  checksum.ts\n`);
  assert.equal(statSync(artifact).mode & 0o777, 0o444);
});

test('a TaskFailure from the plugin fails the task with its reason and message (RIVET_PLUGINS)', () => {
  const r = rivet(['run', WORKFLOW, '--json', '--home', join(tmp, 'home-fail'), '--input', 'expect_sha256=00ff'], {
    RIVET_PLUGINS: PLUGIN,
  });
  assert.equal(r.code, 1, r.stdout + r.stderr);
  const events = lines(r.stdout);
  const failed = events.filter((e) => e.type === 'task.failed');
  assert.deepEqual(
    failed.map((e) => [e.task, (e.data?.error as { reason: string }).reason, e.data?.retry_at]),
    [['verify', 'assertion', undefined]],
  );
  assert.match(events.at(-1)!.error!, /^task verify failed: sha256 is [0-9a-f]{64}, expected 00ff$/);
});

const BAD: [file: string, message: RegExp][] = [
  ['duplicate-name.ts', /a kind named "shell" is already registered/],
  ['missing-execute.ts', /kind lazy: execute must be a function/],
  ['wrong-api-version.ts', /apiVersion 2 is not supported \(this Rivet speaks 1\)/],
  ['spec-not-zod.ts', /kind plain: spec must be a zod schema/],
  ['no-default-export.ts', /the module has no default export/],
];

for (const [file, message] of BAD) {
  test(`a bad plugin is refused with RV503: ${file}`, () => {
    const plugin = `test/fixtures/plugins/${file}`;
    for (const args of [
      ['validate', '--plugin', plugin, WORKFLOW],
      ['run', WORKFLOW, '--plugin', plugin, '--home', join(tmp, 'home-bad')],
    ]) {
      const r = rivet(args);
      assert.equal(r.code, 2, r.stdout + r.stderr);
      assert.equal(r.stdout, '');
      const first = r.stderr.split('\n')[0]!;
      assert.ok(first.startsWith(`error RV503 ${plugin}: `), first);
      assert.match(first, message);
    }
  });
}

test('the same plugin twice is a duplicate kind; a missing module is RV503 too', () => {
  const twice = rivet(['validate', '--plugin', PLUGIN, '--plugin', PLUGIN, WORKFLOW]);
  assert.equal(twice.code, 2);
  assert.match(
    twice.stderr,
    /^error RV503 examples\/plugins\/checksum\.ts: a kind named "checksum" is already registered/,
  );
  const missing = rivet(['validate', '--plugin', 'examples/plugins/nope.ts', WORKFLOW]);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /^error RV503 examples\/plugins\/nope\.ts: cannot import the plugin/);
});
