import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { buildDag, type Dag } from './dag.ts';

type Spec = Record<string, string[]>;
const dagOf = (spec: Spec): Dag => buildDag(Object.entries(spec).map(([id, needs]) => ({ id, needs })));
const orderIds = (d: Dag): string[] => d.order.map((i) => d.ids[i]!);
const sorted = (xs: readonly string[]): string[] => [...xs].sort();

/** Asserts `cycle` is a closed path where each task needs the next one. */
function assertClosedPath(spec: Spec, cycle: readonly string[]): void {
  assert.ok(cycle.length >= 2);
  assert.equal(cycle[0], cycle[cycle.length - 1], 'the path is closed');
  for (let i = 0; i + 1 < cycle.length; i++) {
    assert.ok(spec[cycle[i]!]!.includes(cycle[i + 1]!), `${cycle[i]} needs ${cycle[i + 1]}`);
  }
  assert.equal(new Set(cycle.slice(0, -1)).size, cycle.length - 1, 'no task twice in one cycle');
}

//    a   b
//    |\ /
//    c d      e (independent)
//     \|
//      f
const diamond: Spec = { f: ['c', 'd'], a: [], c: ['a'], b: [], d: ['a', 'b'], e: [] };

describe('buildDag: order and layers', () => {
  test('the topological order puts every need before its dependent', () => {
    const d = dagOf(diamond);
    const order = orderIds(d);
    assert.deepEqual(sorted(order), sorted(Object.keys(diamond)));
    for (const [id, needs] of Object.entries(diamond)) {
      for (const n of needs) assert.ok(order.indexOf(n) < order.indexOf(id), `${n} before ${id}`);
    }
    // Ties are broken by declaration order.
    assert.deepEqual(order.slice(0, 3), ['a', 'b', 'e']);
  });

  test('layers group tasks by their longest chain of needs', () => {
    const d = dagOf(diamond);
    assert.deepEqual(d.layers().map(sorted), [['a', 'b', 'e'], ['c', 'd'], ['f']]);
    assert.equal(d.layer[d.indexOf('f')!], 2);
    const chain = dagOf({ a: [], b: ['a'], c: ['b'], d: ['a', 'c'] });
    assert.equal(chain.layer[chain.indexOf('d')!], 3, 'the longest path decides, not the shortest');
  });

  test('needs and dependents by index; repeated and unknown needs are ignored', () => {
    const d = dagOf({ a: [], b: ['a', 'a', 'ghost'] });
    assert.deepEqual(d.needs, [[], [0]]);
    assert.deepEqual(d.dependents, [[1], []]);
    assert.deepEqual(d.cycles, []);
    assert.equal(d.indexOf('ghost'), undefined);
  });
});

describe('buildDag: upstream and downstream', () => {
  const d = dagOf(diamond);

  test('upstream and downstream are transitive sets', () => {
    assert.deepEqual(sorted(d.upstream('f')), ['a', 'b', 'c', 'd']);
    assert.deepEqual(sorted(d.upstream('d')), ['a', 'b']);
    assert.deepEqual(d.upstream('a'), []);
    assert.deepEqual(sorted(d.downstream('a')), ['c', 'd', 'f']);
    assert.deepEqual(sorted(d.downstream('b')), ['d', 'f']);
    assert.deepEqual(d.downstream('e'), []);
    assert.deepEqual(d.upstream('nope'), []);
  });

  test('isUpstream is transitive, false for self, siblings, reverse and unknown ids', () => {
    assert.equal(d.isUpstream('a', 'f'), true);
    assert.equal(d.isUpstream('b', 'f'), true);
    assert.equal(d.isUpstream('a', 'c'), true);
    assert.equal(d.isUpstream('f', 'a'), false);
    assert.equal(d.isUpstream('f', 'f'), false);
    assert.equal(d.isUpstream('c', 'd'), false);
    assert.equal(d.isUpstream('a', 'b'), false);
    assert.equal(d.isUpstream('e', 'f'), false);
    assert.equal(d.isUpstream('nope', 'f'), false);
    assert.equal(d.isUpstream('a', 'nope'), false);
  });

  test('isUpstream agrees with upstream() for every pair', () => {
    for (const t of d.ids) {
      const up = new Set(d.upstream(t));
      for (const a of d.ids) assert.equal(d.isUpstream(a, t), up.has(a), `${a} upstream of ${t}`);
    }
  });

  test('bitsets work across word boundaries (more than 32 tasks)', () => {
    const spec: Spec = {};
    for (let i = 0; i < 100; i++) spec[`t${i}`] = i === 0 ? [] : [`t${i - 1}`];
    const chain = dagOf(spec);
    assert.equal(chain.isUpstream('t0', 't99'), true);
    assert.equal(chain.isUpstream('t31', 't32'), true);
    assert.equal(chain.isUpstream('t33', 't32'), false);
    assert.equal(chain.isUpstream('t64', 't70'), true);
    assert.equal(chain.upstream('t99').length, 99);
  });
});

