// The docs run as written: every complete workflow in docs/*.md validates, every block marked
// `invalid CODE` fails with that code, and every TypeScript block runs.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { validateWorkflowText } from '../src/model/index.ts';

const docsDir = new URL('../docs/', import.meta.url);
const blocks = readdirSync(docsDir)
  .filter((f) => f.endsWith('.md'))
  .flatMap((file) =>
    [...readFileSync(new URL(file, docsDir), 'utf8').matchAll(/^```(\w+)([^\n]*)\n([\s\S]*?)^```$/gm)].map((m) => ({
      file,
      lang: m[1]!,
      info: m[2]!.trim(),
      body: m[3]!,
    })),
  );

const workflows = blocks.filter((b) => b.lang === 'yaml' && /^name:/m.test(b.body));

test('docs hold complete workflow examples', () => {
  assert.ok(workflows.length >= 8, `found ${workflows.length}`);
});

for (const [i, b] of workflows.entries()) {
  const name = /^name: (\S+)/m.exec(b.body)?.[1] ?? String(i);
  test(`${b.file}: workflow "${name}" ${b.info.startsWith('invalid') ? 'fails as documented' : 'is valid'}`, () => {
    const result = validateWorkflowText(b.body);
    const expected = /^invalid (RV\d{3})$/.exec(b.info)?.[1];
    if (expected === undefined) {
      assert.deepEqual(
        result.diagnostics.map((d) => `${d.line}:${d.col} ${d.code} ${d.message}`),
        [],
      );
    } else {
      assert.deepEqual([...new Set(result.diagnostics.map((d) => d.code))], [expected]);
    }
  });
}

const scripts = blocks.filter((b) => b.lang === 'ts');
for (const [i, b] of scripts.entries()) {
  test(`${b.file}: TypeScript example ${i + 1} runs`, () => {
    // Written inside the repository so that `import ... from 'rivet'` resolves to this package.
    const dir = mkdtempSync(join(new URL('../', import.meta.url).pathname, '.docs-test-'));
    try {
      const file = join(dir, 'example.ts');
      writeFileSync(file, b.body);
      const r = spawnSync(process.execPath, [file], {
        cwd: new URL('../', import.meta.url).pathname,
        encoding: 'utf8',
      });
      assert.equal(r.status, 0, r.stderr);
      const expected = /^\/\/ prints: (.*)$/m.exec(b.body)?.[1];
      if (expected !== undefined) assert.match(r.stdout, new RegExp(expected.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

// The README's command lines, run as a newcomer would type them: exit 0, or 2 for the files of
// examples/invalid/ that it shows on purpose.
const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
const commands = [...readme.matchAll(/^npx rivet (.+?)(?:\s+#.*)?$/gm)].map((m) => m[1]!.trim().split(/\s+/));

test('the README shows rivet commands', () => {
  assert.ok(commands.length >= 3, `found ${commands.length}`);
});

for (const args of commands) {
  test(`README: rivet ${args.join(' ')}`, () => {
    const r = spawnSync(process.execPath, ['bin/rivet.js', ...args], {
      cwd: new URL('../', import.meta.url).pathname,
      encoding: 'utf8',
    });
    const expected = args.some((a) => a.startsWith('examples/invalid/')) ? 2 : 0;
    assert.equal(r.status, expected, r.stdout + r.stderr);
    assert.ok(r.stdout.length > 0);
  });
}
