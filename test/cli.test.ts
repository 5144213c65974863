// The rivet command as a user runs it: a real process, real files, exit codes and output.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const repo = fileURLToPath(new URL('../', import.meta.url));
const small = 'test/fixtures/small.yaml';

function rivet(args: string[], env: Record<string, string> = {}, node = process.execPath) {
  const r = spawnSync(node, ['bin/rivet.js', ...args], {
    cwd: repo,
    encoding: 'utf8',
    env: { ...process.env, ...env },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function tempFile(name: string, content: string): string {
  const file = join(mkdtempSync(join(tmpdir(), 'rivet-cli-')), name);
  writeFileSync(file, content);
  return file;
}

test('--version prints the package version', () => {
  const r = rivet(['--version']);
  assert.equal(r.code, 0);
  assert.match(r.stdout, /^\d+\.\d+\.\d+\n$/);
});

test('--help lists the commands; each command has its own help', () => {
  const r = rivet(['--help']);
  assert.equal(r.code, 0);
  assert.match(r.stdout, /validate/);
  assert.match(r.stdout, /graph/);
  const g = rivet(['graph', '--help']);
  assert.equal(g.code, 0);
  assert.match(g.stdout, /--format <format>/);
});

test('no command and unknown commands are usage errors (exit 2, RV502)', () => {
  assert.equal(rivet([]).code, 2);
  const r = rivet(['frobnicate']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /error RV502 unknown command 'frobnicate'/);
  assert.equal(rivet(['graph', small, '--format', 'png']).code, 2);
});

test('validate: ok per valid file, exit 0', () => {
  const r = rivet(['validate', small]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.equal(r.stdout, `ok ${small} (small, 4 tasks)\n`);
});

test('validate: every error as file:line:col with a hint, exit 2, plain text off a terminal', () => {
  const file = tempFile(
    'broken.yaml',
    'name: broken\ntasks:\n  a:\n    htp: {}\n  b:\n    needs: [aa]\n    noop: {}\n',
  );
  const r = rivet(['validate', small, file]);
  assert.equal(r.code, 2);
  const lines = r.stdout.split('\n');
  assert.equal(lines[0], `ok ${small} (small, 4 tasks)`);
  assert.equal(lines[1], `${file}:4:5: error RV207 unknown task kind "htp" in task "a"`);
  assert.equal(lines[2], '  hint: did you mean "http"?');
  assert.equal(lines[3], `${file}:6:13: error RV301 task "b" needs "aa", which does not exist`);
  assert.match(r.stdout, /2 errors in 1 of 2 files/);
  assert.doesNotMatch(r.stdout, /\u001b\[/, 'no colour codes when not on a terminal');
});

test('validate --json gives machine-readable diagnostics', () => {
  const file = tempFile('bad.yaml', 'name: bad\ntasks:\n  a: { noop: {}, timeout: 5 minutes }\n');
  const r = rivet(['validate', '--json', small, file]);
  assert.equal(r.code, 2);
  const body = JSON.parse(r.stdout) as {
    valid: boolean;
    files: { file: string; valid: boolean; diagnostics: Record<string, unknown>[] }[];
  };
  assert.equal(body.valid, false);
  assert.equal(body.files[0]!.valid, true);
  assert.deepEqual(
    body.files[1]!.diagnostics.map((d) => [d.code, d.name, d.line, d.col]),
    [['RV206', 'invalid_duration', 3, 27]],
  );
  assert.deepEqual(body.files[1]!.diagnostics[0]!.path, ['tasks', 'a', 'timeout']);
});

test('validate: a folder stands for the workflow files in it', () => {
  const r = rivet(['validate', 'test/fixtures']);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /^ok test\/fixtures\/design-example\.yaml \(provision_bucket, 4 tasks\)$/m);
  assert.match(r.stdout, /^ok test\/fixtures\/small\.yaml \(small, 4 tasks\)$/m);
});

test('validate: a missing file is RV501, exit 2', () => {
  const r = rivet(['validate', 'does/not/exist.yaml']);
  assert.equal(r.code, 2);
  assert.match(r.stdout, /does\/not\/exist\.yaml:1:1: error RV501 cannot read does\/not\/exist\.yaml: no such file/);
});

test('a reader that closes early (| head) ends the command quietly', () => {
  // 3,000 diagnostics (about 300 kB) overflow the pipe, so writes continue after head has gone.
  const tasks = Array.from({ length: 3000 }, (_, i) => `  t${i}: { needs: [nope${i}], noop: {} }`).join('\n');
  const file = tempFile('many.yaml', `name: many\ntasks:\n${tasks}\n`);
  const r = spawnSync('sh', ['-c', `"${process.execPath}" bin/rivet.js validate "${file}" | head -n 1`], {
    cwd: repo,
    encoding: 'utf8',
  });
  assert.match(r.stdout, /many\.yaml:3:17: error RV301 /);
  assert.doesNotMatch(r.stderr, /EPIPE|Error/);
});

test('control characters from a file cannot rewrite the terminal', () => {
  const file = tempFile('ansi.yaml', 'name: ansi\ntasks:\n  a: { noop: {}, "\\e[2K\\rpwned": 1 }\n');
  const r = rivet(['validate', file]);
  assert.equal(r.code, 2);
  assert.doesNotMatch(r.stdout, /[\u001b\r]/);
  assert.match(r.stdout, /\\x1b\[2K\\x0dpwned/);
});

test('graph: text layers with kinds and when/if marks', () => {
  const r = rivet(['graph', small]);
  assert.equal(r.code, 0);
  assert.equal(
    r.stdout,
    [
      'small (4 tasks)',
      'layer 0',
      '  build     shell',
      'layer 1',
      '  test      shell  ← build',
      'layer 2',
      '  deploy    http   ← test  [if]',
      'layer 3',
      '  rollback  noop   ← deploy  [when: failure]',
      '',
    ].join('\n'),
  );
});

test('graph: mermaid and dot', () => {
  const m = rivet(['graph', '--format', 'mermaid', small]);
  assert.equal(m.code, 0);
  assert.match(m.stdout, /^flowchart TD\n/);
  assert.match(m.stdout, / {2}build --> test\n/);
  assert.match(m.stdout, / {2}deploy -\. failure \.-> rollback\n/);
  const d = rivet(['graph', '-f', 'dot', small]);
  assert.equal(d.code, 0);
  assert.match(d.stdout, /^digraph "small" \{/);
  assert.match(d.stdout, /"deploy" -> "rollback" \[style=dashed, label="failure"\];/);
});

test('graph of an invalid file prints its diagnostics and exits 2', () => {
  const file = tempFile(
    'cycle.yaml',
    'name: c\ntasks:\n  a: { needs: [b], noop: {} }\n  b: { needs: [a], noop: {} }\n',
  );
  const r = rivet(['graph', file]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /error RV302 dependency cycle: a → b → a/);
});

test('an older system node hands over to the provisioned Node 24', (t) => {
  const system = spawnSync('/usr/bin/node', ['--version'], { encoding: 'utf8' });
  const major = Number(/^v(\d+)/.exec(system.stdout ?? '')?.[1]);
  if (system.status !== 0 || !(major < 22)) {
    t.skip('no older /usr/bin/node on this machine');
    return;
  }
  const r = rivet(['validate', small], {}, '/usr/bin/node');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^ok /);
});
