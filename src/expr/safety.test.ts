/**
 * RELIABILITY.md 4.7, "Expressions (CEL)": no host object is reachable from an expression, template
 * text inside data stays literal, and every cost bomb is stopped by the evaluation budget.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type Budget, compileExpression, DEFAULT_BUDGET, ExpressionError } from './cel.ts';
import { evaluateTemplate, renderValue } from './render.ts';

function snapshot(o: object): string[] {
  return [...Object.getOwnPropertyNames(o), ...Object.getOwnPropertySymbols(o).map(String)].sort();
}
const before = {
  object: snapshot(Object.prototype),
  function: snapshot(Function.prototype),
  array: snapshot(Array.prototype),
};

function assertPrototypesUnchanged(): void {
  assert.deepEqual(snapshot(Object.prototype), before.object);
  assert.deepEqual(snapshot(Function.prototype), before.function);
  assert.deepEqual(snapshot(Array.prototype), before.array);
}

const PLAIN_PROTOTYPES = new Set<unknown>([null, Object.prototype, Array.prototype]);

/** The first function or non-plain object found in a value, as a path, or undefined. */
function hostObjectIn(value: unknown, path = '$', seen = new Set<unknown>()): string | undefined {
  if (typeof value === 'function') return `${path} is a function`;
  if (typeof value === 'symbol') return `${path} is a symbol`;
  if (typeof value !== 'object' || value === null) return undefined;
  if (seen.has(value)) return undefined;
  seen.add(value);
  if (!PLAIN_PROTOTYPES.has(Object.getPrototypeOf(value))) return `${path} has a host prototype`;
  if (Object.getOwnPropertySymbols(value).length > 0) return `${path} has symbol keys`;
  for (const key of Object.getOwnPropertyNames(value)) {
    const d = Object.getOwnPropertyDescriptor(value, key)!;
    if (d.get !== undefined || d.set !== undefined) return `${path}.${key} is an accessor`;
    const found = hostObjectIn(d.value, `${path}.${key}`, seen);
    if (found !== undefined) return found;
  }
  return undefined;
}

class Host {
  secret = 'host';
  method(): string {
    return this.secret;
  }
}

function makeScope(): Record<string, unknown> {
  return {
    inputs: {
      name: 'constructor',
      proto: '__proto__',
      nested: { a: 1 },
      list: [1, 2],
      fn: () => 'called',
      host: new Host(),
      date: new Date(0),
      map: new Map([['constructor', Object]]),
      // An own `__proto__` key, as JSON.parse creates it from a request body.
      json: JSON.parse('{"__proto__": {"polluted": true}, "constructor": {"prototype": 1}, "ok": 1}') as unknown,
    },
    event: {
      body: JSON.parse('{"issue": {"title": "constructor", "fields": {"__proto__": "x"}}, "prototype": 1}') as unknown,
    },
    tasks: { x: { outputs: { id: 'prototype', list: [{ constructor: 1 }] }, status: 'success' } },
  };
}

