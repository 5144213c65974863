/**
 * CEL through @marcbachmann/cel-js, made safe for untrusted data:
 * - every scope value is converted to plain null-prototype data first, so `__proto__`,
 *   `constructor` and `prototype` name nothing of the host (and the library only reads own keys);
 * - every evaluation runs under a budget of steps, string and list sizes, and wall time.
 */
import { Environment } from '@marcbachmann/cel-js';
import type { ASTNode } from '@marcbachmann/cel-js';
import { fromCel, isScopeValue, toCel } from './convert.ts';
import { ExpressionError } from './errors.ts';
import { isMatchesCall, runMatches, type Runner } from './regex.ts';

export { fromCel, toCel } from './convert.ts';
export { ExpressionError, type ExpressionErrorKind } from './errors.ts';

/** The names an expression may start from (DESIGN.md section 3). */
export const SCOPE_ROOTS = [
  'inputs',
  'vars',
  'secrets',
  'env',
  'tasks',
  'run',
  'event',
  'item',
  'index',
  'response',
  'result',
] as const;
export type ScopeRoot = (typeof SCOPE_ROOTS)[number];

export interface Budget {
  /**
   * Evaluation steps (AST node visits, plus one per 64 characters of every string produced). It
   * also bounds the size of any one value (nodes, counting shared parts each time they occur), so
   * a few cheap steps cannot build a structure that is expensive to compare or convert.
   */
  readonly maxCost: number;
  /** Wall-clock time for one evaluation. */
  readonly maxMillis: number;
  /** Longest string any step may produce. */
  readonly maxStringLength: number;
  /** Longest list any step may produce. */
  readonly maxListLength: number;
}

/** Kubernetes-like: 1,000,000 cost units or 100 ms, whichever comes first (RELIABILITY.md 4.7). */
export const DEFAULT_BUDGET: Budget = Object.freeze({
  maxCost: 1_000_000,
  maxMillis: 100,
  maxStringLength: 1024 * 1024,
  maxListLength: 100_000,
});

const PARSE_LIMITS = {
  maxAstNodes: 2_000,
  maxDepth: 48,
  maxListElements: 1_000,
  maxMapEntries: 1_000,
  maxCallArguments: 16,
};

let environment: Environment | undefined;

function getEnvironment(): Environment {
  if (environment === undefined) {
    installBudgetHook();
    const env = new Environment({
      unlistedVariablesAreDyn: false,
      homogeneousAggregateLiterals: false,
      enableOptionalTypes: true,
      limits: PARSE_LIMITS,
    });
    for (const root of SCOPE_ROOTS) env.registerVariable(root, 'dyn');
    environment = env;
  }
  return environment;
}

// ---------------------------------------------------------------------------------------------
// The budget. cel-js evaluates synchronously and routes every child evaluation through one
// method, `Evaluator.prototype.run`; it has no cost limit of its own. We reach that prototype
// once through a probe function (handlers are called with the evaluator as `this`) and wrap it
// to count steps while a budget is active. src/expr/safety.test.ts proves the hook still stops
// every cost bomb, so a library change that bypasses it fails the suite instead of going unnoticed.

interface ActiveBudget {
  readonly budget: Budget;
  readonly deadline: number;
  cost: number;
  steps: number;
  exceeded: string | undefined;
}

let active: ActiveBudget | undefined;
let hookInstalled = false;

class BudgetExceeded extends Error {}

function exceed(b: ActiveBudget, why: string): never {
  b.exceeded ??= why;
  throw new BudgetExceeded(b.exceeded);
}

