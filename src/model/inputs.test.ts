/**
 * resolveInputs and fromText: every declared type, command-line text read as the declared type,
 * enum, pattern (RE2, unanchored unless the pattern says so), minimum and maximum, defaults,
 * required, unknown names, JSON pointers, and every problem reported at once.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { InputDefinition } from './common.ts';
import { fromText, type InputResult, resolveInputs } from './inputs.ts';

type Defs = Record<string, Partial<InputDefinition>>;

function check(defs: Defs, provided: Record<string, unknown>, text = false): InputResult {
  const full: Record<string, InputDefinition> = {};
  for (const [k, d] of Object.entries(defs)) full[k] = { type: 'string', ...d } as InputDefinition;
  return resolveInputs(full, provided, { text });
}

function values(r: InputResult): Record<string, unknown> {
  assert.ok(r.ok, r.ok ? '' : r.problems.map((p) => p.message).join('; '));
  return { ...r.values };
}

function problems(r: InputResult): string[] {
  assert.ok(!r.ok, 'expected problems');
  // "a object" is normalised so the tests do not pin that grammar slip of the message.
  return r.problems.map((p) => `${p.pointer} ${p.message.replace(/\ba object\b/g, 'an object')}`);
}

describe('resolveInputs: types', () => {
  const accepted: [string, unknown][] = [
    ['string', 'x'],
    ['string', ''],
    ['integer', 3],
    ['integer', -7],
    ['integer', 3.0],
    ['number', 2.5],
    ['number', 0],
    ['boolean', false],
    ['list', []],
    ['list', [1, 'a']],
    ['object', {}],
    ['object', { a: { b: 1 } }],
  ];
  for (const [type, value] of accepted) {
    test(`${type} accepts ${JSON.stringify(value)}`, () => {
      assert.deepEqual(values(check({ v: { type: type as InputDefinition['type'] } }, { v: value })), { v: value });
    });
  }

  const refused: [string, unknown, string][] = [
    ['string', 3, 'expected a string, got a number'],
    ['string', null, 'expected a string, got null'],
    ['integer', 3.5, 'expected an integer, got a number'],
    ['integer', '3', 'expected an integer, got a string'],
    ['number', Number.NaN, 'expected a number, got a number'],
    ['number', Number.POSITIVE_INFINITY, 'expected a number, got a number'],
    ['number', '2.5', 'expected a number, got a string'],
    ['boolean', 'true', 'expected a boolean, got a string'],
    ['boolean', 0, 'expected a boolean, got a number'],
    ['list', { 0: 'a' }, 'expected a list, got an object'],
    ['list', 'a,b', 'expected a list, got a string'],
    ['object', [], 'expected an object, got a list'],
    ['object', null, 'expected an object, got null'],
  ];
  for (const [type, value, message] of refused) {
    test(`${type} refuses ${String(JSON.stringify(value))}`, () => {
      assert.deepEqual(problems(check({ v: { type: type as InputDefinition['type'] } }, { v: value })), [
        `/inputs/v input "v" ${message}`,
      ]);
    });
  }
});

describe('resolveInputs: command-line text', () => {
  test('text is read as the declared type', () => {
    const defs: Defs = {
      n: { type: 'integer' },
      f: { type: 'number' },
      b: { type: 'boolean' },
      l: { type: 'list' },
      j: { type: 'list' },
      o: { type: 'object' },
      s: { type: 'string' },
    };
    const got = values(
      check(defs, { n: '42', f: '-1.5e2', b: 'false', l: 'eu, us ,ap', j: '[1,"x"]', o: '{"a":1}', s: '007' }, true),
    );
    assert.deepEqual(got, { n: 42, f: -150, b: false, l: ['eu', 'us', 'ap'], j: [1, 'x'], o: { a: 1 }, s: '007' });
  });

  test('text that does not parse stays text and is refused with the type', () => {
    const defs: Defs = { n: { type: 'integer' }, b: { type: 'boolean' }, o: { type: 'object' }, e: { type: 'number' } };
    assert.deepEqual(problems(check(defs, { n: 'three', b: 'yes', o: '{bad', e: '' }, true)), [
      '/inputs/n input "n" expected an integer, got a string',
      '/inputs/b input "b" expected a boolean, got a string',
      '/inputs/o input "o" expected an object, got a string',
      '/inputs/e input "e" expected a number, got a string',
    ]);
  });

  test('without text: true, strings are not converted', () => {
    assert.deepEqual(problems(check({ n: { type: 'integer' } }, { n: '3' })), [
      '/inputs/n input "n" expected an integer, got a string',
    ]);
  });

  test('values that are not strings are left as given in text mode', () => {
    assert.deepEqual(values(check({ n: { type: 'integer' } }, { n: 5 }, true)), { n: 5 });
  });

  test('fromText one type at a time', () => {
    assert.equal(fromText('integer', ' 12 '), 12);
    assert.equal(fromText('integer', '   '), '   ');
    assert.equal(fromText('number', 'Infinity'), 'Infinity');
    assert.equal(fromText('boolean', 'true'), true);
    assert.equal(fromText('boolean', 'TRUE'), 'TRUE');
    assert.deepEqual(fromText('list', 'a'), ['a']);
    assert.equal(fromText('list', '[1,'), '[1,');
    assert.deepEqual(fromText('object', '{"k":[1]}'), { k: [1] });
    assert.equal(fromText('string', '{"k":1}'), '{"k":1}');
  });
});

describe('resolveInputs: constraints', () => {
  test('enum: the value must be one of the list (after text conversion)', () => {
    const defs: Defs = { env: { enum: ['dev', 'prod'] }, size: { type: 'integer', enum: [1, 2, 4] } };
    assert.deepEqual(values(check(defs, { env: 'prod', size: '4' }, true)), { env: 'prod', size: 4 });
    assert.deepEqual(problems(check(defs, { env: 'staging', size: 3 })), [
      '/inputs/env input "env" must be one of "dev", "prod"',
      '/inputs/size input "size" must be one of 1, 2, 4',
    ]);
  });

  test('pattern is RE2 and finds a match anywhere unless anchored', () => {
    assert.deepEqual(values(check({ b: { pattern: '^[a-z0-9-]{3,63}$' } }, { b: 'my-bucket' })), { b: 'my-bucket' });
    assert.deepEqual(problems(check({ b: { pattern: '^[a-z0-9-]{3,63}$' } }, { b: 'My_Bucket' })), [
      '/inputs/b input "b" does not match the pattern ^[a-z0-9-]{3,63}$',
    ]);
    assert.deepEqual(values(check({ s: { pattern: 'abc' } }, { s: 'xxabcxx' })), { s: 'xxabcxx' });
    // A pattern that would backtrack catastrophically in a backtracking engine is linear in RE2.
    assert.equal(check({ s: { pattern: '^(a+)+$' } }, { s: `${'a'.repeat(5000)}!` }).ok, false);
  });

  test('minimum and maximum, inclusive', () => {
    const defs: Defs = { n: { type: 'integer', minimum: 1, maximum: 10 } };
    assert.deepEqual(values(check(defs, { n: 1 })), { n: 1 });
    assert.deepEqual(values(check(defs, { n: 10 })), { n: 10 });
    assert.deepEqual(problems(check(defs, { n: 0 })), ['/inputs/n input "n" must be at least 1']);
    assert.deepEqual(problems(check(defs, { n: 11 })), ['/inputs/n input "n" must be at most 10']);
    assert.deepEqual(problems(check({ x: { type: 'number', maximum: 0.5 } }, { x: 0.51 })), [
      '/inputs/x input "x" must be at most 0.5',
    ]);
  });
});

describe('resolveInputs: presence', () => {
  test('defaults fill absent inputs; a given value wins', () => {
    const defs: Defs = { a: { default: 'x' }, b: { type: 'integer', default: 2 }, c: {} };
    assert.deepEqual(values(check(defs, {})), { a: 'x', b: 2 });
    assert.deepEqual(values(check(defs, { b: 5 })), { a: 'x', b: 5 });
  });

  test('an input given as undefined counts as absent', () => {
    assert.deepEqual(values(check({ a: { default: 'x' } }, { a: undefined })), { a: 'x' });
  });

  test('a missing required input is a problem; required with a default is not', () => {
    assert.deepEqual(problems(check({ team: { required: true } }, {})), ['/inputs/team input "team" is required']);
    assert.deepEqual(values(check({ team: { required: true, default: 'core' } }, {})), { team: 'core' });
  });

  test('unknown inputs are problems, with the declared names', () => {
    assert.deepEqual(problems(check({ team: {}, bucket: {} }, { teem: 'x' })), [
      '/inputs/teem unknown input "teem" (inputs: team, bucket)',
    ]);
    assert.deepEqual(problems(resolveInputs(undefined, { x: 1 })), [
      '/inputs/x unknown input "x" (the workflow declares no inputs)',
    ]);
  });

  test('JSON pointers escape ~ and /', () => {
    const r = resolveInputs({}, { 'a/b': 1, 'c~d': 2 });
    assert.deepEqual(
      (r.ok ? [] : r.problems).map((p) => [p.name, p.pointer]),
      [
        ['a/b', '/inputs/a~1b'],
        ['c~d', '/inputs/c~0d'],
      ],
    );
  });

  test('prototype keys are unknown inputs, and values carry no prototype', () => {
    const provided = JSON.parse('{"__proto__": {"polluted": true}, "constructor": 1}') as Record<string, unknown>;
    assert.deepEqual(problems(check({ a: { default: 1 } }, provided)), [
      '/inputs/__proto__ unknown input "__proto__" (inputs: a)',
      '/inputs/constructor unknown input "constructor" (inputs: a)',
    ]);
    const r = check({ a: { default: 1 } }, {});
    assert.ok(r.ok);
    assert.equal(Object.getPrototypeOf(r.values), null);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });

  test('every problem is reported at once', () => {
    const defs: Defs = {
      team: { required: true },
      n: { type: 'integer', minimum: 1 },
      env: { enum: ['dev'] },
    };
    assert.deepEqual(problems(check(defs, { n: 0, env: 'prod', extra: true })), [
      '/inputs/extra unknown input "extra" (inputs: team, n, env)',
      '/inputs/team input "team" is required',
      '/inputs/n input "n" must be at least 1',
      '/inputs/env input "env" must be one of "dev"',
    ]);
  });

  test('no declarations and nothing provided is fine', () => {
    assert.deepEqual(values(resolveInputs(undefined, {})), {});
  });
});