/** Payloads adapted from n8n, expr-eval, JSONata and safe-eval escapes. */
const HOST_PAYLOADS = [
  // Property paths on inputs
  'inputs.__proto__',
  'inputs.constructor',
  'inputs.prototype',
  'inputs.constructor.constructor',
  'inputs.constructor.prototype',
  'inputs.__proto__.constructor',
  'inputs.nested.constructor',
  'inputs.nested.__proto__',
  'inputs.list.constructor',
  'inputs.name.constructor',
  'inputs.toString',
  'inputs.hasOwnProperty',
  'inputs.valueOf',
  // String-keyed access, including keys built at runtime
  'inputs["__proto__"]',
  'inputs["constructor"]',
  'inputs["prototype"]',
  'inputs["con" + "structor"]',
  'inputs["__pro" + "to__"]',
  'inputs[["con", "structor"].join("")]',
  'inputs[inputs.name]',
  'inputs[inputs.proto]',
  'inputs["constructor"]["constructor"]',
  'inputs.nested["con" + "structor"]["con" + "structor"]',
  'cel.bind(c, "constructor", inputs[c][c])',
  // Optional and has()
  'inputs.?constructor',
  'inputs.?constructor.orValue(1)',
  'inputs[?"__proto__"].orValue(null)',
  'has(inputs.constructor)',
  'has(inputs.__proto__)',
  // Host values placed in the scope
  'inputs.fn',
  'inputs.host',
  'inputs.host.method',
  'inputs.date',
  'inputs.map',
  'inputs.json',
  'inputs.json.__proto__',
  'inputs.json["__proto__"].polluted',
  'inputs.json.constructor.prototype',
  'inputs',
  // event.body
  'event.body.__proto__',
  'event.body["constructor"]',
  'event.body.prototype',
  'event.body.issue.constructor.constructor',
  'event.body[event.body.issue.title]',
  'event.body.issue.fields.__proto__',
  'event.body.issue[["__", "proto", "__"].join("")]',
  'event',
  // tasks.x.outputs
  'tasks.x.outputs.__proto__',
  'tasks.x.outputs["constructor"]',
  'tasks.x.outputs[tasks.x.outputs.id]',
  'tasks["x"]["outputs"]["__proto__"]["polluted"]',
  'tasks.x.outputs.list[0].constructor',
  'tasks.x.outputs.list.map(o, o.constructor)',
  'tasks.x.outputs.?constructor.orValue(null)',
  'tasks.x.constructor',
  'tasks',
  // Literals, namespaces, types and other CEL values
  '{"__proto__": {"polluted": true}}',
  '{"constructor": 1}.constructor',
  '{"a": 1}["__proto__"]',
  '[1].constructor',
  '"abc".constructor',
  '(1).constructor',
  'cel',
  'cel.constructor',
  'type(inputs)',
  'type(inputs).constructor',
  'dyn(inputs).constructor',
  'optional.of(inputs)',
  'optional.of(inputs).value().constructor',
  'timestamp("2020-01-01T00:00:00Z").constructor',
  'duration("1s").constructor',
  'b"x".constructor',
  'inputs.map(k, k)',
  'inputs.nested.map(k, inputs.nested[k])',
];

describe('0 host objects reachable (RELIABILITY 4.7)', () => {
  const results: { payload: string; outcome: string }[] = [];

  test('the detector itself sees host objects', () => {
    assert.match(hostObjectIn(() => 1) ?? '', /function/);
    assert.match(hostObjectIn({ a: [1, { b: Object }] }) ?? '', /\$\.a\.1\.b is a function/);
    assert.match(hostObjectIn([new Host()]) ?? '', /host prototype/);
    assert.match(hostObjectIn(new Map()) ?? '', /host prototype/);
    assert.match(hostObjectIn(Object.create(null, { x: { get: () => 1, enumerable: false } })) ?? '', /accessor/);
    assert.equal(hostObjectIn({ a: [1, 'x', null, { b: true }] }), undefined);
    assert.equal(hostObjectIn(Object.create(null)), undefined);
  });

  for (const payload of HOST_PAYLOADS) {
    test(payload, () => {
      let value: unknown;
      try {
        value = compileExpression(payload).evaluate(makeScope());
      } catch (err) {
        assert.ok(err instanceof ExpressionError, `${payload} threw a non-ExpressionError: ${String(err)}`);
        results.push({ payload, outcome: `error ${err.kind}` });
        assertPrototypesUnchanged();
        return;
      }
      const host = hostObjectIn(value);
      assert.equal(host, undefined, `${payload} returned a host object: ${host}`);
      results.push({ payload, outcome: 'plain data' });
      // The same value through a template (whole value and interpolation) is plain too.
      assert.equal(hostObjectIn(evaluateTemplate(`\${{ ${payload} }}`, makeScope())), undefined);
      assert.equal(typeof evaluateTemplate(`v=\${{ ${payload} }}`, makeScope()), 'string');
      assertPrototypesUnchanged();
    });
  }

  test('no function or host value was returned, and prototypes are untouched', () => {
    assert.ok(HOST_PAYLOADS.length >= 30, 'at least 30 payloads');
    assert.equal(results.length, HOST_PAYLOADS.length, 'every payload ran');
    // Spot checks that the table exercised the dangerous paths rather than failing early.
    const outcome = (p: string): string | undefined => results.find((r) => r.payload === p)?.outcome;
    assert.equal(outcome('inputs["con" + "structor"]'), 'error evaluation');
    assert.equal(outcome('has(inputs.constructor)'), 'plain data');
    assert.equal(outcome('inputs.fn'), 'plain data');
    assert.equal(compileExpression('inputs.fn').evaluate(makeScope()), null);
    assert.equal(compileExpression('inputs.host').evaluate(makeScope()), null);
    assert.equal(compileExpression('inputs.json.ok').evaluate(makeScope()), 1);
    assertPrototypesUnchanged();
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
    console.log(`# 0 host objects reachable across ${results.length} payloads`);
  });
});

