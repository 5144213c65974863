// The bad-input corpus for workflow documents (RELIABILITY.md section 4.5): generated and
// hand-written hostile documents through validateWorkflowBytes, in process, with the pass figures
// asserted: no throw, every rejection positioned inside the document with its expected code,
// under 1 s and 100 MB per document, the built-in prototypes untouched; then a sample through the
// real `rivet validate`.
//
//   RIVET_SEED=<n>    reproduces a run's random cases (the seed is printed with every run)
//   RIVET_STRESS=<n>  multiplies the generated cases (nightly), same code path
import { PROTOTYPE_KEYS_BEFORE, prototypeKeys } from './prototype-snapshot.ts'; // first: before Rivet's modules
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { ERROR_CODES, type ErrorCode } from '../../src/errors.ts';
import { type LoadedWorkflow, validateWorkflowBytes } from '../../src/load.ts';
import { CATEGORIES, type CorpusCase, utf8 } from './cases.ts';
import { generateCases } from './generate.ts';
import { handWrittenCases } from './handwritten.ts';
import { BIG_DOCUMENTS, BIG_VALID } from './big-documents.ts';
import { type Seed, SEEDS } from './seeds.ts';

const repo = fileURLToPath(new URL('../../', import.meta.url));
const SEED = process.env.RIVET_SEED ? Number(process.env.RIVET_SEED) >>> 0 : 0x5eed4a5;
const STRESS = Math.max(1, Number(process.env.RIVET_STRESS ?? 1) || 1);
const MAX_MS = 1000;
const MAX_MB = 100;
const MB = 2 ** 20;

// A full collection before each large document makes its memory figure its own.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as (options?: { type: 'major' | 'minor' }) => void;

/** The corpus's own seeds, plus the story examples when they are there. */
function bases(): Seed[] {
  const dir = join(repo, 'examples');
  const examples = existsSync(dir)
    ? readdirSync(dir)
        .filter((f) => f.endsWith('.yaml'))
        .sort()
        .map((f) => ({ name: `examples/${f}`, text: readFileSync(join(dir, f), 'utf8') }))
    : [];
  return [...SEEDS, ...examples];
}

// Lazy set-up (the schema, the CEL environment) happens on the first validation: not in a case.
for (const seed of SEEDS) validateWorkflowBytes(utf8(seed.text), `${seed.name}.yaml`);

const generated = generateCases({ seed: SEED, stress: STRESS, bases: bases() });
const handWritten = handWrittenCases();
const ALL = [...generated, ...handWritten];
const reproduce = `seed ${SEED} (RIVET_SEED=${SEED} RIVET_STRESS=${STRESS} reproduces it)`;

interface Peak {
  value: number;
  case: string;
}
const peaks = {
  ms: { value: 0, case: '' },
  rss: { value: 0, case: '' },
  heap: { value: 0, case: '' },
} satisfies Record<string, Peak>;
const raise = (peak: Peak, value: number, name: string): void => {
  if (value > peak.value) [peak.value, peak.case] = [value, name];
};

/** 1-based length of each line of the document as the validator sees it (BOM dropped). */
function lineLengths(bytes: Uint8Array): number[] {
  return new TextDecoder()
    .decode(bytes)
    .split(/\r\n|\r|\n/) // YAML line breaks, as the validator counts them
    .map((l) => l.length);
}

