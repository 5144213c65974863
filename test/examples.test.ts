// The examples are part of the contract: every story example validates, and every invalid example
// produces exactly the diagnostics written next to it in its .expected file, in process and
// through the real `rivet validate`.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ALL_ERROR_CODES, ERROR_CODES, type ErrorCode } from '../src/errors.ts';
import { loadWorkflow } from '../src/load.ts';
import { formatDiagnostic } from '../src/model/index.ts';

const repo = fileURLToPath(new URL('../', import.meta.url));
const examplesDir = join(repo, 'examples');
const invalidDir = join(examplesDir, 'invalid');

/** Repo-relative path with forward slashes, as a user types it from the repo root. */
const rel = (file: string): string => relative(repo, file).split('\\').join('/');

/** Every workflow file under examples/, except the invalid corpus. */
function exampleFiles(dir = examplesDir): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (path !== invalidDir) out.push(...exampleFiles(path));
    } else if (entry.name.endsWith('.yaml')) out.push(path);
  }
  return out.sort();
}

const invalidFiles = readdirSync(invalidDir)
  .filter((f) => f.endsWith('.yaml'))
  .sort();

/** The plain validator output for a file: one line per diagnostic, hint lines dropped. */
async function diagnosticLines(file: string): Promise<string[]> {
  const loaded = await loadWorkflow(file);
  return loaded.diagnostics.map((d) => formatDiagnostic(rel(file), d).split('\n')[0]!);
}

function expectedLines(yamlFile: string): string[] {
  const text = readFileSync(yamlFile.replace(/\.yaml$/, '.expected'), 'utf8');
  assert.ok(text.endsWith('\n') && !text.endsWith('\n\n'), `${rel(yamlFile)}: .expected must end with one newline`);
  return text.slice(0, -1).split('\n');
}

