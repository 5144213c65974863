/**
 * Generated cases of the bad-input corpus (RELIABILITY.md section 4.5). Every random choice comes
 * from a PRNG seeded by `seed`, one stream per generator, so a printed seed reproduces a run.
 * `stress` (RIVET_STRESS) multiplies the counts; nightly runs use the same code with more cases.
 *
 * Mutations of valid documents (truncation, byte flips, line edits) may yield valid documents, so
 * they only expect "no throw, and positioned diagnostics when invalid". Generators that build a
 * specific defect also assert its error code, and its position or hint where they know them.
 */
import { DEFAULT_YAML_LIMITS } from '../../src/model/index.ts';
import assert from 'node:assert/strict';
import type { ErrorCode } from '../../src/errors.ts';
import type { LoadedWorkflow } from '../../src/load.ts';
import {
  type Category,
  concat,
  type CorpusCase,
  misspell,
  positionAfter,
  type Rng,
  streamFor,
  uniquelyNearest,
  utf8,
} from './cases.ts';
import type { Seed } from './seeds.ts';

export interface GenerateOptions {
  readonly seed: number;
  /** RIVET_STRESS: multiplies every count. */
  readonly stress: number;
  /** Valid documents to mutate: the corpus's own seeds, plus the examples when present. */
  readonly bases: readonly Seed[];
}

type Gen = (rng: Rng, n: number, bases: readonly Seed[]) => CorpusCase[];

/** Base counts at stress 1; the truncations depend on the bases' sizes instead. */
const GENERATORS: readonly [string, number, Gen][] = [
  ['byte-flip', 30, byteFlips],
  ['line-edit', 15, lineEdits],
  ['bad-identifier', 30, badIdentifiers],
  ['bad-duration', 25, badDurations],
  ['bad-cron', 25, badCrons],
  ['wrong-type', 35, wrongTypes],
  ['unknown-field', 35, unknownFields],
  ['graph', 40, graphCases],
  ['size-boundary', 12, sizeBoundaries],
  ['misspelt-reference', 40, misspeltReferences],
  ['broken-expression', 30, brokenExpressions],
  ['expression-type', 30, expressionTypeErrors],
  ['prototype-key', 40, prototypeKeys],
  ['depth', 30, depthCases],
  ['alias-budget', 30, aliasCases],
  ['encoding', 60, encodingCases],
  ['line-endings', 15, lineEndingCases],
  ['type-confusion', 50, typeConfusion],
];

export function generateCases(options: GenerateOptions): CorpusCase[] {
  const { seed, stress, bases } = options;
  const out: CorpusCase[] = [...truncations(bases, stress)];
  for (const [name, count, gen] of GENERATORS) {
    // Generators over the bases make `count` cases per base; the others `count` in all.
    const perBase = gen === byteFlips || gen === lineEdits;
    // A loop, not push(...): at high stress a generator returns more items than a call takes.
    for (const c of gen(streamFor(seed, name), Math.ceil(count * stress), perBase ? bases : [])) out.push(c);
  }
  return out;
}

/** A generated case; large documents pass a builder so that they exist only while they run. */
function generated(
  category: Category,
  name: string,
  text: string | Uint8Array | (() => string),
  expect: CorpusCase['expect'],
  extra: Partial<Pick<CorpusCase, 'code' | 'message' | 'hint' | 'at' | 'check'>> = {},
): CorpusCase {
  const bytes = typeof text === 'function' ? () => utf8(text()) : () => (typeof text === 'string' ? utf8(text) : text);
  return { name, category, origin: 'generated', expect, ...extra, bytes };
}

/** Position of the first occurrence of `needle` in `text` (it must be there). */
function at(text: string, needle: string): { line: number; col: number } {
  const i = text.indexOf(needle);
  if (i === -1) throw new Error(`corpus generator bug: ${JSON.stringify(needle)} not in the document`);
  return positionAfter(text.slice(0, i));
}

// ---------------------------------------------------------------------------------------------
// Malformed YAML: truncations, byte flips, line edits of valid documents.

/** Every base cut at every 64th byte (at stress N, every 64/N-th), the empty document included. */
function truncations(bases: readonly Seed[], stress: number): CorpusCase[] {
  const step = Math.max(1, Math.floor(64 / stress));
  const out: CorpusCase[] = [];
  for (const base of bases) {
    const bytes = utf8(base.text);
    for (let cut = 0; cut < bytes.length; cut += step) {
      out.push(generated('malformed-yaml', `truncate ${base.name} at byte ${cut}`, bytes.slice(0, cut), 'any'));
    }
  }
  return out;
}

/** Bytes that mean something to YAML or to UTF-8, more likely to reach interesting paths. */
const INTERESTING_BYTES = [
  0x00, 0x09, 0x0a, 0x0d, 0x20, 0x21, 0x22, 0x23, 0x25, 0x26, 0x27, 0x2a, 0x2c, 0x2d, 0x3a, 0x3e, 0x3f, 0x40, 0x5b,
  0x5c, 0x5d, 0x60, 0x7b, 0x7c, 0x7d, 0x80, 0xbf, 0xc0, 0xc3, 0xe2, 0xed, 0xef, 0xf0, 0xf4, 0xfe, 0xff,
];

function byteFlips(rng: Rng, n: number, bases: readonly Seed[]): CorpusCase[] {
  const out: CorpusCase[] = [];
  for (const base of bases) {
    const original = utf8(base.text);
    for (let k = 0; k < n; k++) {
      let bytes: Uint8Array = Uint8Array.from(original);
      const ops: string[] = [];
      for (let m = rng.between(1, 4); m > 0; m--) {
        const i = rng.int(bytes.length);
        switch (rng.int(5)) {
          case 0: {
            const bit = rng.int(8);
            bytes[i] = bytes[i]! ^ (1 << bit);
            ops.push(`flip bit ${bit} of byte ${i}`);
            break;
          }
          case 1: {
            const b = rng.pick(INTERESTING_BYTES);
            bytes[i] = b;
            ops.push(`set byte ${i} to 0x${b.toString(16)}`);
            break;
          }
          case 2: {
            const b = rng.chance(0.5) ? rng.pick(INTERESTING_BYTES) : rng.int(256);
            bytes = concat(bytes.subarray(0, i), [b], bytes.subarray(i));
            ops.push(`insert 0x${b.toString(16)} at ${i}`);
            break;
          }
          case 3:
            bytes = concat(bytes.subarray(0, i), bytes.subarray(i + 1));
            ops.push(`delete byte ${i}`);
            break;
          default: {
            const len = rng.between(1, 40);
            bytes = concat(bytes.subarray(0, i + len), bytes.subarray(i, i + len), bytes.subarray(i + len));
            ops.push(`repeat ${len} bytes at ${i}`);
          }
        }
      }
      out.push(generated('malformed-yaml', `byte flips #${k} of ${base.name}: ${ops.join(', ')}`, bytes, 'any'));
    }
  }
  return out;
}