/** Runs one case; returns what is wrong with the outcome (nothing when it passes). */
function runCase(c: CorpusCase): string[] {
  const bytes = c.bytes();
  gc(c.origin === 'hand-written' || bytes.length > 64 * 1024 ? { type: 'major' } : { type: 'minor' });
  const before = process.memoryUsage();
  const start = performance.now();
  let result: LoadedWorkflow;
  try {
    result = validateWorkflowBytes(bytes, 'corpus.yaml');
  } catch (err) {
    return [`validateWorkflowBytes threw: ${err instanceof Error ? err.stack : String(err)}`];
  }
  const ms = performance.now() - start;
  const after = process.memoryUsage();
  const rss = (after.rss - before.rss) / MB;
  const heap = (after.heapUsed + after.arrayBuffers - before.heapUsed - before.arrayBuffers) / MB;
  raise(peaks.ms, ms, c.name);
  raise(peaks.rss, rss, c.name);
  raise(peaks.heap, heap, c.name);

  const problems: string[] = [];
  if (ms >= MAX_MS) problems.push(`took ${ms.toFixed(0)} ms (limit ${MAX_MS} ms)`);
  if (rss >= MAX_MB || heap >= MAX_MB) problems.push(`grew RSS by ${rss.toFixed(1)} MB, heap by ${heap.toFixed(1)} MB`);
  const ds = result.diagnostics;
  const shown = (d: (typeof ds)[number]) => `${d.line}:${d.col} ${d.code} ${d.message.slice(0, 160)}`;
  if ((result.workflow === undefined) !== ds.length > 0) {
    problems.push(`workflow ${result.workflow ? 'present' : 'missing'} with ${ds.length} diagnostics`);
  }
  // Every diagnostic: a known code, a position inside the document.
  let lengths: number[] | undefined;
  for (const d of ds) {
    if (!Object.hasOwn(ERROR_CODES, d.code)) problems.push(`unknown code in ${shown(d)}`);
    if (!(Number.isInteger(d.line) && Number.isInteger(d.col) && d.line >= 1 && d.col >= 1)) {
      problems.push(`unpositioned ${shown(d)}`);
      continue;
    }
    if (d.line === 1 && d.col === 1) continue;
    lengths ??= lineLengths(bytes);
    const length = lengths[d.line - 1];
    if (length === undefined || d.col > length + 1) {
      problems.push(
        `outside the document (${lengths.length} lines${length === undefined ? '' : `, line ${d.line} has ${length} characters`}): ${shown(d)}`,
      );
    }
  }
  if (c.expect === 'valid' && ds.length > 0)
    problems.push(`expected valid, got ${ds.slice(0, 3).map(shown).join(' | ')}`);
  if (c.expect === 'invalid' && ds.length === 0) problems.push('expected invalid, got no diagnostics');
  if (c.expect === 'invalid' && c.code !== undefined && ds.length > 0) {
    const codes: readonly ErrorCode[] = typeof c.code === 'string' ? [c.code] : c.code;
    const candidates = ds.filter((d) => codes.includes(d.code));
    const fits = candidates.filter(
      (d) =>
        (c.message === undefined || c.message.test(d.message)) &&
        (c.hint === undefined || c.hint.test(d.hint ?? '')) &&
        (c.at === undefined || (d.line === c.at.line && d.col === c.at.col)),
    );
    if (candidates.length === 0)
      problems.push(`expected ${codes.join(' or ')}, got ${ds.slice(0, 3).map(shown).join(' | ')}`);
    else if (fits.length === 0) {
      const want = [
        c.at && `at ${c.at.line}:${c.at.col}`,
        c.message && `message ${c.message}`,
        c.hint && `hint ${c.hint}`,
      ];
      const got = candidates.slice(0, 3).map((d) => `${shown(d)}${d.hint ? ` (hint: ${d.hint})` : ''}`);
      problems.push(`expected ${codes.join(' or ')} ${want.filter(Boolean).join(', ')}; got ${got.join(' | ')}`);
    }
  }
  if (c.check !== undefined && problems.length === 0) {
    try {
      c.check(result);
    } catch (err) {
      problems.push(err instanceof Error ? err.message : String(err));
    }
  }
  return problems;
}

test('the corpus holds at least 500 generated cases and every category', (t) => {
  t.diagnostic(`${reproduce}: ${generated.length} generated + ${handWritten.length} hand-written cases`);
  for (const category of CATEGORIES) {
    const of = ALL.filter((c) => c.category === category);
    const g = of.filter((c) => c.origin === 'generated').length;
    t.diagnostic(`  ${category}: ${g} generated + ${of.length - g} hand-written`);
    assert.ok(of.length > 0, `no case for ${category}`);
  }
  assert.ok(generated.length >= 500 * STRESS, `only ${generated.length} generated cases`);
  assert.ok(new Set(ALL.map((c) => c.category)).size === CATEGORIES.length);
});

for (const category of CATEGORIES) {
  test(`corpus: ${category}`, () => {
    const failures: string[] = [];
    for (const c of ALL.filter((x) => x.category === category)) {
      const problems = runCase(c);
      if (problems.length > 0) failures.push(`[${c.origin}] ${c.name}: ${problems.join('; ')}`);
    }
    assert.deepEqual(
      failures,
      [],
      `${failures.length} failing cases, ${reproduce}:\n${failures.slice(0, 25).join('\n')}`,
    );
  });
}