function rivet(args: string[]) {
  const r = spawnSync(process.execPath, ['bin/rivet.js', ...args], {
    cwd: repo,
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '1' },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

// (a) The examples ----------------------------------------------------------------------------

test('every example validates with no diagnostics', async () => {
  const files = exampleFiles();
  assert.ok(files.length >= 6, `expected the story examples, found ${files.length} files`);
  for (const file of files) {
    const result = await loadWorkflow(file);
    const shown = result.diagnostics.map((d) => formatDiagnostic(rel(file), d)).join('\n');
    assert.deepEqual(result.diagnostics, [], `${rel(file)} should be valid:\n${shown}`);
    assert.ok(result.workflow !== undefined, `${rel(file)} has no workflow`);
  }
});

test('each story of DESIGN.md section 1 has its example, named after its workflow', async () => {
  for (const story of ['provision_bucket', 'team_chores', 'etl_daily', 'release_on_message', 'canary_release']) {
    const file = join(examplesDir, `${story}.yaml`);
    assert.ok(existsSync(file), `examples/${story}.yaml is missing`);
    const header = readFileSync(file, 'utf8').split('\n').slice(0, 5).join('\n');
    assert.match(header, /Story [1-5]\b/, `examples/${story}.yaml should say which story it is in its header`);
  }
  for (const file of exampleFiles()) {
    const wf = (await loadWorkflow(file)).workflow;
    assert.equal(wf?.name, file.replace(/^.*[\\/]/, '').replace(/\.yaml$/, ''), `${rel(file)}: name and file differ`);
  }
});

test('sub-workflow files named by the examples exist and are valid', async () => {
  let children = 0;
  for (const file of exampleFiles()) {
    const wf = (await loadWorkflow(file)).workflow;
    for (const task of wf?.tasks ?? []) {
      if (task.kind !== 'workflow') continue;
      const childFile = (task.spec as { file?: string }).file;
      if (childFile === undefined) continue;
      const child = resolve(dirname(file), childFile);
      assert.ok(existsSync(child), `${rel(file)}: task "${task.id}" runs ${childFile}, which does not exist`);
      const result = await loadWorkflow(child);
      assert.deepEqual(result.diagnostics, [], `${rel(child)} (child of ${rel(file)}) should be valid`);
      children++;
    }
  }
  assert.ok(children >= 1, 'expected at least one example with a sub-workflow file');
});

test('together the examples use every part of the workflow language', async () => {
  const seen = new Set<string>();
  for (const file of exampleFiles()) {
    const wf = (await loadWorkflow(file)).workflow;
    if (wf === undefined) continue;
    const doc = wf.document as Record<string, unknown> & { on?: Record<string, unknown> };
    for (const key of ['catalog', 'permissions', 'concurrency', 'timeout', 'process', 'outputs'])
      if (doc[key] !== undefined) seen.add(key);
    for (const def of Object.values((doc.inputs ?? {}) as Record<string, Record<string, unknown>>)) {
      seen.add(`input:${String(def.type)}`);
      for (const key of ['pattern', 'enum', 'default']) if (def[key] !== undefined) seen.add(`input ${key}`);
    }
    for (const [kind, spec] of Object.entries(doc.on ?? {})) {
      for (const one of [spec].flat() as Record<string, unknown>[]) {
        seen.add(`on:${kind}`);
        if (kind === 'schedule' && one.timezone !== undefined) seen.add('on:schedule timezone');
        if (kind === 'webhook') seen.add(`on:webhook ${String(one.kind)}`);
        if (kind === 'amqp' && String(one.topic).startsWith('org.fedoraproject.')) seen.add('on:amqp fedmsg topic');
      }
    }
    for (const task of wf.tasks) {
      const t = task.document as Record<string, unknown>;
      seen.add(`kind:${task.kind}`);
      if (task.needs.length > 0) seen.add('needs');
      if (task.when !== 'success') seen.add(`when:${task.when}`);
      for (const key of ['if', 'cache', 'assert', 'retry', 'timeout', 'outputs'])
        if (t[key] !== undefined) seen.add(key);
      if (t.for_each !== undefined && t.concurrency !== undefined) seen.add('for_each with concurrency');
      const spec = task.spec as Record<string, unknown> | null;
      if (task.kind === 'approval' && spec?.fields !== undefined) seen.add('approval fields');
      if (task.kind === 'workflow' && spec?.file !== undefined) seen.add('workflow file');
      if (task.kind === 'shell' && spec?.env !== undefined) seen.add('shell env');
      if (
        task.kind === 'http' &&
        (spec?.method === 'PATCH' || spec?.method === 'PUT') &&
        /tasks\.\w+\.outputs/.test(String(spec.url))
      )
        seen.add('outputs piped into a PATCH url');
    }
  }
  const wanted = [
    'needs',
    'when:failure',
    'when:always',
    'if',
    'for_each with concurrency',
    'cache',
    'assert',
    'outputs',
    'outputs piped into a PATCH url',
    'retry',
    'timeout',
    'concurrency',
    'kind:http',
    'kind:shell',
    'kind:approval',
    'approval fields',
    'kind:sleep',
    'kind:workflow',
    'workflow file',
    'kind:noop',
    'shell env',
    'on:schedule timezone',
    'on:webhook github',
    'on:webhook jira',
    'on:amqp fedmsg topic',
    'catalog',
    'permissions',
    'process',
    'input:string',
    'input:integer',
    'input:number',
    'input:boolean',
    'input:list',
    'input pattern',
    'input enum',
    'input default',
  ];
  const missing = wanted.filter((w) => !seen.has(w));
  assert.deepEqual(missing, [], `no example uses: ${missing.join(', ')}`);
});

// (b) The invalid corpus ----------------------------------------------------------------------

test('every invalid example is named <code>-<slug>.yaml and has its .expected file', () => {
  assert.ok(invalidFiles.length > 0);
  for (const f of invalidFiles) {
    const m = /^(RV\d{3})-[a-z0-9]+(?:-[a-z0-9]+)*\.yaml$/.exec(f);
    assert.ok(m, `examples/invalid/${f}: name it <code>-<short-slug>.yaml`);
    assert.ok(Object.hasOwn(ERROR_CODES, m[1]!), `examples/invalid/${f}: ${m[1]} is not a registered code`);
    assert.ok(existsSync(join(invalidDir, f.replace(/\.yaml$/, '.expected'))), `examples/invalid/${f}: no .expected`);
  }
  const others = readdirSync(invalidDir).filter((f) => !f.endsWith('.yaml'));
  for (const f of others) {
    assert.ok(f.endsWith('.expected'), `examples/invalid/${f}: only .yaml and .expected files belong here`);
    assert.ok(invalidFiles.includes(f.replace(/\.expected$/, '.yaml')), `examples/invalid/${f} has no .yaml`);
  }
});

for (const f of invalidFiles) {
  test(`examples/invalid/${f} gives exactly its expected diagnostics`, async () => {
    const file = join(invalidDir, f);
    const actual = await diagnosticLines(file);
    assert.deepEqual(actual, expectedLines(file));
    const code = f.slice(0, 5);
    assert.ok(
      actual.some((line) => line.includes(`: error ${code} `)),
      `examples/invalid/${f} is named for ${code}, which it does not produce`,
    );
  });
}

// (c) Through the real command line ------------------------------------------------------------

for (const f of [
  'RV108-invalid-utf8.yaml',
  'RV301-unknown-need.yaml',
  'RV405-not-upstream.yaml',
  'RV408-unsafe-shell-splice.yaml',
]) {
  test(`rivet validate examples/invalid/${f} exits 2 and prints its diagnostics`, () => {
    const r = rivet(['validate', `examples/invalid/${f}`]);
    assert.equal(r.code, 2, r.stdout + r.stderr);
    const lines = r.stdout.split('\n');
    for (const line of expectedLines(join(invalidDir, f))) assert.ok(lines.includes(line), `missing: ${line}`);
    assert.match(r.stdout, /^1 error in 1 of 1 file$/m);
  });
}

test('rivet validate examples/invalid: exit 2 and exactly every expected line, file by file', () => {
  const r = rivet(['validate', 'examples/invalid']);
  assert.equal(r.code, 2, r.stderr);
  const printed = r.stdout.split('\n').filter((l) => l !== '' && !l.startsWith('  hint: '));
  const summary = printed.pop();
  const expected = [...invalidFiles].sort().flatMap((f) => expectedLines(join(invalidDir, f)));
  assert.deepEqual(printed, expected);
  assert.equal(summary, `${expected.length} errors in ${invalidFiles.length} of ${invalidFiles.length} files`);
});

test('rivet validate examples/*.yaml exits 0 with one ok line per file', () => {
  const files = readdirSync(examplesDir)
    .filter((f) => f.endsWith('.yaml'))
    .sort()
    .map((f) => `examples/${f}`);
  const r = rivet(['validate', ...files]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const lines = r.stdout.trimEnd().split('\n');
  assert.equal(lines.length, files.length, r.stdout);
  files.forEach((file, i) => assert.match(lines[i]!, new RegExp(`^ok ${file.replace(/\./g, '\\.')} \\(`)));
});

// (d) Coverage of the error codes ------------------------------------------------------------

/**
 * Codes no document can produce: raised while evaluating (RV409, RV410), files and command line
 * (RV5xx), runs (RV6xx), the server and its API (RV7xx; test/server covers each).
 */
const NOT_FROM_DOCUMENTS = new Set<ErrorCode>(['RV409', 'RV410']);

test('every error code a document can produce has an invalid example', () => {
  const covered = new Set(invalidFiles.map((f) => f.slice(0, 5)));
  const documentCodes = ALL_ERROR_CODES.filter(
    (c) => !NOT_FROM_DOCUMENTS.has(c) && !c.startsWith('RV5') && !c.startsWith('RV6') && !c.startsWith('RV7'),
  );
  assert.ok(documentCodes.includes('RV100') && documentCodes.includes('RV408'));
  const missing = documentCodes.filter((c) => !covered.has(c));
  assert.deepEqual(missing, [], `add examples/invalid/<code>-<slug>.yaml for: ${missing.join(', ')}`);
});