describe('template text inside event data is never evaluated twice', () => {
  const payloads = [
    '${{ secrets.token }}',
    '${{ inputs["con" + "structor"] }}',
    'before ${{ 1 + 1 }} after',
    '${{ [1,2,3].map(a, [1,2,3].map(b, [1,2,3].map(c, a))) }}',
    '${{',
    '}} ${{ }}',
    '$${{ x }}}',
  ];
  for (const text of payloads) {
    test(JSON.stringify(text), () => {
      const scope = { event: { body: { text, list: [text], map: { k: text } } }, secrets: { token: 'S' } };
      assert.equal(evaluateTemplate('${{ event.body.text }}', scope), text);
      assert.equal(evaluateTemplate('got: ${{ event.body.text }}!', scope), `got: ${text}!`);
      assert.deepEqual(evaluateTemplate('${{ event.body.list }}', scope), [text]);
      const rendered = renderValue({ a: '${{ event.body.map.k }}', b: ['${{ event.body.text }}'] }, scope);
      assert.equal(JSON.stringify(rendered), JSON.stringify({ a: text, b: [text] }));
    });
  }
});

// ---------------------------------------------------------------------------------------------

const list200 = Array.from({ length: 200 }, (_, i) => i);
const bombScope = {
  inputs: {
    l: list200,
    s: 'x'.repeat(1000),
    k300: 'y'.repeat(300_000),
    k600: 'z'.repeat(600_000),
    big: Array.from({ length: 50_000 }, (_, i) => i),
  },
};

function nest(depth: number, inner: string, wrap: (s: string) => string): string {
  let e = inner;
  for (let i = 0; i < depth; i++) e = wrap(e);
  return e;
}