test('per-document figures stay under 1 s and 100 MB', (t) => {
  t.diagnostic(`max validation time: ${peaks.ms.value.toFixed(1)} ms (${peaks.ms.case})`);
  t.diagnostic(`max RSS increase: ${peaks.rss.value.toFixed(1)} MB (${peaks.rss.case})`);
  t.diagnostic(`max heap + array buffer increase: ${peaks.heap.value.toFixed(1)} MB (${peaks.heap.case})`);
  t.diagnostic('(memory: after minus before one validateWorkflowBytes call, with a GC before it)');
  assert.ok(peaks.ms.value < MAX_MS, `${peaks.ms.case} took ${peaks.ms.value} ms`);
  assert.ok(peaks.rss.value < MAX_MB, `${peaks.rss.case} grew RSS by ${peaks.rss.value} MB`);
  assert.ok(peaks.heap.value < MAX_MB, `${peaks.heap.case} grew the heap by ${peaks.heap.value} MB`);
});

test('no built-in prototype gained a property', () => {
  assert.deepEqual(prototypeKeys(), PROTOTYPE_KEYS_BEFORE);
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
  assert.equal(Object.getPrototypeOf({}), Object.prototype);
});

test('a sample through `rivet validate`: exit 2, file:line:col, no stack trace', (t) => {
  const pick = (name: string): CorpusCase => {
    const c = handWritten.find((x) => x.name === name);
    assert.ok(c, `no hand-written case "${name}"`);
    return c;
  };
  const sample = [
    pick('9x9 billion laughs under 1 kB'),
    pick('0xFF as the first byte'),
    pick('10,000-level nested flow sequences'),
    pick('a 1,000-task cycle'),
    pick('__proto__ as a task id'),
    pick('tab indentation'),
    pick('10 MB document'),
  ];
  const dir = mkdtempSync(join(tmpdir(), 'rivet-corpus-'));
  try {
    sample.forEach((c, i) => {
      const file = join(dir, `case-${i}.yaml`);
      writeFileSync(file, c.bytes());
      const r = spawnSync(process.execPath, ['bin/rivet.js', 'validate', file], {
        cwd: repo,
        encoding: 'utf8',
        env: { ...process.env, NO_COLOR: '1' },
        timeout: 30_000,
        maxBuffer: 16 * MB,
      });
      const what = `${c.name}: status ${r.status}, signal ${r.signal}\n${r.stdout.slice(0, 500)}\n${r.stderr.slice(0, 2000)}`;
      assert.equal(r.status, 2, what);
      assert.match(r.stdout, /:\d+:\d+: error RV\d{3} /, what);
      assert.match(r.stdout, new RegExp(`:\\d+:\\d+: error ${c.code as string} `), what);
      assert.doesNotMatch(r.stderr, /^\s+at .+:\d+(:\d+)?\)?$/m, `stack trace in stderr: ${what}`);
      assert.doesNotMatch(r.stdout + r.stderr, /\b(RangeError|TypeError|Maximum call stack)\b/, what);
      t.diagnostic(`${c.name}: ${r.stdout.split('\n')[0]!.replace(file, '<file>')}`);
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// Documents near the limits, each validated in a child process so that its memory does not
// distort the other measurements: the expected answer, within the per-document budget. The child
// runs with its heap capped at MAX_MB, so a document that needs more memory fails the test by
// running out of it; how much RSS grows before V8 collects is reported, and only loosely bounded
// (it depends on when the collector runs, not on what the document needs).
[...BIG_DOCUMENTS, ...BIG_VALID].forEach((doc, i) => {
  test(`big document: ${doc.name}`, (t) => {
    const heapCap = [`--max-old-space-size=${MAX_MB}`, '--max-semi-space-size=4'];
    const r = spawnSync(
      process.execPath,
      ['--expose-gc', ...heapCap, join(repo, 'test/corpus/measure.ts'), String(i)],
      {
        encoding: 'utf8',
        timeout: 60_000,
      },
    );
    assert.equal(
      r.status,
      0,
      `measure.ts failed (out of a ${MAX_MB} MB heap?): ${r.signal ?? ''} ${r.stderr.slice(0, 2000)}`,
    );
    const figures = JSON.parse(r.stdout) as {
      ms: number;
      rssMB: number;
      heapMB: number;
      bytes: number;
      codes: string[];
    };
    t.diagnostic(`${figures.bytes} bytes: ${figures.ms} ms, RSS +${figures.rssMB} MB, heap +${figures.heapMB} MB`);
    assert.deepEqual(figures.codes, doc.expect === 'valid' ? [] : [doc.expect], doc.why);
    assert.ok(figures.ms < MAX_MS, `${figures.ms} ms`);
    assert.ok(
      figures.rssMB < MAX_MB && figures.heapMB < MAX_MB,
      `RSS +${figures.rssMB} MB, heap +${figures.heapMB} MB`,
    );
  });
});