describe('buildDag: cycles', () => {
  test('a self-loop', () => {
    const d = dagOf({ a: ['a'], b: [] });
    assert.deepEqual(d.cycles, [['a', 'a']]);
    assert.deepEqual(d.order, []);
  });

  test('a 2-cycle, with a dependent outside the cycle', () => {
    const spec: Spec = { a: ['b'], b: ['a'], c: ['a'], root: [] };
    const d = dagOf(spec);
    assert.equal(d.cycles.length, 1);
    assertClosedPath(spec, d.cycles[0]!);
    assert.deepEqual(sorted(d.cycles[0]!.slice(0, -1)), ['a', 'b']);
    assert.deepEqual(d.order, []);
    assert.equal(d.isUpstream('a', 'b'), true);
    assert.equal(d.isUpstream('b', 'c'), true);
    assert.equal(d.isUpstream('c', 'a'), false);
  });

  test('a 1,000-task cycle is one closed path naming every task', () => {
    const spec: Spec = {};
    for (let i = 0; i < 1000; i++) spec[`t${i}`] = [`t${(i + 1) % 1000}`];
    const d = dagOf(spec);
    assert.equal(d.cycles.length, 1);
    const cycle = d.cycles[0]!;
    assert.equal(cycle.length, 1001);
    assertClosedPath(spec, cycle);
    assert.deepEqual(sorted(cycle.slice(0, -1)), sorted(Object.keys(spec)));
  });

  test('a 20,000-task cycle does not overflow the stack', () => {
    const spec: Spec = {};
    for (let i = 0; i < 20_000; i++) spec[`t${i}`] = [`t${(i + 1) % 20_000}`];
    const d = dagOf(spec);
    assert.equal(d.cycles[0]!.length, 20_001);
  });

  test('several disjoint cycles are each reported', () => {
    const spec: Spec = {
      a: ['b'],
      b: ['c'],
      c: ['a'],
      x: ['y'],
      y: ['x'],
      s: ['s'],
      ok: [],
      after: ['ok', 'x'],
    };
    const d = dagOf(spec);
    assert.equal(d.cycles.length, 3);
    for (const c of d.cycles) assertClosedPath(spec, c);
    assert.deepEqual(d.cycles.map((c) => sorted(c.slice(0, -1)).join(',')).sort(), ['a,b,c', 's', 'x,y']);
  });

  test('cycles sharing a task are valid and distinct', () => {
    const spec: Spec = { hub: ['a', 'b'], a: ['hub'], b: ['hub'] };
    const d = dagOf(spec);
    assert.ok(d.cycles.length >= 1);
    for (const c of d.cycles) assertClosedPath(spec, c);
    const keys = d.cycles.map((c) => c.join('>'));
    assert.equal(new Set(keys).size, keys.length);
  });
});

describe('buildDag: scale', () => {
  test('a 10,000-task layered DAG', () => {
    const width = 100;
    const depth = 100;
    const tasks: { id: string; needs: string[] }[] = [];
    for (let l = 0; l < depth; l++) {
      for (let i = 0; i < width; i++) {
        tasks.push({ id: `l${l}_${i}`, needs: l === 0 ? [] : [`l${l - 1}_${i}`, `l${l - 1}_${(i + 1) % width}`] });
      }
    }
    const d = buildDag(tasks);
    assert.equal(d.ids.length, 10_000);
    assert.deepEqual(d.cycles, []);
    assert.equal(d.order.length, 10_000);
    const layers = d.layers();
    assert.equal(layers.length, depth);
    for (const [l, ids] of layers.entries()) {
      assert.equal(ids.length, width);
      assert.ok(ids.every((id) => id.startsWith(`l${l}_`)));
    }
    assert.equal(d.isUpstream('l0_0', 'l99_50'), true);
    assert.equal(d.isUpstream('l98_0', 'l99_50'), false);
    assert.equal(d.isUpstream('l98_50', 'l99_50'), true);
    assert.equal(d.upstream('l2_0').length, 2 + 3);
  });

  test('a 10,000-task chain: upstream and downstream walk without recursion', () => {
    const tasks = Array.from({ length: 10_000 }, (_, i) => ({ id: `t${i}`, needs: i === 0 ? [] : [`t${i - 1}`] }));
    const d = buildDag(tasks);
    assert.equal(d.layers().length, 10_000);
    assert.equal(d.upstream('t9999').length, 9_999);
    assert.equal(d.downstream('t0').length, 9_999);
  });
});
