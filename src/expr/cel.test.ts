import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { compileExpression, ExpressionError, fromCel, SCOPE_ROOTS, toCel, typeCheck } from './cel.ts';

const scope = {
  inputs: { n: 3, f: 1.5, s: 'abc', ok: true, l: [1, 2, 3], m: { a: 1, b: 'two' }, nothing: null },
  vars: { api: 'https://api.example' },
};

const run = (src: string, s: Readonly<Record<string, unknown>> = scope): unknown => compileExpression(src).evaluate(s);

/** JSON copy: lets deepEqual compare null-prototype results with literals. */
const plain = (v: unknown): unknown => JSON.parse(JSON.stringify(v));

function fails(fn: () => unknown): ExpressionError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ExpressionError, `expected an ExpressionError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected an ExpressionError');
}

describe('evaluation types', () => {
  test('ints come back as JS numbers, not bigints', () => {
    for (const [src, want] of [
      ['inputs.n', 3],
      ['inputs.n + 1', 4],
      ['inputs.n * inputs.n - 10', -1],
      ['size(inputs.l)', 3],
      ['inputs.l[1]', 2],
    ] as const) {
      const v = run(src);
      assert.equal(typeof v, 'number', src);
      assert.equal(v, want, src);
    }
  });

  test('doubles, strings, bools and null keep their type', () => {
    assert.equal(run('inputs.f * 2.0'), 3);
    assert.equal(run('inputs.s + "d"'), 'abcd');
    assert.equal(run('inputs.ok && inputs.n > 2'), true);
    assert.equal(run('inputs.nothing'), null);
    assert.equal(run('1 + 1 == 2 ? "yes" : "no"'), 'yes');
  });

  test('lists and maps come back as plain data', () => {
    const l = run('inputs.l.map(x, x * 10)');
    assert.ok(Array.isArray(l));
    assert.deepEqual(l, [10, 20, 30]);
    const m = run('{"a": [1, {"b": null}], "c": inputs.m.b}');
    assert.equal(Object.getPrototypeOf(m), null);
    assert.deepEqual(plain(m), { a: [1, { b: null }], c: 'two' });
    assert.deepEqual(plain(run('inputs.m')), { a: 1, b: 'two' });
  });

  test('ints beyond the safe JS range come back as strings, exactly', () => {
    assert.equal(run('9007199254740991'), 9007199254740991);
    assert.equal(run('9007199254740993'), '9007199254740993');
    assert.equal(run('9223372036854775807'), '9223372036854775807');
    assert.equal(run('-9223372036854775808'), '-9223372036854775808');
  });

  test('non-finite doubles come back as text', () => {
    assert.equal(run('1.0 / 0.0'), 'Infinity');
    assert.equal(run('0.0 / 0.0'), 'NaN');
  });

  test('bytes, timestamps and durations come back as text', () => {
    assert.equal(run('b"hi"'), 'aGk=');
    assert.equal(run('timestamp("2020-01-02T03:04:05Z")'), '2020-01-02T03:04:05.000Z');
    assert.equal(typeof run('duration("90s")'), 'string');
  });

  test('roots missing from the scope are null; keys that are not roots are invisible', () => {
    assert.equal(run('inputs == null', {}), true);
    assert.equal(run('event == null', { inputs: {} }), true);
    const err = fails(() => run('foo', { foo: 1 }));
    assert.equal(err.kind, 'evaluation');
    assert.match(err.message, /foo/);
  });

  test('every scope root is usable', () => {
    for (const root of SCOPE_ROOTS) assert.equal(run(`${root}.v`, { [root]: { v: 7 } }), 7, root);
  });

  test('evaluation errors have kind "evaluation"', () => {
    for (const src of [
      'inputs.missing',
      '1 / 0',
      'inputs.l[5]',
      '9223372036854775807 + 1',
      '"x" * 3',
      '"a".matches("[")',
    ]) {
      assert.equal(fails(() => run(src)).kind, 'evaluation', src);
    }
    assert.match(fails(() => run('inputs.missing')).message, /missing/);
  });

  test('compiled expressions are cached by source', () => {
    assert.equal(compileExpression('inputs.n + 41'), compileExpression('inputs.n + 41'));
    assert.equal(compileExpression('inputs.n + 41').evaluate(scope), 44);
  });
});

describe('CEL syntax errors', () => {
  const cases: [string, number][] = [
    ['inputs.a +', 10],
    ['inputs.a ) b', 9],
    ['1 +* 2', 3],
    ['a.b.', 4],
    ['inputs.a == = 1', 12],
  ];
  for (const [src, offset] of cases) {
    test(`${JSON.stringify(src)} fails at offset ${offset}`, () => {
      const err = fails(() => compileExpression(src));
      assert.equal(err.kind, 'syntax');
      assert.equal(err.offset, offset);
      assert.ok(err.message.length > 0 && !err.message.includes('\n'));
    });
  }

  test('parse limits are syntax errors', () => {
    assert.match(fails(() => compileExpression('1' + '+1'.repeat(1100))).message, /maxAstNodes/);
    assert.match(fails(() => compileExpression(`[${Array(1001).fill(1).join(',')}]`)).message, /maxListElements/);
    assert.match(fails(() => compileExpression(`${'['.repeat(60)}1${']'.repeat(60)}`)).message, /maxDepth/);
    const args = Array.from({ length: 17 }, (_, i) => i).join(',');
    assert.match(fails(() => compileExpression(`max(${args})`)).message, /maxCallArguments/);
  });
});

describe('typeCheck', () => {
  test('valid expressions over dyn roots check', () => {
    for (const src of [
      'inputs.a.b + 1',
      'size(inputs.l) > 0',
      '[1, 2].map(x, x * 2)',
      'inputs.s.startsWith("x")',
      'cel.bind(v, inputs.a, v.b)',
      'inputs.?a.orValue(1)',
    ]) {
      assert.equal(typeCheck(src), undefined, src);
    }
  });

  test('an unknown function is a type error at the call', () => {
    const err = typeCheck('1 + nosuch(1)');
    assert.ok(err instanceof ExpressionError);
    assert.equal(err.kind, 'type');
    assert.equal(err.offset, 4);
    assert.match(err.message, /nosuch/);
  });

  test('a wrong arity is a type error at the call', () => {
    const err = typeCheck('inputs.a + size(1, 2)');
    assert.equal(err?.kind, 'type');
    assert.equal(err?.offset, 11);
    assert.match(err!.message, /size\(int, int\)/);
    assert.equal(typeCheck('int("1", 2)')?.kind, 'type');
    assert.equal(typeCheck('size()')?.kind, 'type');
  });

  test('operators on incompatible literal types are type errors', () => {
    assert.equal(typeCheck('"a" + 1')?.kind, 'type');
    assert.equal(typeCheck('true * 2')?.kind, 'type');
    assert.equal(typeCheck('inputs.x + 1'), undefined);
  });
});

describe('toCel and fromCel', () => {
  test('safe integers become bigint inside CEL and numbers outside', () => {
    assert.equal(toCel(3), 3n);
    assert.equal(toCel(1.5), 1.5);
    assert.equal(toCel(2 ** 60), 2 ** 60);
    assert.equal(fromCel(3n), 3);
    assert.equal(fromCel(2n ** 64n), '18446744073709551616');
    assert.equal(fromCel(-(2n ** 63n)), '-9223372036854775808');
  });

  test('objects become null-prototype copies without prototype keys', () => {
    const src = JSON.parse('{"__proto__": {"x": 1}, "constructor": 2, "prototype": 3, "a": {"b": 4}}') as object;
    const v = toCel(src) as Record<string, unknown>;
    assert.equal(Object.getPrototypeOf(v), null);
    assert.deepEqual(Object.keys(v), ['a']);
    assert.equal(Object.getPrototypeOf(v.a), null);
    assert.equal((v.a as Record<string, unknown>).b, 4n);
    assert.notEqual(v.a, (src as Record<string, unknown>).a);
  });

  test('host values never reach an expression', () => {
    class Thing {
      x = 1;
    }
    for (const host of [() => 1, new Date(), new Map([['a', 1]]), new Thing(), Symbol('s'), undefined, new Set()]) {
      assert.equal(toCel(host), null);
    }
    assert.deepEqual(toCel([1, () => 2, 'x']), [1n, null, 'x']);
  });

  test('fromCel converts CEL containers to plain data', () => {
    const m = fromCel(
      new Map<unknown, unknown>([
        ['__proto__', 1],
        ['a', 2n],
        ['b', [3n, 'x']],
      ]),
    );
    assert.equal(Object.getPrototypeOf(m), null);
    assert.deepEqual(plain(m), { a: 2, b: [3, 'x'] });
    assert.equal(fromCel(new Uint8Array([104, 105])), 'aGk=');
    assert.equal(fromCel(new Date(0)), '1970-01-01T00:00:00.000Z');
    assert.equal(fromCel(Number.NaN), 'NaN');
    assert.equal(fromCel(undefined), null);
    assert.equal(
      fromCel(() => 1),
      null,
    );
  });

  test('data nested deeper than 200 levels is refused both ways', () => {
    let nested: unknown = 1;
    for (let i = 0; i < 250; i++) nested = [nested];
    assert.equal(fails(() => toCel(nested)).kind, 'evaluation');
    assert.equal(fails(() => fromCel(nested)).kind, 'evaluation');
    let ok: unknown = 1;
    for (let i = 0; i < 150; i++) ok = [ok];
    assert.doesNotThrow(() => fromCel(toCel(ok)));
  });
});
