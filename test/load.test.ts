// loadWorkflow: reading files, versions, and the sub-workflow files a workflow names.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { RivetError } from '../src/errors.ts';
import { loadWorkflow } from '../src/load.ts';

function folder(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'rivet-load-'));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

const child =
  'name: child\ninputs:\n  name: { type: string, required: true }\n  size: { type: integer, default: 1 }\ntasks:\n  x: { noop: {} }\n';

test('a valid parent and child load; the version is a hash of the bytes', async () => {
  const dir = folder({
    'parent.yaml': 'name: parent\ntasks:\n  a:\n    workflow: { file: ./child.yaml, inputs: { name: x } }\n',
    'child.yaml': child,
  });
  const loaded = await loadWorkflow(join(dir, 'parent.yaml'));
  assert.deepEqual(loaded.diagnostics, []);
  assert.equal(loaded.workflow?.name, 'parent');
  assert.match(loaded.version, /^[0-9a-f]{16}$/);
  assert.equal((await loadWorkflow(join(dir, 'parent.yaml'))).version, loaded.version);
  writeFileSync(
    join(dir, 'parent.yaml'),
    'name: parent\ntasks:\n  a:\n    workflow: { file: ./child.yaml, inputs: { name: y } }\n',
  );
  assert.notEqual((await loadWorkflow(join(dir, 'parent.yaml'))).version, loaded.version);
});

test('sub-workflow problems are reported at the parent task, with positions', async () => {
  const dir = folder({
    'parent.yaml': [
      'name: parent',
      'tasks:',
      '  a:',
      '    workflow: { file: ./child.yaml, inputs: { nme: x } }',
      '  b:',
      '    workflow: { file: ./missing.yaml }',
      '  c:',
      '    workflow: { file: ./broken.yaml }',
      '  d:',
      '    workflow: { file: ./parent.yaml }',
      '',
    ].join('\n'),
    'child.yaml': child,
    'broken.yaml': 'name: broken\ntasks:\n  x: { needs: [y], noop: {} }\n',
  });
  const loaded = await loadWorkflow(join(dir, 'parent.yaml'));
  assert.equal(loaded.workflow, undefined);
  assert.deepEqual(
    loaded.diagnostics.map((d) => `${d.line}:${d.col} ${d.code} ${d.message}`),
    [
      '4:5 RV203 sub-workflow ./child.yaml requires input "name"',
      '4:47 RV403 sub-workflow ./child.yaml has no input "nme"',
      '6:23 RV501 sub-workflow ./missing.yaml cannot be read: no such file',
      '8:23 RV301 sub-workflow ./broken.yaml is not valid: 3:16: task "x" needs "y", which does not exist',
      '10:23 RV302 sub-workflow cycle: parent.yaml → parent.yaml',
    ],
  );
  assert.equal(loaded.diagnostics[1]!.hint, 'did you mean "name"?');
});

test('a cycle through two files is named with both', async () => {
  const dir = folder({
    'a.yaml': 'name: a\ntasks:\n  t:\n    workflow: { file: ./b.yaml }\n',
    'b.yaml': 'name: b\ntasks:\n  t:\n    workflow: { file: ./a.yaml }\n',
  });
  const loaded = await loadWorkflow(join(dir, 'a.yaml'));
  assert.deepEqual(
    loaded.diagnostics.map((d) => d.message),
    ['sub-workflow ./b.yaml is not valid: 4:23: sub-workflow cycle: a.yaml → b.yaml → a.yaml'],
  );
});

test('a templated file name is left to run time', async () => {
  const dir = folder({
    'p.yaml': 'name: p\ninputs:\n  f: {}\ntasks:\n  a:\n    workflow: { file: "${{ inputs.f }}" }\n',
  });
  assert.deepEqual((await loadWorkflow(join(dir, 'p.yaml'))).diagnostics, []);
});

test('an unreadable file is a RivetError RV501', async () => {
  await assert.rejects(
    loadWorkflow('/nonexistent/rivet.yaml'),
    (err: unknown) => err instanceof RivetError && err.code === 'RV501',
  );
});
