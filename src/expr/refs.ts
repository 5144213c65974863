/**
 * Static references of CEL expressions: every `root.a.b` chain an expression reads, with its
 * offsets, ignoring variables bound by macros (`list.map(x, x.id)`, `cel.bind(v, ..., v)`).
 * Used by validation and, later, by the UI to draw data edges.
 */
import type { ASTNode } from '@marcbachmann/cel-js';

export interface Reference {
  /** The variable the chain starts from (`inputs`, `tasks`, ...). */
  readonly root: string;
  /** Static field names after the root; stops at the first dynamic index. */
  readonly path: readonly string[];
  /** Offsets of the whole chain and of each path segment, in the expression source. */
  readonly start: number;
  readonly end: number;
  readonly segmentStarts: readonly number[];
}

const MACROS = new Set(['all', 'exists', 'exists_one', 'map', 'filter']);

interface Node {
  op: string;
  args: unknown;
  start: number;
  end: number;
}

function isNode(x: unknown): x is Node {
  return typeof x === 'object' && x !== null && typeof (x as Node).op === 'string';
}

/** The static chain `root.a["b"].c` ending at `node`, or undefined if it does not start at an id. */
function chain(node: Node, locals: ReadonlySet<string>): { ref: Reference; dynamic: Node[] } | undefined {
  const segments: { name: string; start: number }[] = [];
  const dynamic: Node[] = [];
  let cur: Node = node;
  for (;;) {
    if (cur.op === '.' || cur.op === '.?') {
      const [base, field] = cur.args as [Node, string];
      segments.unshift({ name: field, start: cur.end - field.length });
      cur = base;
    } else if (cur.op === '[]' || cur.op === '[?]') {
      const [base, index] = cur.args as [Node, Node];
      if (index.op === 'value' && (typeof index.args === 'string' || typeof index.args === 'bigint')) {
        segments.unshift({ name: String(index.args), start: index.start });
      } else {
        // A dynamic index ends the static chain here: what follows is not known statically.
        segments.length = 0;
        dynamic.push(index);
      }
      cur = base;
    } else break;
  }
  if (cur.op !== 'id' || locals.has(cur.args as string)) return undefined;
  return {
    ref: {
      root: cur.args as string,
      path: segments.map((s) => s.name),
      start: cur.start,
      end: node.end,
      segmentStarts: segments.map((s) => s.start),
    },
    dynamic,
  };
}

function walk(node: Node, locals: ReadonlySet<string>, out: Reference[]): void {
  switch (node.op) {
    case 'value':
      return;
    case 'id':
      if (!locals.has(node.args as string)) {
        out.push({ root: node.args as string, path: [], start: node.start, end: node.end, segmentStarts: [] });
      }
      return;
    case '.':
    case '.?':
    case '[]':
    case '[?]': {
      const c = chain(node, locals);
      if (c !== undefined) {
        out.push(c.ref);
        for (const d of c.dynamic) walk(d, locals, out);
        return;
      }
      break;
    }
    case 'rcall': {
      const [name, receiver, args] = node.args as [string, Node, Node[]];
      if (MACROS.has(name) && args.length >= 2 && args[0]!.op === 'id') {
        walk(receiver, locals, out);
        const inner = new Set(locals).add(args[0]!.args as string);
        for (const a of args.slice(1)) walk(a, inner, out);
        return;
      }
      if (
        name === 'bind' &&
        receiver.op === 'id' &&
        receiver.args === 'cel' &&
        args.length === 3 &&
        args[0]!.op === 'id'
      ) {
        walk(args[1]!, locals, out);
        walk(args[2]!, new Set(locals).add(args[0]!.args as string), out);
        return;
      }
      break;
    }
  }
  visitChildren(node.args, (child) => walk(child, locals, out));
}

function visitChildren(args: unknown, visit: (n: Node) => void): void {
  if (isNode(args)) visit(args);
  else if (Array.isArray(args)) for (const a of args) visitChildren(a, visit);
}

/** Every static reference of a parsed expression, in source order. */
export function collectReferences(ast: ASTNode): Reference[] {
  const out: Reference[] = [];
  // `cel` is the namespace of cel.bind and friends, not a variable.
  walk(ast as unknown as Node, new Set(['cel']), out);
  return out.sort((a, b) => a.start - b.start);
}