function installBudgetHook(): void {
  if (hookInstalled) return;
  let proto: { run: (ast: unknown, ctx: unknown) => unknown } | undefined;
  new Environment()
    .registerFunction('rivetProbe(): bool', function (this: object) {
      proto = Object.getPrototypeOf(this) as typeof proto;
      return true;
    })
    .evaluate('rivetProbe()');
  if (proto === undefined || typeof proto.run !== 'function') {
    throw new Error('cel-js changed: cannot install the evaluation budget');
  }
  const original = proto.run;
  const evaluate = (ev: unknown, ast: unknown, ctx: unknown): unknown =>
    isMatchesCall(ast) ? runMatches(ev as Runner, ast, ctx) : original.call(ev, ast, ctx);
  proto.run = function run(this: unknown, ast: unknown, ctx: unknown): unknown {
    const b = active;
    if (b === undefined) return evaluate(this, ast, ctx);
    if (b.exceeded !== undefined) throw new BudgetExceeded(b.exceeded);
    if (++b.cost > b.budget.maxCost) exceed(b, `cost budget of ${b.budget.maxCost} steps exceeded`);
    // A separate step counter: `cost` jumps by string sizes and would skip multiples of 16.
    if ((++b.steps & 15) === 0 && performance.now() > b.deadline) {
      exceed(b, `time budget of ${b.budget.maxMillis} ms exceeded`);
    }
    const result = evaluate(this, ast, ctx);
    checkValue(b, result);
    return result;
  };
  hookInstalled = true;
}

/** Charges and limits one value produced by a step (or by the whole expression). */
function checkValue(b: ActiveBudget, value: unknown): void {
  if (typeof value === 'string') {
    if (value.length > b.budget.maxStringLength) {
      exceed(b, `a string of more than ${b.budget.maxStringLength} characters was produced`);
    }
    b.cost += value.length >> 6;
  } else if (typeof value === 'object' && value !== null) {
    if (Array.isArray(value) && value.length > b.budget.maxListLength) {
      exceed(b, `a list of more than ${b.budget.maxListLength} items was produced`);
    }
    // Scope data is a tree the caller sized; what an expression builds from it is weighed.
    if (!isScopeValue(value) && weightOf(value, b.budget.maxCost) > b.budget.maxCost) {
      exceed(b, `a value of more than ${b.budget.maxCost} nodes was produced`);
    }
  }
}

/**
 * Weight of a value: the nodes a full walk visits (shared parts counted each time, strings one per
 * 64 characters), what comparing, converting or printing it costs. Memoized per object: CEL values
 * are immutable except comprehension accumulators, which only grow by push (hence the array
 * length in the memo). Stops counting once past `limit`.
 */
const weights = new WeakMap<object, { readonly size: number; readonly weight: number }>();

function weightOf(value: unknown, limit: number): number {
  if (typeof value === 'string') return 1 + (value.length >> 6);
  if (typeof value !== 'object' || value === null) return 1;
  if (ArrayBuffer.isView(value)) return 1 + (value.byteLength >> 6);
  const memo = weights.get(value);
  let w = 1;
  if (Array.isArray(value)) {
    let from = 0;
    if (memo !== undefined) {
      if (memo.size === value.length) return memo.weight;
      if (memo.size < value.length) [from, w] = [memo.size, memo.weight];
    }
    for (let i = from; i < value.length; i++) if ((w += weightOf(value[i], limit)) > limit) return w;
    weights.set(value, { size: value.length, weight: w });
    return w;
  }
  if (memo !== undefined) return memo.weight;
  if (value instanceof Map || value instanceof Set) {
    for (const [k, v] of value.entries()) {
      if ((w += weightOf(k, limit) + weightOf(v, limit)) > limit) return w;
    }
  } else {
    const proto = Object.getPrototypeOf(value) as unknown;
    if (proto === null || proto === Object.prototype) {
      for (const key of Object.keys(value)) {
        if ((w += weightOf(key, limit) + weightOf((value as Record<string, unknown>)[key], limit)) > limit) return w;
      }
    }
  }
  weights.set(value, { size: 0, weight: w });
  return w;
}

// ---------------------------------------------------------------------------------------------

export interface CompiledExpression {
  readonly source: string;
  readonly ast: ASTNode;
  /** Evaluates against plain JSON data; returns plain JSON data. */
  evaluate(scope: Readonly<Record<string, unknown>>, budget?: Budget): unknown;
}

interface CelErrorShape {
  message?: string;
  code?: string;
  node?: { start?: number; pos?: number };
  range?: { start?: number };
}

function errorOffset(err: CelErrorShape): number {
  return err.range?.start ?? err.node?.start ?? err.node?.pos ?? 0;
}

