/**
 * The task graph: topological order, layers, upstream and downstream sets, cycles. All O(V+E),
 * except `isUpstream`, which builds ancestor bitsets lazily (O(V·E/32) once, then O(1) a query).
 */

export interface Dag {
  /** Task ids in declaration order. */
  readonly ids: readonly string[];
  /** Direct dependencies (needs) and dependents of each task, by index. */
  readonly needs: readonly (readonly number[])[];
  readonly dependents: readonly (readonly number[])[];
  /** Topological order of indexes (dependencies first; ties in declaration order). Empty when cyclic. */
  readonly order: readonly number[];
  /** Layer of each task: 0 for roots, else 1 + the highest layer among its needs. */
  readonly layer: readonly number[];
  /** Cycles found, each as a closed path of ids (first id repeated at the end). */
  readonly cycles: readonly (readonly string[])[];
  indexOf(id: string): number | undefined;
  /** Whether `ancestor` must finish before `task` can run (transitively). */
  isUpstream(ancestor: string, task: string): boolean;
  upstream(id: string): string[];
  downstream(id: string): string[];
  /** Ids grouped by layer. */
  layers(): string[][];
}

/** Builds the graph. Edges to unknown ids are ignored (validation reports them separately). */
export function buildDag(tasks: readonly { id: string; needs: readonly string[] }[]): Dag {
  const ids = tasks.map((t) => t.id);
  const index = new Map<string, number>();
  ids.forEach((id, i) => index.set(id, i));
  const needs: number[][] = tasks.map((t) => {
    const seen = new Set<number>();
    for (const n of t.needs) {
      const j = index.get(n);
      if (j !== undefined) seen.add(j);
    }
    return [...seen];
  });
  const dependents: number[][] = ids.map(() => []);
  needs.forEach((ns, i) => {
    for (const j of ns) dependents[j]!.push(i);
  });

  // Kahn's algorithm over a queue of ready indexes, kept in declaration order for stable output.
  const indegree = needs.map((ns) => ns.length);
  const layer = ids.map(() => 0);
  const order: number[] = [];
  const queue: number[] = [];
  indegree.forEach((d, i) => {
    if (d === 0) queue.push(i);
  });
  for (let head = 0; head < queue.length; head++) {
    const i = queue[head]!;
    order.push(i);
    for (const k of dependents[i]!) {
      layer[k] = Math.max(layer[k]!, layer[i]! + 1);
      if (--indegree[k]! === 0) queue.push(k);
    }
  }
  const cycles = order.length === ids.length ? [] : findCycles(ids, needs, indegree);

  let ancestors: Uint32Array[] | undefined;
  const words = Math.ceil(ids.length / 32);
  const buildAncestors = (): Uint32Array[] => {
    const sets = ids.map(() => new Uint32Array(words));
    for (const i of order) {
      const set = sets[i]!;
      for (const j of needs[i]!) {
        const parent = sets[j]!;
        for (let w = 0; w < words; w++) set[w]! |= parent[w]!;
        set[j >> 5]! |= 1 << (j & 31);
      }
    }
    return sets;
  };

  const walk = (start: number, edges: readonly (readonly number[])[]): string[] => {
    const seen = new Uint8Array(ids.length);
    const stack = [...edges[start]!];
    const out: string[] = [];
    while (stack.length > 0) {
      const i = stack.pop()!;
      if (seen[i]) continue;
      seen[i] = 1;
      out.push(ids[i]!);
      for (const j of edges[i]!) stack.push(j); // not push(...): a task may need 100,000 others
    }
    return out;
  };

  return {
    ids,
    needs,
    dependents,
    order: cycles.length > 0 ? [] : order,
    layer,
    cycles,
    indexOf: (id) => index.get(id),
    isUpstream(ancestor, task) {
      const a = index.get(ancestor);
      const t = index.get(task);
      if (a === undefined || t === undefined || a === t) return false;
      if (cycles.length > 0) return walk(t, needs).includes(ancestor);
      ancestors ??= buildAncestors();
      return (ancestors[t]![a >> 5]! & (1 << (a & 31))) !== 0;
    },
    upstream(id) {
      const i = index.get(id);
      return i === undefined ? [] : walk(i, needs);
    },
    downstream(id) {
      const i = index.get(id);
      return i === undefined ? [] : walk(i, dependents);
    },
    layers() {
      const out: string[][] = [];
      for (const i of order) (out[layer[i]!] ??= []).push(ids[i]!);
      return out;
    },
  };
}

/**
 * One closed path for each cycle among the tasks Kahn's algorithm could not order. Iterative DFS
 * (a 1,000-task cycle must not overflow the stack). A task on two cycles appears in both.
 */
function findCycles(
  ids: readonly string[],
  needs: readonly (readonly number[])[],
  indegree: readonly number[],
): string[][] {
  const state = new Uint8Array(ids.length); // 0 unvisited, 1 on the current path, 2 done
  const cycles: string[][] = [];
  for (let s = 0; s < ids.length; s++) {
    if (indegree[s] === 0 || state[s] !== 0) continue;
    const path: number[] = [s];
    const next: number[] = [0];
    state[s] = 1;
    while (path.length > 0) {
      const top = path[path.length - 1]!;
      const edges = needs[top]!;
      const k = next[next.length - 1]!;
      if (k >= edges.length) {
        state[top] = 2;
        path.pop();
        next.pop();
        continue;
      }
      next[next.length - 1] = k + 1;
      const j = edges[k]!;
      if (state[j] === 1) {
        // Reading `needs` edges backwards gives "j needs ... needs j"; print it as dependency order.
        const cycle = path.slice(path.indexOf(j)).map((i) => ids[i]!);
        cycles.push([...cycle, cycle[0]!]);
      } else if (state[j] === 0 && indegree[j] !== 0) {
        state[j] = 1;
        path.push(j);
        next.push(0);
      }
    }
  }
  return cycles;
}
