import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { compileExpression } from './cel.ts';
import { collectReferences, type Reference } from './refs.ts';

const refs = (src: string): Reference[] => collectReferences(compileExpression(src).ast);
/** `root.a.b` for each reference, in order. */
const names = (src: string): string[] => refs(src).map((r) => [r.root, ...r.path].join('.'));

describe('collectReferences', () => {
  test('a field chain with the offsets of the chain and of each segment', () => {
    const [r, ...rest] = refs('inputs.bucket.name');
    assert.equal(rest.length, 0);
    assert.deepEqual(r, { root: 'inputs', path: ['bucket', 'name'], start: 0, end: 18, segmentStarts: [7, 14] });
  });

  test('offsets are positions in the expression source', () => {
    const src = '"x-" + vars.platform_api + tasks.find.outputs.team_id';
    const [a, b] = refs(src);
    assert.equal(a!.start, src.indexOf('vars'));
    assert.equal(src.slice(a!.segmentStarts[0]), 'platform_api + tasks.find.outputs.team_id');
    assert.deepEqual(b!.path, ['find', 'outputs', 'team_id']);
    assert.deepEqual(
      b!.segmentStarts.map((s) => src.slice(s, s + 4)),
      ['find', 'outp', 'team'],
    );
    assert.equal(b!.end, src.length);
  });

  test('string and int indexes are static segments', () => {
    const src = 'tasks["find"].outputs.items[0].id';
    const [r] = refs(src);
    assert.deepEqual(r!.path, ['find', 'outputs', 'items', '0', 'id']);
    assert.equal(src[r!.segmentStarts[0]!], '"');
    assert.equal(r!.segmentStarts[0], 6);
  });

  test('a dynamic index stops the chain; the index itself is a reference', () => {
    assert.deepEqual(names('tasks.x.outputs[inputs.key].y'), ['tasks.x.outputs', 'inputs.key']);
    assert.deepEqual(names('inputs.l[size(inputs.l) - 1]'), ['inputs.l', 'inputs.l']);
  });

  test('references come sorted by position', () => {
    assert.deepEqual(names('inputs.b + vars.a + event.body.c + inputs.a'), [
      'inputs.b',
      'vars.a',
      'event.body.c',
      'inputs.a',
    ]);
  });

  test('a bare root is a reference with an empty path', () => {
    assert.deepEqual(
      refs('size(inputs)').map((r) => [r.root, r.path.length]),
      [['inputs', 0]],
    );
  });

  test('macro-bound variables are not references', () => {
    assert.deepEqual(names('inputs.items.map(i, i.name + inputs.sep)'), ['inputs.items', 'inputs.sep']);
    assert.deepEqual(names('inputs.a.filter(x, x > 1)'), ['inputs.a']);
    assert.deepEqual(names('inputs.a.exists_one(x, x == vars.v)'), ['inputs.a', 'vars.v']);
    assert.deepEqual(names('inputs.a.all(x, inputs.b.exists(y, y == x.id))'), ['inputs.a', 'inputs.b']);
  });

  test('a macro variable is local to its macro', () => {
    // `x` after the map is a free variable again (validation reports it as unknown).
    assert.deepEqual(names('inputs.l.map(x, x) + [x.y]'), ['inputs.l', 'x.y']);
  });

  test('cel.bind binds its variable in the body only', () => {
    assert.deepEqual(names('cel.bind(v, inputs.a, v.b + inputs.c)'), ['inputs.a', 'inputs.c']);
    assert.deepEqual(names('cel.bind(v, v.z, 1)'), ['v.z']);
    assert.deepEqual(names('cel.bind(a, inputs.x, cel.bind(b, a.y, a.z + b.w + vars.q))'), ['inputs.x', 'vars.q']);
  });

  test('optional chains read the same paths', () => {
    assert.deepEqual(names('inputs.?a.b'), ['inputs.a.b']);
    assert.deepEqual(names('inputs.a[?"b"]'), ['inputs.a.b']);
    assert.deepEqual(names('tasks.?t.outputs.?x.orValue("none")'), ['tasks.t.outputs.x']);
  });

  test('has() and method receivers', () => {
    assert.deepEqual(names('has(inputs.a.b)'), ['inputs.a.b']);
    assert.deepEqual(names('inputs.s.startsWith(vars.prefix)'), ['inputs.s', 'vars.prefix']);
  });

  test('literals reference nothing', () => {
    assert.deepEqual(refs('1 + 2 == 3 && "a" != "b"'), []);
    assert.deepEqual(names('{"k": [inputs.v]}'), ['inputs.v']);
  });
});