function firstLine(message: string | undefined): string {
  const line = (message ?? 'invalid expression').split('\n')[0]!.trim();
  return line === 'Unexpected token: EOF' ? 'the expression ends too early' : line;
}

const cache = new Map<string, CompiledExpression>();

/** Parses a CEL expression. Throws ExpressionError (kind `syntax`) with the offset of the problem. */
export function compileExpression(source: string): CompiledExpression {
  const hit = cache.get(source);
  if (hit !== undefined) return hit;
  const env = getEnvironment();
  let parsed: ReturnType<Environment['parse']>;
  try {
    parsed = env.parse(source);
  } catch (err) {
    if (err instanceof RangeError) throw new ExpressionError('syntax', 'the expression is nested too deeply');
    const e = err as CelErrorShape;
    throw new ExpressionError('syntax', firstLine(e.message), errorOffset(e));
  }
  // The root node is evaluated without going through the hook, so a root `matches()` call is
  // wrapped in dyn() (which changes nothing else) to reach the RE2 path; offsets shift by 4.
  const shift = isMatchesCall(parsed.ast) ? 'dyn('.length : 0;
  const runnable = shift === 0 ? parsed : env.parse(`dyn(${source})`);
  const compiled: CompiledExpression = {
    source,
    ast: parsed.ast,
    evaluate(scope, budget = DEFAULT_BUDGET) {
      const context: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
      for (const root of SCOPE_ROOTS) context[root] = Object.hasOwn(scope, root) ? toCel(scope[root]) : null;
      const b: ActiveBudget = {
        budget,
        deadline: performance.now() + budget.maxMillis,
        cost: 0,
        steps: 0,
        exceeded: undefined,
      };
      const outer = active;
      active = b;
      let value: unknown;
      try {
        value = runnable(context);
        // The root node is evaluated without going through the hook: check its value here.
        checkValue(b, value);
      } catch (err) {
        if (b.exceeded !== undefined) throw new ExpressionError('budget', b.exceeded);
        const e = err as CelErrorShape;
        throw new ExpressionError('evaluation', firstLine(e.message), Math.max(0, errorOffset(e) - shift));
      } finally {
        active = outer;
      }
      if (b.exceeded !== undefined) throw new ExpressionError('budget', b.exceeded);
      return fromCel(value);
    },
  };
  if (cache.size > 10_000) cache.clear();
  cache.set(source, compiled);
  return compiled;
}

/**
 * Type-checks an expression with every scope root as `dyn`: finds unknown functions, wrong arity
 * and operators on incompatible literal types. Returns undefined when it checks.
 */
export function typeCheck(source: string): ExpressionError | undefined {
  const result = getEnvironment().check(source);
  if (result.valid) return undefined;
  const e = result.error as CelErrorShape;
  return new ExpressionError('type', firstLine(e.message), errorOffset(e));
}

/**
 * Parses and type-checks an expression once, without caching it: what validation needs for every
 * `${{ }}` of a file (a 10,000-task file must not keep 10,000 compiled expressions alive).
 * Throws ExpressionError (kind `syntax`) like compileExpression.
 */
export function analyzeExpression(source: string): { readonly ast: ASTNode; readonly typeError?: ExpressionError } {
  let parsed: ReturnType<Environment['parse']>;
  try {
    parsed = getEnvironment().parse(source);
  } catch (err) {
    if (err instanceof RangeError) throw new ExpressionError('syntax', 'the expression is nested too deeply');
    const e = err as CelErrorShape;
    throw new ExpressionError('syntax', firstLine(e.message), errorOffset(e));
  }
  const checked = parsed.check();
  if (checked.valid) return { ast: parsed.ast };
  const e = checked.error as CelErrorShape;
  return { ast: parsed.ast, typeError: new ExpressionError('type', firstLine(e.message), errorOffset(e)) };
}

let functionNames: ReadonlySet<string> | undefined;

/** Names of the functions and macros CEL knows here (for "did you mean" on unknown ones). */
export function knownFunctions(): ReadonlySet<string> {
  functionNames ??= new Set(
    getEnvironment()
      .getDefinitions()
      .functions.map((f) => f.name),
  );
  return functionNames;
}