/** Each bomb with the ExpressionError kind that must stop it. */
const BOMBS: { name: string; src: string; kind: 'budget' | 'syntax' }[] = [
  {
    name: '3 nested map over 200',
    src: 'inputs.l.map(a, inputs.l.map(b, inputs.l.map(c, a + b + c)))',
    kind: 'budget',
  },
  { name: '3 nested all', src: 'inputs.l.all(a, inputs.l.all(b, inputs.l.all(c, true)))', kind: 'budget' },
  { name: '3 nested exists', src: 'inputs.l.exists(a, inputs.l.exists(b, inputs.l.exists(c, c < 0)))', kind: 'budget' },
  {
    name: '3 nested filter',
    src: 'inputs.l.filter(a, inputs.l.filter(b, inputs.l.filter(c, true).size() > 0).size() > 0).size()',
    kind: 'budget',
  },
  {
    name: 'nested exists_one',
    src: 'inputs.l.exists_one(a, inputs.l.exists_one(b, inputs.l.exists_one(c, c == a + b)))',
    kind: 'budget',
  },
  {
    name: 'string doubling through cel.bind (literal seed)',
    src: nest(19, '"xxx"', (e) => `cel.bind(v, ${e}, v + v)`),
    kind: 'budget',
  },
  {
    name: 'string doubling through distinct cel.bind variables',
    src: Array.from({ length: 12 }, (_, i) => i).reduce((e, i) => `cel.bind(v${i}, ${e}, v${i} + v${i})`, 'inputs.s'),
    kind: 'budget',
  },
  {
    name: 'repeated concatenation inside map',
    src: 'inputs.l.map(x, inputs.k300 + inputs.k300).size()',
    kind: 'budget',
  },
  {
    name: 'concatenation of a growing string in nested map',
    src: 'inputs.l.map(a, inputs.l.map(b, inputs.s + inputs.s + inputs.s)).size()',
    kind: 'budget',
  },
  { name: 'list concatenation inside map', src: 'inputs.l.map(x, inputs.big + inputs.big).size()', kind: 'budget' },
  { name: 'split into a huge list', src: 'inputs.k300.split("").size()', kind: 'budget' },
  { name: 'shared-structure blow-up', src: 'cel.bind(x, inputs.l.map(a, inputs.l), x.map(b, x))', kind: 'budget' },
  {
    name: 'shared-structure blow-up behind size()',
    src: 'cel.bind(x, inputs.l.map(a, inputs.l), cel.bind(y, x.map(b, x), y.map(c, y))).size()',
    kind: 'budget',
  },
  {
    name: 'deep equality on shared structures',
    src:
      'cel.bind(x1, inputs.l.map(a, inputs.l.map(b, b)), cel.bind(x2, inputs.l.map(a, inputs.l.map(b, b)), ' +
      'x1.map(q, x1) == x2.map(q, x2)))',
    kind: 'budget',
  },
  { name: 'a list of references to a long string', src: 'inputs.l.map(x, inputs.k600).size()', kind: 'budget' },
  {
    name: 'root list literal of shared values',
    src: `cel.bind(x, inputs.l.map(a, inputs.l), [${'x,'.repeat(30)}x])`,
    kind: 'budget',
  },
  { name: 'deep macro nesting', src: nest(30, 'x', (e) => `[1].map(x, ${e})`), kind: 'syntax' },
  { name: 'deep list nesting', src: nest(60, 'inputs.l', (e) => `[${e}]`), kind: 'syntax' },
  { name: 'too many AST nodes', src: `1${' + inputs.l.size()'.repeat(600)}`, kind: 'syntax' },
];

const bomb = (name: string): string => {
  const found = BOMBS.find((b) => b.name === name);
  assert.ok(found, name);
  return found.src;
};