const GARBAGE_LINES = [
  '- x',
  ': ',
  '? ',
  '&a',
  '*zz',
  '{',
  '[',
  ']',
  '"',
  "'",
  '---',
  '...',
  '%YAML 1.1',
  '!!js/function f',
  '<<: *a',
  '__proto__: 1',
  'name: again',
  '\t- tab',
  '  - [[[[',
  '|',
  '>-',
  '${{',
  '#',
];

function lineEdits(rng: Rng, n: number, bases: readonly Seed[]): CorpusCase[] {
  const out: CorpusCase[] = [];
  for (const base of bases) {
    for (let k = 0; k < n; k++) {
      const lines = base.text.split('\n');
      const ops: string[] = [];
      for (let m = rng.between(1, 3); m > 0; m--) {
        const i = rng.int(lines.length);
        const line = lines[i]!;
        switch (rng.int(7)) {
          case 0:
            lines.splice(i, 0, line);
            ops.push(`duplicate line ${i + 1}`);
            break;
          case 1:
            lines.splice(i, 1);
            ops.push(`delete line ${i + 1}`);
            break;
          case 2:
            if (i + 1 < lines.length) [lines[i], lines[i + 1]] = [lines[i + 1]!, line];
            ops.push(`swap lines ${i + 1} and ${i + 2}`);
            break;
          case 3:
            lines[i] = line.replace(/^( +)/, (s) => '\t'.repeat(Math.max(1, s.length >> 1)));
            ops.push(`tabs for the indentation of line ${i + 1}`);
            break;
          case 4: {
            const shift = rng.pick([-2, -1, 1, 2]);
            lines[i] = shift > 0 ? ' '.repeat(shift) + line : line.slice(-shift);
            ops.push(`indent line ${i + 1} by ${shift}`);
            break;
          }
          case 5: {
            const g = rng.pick(GARBAGE_LINES);
            lines.splice(i, 0, ' '.repeat(rng.pick([0, 2, 4])) + g);
            ops.push(`insert ${JSON.stringify(g)} before line ${i + 1}`);
            break;
          }
          default: {
            const j = rng.int(line.length + 1);
            const g = rng.pick(['"', "'", '[', '{', ':', ' #', '&x ', '*x', '!', '%', '`', '@', '}}', '${{ ']);
            lines[i] = line.slice(0, j) + g + line.slice(j);
            ops.push(`insert ${JSON.stringify(g)} in line ${i + 1}`);
          }
        }
      }
      out.push(
        generated('malformed-yaml', `line edits #${k} of ${base.name}: ${ops.join(', ')}`, lines.join('\n'), 'any'),
      );
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Schema: identifiers, durations, cron, types, fields.

const IDENTIFIER = /^[a-z_][a-z0-9_]*$/;
const FORBIDDEN = new Set(['__proto__', 'constructor', 'prototype']);
const ID_ALPHABET = 'abcxyzABCXYZ0189_-. é$:/@';

function randomBadIdentifier(rng: Rng): string {
  for (;;) {
    let id = '';
    for (let len = rng.between(1, 12); len > 0; len--) id += ID_ALPHABET[rng.int(ID_ALPHABET.length)];
    id = id.trim();
    if (id !== '' && !IDENTIFIER.test(id) && !FORBIDDEN.has(id)) return id;
  }
}

/** Task ids, input names and output names outside `[a-z_][a-z0-9_]*` → RV205 at the name. */
function badIdentifiers(rng: Rng, n: number): CorpusCase[] {
  const places: [string, (q: string) => string][] = [
    ['task id', (q) => `name: corpus\ntasks:\n  ok:\n    noop:\n  ${q}:\n    noop:\n`],
    ['input name', (q) => `name: corpus\ninputs:\n  ${q}: { type: string }\ntasks:\n  ok:\n    noop:\n`],
    [
      'task output',
      (q) => `name: corpus\ntasks:\n  ok:\n    shell: { run: ./x.sh }\n    outputs:\n      ${q}: fixed\n`,
    ],
    ['workflow output', (q) => `name: corpus\ntasks:\n  ok:\n    noop:\noutputs:\n  ${q}: fixed\n`],
    ['needs entry', (q) => `name: corpus\ntasks:\n  ok:\n    noop:\n  later:\n    needs: [ok, ${q}]\n    noop:\n`],
    [
      'approval field',
      (q) => `name: corpus\ntasks:\n  ok:\n    approval: { message: go?, fields: { ${q}: { type: string } } }\n`,
    ],
  ];
  const out: CorpusCase[] = [];
  for (let k = 0; k < n; k++) {
    const id = randomBadIdentifier(rng);
    const quoted = JSON.stringify(id);
    const [place, build] = rng.pick(places);
    if (place === 'approval field') {
      // Form fields are any names (they are not used in expressions): this must stay valid.
      out.push(generated('schema', `form field named ${quoted}`, build(quoted), 'valid'));
      continue;
    }
    const text = build(quoted);
    const where = place === 'needs entry' ? shifted(at(text, `, ${quoted}]`), 2) : at(text, quoted);
    out.push(
      generated('schema', `${place} ${quoted}`, text, 'invalid', {
        code: 'RV205',
        message: /is not an identifier/,
        at: where,
      }),
    );
  }
  return out;
}

function shifted(p: { line: number; col: number }, cols: number): { line: number; col: number } {
  return { line: p.line, col: p.col + cols };
}

const DURATION = /^(\d+(\.\d+)?(ms|s|m|h|d))+$/;
const DURATION_TOKENS = [
  '1',
  '5',
  '30',
  '1.5',
  '.5',
  '-1',
  '0x10',
  'ms',
  's',
  'm',
  'h',
  'd',
  'w',
  'y',
  ' ',
  'min',
  'sec',
];
const MORE_DURATION_TOKENS = ['P', 'T', ':', '1e3', 'S', 'H', 'M', '\u00b5s', 'ns', '+', ',', '∞', '٣'];

/** Durations that are not `500ms`, `30s`, `5m`, `1h30m`, `2d`... → RV206 at the value. */
function badDurations(rng: Rng, n: number): CorpusCase[] {
  const slots: [string, (v: string) => string][] = [
    ['workflow timeout', (v) => `name: corpus\ntimeout: ${v}\ntasks:\n  a:\n    noop:\n`],
    ['task timeout', (v) => `name: corpus\ntasks:\n  a:\n    noop:\n    timeout: ${v}\n`],
    ['retry delay', (v) => `name: corpus\ntasks:\n  a:\n    noop:\n    retry: { attempts: 2, delay: ${v} }\n`],
    ['approval timeout', (v) => `name: corpus\ntasks:\n  a:\n    approval: { message: ok?, timeout: ${v} }\n`],
    ['sleep duration', (v) => `name: corpus\ntasks:\n  a:\n    sleep:\n      duration: ${v}\n`],
    ['cache ttl', (v) => `name: corpus\ntasks:\n  a:\n    noop:\n    cache: { key: k, ttl: ${v} }\n`],
    ['http timeout', (v) => `name: corpus\ntasks:\n  a:\n    http: { url: "https://x.example", timeout: ${v} }\n`],
    ['process grace', (v) => `name: corpus\nprocess:\n  run: ./serve\n  stop: { grace: ${v} }\n`],
  ];
  const out: CorpusCase[] = [];
  for (let k = 0; k < n; k++) {
    let value = '';
    while (value === '' || DURATION.test(value)) {
      value = '';
      for (let m = rng.between(1, 4); m > 0; m--) {
        value += rng.chance(0.8) ? rng.pick(DURATION_TOKENS) : rng.pick(MORE_DURATION_TOKENS);
      }
    }
    const quoted = JSON.stringify(value);
    const [slot, build] = rng.pick(slots);
    const text = build(quoted);
    out.push(
      generated('schema', `${slot} ${quoted}`, text, 'invalid', {
        code: 'RV206',
        message: /is not a duration/,
        at: at(text, quoted),
      }),
    );
  }
  return out;
}

const CRON_RANGES: readonly [number, number][] = [
  [0, 59],
  [0, 23],
  [1, 31],
  [1, 12],
  [0, 7],
];

/** Cron expressions broken in one field, or with a wrong number of fields → RV209. */
function badCrons(rng: Rng, n: number): CorpusCase[] {
  const out: CorpusCase[] = [];
  for (let k = 0; k < n; k++) {
    const fields = ['30', '2', '*', '*', '1-5'];
    let why: string;
    if (rng.chance(0.2)) {
      const count = rng.pick([1, 2, 3, 4, 8, 9]);
      while (fields.length < count) fields.push('*');
      fields.length = count;
      why = `${count} fields`;
    } else {
      const f = rng.int(5);
      const [lo, hi] = CRON_RANGES[f]!;
      const bad = rng.pick([
        String(hi + rng.between(1, 40)),
        ...(lo > 0 ? ['0'] : []),
        '*/0',
        'x',
        '1.5',
        `${hi}-${lo}`,
        `${lo},,${hi}`,
        '-1',
        '%',
        'MON-',
      ]);
      fields[f] = bad;
      why = `field ${f + 1} is ${JSON.stringify(bad)}`;
    }
    const cron = JSON.stringify(fields.join(' '));
    const text = `name: corpus\non:\n  schedule:\n    - cron: ${cron}\n      timezone: Europe/Paris\ntasks:\n  a:\n    noop:\n`;
    out.push(generated('schema', `cron ${cron} (${why})`, text, 'invalid', { code: 'RV209', at: at(text, cron) }));
  }
  return out;
}

type YamlType = 'string' | 'number' | 'boolean' | 'null' | 'list' | 'map';
const VALUES: Record<YamlType, readonly string[]> = {
  string: ['"text"', 'plain words', "'single'"],
  number: ['42', '3.5', '-1', '0x1F', '.inf', '1e3'],
  boolean: ['true', 'false'],
  null: ['~', 'null'],
  list: ['[1, 2]', '[]', '["a", "b"]', '[{a: 1}]'],
  map: ['{a: 1}', '{}', '{b: [1]}'],
};

/** A slot accepts some YAML types; any value of another type → RV202 at the value. */
const TYPE_SLOTS: readonly [string, readonly YamlType[], (v: string) => string][] = [
  ['name', ['string'], (v) => `name: ${v}\ntasks:\n  a:\n    noop:\n`],
  ['description', ['string'], (v) => `name: corpus\ndescription: ${v}\ntasks:\n  a:\n    noop:\n`],
  ['tasks', ['map'], (v) => `name: corpus\ntasks: ${v}\n`],
  ['a task', ['map'], (v) => `name: corpus\ntasks:\n  a: ${v}\n`],
  ['needs', ['string', 'list'], (v) => `name: corpus\ntasks:\n  b:\n    noop:\n  a:\n    needs: ${v}\n    noop:\n`],
  ['retry', ['map'], (v) => `name: corpus\ntasks:\n  a:\n    noop:\n    retry: ${v}\n`],
  ['retry.attempts', ['number'], (v) => `name: corpus\ntasks:\n  a:\n    noop:\n    retry: { attempts: ${v} }\n`],
  ['task concurrency', ['number'], (v) => `name: corpus\ntasks:\n  a:\n    noop:\n    concurrency: ${v}\n`],
  ['http url', ['string'], (v) => `name: corpus\ntasks:\n  a:\n    http:\n      url: ${v}\n`],
  [
    'http header',
    ['string'],
    (v) => `name: corpus\ntasks:\n  a:\n    http:\n      url: "https://h.test"\n      headers: { X-A: ${v} }\n`,
  ],
  ['inputs', ['map'], (v) => `name: corpus\ninputs: ${v}\ntasks:\n  a:\n    noop:\n`],
  ['input required', ['boolean'], (v) => `name: corpus\ninputs:\n  i: { required: ${v} }\ntasks:\n  a:\n    noop:\n`],
  [
    'approvers',
    ['list'],
    (v) => `name: corpus\ntasks:\n  a:\n    approval:\n      message: ok?\n      approvers: ${v}\n`,
  ],
  ['shell command', ['list'], (v) => `name: corpus\ntasks:\n  a:\n    shell:\n      command: ${v}\n`],
  [
    'shell env value',
    ['string', 'number', 'boolean'],
    (v) => `name: corpus\ntasks:\n  a:\n    shell: { run: x, env: { A: ${v} } }\n`,
  ],
  ['assert', ['list'], (v) => `name: corpus\ntasks:\n  a:\n    noop:\n    assert: ${v}\n`],
  ['permissions.run', ['list'], (v) => `name: corpus\npermissions:\n  run: ${v}\ntasks:\n  a:\n    noop:\n`],
  ['catalog', ['map'], (v) => `name: corpus\ncatalog: ${v}\ntasks:\n  a:\n    noop:\n`],
];

function wrongTypes(rng: Rng, n: number): CorpusCase[] {
  const out: CorpusCase[] = [];
  for (let k = 0; k < n; k++) {
    const [slot, accepts, build] = rng.pick(TYPE_SLOTS);
    const wrong = (Object.keys(VALUES) as YamlType[]).filter((t) => !accepts.includes(t));
    const type = rng.pick(wrong);
    const value = rng.pick(VALUES[type]);
    out.push(generated('schema', `${slot} given ${type} ${value}`, build(value), 'invalid', { code: 'RV202' }));
  }
  return out;
}

const ALLOWED_FIELDS: Record<string, readonly string[]> = {
  document: [
    'name',
    'description',
    'catalog',
    'inputs',
    'concurrency',
    'timeout',
    'permissions',
    'tasks',
    'process',
    'outputs',
    'on',
  ],
  task: [
    'description',
    'needs',
    'when',
    'if',
    'for_each',
    'concurrency',
    'retry',
    'timeout',
    'cache',
    'assert',
    'outputs',
  ],
  http: [
    'method',
    'url',
    'query',
    'headers',
    'json',
    'form',
    'body',
    'auth',
    'timeout',
    'tls',
    'expect',
    'follow_redirects',
    'max_redirects',
    'max_response_bytes',
    'poll',
  ],
  retry: ['attempts', 'backoff', 'delay', 'max_delay', 'jitter', 'on'],
  input: ['type', 'required', 'default', 'title', 'description', 'pattern', 'enum', 'minimum', 'maximum', 'secret'],
  schedule: ['cron', 'timezone', 'inputs', 'catch_up'],
};
const KIND_NAMES = ['http', 'shell', 'approval', 'sleep', 'workflow', 'noop'];

/** An unknown key where the schema is strict → RV201, with "did you mean" for a near miss. */
function unknownFields(rng: Rng, n: number): CorpusCase[] {
  const places: [keyof typeof ALLOWED_FIELDS, (k: string) => string][] = [
    ['document', (k) => `name: corpus\n${k}: 1\ntasks:\n  a:\n    noop:\n`],
    ['task', (k) => `name: corpus\ntasks:\n  a:\n    noop:\n    ${k}: 1\n`],
    ['http', (k) => `name: corpus\ntasks:\n  a:\n    http:\n      url: https://x.example\n      ${k}: 1\n`],
    ['retry', (k) => `name: corpus\ntasks:\n  a:\n    noop:\n    retry:\n      attempts: 2\n      ${k}: 1\n`],
    ['input', (k) => `name: corpus\ninputs:\n  i:\n    type: string\n    ${k}: 1\ntasks:\n  a:\n    noop:\n`],
    [
      'schedule',
      (k) => `name: corpus\non:\n  schedule:\n    cron: "0 3 * * *"\n    ${k}: 1\ntasks:\n  a:\n    noop:\n`,
    ],
  ];
  const out: CorpusCase[] = [];
  for (let k = 0; k < n; k++) {
    const [place, build] = rng.pick(places);
    const allowed = ALLOWED_FIELDS[place]!;
    const taken = new Set([...allowed, ...KIND_NAMES, ...FORBIDDEN]);
    let key: string;
    let nearMiss: string | undefined;
    do {
      if (rng.chance(0.6)) {
        nearMiss = rng.pick(allowed.filter((a) => a.length >= 4));
        key = misspell(rng, nearMiss, 'abcdefghijklmnopqrstuvwxyz');
      } else {
        nearMiss = undefined;
        key = 'x' + Array.from({ length: rng.between(3, 9) }, () => 'abcdefghijklmnopqrstuvwxyz'[rng.int(26)]).join('');
      }
    } while (taken.has(key) || !/^[a-z][a-z_]*$/.test(key));
    const text = build(key);
    const hintable = nearMiss !== undefined && uniquelyNearest(key, nearMiss, allowed);
    out.push(
      generated('schema', `unknown ${place} field "${key}"`, text, 'invalid', {
        code: 'RV201',
        message: new RegExp(`unknown field "${key}"`),
        at: at(text, `${key}: 1`),
        ...(hintable ? { hint: new RegExp(`did you mean "${nearMiss}"\\?`) } : {}),
      }),
    );
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Graph and size.

/**
 * Random DAGs of 2 to 1,000 tasks in shuffled order: left alone (valid), closed by a cycle of 1 to
 * 60 tasks (RV302, whose printed path must follow real `needs` edges), or given a need on a
 * task that does not exist (RV301).
 */
function graphCases(rng: Rng, n: number): CorpusCase[] {
  const out: CorpusCase[] = [];
  for (let k = 0; k < n; k++) {
    const size = rng.chance(0.6) ? rng.between(2, 40) : rng.between(40, 1000);
    const ids = Array.from({ length: size }, (_, i) => `t${i}_${rng.int(1000)}`);
    const needs: string[][] = ids.map((_, i) => {
      const set = new Set<string>();
      for (let m = rng.int(4); m > 0 && i > 0; m--) set.add(ids[rng.int(i)]!);
      return [...set];
    });
    const mode = rng.pick(['valid', 'cycle', 'unknown'] as const);
    let what: string = `DAG of ${size} tasks`;
    if (mode === 'cycle') {
      const length = rng.between(1, Math.min(size, 60));
      const members = [...ids.keys()].sort(() => rng.next() - 0.5).slice(0, length);
      members.forEach((m, i) => {
        const next = ids[members[(i + 1) % length]!]!;
        if (!needs[m]!.includes(next)) needs[m]!.push(next);
      });
      what += `, closed by a ${length}-task cycle`;
    } else if (mode === 'unknown') {
      needs[rng.int(size)]!.push(`missing_${rng.int(1000)}`);
      what += ', one need on a missing task';
    }
    const order = [...ids.keys()].sort(() => rng.next() - 0.5);
    let text = 'name: corpus\ntasks:\n';
    for (const i of order) {
      const list = needs[i]!;
      text += `  ${ids[i]}:\n`;
      if (list.length === 1 && rng.chance(0.5)) text += `    needs: ${list[0]}\n`;
      else if (list.length > 0) text += `    needs: [${list.join(', ')}]\n`;
      text += '    noop:\n';
    }
    const edges = new Map(ids.map((id, i) => [id, new Set(needs[i])]));
    out.push(
      mode === 'valid'
        ? generated('graph', what, text, 'valid')
        : generated('graph', what, text, 'invalid', {
            code: mode === 'cycle' ? 'RV302' : 'RV301',
            check: mode === 'cycle' ? (r) => cyclesFollowEdges(r.diagnostics, edges) : undefined,
          }),
    );
  }
  return out;
}

/** Every cycle printed by RV302 closes on its first task and each task in it needs the next. */
function cyclesFollowEdges(
  diagnostics: LoadedWorkflow['diagnostics'],
  edges: ReadonlyMap<string, ReadonlySet<string>>,
): void {
  for (const d of diagnostics) {
    const path = /dependency cycle: (.*) \(each task needs the next\)/.exec(d.message)?.[1];
    if (d.code !== 'RV302' || path === undefined) continue;
    const ids = path.split(' → ').map((p) => (p.startsWith('… ') ? undefined : p));
    assert.equal(ids[0], ids.at(-1), `the cycle does not close: ${path}`);
    for (let i = 0; i + 1 < ids.length; i++) {
      const [a, b] = [ids[i], ids[i + 1]];
      if (a !== undefined && b !== undefined) assert.ok(edges.get(a)?.has(b), `${a} does not need ${b} in ${path}`);
    }
  }
}

/** Strings, documents and sequences a few units either side of their limits (RV107 past them). */
function sizeBoundaries(rng: Rng, n: number): CorpusCase[] {
  const out: CorpusCase[] = [];
  const doc = (description: string) => `name: corpus\ndescription: ${description}\ntasks:\n  a:\n    noop:\n`;
  for (let k = 0; k < n; k++) {
    const delta = rng.between(-4, 4);
    const kind = rng.pick(['string', 'document', 'sequence'] as const);
    const limit =
      kind === 'string'
        ? DEFAULT_YAML_LIMITS.maxStringLength
        : kind === 'document'
          ? DEFAULT_YAML_LIMITS.maxBytes
          : DEFAULT_YAML_LIMITS.maxCollectionItems;
    const over = delta > 0;
    const text = (): string => {
      if (kind === 'string') return doc('s'.repeat(limit + delta));
      if (kind === 'document') return `${doc('padded')}#${'-'.repeat(limit + delta - doc('padded').length - 2)}\n`;
      return `name: corpus\ntasks:\n  a:\n    http:\n      url: "https://h.test"\n      json: [${Array(limit + delta)
        .fill('0')
        .join(',')}]\n`;
    };
    const name = `${kind} at its limit ${delta >= 0 ? '+' : ''}${delta}`;
    out.push(
      over ? generated('size', name, text, 'invalid', { code: 'RV107' }) : generated('size', name, text, 'valid'),
    );
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// References and expressions.

const REF_INPUTS = ['team_name', 'bucket_name', 'region_code', 'retention_days'];
const REF_TASKS = ['find_team', 'create_bucket', 'notify_owner', 'cleanup_old'];
const REF_OUTPUTS = ['team_id', 'owner_email', 'created_at'];
const ROOTS = ['inputs', 'secrets', 'tasks', 'event'];
const ALL_ROOTS = ['inputs', 'vars', 'secrets', 'env', 'tasks', 'run', 'event', 'item', 'index', 'response', 'result'];

function referenceDocument(expr: string, needs = REF_TASKS): string {
  return `name: corpus
inputs:
${REF_INPUTS.map((i) => `  ${i}: { type: string }`).join('\n')}
tasks:
  find_team:
    shell: { run: ./find.sh }
    outputs:
${REF_OUTPUTS.map((o) => `      ${o}: \${{ result.${o} }}`).join('\n')}
  create_bucket:
    needs: [find_team]
    noop:
  notify_owner:
    needs: [find_team]
    noop:
  cleanup_old:
    noop:
  report:
    needs: [${needs.join(', ')}]
    http:
      url: https://report.example
      json:
        value: "${expr}"
`;
}

/** One-edit misspellings of names in expressions and needs → RV301/402/403/404/406 + hint. */
function misspeltReferences(rng: Rng, n: number): CorpusCase[] {
  const out: CorpusCase[] = [];
  const kinds = ['input', 'task', 'output', 'need', 'root'] as const;
  for (let k = 0; k < n; k++) {
    const kind = rng.pick(kinds);
    const names = kind === 'input' ? REF_INPUTS : kind === 'output' ? REF_OUTPUTS : kind === 'root' ? ROOTS : REF_TASKS;
    const right = rng.pick(names);
    const pool = kind === 'root' ? ALL_ROOTS : kind === 'task' || kind === 'need' ? [...REF_TASKS, 'report'] : names;
    let wrong = misspell(rng, right, 'abcdefghijklmnopqrstuvwxyz');
    for (let tries = 0; !uniquelyNearest(wrong, right, pool) || !IDENTIFIER.test(wrong); tries++) {
      wrong = misspell(rng, right, 'abcdefghijklmnopqrstuvwxyz');
      if (tries > 50) break;
    }
    if (!uniquelyNearest(wrong, right, pool) || !IDENTIFIER.test(wrong)) continue;
    // The expression (or needs list), the code, and where the diagnostic points: at `wrong`,
    // found as `needle` and `shift` columns into it.
    const [text, code, needle, shift]: [string, ErrorCode, string, number] =
      kind === 'input'
        ? [referenceDocument(`\${{ inputs.${wrong} }}`), 'RV403', `inputs.${wrong} }}`, 7]
        : kind === 'task'
          ? [referenceDocument(`\${{ tasks.${wrong}.status }}`), 'RV404', `tasks.${wrong}.status`, 6]
          : kind === 'output'
            ? [referenceDocument(`\${{ tasks.find_team.outputs.${wrong} }}`), 'RV406', `.${wrong} }}`, 1]
            : kind === 'need'
              ? [
                  referenceDocument('fixed', [...REF_TASKS.filter((t) => t !== right), wrong]),
                  'RV301',
                  `, ${wrong}]`,
                  2,
                ]
              : [referenceDocument(`\${{ ${wrong}.x }}`), 'RV402', `{{ ${wrong}.x`, 3];
    out.push(
      generated('references', `${kind} "${right}" misspelt "${wrong}"`, text, 'invalid', {
        code,
        hint: new RegExp(`did you mean "${right}"\\?`),
        at: shifted(at(text, needle), shift),
      }),
    );
  }
  return out;
}

const VALID_EXPRESSIONS = [
  'inputs.team_name',
  'inputs.team_name + "-" + inputs.region_code',
  'size(inputs.bucket_name) > 3 && inputs.region_code in ["eu", "us"]',
  'tasks.find_team.outputs.team_id',
  'tasks.create_bucket.status == "succeeded" ? 1 : 2',
  'int(inputs.retention_days) * 24',
  '[1, 2, 3].map(x, x * 2).exists(y, y > 4)',
  'has(event.body.id) ? event.body.id : "none"',
  'inputs.bucket_name.startsWith("b-") || inputs.bucket_name.matches("^[a-z]+$")',
  '{"a": inputs.team_name}.a',
];
const EXPRESSION_TOKENS = [
  '+',
  '-',
  '*',
  '/',
  '%',
  '(',
  ')',
  '[',
  ']',
  '{',
  '}',
  '.',
  ',',
  '"',
  "'",
  '&&',
  '||',
  '?',
  ':',
  '==',
  '!',
  '<',
  '1',
  '1.5',
  'null',
  'in',
  'foo(',
  '.bar',
  '}}',
  '${{',
  '\\',
  '`',
  '@',
  '#',
  '..',
  'tasks',
  'x.y',
];

/** Valid expressions with a random token inserted: any outcome, but never a throw. */
function brokenExpressions(rng: Rng, n: number): CorpusCase[] {
  const out: CorpusCase[] = [];
  for (let k = 0; k < n; k++) {
    const expr = rng.pick(VALID_EXPRESSIONS);
    let broken = expr;
    for (let m = rng.between(1, 3); m > 0; m--) {
      const i = rng.int(broken.length + 1);
      broken = broken.slice(0, i) + rng.pick(EXPRESSION_TOKENS) + broken.slice(i);
    }
    const scalar = JSON.stringify(`\${{ ${broken} }}`).slice(1, -1);
    out.push(generated('expressions', `broken expression ${JSON.stringify(broken)}`, referenceDocument(scalar), 'any'));
  }
  return out;
}

const LITERALS: Record<string, readonly string[]> = {
  int: ['1', '42', '-7'],
  string: ['"a"', "'text'"],
  bool: ['true', 'false'],
  list: ['[1]', '["a", "b"]'],
  map: ['{"k": 1}', '{}'],
  null: ['null'],
};
const FUNCTIONS: readonly [string, readonly number[]][] = [
  ['size', [1]],
  ['int', [1]],
  ['string', [1]],
  ['double', [1]],
  ['duration', [1]],
  ['timestamp', [1]],
];
const METHODS: readonly [string, readonly number[]][] = [
  ['startsWith', [1]],
  ['endsWith', [1]],
  ['contains', [1]],
  ['matches', [1]],
  ['size', [0]],
];

/** Type errors, unknown functions and wrong arity → RV407. */
function expressionTypeErrors(rng: Rng, n: number): CorpusCase[] {
  const out: CorpusCase[] = [];
  const types = Object.keys(LITERALS);
  for (let k = 0; k < n; k++) {
    let expr: string;
    let what: string;
    switch (rng.int(4)) {
      case 0: {
        const a = rng.pick(types);
        const b = rng.pick(types.filter((t) => t !== a));
        const op = rng.pick(['+', '-', '*', '/', '%', '<', '>=']);
        expr = `${rng.pick(LITERALS[a]!)} ${op} ${rng.pick(LITERALS[b]!)}`;
        what = `type error ${a} ${op} ${b}`;
        break;
      }
      case 1: {
        const name = `zq${rng.int(1e6).toString(36)}`;
        expr = rng.chance(0.5) ? `${name}(inputs.team_name)` : `inputs.team_name.${name}()`;
        what = `unknown function ${name}`;
        break;
      }
      case 2: {
        const [fn, arities] = rng.pick(FUNCTIONS);
        const count = rng.pick([0, 1, 2, 3].filter((c) => !arities.includes(c)));
        expr = `${fn}(${Array.from({ length: count }, () => '"1"').join(', ')})`;
        what = `${fn} with ${count} arguments`;
        break;
      }
      default: {
        const [fn, arities] = rng.pick(METHODS);
        const count = rng.pick([0, 1, 2, 3].filter((c) => !arities.includes(c)));
        expr = `inputs.team_name.${fn}(${Array.from({ length: count }, () => '"1"').join(', ')})`;
        what = `method ${fn} with ${count} arguments`;
      }
    }
    const scalar = JSON.stringify(`\${{ ${expr} }}`).slice(1, -1);
    out.push(generated('expressions', `${what}: ${expr}`, referenceDocument(scalar), 'invalid', { code: 'RV407' }));
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Prototype keys, depth, aliases.

const PROTOTYPE_PLACES: readonly [string, (k: string) => string][] = [
  ['top-level key', (k) => `name: corpus\n${k}: 1\ntasks:\n  a:\n    noop:\n`],
  ['task id', (k) => `name: corpus\ntasks:\n  a:\n    noop:\n  ${k}:\n    noop:\n`],
  ['input name', (k) => `name: corpus\ninputs:\n  ${k}: { type: string }\ntasks:\n  a:\n    noop:\n`],
  ['task field', (k) => `name: corpus\ntasks:\n  a:\n    noop:\n    ${k}: {}\n`],
  [
    'http header',
    (k) => `name: corpus\ntasks:\n  a:\n    http:\n      url: https://x.example\n      headers:\n        ${k}: x\n`,
  ],
  [
    'http query',
    (k) => `name: corpus\ntasks:\n  a:\n    http:\n      url: https://x.example\n      query: { ${k}: x }\n`,
  ],
  [
    'json body key',
    (k) =>
      `name: corpus\ntasks:\n  a:\n    http:\n      url: https://x.example\n      json:\n        ${k}: { polluted: true }\n`,
  ],
  [
    'nested json key',
    (k) =>
      `name: corpus\ntasks:\n  a:\n    http:\n      url: https://x.example\n      json: [{ deep: [{ ${k}: { polluted: true } }] }]\n`,
  ],
  ['shell env name', (k) => `name: corpus\ntasks:\n  a:\n    shell:\n      run: ./x.sh\n      env:\n        ${k}: x\n`],
  ['task output', (k) => `name: corpus\ntasks:\n  a:\n    shell: { run: ./x.sh }\n    outputs:\n      ${k}: x\n`],
  ['workflow output', (k) => `name: corpus\ntasks:\n  a:\n    noop:\noutputs:\n  ${k}: x\n`],
  ['for_each item key', (k) => `name: corpus\ntasks:\n  a:\n    noop:\n    for_each: [{ ${k}: 1 }]\n`],
  [
    'input default key',
    (k) =>
      `name: corpus\ninputs:\n  o: { type: object, default: { ${k}: { polluted: true } } }\ntasks:\n  a:\n    noop:\n`,
  ],
  [
    'approval field',
    (k) => `name: corpus\ntasks:\n  a:\n    approval: { message: ok?, fields: { ${k}: { type: string } } }\n`,
  ],
  [
    'trigger input',
    (k) => `name: corpus\non:\n  webhook: { kind: generic, inputs: { ${k}: x } }\ntasks:\n  a:\n    noop:\n`,
  ],
];

/** `__proto__`, `constructor`, `prototype` as keys anywhere, written several ways → RV110. */
function prototypeKeys(rng: Rng, n: number): CorpusCase[] {
  const out: CorpusCase[] = [];
  const styles: [string, (k: string) => string][] = [
    ['plain', (k) => k],
    ['double-quoted', (k) => `"${k}"`],
    ['single-quoted', (k) => `'${k}'`],
    ['escaped', (k) => `"\\x5f\\u005f${k.slice(2)}"`],
    ['tagged', (k) => `!!str ${k}`],
  ];
  for (let k = 0; k < n; k++) {
    // Cover every place and key once before going random.
    const [place, build] =
      k < PROTOTYPE_PLACES.length * 3 ? PROTOTYPE_PLACES[k % PROTOTYPE_PLACES.length]! : rng.pick(PROTOTYPE_PLACES);
    const key =
      k < PROTOTYPE_PLACES.length * 3
        ? [...FORBIDDEN][Math.floor(k / PROTOTYPE_PLACES.length)]!
        : rng.pick([...FORBIDDEN]);
    const [style, write] = key.startsWith('__') ? rng.pick(styles) : rng.pick(styles.filter(([s]) => s !== 'escaped'));
    const written = write(key);
    const text = build(written);
    out.push(
      generated('prototype-keys', `${key} as ${place} (${style})`, text, 'invalid', {
        code: 'RV110',
        message: new RegExp(`the key "${key}" is not allowed`),
        // A tagged key is placed at its text, after `!!str `.
        at: shifted(at(text, written), style === 'tagged' ? 6 : 0),
      }),
    );
  }
  return out;
}

/** Nested collections in an http json body (a field of any shape): deep → RV105, shallow → valid. */
function depthCases(rng: Rng, n: number): CorpusCase[] {
  const out: CorpusCase[] = [];
  const head = 'name: corpus\ntasks:\n  a:\n    http:\n      url: https://x.example\n      json: ';
  for (let k = 0; k < n; k++) {
    // The body sits 4 collections deep; 64 is the limit. Stay clear of the exact boundary, which
    // js-yaml counts in parse nodes rather than collections (docs/errors.md RV105).
    const shallow = rng.chance(0.3);
    const depth = shallow ? rng.between(1, 56) : rng.chance(0.5) ? rng.between(70, 200) : rng.between(200, 10_000);
    const style = rng.pick(['seq', 'map', 'mixed', 'block'] as const);
    let body: string;
    if (style === 'block' && depth <= 1000) {
      body = '\n' + Array.from({ length: depth }, (_, i) => `${' '.repeat(8 + i)}k:`).join('\n') + ' 1\n';
    } else {
      let open = '';
      let close = '';
      for (let i = 0; i < depth; i++) {
        const map = style === 'map' || (style !== 'seq' && rng.chance(0.5));
        open += map ? '{k: ' : '[';
        close = (map ? '}' : ']') + close;
      }
      body = `${open}1${close}\n`;
    }
    out.push(
      generated(
        'depth',
        `${style} nesting ${depth} deep`,
        head + body,
        shallow ? 'valid' : 'invalid',
        shallow ? {} : { code: 'RV105' },
      ),
    );
  }
  return out;
}

/**
 * Billion-laughs shapes with random width and levels, in an http json body: the nodes aliases add
 * are computed exactly (a sequence counts 1 plus its items), so the expectation is known: valid
 * well under the 10,000 budget, RV104 well over it.
 */
function aliasCases(rng: Rng, n: number): CorpusCase[] {
  const out: CorpusCase[] = [];
  for (let k = 0; k < n; k++) {
    const width = rng.between(2, 12);
    const levels = rng.between(2, 9);
    let size = 1 + width; // level 0: a sequence of `width` strings
    let added = 0;
    const lines = [`        l0: &a0 [${Array(width).fill('lol').join(', ')}]`];
    for (let l = 1; l < levels; l++) {
      lines.push(
        `        l${l}: &a${l} [${Array(width)
          .fill(`*a${l - 1}`)
          .join(', ')}]`,
      );
      added += width * size;
      size = 1 + width * size;
    }
    const quadratic = rng.chance(0.3);
    let text = `name: corpus\ntasks:\n  a:\n    http:\n      url: https://x.example\n      json:\n${lines.join('\n')}\n`;
    if (quadratic) {
      // Quadratic variant: one wide list, aliased from many for_each tasks.
      const items = rng.between(50, 3000);
      const uses = rng.between(2, 40);
      text = `name: corpus\ntasks:\n  a:\n    for_each: &list [${Array.from({ length: items }, (_, i) => i).join(', ')}]\n    noop:\n`;
      for (let u = 0; u < uses; u++) text += `  t${u}:\n    for_each: *list\n    noop:\n`;
      added = uses * (items + 1);
    }
    const name = quadratic
      ? `for_each list aliased, ${added} nodes added`
      : `laughs ${width}^${levels}, ${added} nodes added`;
    if (added <= 9_000) out.push(generated('alias-bombs', name, text, 'valid'));
    else if (added >= 11_000)
      out.push(generated('alias-bombs', name, text, 'invalid', { code: 'RV104', message: /aliases expand/ }));
    else out.push(generated('alias-bombs', name, text, 'any'));
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Encoding and line endings.

const INVALID_UTF8: readonly [string, readonly number[]][] = [
  ['lone continuation byte', [0x80]],
  ['lone continuation byte', [0xbf]],
  ['0xFF', [0xff]],
  ['0xFE', [0xfe]],
  ['0xF5', [0xf5, 0x80, 0x80, 0x80]],
  ['overlong 2-byte /', [0xc0, 0xaf]],
  ['overlong 2-byte', [0xc1, 0xbf]],
  ['overlong 3-byte /', [0xe0, 0x80, 0xaf]],
  ['overlong 4-byte /', [0xf0, 0x80, 0x80, 0xaf]],
  ['overlong NUL', [0xc0, 0x80]],
  ['UTF-8 encoded high surrogate', [0xed, 0xa0, 0x80]],
  ['UTF-8 encoded low surrogate', [0xed, 0xbf, 0xbf]],
  ['CESU-8 surrogate pair', [0xed, 0xa0, 0xbd, 0xed, 0xb8, 0x80]],
  ['code point above U+10FFFF', [0xf4, 0x90, 0x80, 0x80]],
  ['truncated 2-byte sequence', [0xc3]],
  ['truncated 3-byte sequence', [0xe2, 0x82]],
  ['truncated 4-byte sequence', [0xf0, 0x9f, 0x9a]],
  ['Latin-1 é', [0xe9]],
];

const LONE_SURROGATES = ['\\ud800', '\\udbff', '\\udc00', '\\udfff', '\\udc00\\ud800', '\\ud800\\u0041', '\\ud83d'];

/** Character boundaries of a seed, as [byte offset, string offset]. */
function boundaries(text: string): [number, number][] {
  const out: [number, number][] = [];
  let bytes = 0;
  for (let i = 0; i < text.length;) {
    out.push([bytes, i]);
    const cp = text.codePointAt(i)!;
    bytes += cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
    i += cp > 0xffff ? 2 : 1;
  }
  out.push([bytes, text.length]);
  return out;
}

/**
 * Invalid UTF-8 or a NUL at a random place of a valid document → RV108 exactly there; escaped
 * lone surrogates in a double-quoted string → RV108.
 */
function encodingCases(rng: Rng, n: number): CorpusCase[] {
  const out: CorpusCase[] = [];
  const base =
    'name: encoding\ndescription: "Prévenir l\'équipe — 数据 🚀"\ntasks:\n  a:\n    shell:\n      run: echo ok\n';
  const cuts = boundaries(base);
  for (let k = 0; k < n; k++) {
    const pick = rng.int(10);
    if (pick < 6) {
      const [label, seq] = rng.pick(INVALID_UTF8);
      const [byteAt, charAt] = rng.pick(cuts);
      const bytes = concat(utf8(base).subarray(0, byteAt), seq, utf8(base).subarray(byteAt));
      out.push(
        generated('encoding', `${label} at byte ${byteAt}`, bytes, 'invalid', {
          code: 'RV108',
          at: positionAfter(base.slice(0, charAt)),
        }),
      );
    } else if (pick < 8) {
      const [byteAt, charAt] = rng.pick(cuts);
      const bytes = concat(utf8(base).subarray(0, byteAt), [0], utf8(base).subarray(byteAt));
      out.push(
        generated('encoding', `NUL at byte ${byteAt}`, bytes, 'invalid', {
          code: 'RV108',
          at: positionAfter(base.slice(0, charAt)),
        }),
      );
    } else {
      const s = rng.pick(LONE_SURROGATES);
      const text = `name: encoding\ndescription: "before ${s} after"\ntasks:\n  a:\n    noop:\n`;
      out.push(
        generated('encoding', `escaped lone surrogate ${s}`, text, 'invalid', { code: 'RV108', message: /surrogate/ }),
      );
    }
  }
  return out;
}

/** Every seed with CRLF, with a random mix of CRLF and LF, and with a BOM: all stay valid. */
function lineEndingCases(rng: Rng, n: number): CorpusCase[] {
  return Array.from({ length: n }, (_, k) => {
    const mode = k % 3;
    // Line endings inside a quoted or block scalar are folded by YAML, so mixing stays valid.
    const text = `# Équipe ✓\nname: endings\ndescription: >\n  folded\n  text\ninputs:\n  x: { type: string, default: "a" }\ntasks:\n  a:\n    shell:\n      run: |\n        echo one\n        echo two\n      env: { X: "\${{ inputs.x }}" }\n`;
    const lines = text.split('\n');
    const joined =
      mode === 0
        ? lines.join('\r\n')
        : lines.reduce((acc, line, i) => (i === 0 ? line : acc + (rng.chance(0.5) ? '\r\n' : '\n') + line), '');
    const bom = mode === 2 || rng.chance(0.3);
    const bytes = bom ? concat([0xef, 0xbb, 0xbf], joined) : utf8(joined);
    return generated(
      'encoding',
      `${mode === 0 ? 'CRLF' : 'mixed CRLF/LF'}${bom ? ' with BOM' : ''} #${k}`,
      bytes,
      'valid',
    );
  });
}

// ---------------------------------------------------------------------------------------------
// Type confusion.

const YAML11_BOOLEANS = [
  'y',
  'Y',
  'yes',
  'Yes',
  'YES',
  'n',
  'N',
  'no',
  'No',
  'NO',
  'on',
  'On',
  'ON',
  'off',
  'Off',
  'OFF',
];
const BOOLEAN_SLOTS: readonly [string, (v: string) => string][] = [
  ['input required', (v) => `name: corpus\ninputs:\n  i: { type: string, required: ${v} }\ntasks:\n  a:\n    noop:\n`],
  ['input secret', (v) => `name: corpus\ninputs:\n  i: { type: string, secret: ${v} }\ntasks:\n  a:\n    noop:\n`],
  ['retry jitter', (v) => `name: corpus\ntasks:\n  a:\n    noop:\n    retry: { attempts: 2, jitter: ${v} }\n`],
  [
    'follow_redirects',
    (v) => `name: corpus\ntasks:\n  a:\n    http: { url: "https://h.test", follow_redirects: ${v} }\n`,
  ],
  [
    'insecure_skip_verify',
    (v) => `name: corpus\ntasks:\n  a:\n    http: { url: "https://h.test", tls: { insecure_skip_verify: ${v} } }\n`,
  ],
];
const STRING_SLOTS: readonly [string, (v: string) => string][] = [
  ['name', (v) => `name: ${v}\ntasks:\n  a:\n    noop:\n`],
  ['description', (v) => `name: corpus\ndescription: ${v}\ntasks:\n  a:\n    noop:\n`],
  ['shell cwd', (v) => `name: corpus\ntasks:\n  a:\n    shell: { run: x, cwd: ${v} }\n`],
  ['approval message', (v) => `name: corpus\ntasks:\n  a:\n    approval: { message: ${v} }\n`],
  [
    'http header',
    (v) => `name: corpus\ntasks:\n  a:\n    http: { url: "https://h.test", headers: { X-Mode: ${v} } }\n`,
  ],
];
/** Plain scalars that YAML 1.2 reads as numbers although they look like codes or versions. */
const NUMBER_LOOKING = ['0755', '012', '0o17', '0x1F', '1e3', '+12', '.5', '1.10', '-0', '007'];
/** Plain scalars that were numbers in YAML 1.1 but are strings in 1.2: valid in string slots. */
const YAML11_ONLY_NUMBERS = ['1_000', '12:30', '0b101', '190:20:30', '0x_1F'];
const BAD_TAGS = [
  '!!js/function "function () { return 1 }"',
  '!!js/regexp /x/',
  '!!js/undefined ""',
  '!!binary aGVsbG8=',
  '!!python/object/apply:os.system ["id"]',
  '!!timestamp 2001-12-14',
  '!!set { a }',
  '!!omap [ a: 1 ]',
  '!custom value',
  '!<tag:yaml.org,2002:js/function> f',
  '!<!local> x',
  '!!int abc',
  '!!bool maybe',
];

function typeConfusion(rng: Rng, n: number): CorpusCase[] {
  const out: CorpusCase[] = [];
  for (let k = 0; k < n; k++) {
    switch (rng.int(5)) {
      case 0: {
        const word = rng.pick(YAML11_BOOLEANS);
        const [slot, build] = rng.pick(BOOLEAN_SLOTS);
        const text = build(word);
        out.push(
          generated('type-confusion', `YAML 1.1 boolean ${word} as ${slot}`, text, 'invalid', {
            code: 'RV202',
            hint: new RegExp(`YAML 1.2 reads ${word} as text`),
            at: shifted(at(text, `: ${word} }`), 2),
          }),
        );
        break;
      }
      case 1: {
        const word = rng.pick(YAML11_BOOLEANS);
        const text = `name: corpus\ninputs:\n  flag: { type: boolean, default: ${word} }\ntasks:\n  a:\n    noop:\n`;
        out.push(
          generated('type-confusion', `YAML 1.1 boolean ${word} as a boolean default`, text, 'invalid', {
            code: 'RV210',
            hint: new RegExp(`YAML 1.2 reads ${word} as text`),
          }),
        );
        break;
      }
      case 2: {
        const value = rng.pick(NUMBER_LOOKING);
        const [slot, build] = rng.pick(STRING_SLOTS);
        out.push(
          generated('type-confusion', `number-looking ${value} as ${slot}`, build(value), 'invalid', {
            code: 'RV202',
            hint: /quote the value/,
          }),
        );
        break;
      }
      case 3: {
        const value = rng.pick(YAML11_ONLY_NUMBERS);
        const [slot, build] = rng.pick(STRING_SLOTS.filter(([s]) => s !== 'name'));
        out.push(
          generated('type-confusion', `YAML 1.1 number ${value} as ${slot} (a string in 1.2)`, build(value), 'valid'),
        );
        break;
      }
      default: {
        const tagged = rng.pick(BAD_TAGS);
        const [slot, build] = rng.pick(STRING_SLOTS);
        const text = build(tagged);
        out.push(
          generated('type-confusion', `tag ${tagged.split(' ')[0]} as ${slot}`, text, 'invalid', {
            code: 'RV106',
            at: at(text, tagged.startsWith('!!int') || tagged.startsWith('!!bool') ? tagged.split(' ')[1]! : tagged),
          }),
        );
      }
    }
  }
  return out;
}
