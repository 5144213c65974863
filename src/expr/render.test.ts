import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ExpressionError } from './cel.ts';
import { evaluateTemplate, renderValue, templateReferences } from './render.ts';
import { TemplateSyntaxError } from './template.ts';

const scope = {
  inputs: { bucket: 'logs', n: 3, f: 0.5, ok: false, l: [1, 'a'], m: { k: 'v', n: 1 }, none: null },
  tasks: { find: { outputs: { id: 42 } } },
  event: {
    body: {
      title: '${{ secrets.token }}',
      sum: '${{ 1 + 1 }}',
      bomb: '${{ [1,2,3].map(a, [1,2,3].map(b, a * b)) }}',
      nested: { list: ['${{ inputs.bucket }}'] },
    },
  },
  secrets: { token: 'SECRET' },
};

const plain = (v: unknown): unknown => JSON.parse(JSON.stringify(v));

describe('evaluateTemplate: whole values keep their type', () => {
  test('number, bool, null, list and map', () => {
    assert.equal(evaluateTemplate('${{ inputs.n }}', scope), 3);
    assert.equal(evaluateTemplate('${{ inputs.n * 2 }}', scope), 6);
    assert.equal(evaluateTemplate('${{ inputs.f }}', scope), 0.5);
    assert.equal(evaluateTemplate('${{ inputs.ok }}', scope), false);
    assert.equal(evaluateTemplate('${{ inputs.none }}', scope), null);
    assert.deepEqual(evaluateTemplate('${{ inputs.l }}', scope), [1, 'a']);
    assert.deepEqual(plain(evaluateTemplate('${{ inputs.m }}', scope)), { k: 'v', n: 1 });
    assert.equal(evaluateTemplate('${{ tasks.find.outputs.id }}', scope), 42);
  });

  test('a big int keeps all its digits as a string', () => {
    assert.equal(evaluateTemplate('${{ 9223372036854775807 }}', scope), '9223372036854775807');
  });

  test('a string without templates is returned as is', () => {
    assert.equal(evaluateTemplate('no ${ braces } here', scope), 'no ${ braces } here');
  });
});

describe('evaluateTemplate: interpolation', () => {
  test('values become text inside a longer string', () => {
    assert.equal(evaluateTemplate('bucket-${{ inputs.bucket }}', scope), 'bucket-logs');
    assert.equal(evaluateTemplate('n=${{ inputs.n }}, f=${{ inputs.f }}', scope), 'n=3, f=0.5');
    assert.equal(evaluateTemplate('ok=${{ inputs.ok }}', scope), 'ok=false');
    assert.equal(evaluateTemplate('[${{ inputs.none }}]', scope), '[]');
    assert.equal(evaluateTemplate('l=${{ inputs.l }}', scope), 'l=[1,"a"]');
    assert.equal(evaluateTemplate('m=${{ inputs.m }}', scope), 'm={"k":"v","n":1}');
    assert.equal(evaluateTemplate('id ${{ 9223372036854775807 }}', scope), 'id 9223372036854775807');
  });

  test('several expressions and surrounding spaces', () => {
    assert.equal(evaluateTemplate('${{ inputs.n }}${{ inputs.n }}', scope), '33');
    assert.equal(evaluateTemplate(' ${{ inputs.n }}', scope), ' 3');
  });

  test('errors propagate with their types', () => {
    assert.throws(() => evaluateTemplate('x ${{ inputs.n', scope), TemplateSyntaxError);
    assert.throws(
      () => evaluateTemplate('x ${{ inputs.n + }}', scope),
      (e) => {
        return e instanceof ExpressionError && e.kind === 'syntax';
      },
    );
    assert.throws(
      () => evaluateTemplate('${{ inputs.nope }}', scope),
      (e) => {
        return e instanceof ExpressionError && e.kind === 'evaluation';
      },
    );
  });
});

describe('template text inside data stays literal', () => {
  test('whole value and interpolation return the text, not its evaluation', () => {
    assert.equal(evaluateTemplate('${{ event.body.title }}', scope), '${{ secrets.token }}');
    assert.equal(evaluateTemplate('Title: ${{ event.body.title }}', scope), 'Title: ${{ secrets.token }}');
    assert.equal(evaluateTemplate('${{ event.body.sum }}', scope), '${{ 1 + 1 }}');
    assert.equal(evaluateTemplate('${{ event.body.bomb }}', scope), scope.event.body.bomb);
    assert.deepEqual(plain(evaluateTemplate('${{ event.body.nested }}', scope)), {
      list: ['${{ inputs.bucket }}'],
    });
  });

  test('renderValue evaluates each string once', () => {
    const out = renderValue(
      {
        title: '${{ event.body.title }}',
        text: 'say ${{ event.body.sum }}',
        list: ['${{ event.body.nested.list[0] }}', 5, true, null],
        n: '${{ inputs.n }}',
      },
      scope,
    ) as Record<string, unknown>;
    assert.equal(Object.getPrototypeOf(out), null);
    assert.deepEqual(plain(out), {
      title: '${{ secrets.token }}',
      text: 'say ${{ 1 + 1 }}',
      list: ['${{ inputs.bucket }}', 5, true, null],
      n: 3,
    });
  });

  test('rendering the rendered value again shows it was never evaluated twice', () => {
    const once = evaluateTemplate('${{ event.body.title }}', scope);
    assert.equal(once, '${{ secrets.token }}');
    // Only an explicit second evaluation would reach the secret; the render itself did not.
    assert.equal(evaluateTemplate(once as string, scope), 'SECRET');
  });
});

describe('renderValue', () => {
  test('keys are left as written and non-strings pass through', () => {
    const out = renderValue({ '${{ inputs.bucket }}': '${{ inputs.bucket }}', deep: { x: [1.5] } }, scope);
    assert.deepEqual(plain(out), { '${{ inputs.bucket }}': 'logs', deep: { x: [1.5] } });
    assert.equal(renderValue(7, scope), 7);
    assert.equal(renderValue(null, scope), null);
    assert.deepEqual(renderValue(['a', '${{ inputs.n + 1 }}'], scope), ['a', 4]);
  });
});

describe('templateReferences', () => {
  test('lists the references of every expression', () => {
    const refs = templateReferences('${{ inputs.a }}-${{ tasks.t.outputs.x + inputs.b }}');
    assert.deepEqual(
      refs.map((r) => [r.root, ...r.path].join('.')),
      ['inputs.a', 'tasks.t.outputs.x', 'inputs.b'],
    );
    assert.deepEqual(templateReferences('plain'), []);
  });
});