describe('cost bombs are stopped (RELIABILITY 4.7)', () => {
  let stopped = 0;
  for (const bomb of BOMBS) {
    test(bomb.name, () => {
      let err: unknown;
      try {
        compileExpression(bomb.src).evaluate(bombScope);
      } catch (e) {
        err = e;
      }
      assert.ok(err instanceof ExpressionError, `${bomb.name} was not stopped: ${String(err)}`);
      assert.equal(err.kind, bomb.kind, `${bomb.name}: ${err.message}`);
      if (bomb.kind === 'budget') {
        assert.match(err.message, /(cost|time) budget of \d+|string of more than|list of more than|value of more than/);
      } else {
        assert.match(err.message, /Exceeded max/);
      }
      stopped++;
    });
  }

  test('100% of bombs stopped', () => {
    assert.ok(BOMBS.length >= 10);
    assert.equal(stopped, BOMBS.length);
    console.log(`# ${stopped}/${BOMBS.length} cost bombs stopped`);
  });

  test('a bomb inside a template is stopped too', () => {
    assert.throws(
      () => evaluateTemplate(`x \${{ ${bomb('3 nested map over 200')} }}`, bombScope),
      (e) => e instanceof ExpressionError && e.kind === 'budget',
    );
  });

  test('the time budget stops work the cost budget allows', () => {
    const generous: Budget = { ...DEFAULT_BUDGET, maxCost: Number.MAX_SAFE_INTEGER, maxMillis: 5 };
    assert.throws(
      () => compileExpression(bomb('3 nested map over 200')).evaluate(bombScope, generous),
      (e) => e instanceof ExpressionError && e.kind === 'budget' && /time budget of 5 ms exceeded/.test(e.message),
    );
  });

  test('custom limits are respected', () => {
    const small: Budget = { maxCost: 500, maxMillis: 1000, maxStringLength: 10, maxListLength: 5 };
    const run = (src: string): unknown => compileExpression(src).evaluate(bombScope, small);
    assert.throws(() => run('inputs.l.map(x, x)'), /list of more than 5 items/);
    assert.throws(() => run('"abcdef" + "ghijkl"'), /string of more than 10 characters/);
    const five = nest(5, 'a', (e) => `[1, 2, 3].map(a, ${e})`);
    assert.throws(() => run(`${five}.size()`), /cost budget of 500 steps exceeded/);
    assert.equal(run('[1, 2, 3].map(x, x * 2).size()'), 3);
    // Scope data is read as is even when it outweighs maxCost (the caller sized it).
    assert.equal(
      compileExpression('inputs.big[49999]').evaluate(bombScope, { ...DEFAULT_BUDGET, maxCost: 500 }),
      49_999,
    );
    // Values read from the scope count too: the whole 200-item list exceeds maxListLength 5.
    assert.throws(() => run('inputs.l'), /list of more than 5 items/);
  });

  test('the budget does not reject normal work', () => {
    assert.equal(compileExpression('inputs.l.map(a, inputs.l.map(b, a * b)).size()').evaluate(bombScope), 200);
    assert.equal(compileExpression('inputs.big.filter(x, x % 1000 == 0).size()').evaluate(bombScope), 50);
    assert.equal(compileExpression('size(inputs.k300 + inputs.k300)').evaluate(bombScope), 600_000);
  });

  test('a normal expression evaluates fine after a bomb', () => {
    assert.throws(() => compileExpression(bomb('3 nested map over 200')).evaluate(bombScope));
    assert.equal(compileExpression('inputs.l[199] + 1').evaluate(bombScope), 200);
    assert.throws(() => compileExpression(bomb('shared-structure blow-up')).evaluate(bombScope));
    assert.deepEqual(compileExpression('inputs.l.map(x, x).size()').evaluate(bombScope), 200);
  });

  test('the global hook still enforces the budget after many evaluations', () => {
    for (let i = 0; i < 2_000; i++) {
      const v = compileExpression(`inputs.l[${i % 200}] + ${i}`).evaluate(bombScope);
      assert.equal(v, (i % 200) + i);
    }
    for (const bomb of BOMBS.filter((b) => b.kind === 'budget').slice(0, 5)) {
      assert.throws(
        () => compileExpression(bomb.src).evaluate(bombScope),
        (e) => e instanceof ExpressionError && e.kind === 'budget',
        bomb.name,
      );
    }
  });

  test('evaluation outside any budget state is unaffected by earlier bombs', () => {
    // The hook counts only while an evaluation is active: a cheap expression right after a
    // bomb must not inherit the exhausted counter.
    const tiny: Budget = { ...DEFAULT_BUDGET, maxCost: 50 };
    assert.throws(() => compileExpression(bomb('3 nested map over 200')).evaluate(bombScope, tiny));
    assert.equal(compileExpression('[1, 2, 3].map(x, x + 1)[2]').evaluate(bombScope, tiny), 4);
  });

  // A backtracking engine would take longer than the age of the universe on this input; RE2 is
  // linear. The test timeout turns a regression into a failure instead of a hung suite.
  test('matches() runs in linear time (RE2), so a ReDoS pattern cannot stall evaluation', { timeout: 20_000 }, () => {
    const scope = { inputs: { s: `${'a'.repeat(5000)}!` } };
    assert.equal(compileExpression('inputs.s.matches("^(a+)+$")').evaluate(scope), false);
    assert.equal(compileExpression('inputs.s.matches("^a+!$")').evaluate(scope), true);
    assert.equal(compileExpression('"hello".matches("h.*o")').evaluate({}), true);
  });

  test('matches() uses RE2 syntax: JavaScript-only constructs are an evaluation error', () => {
    assert.throws(
      () => compileExpression('"ab".matches("a(?=b)")').evaluate({}),
      (err: unknown) => err instanceof ExpressionError && /invalid regular expression/.test(err.message),
    );
  });
});

describe('prototypes after the safety cases', () => {
  test('Object.prototype and Function.prototype have no own properties added', () => {
    assertPrototypesUnchanged();
    assert.equal(Object.getOwnPropertyNames(Object.prototype).length, before.object.length);
  });
});
