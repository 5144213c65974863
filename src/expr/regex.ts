/** Regular expressions in CEL, matched in linear time. */
import { RE2JS } from 're2js';

// `matches()`: cel-js runs it with a JavaScript RegExp, which backtracks: `"aaaa…!".matches("^(a+)+$")`
// takes seconds at 27 characters, in one native call no budget can interrupt. CEL specifies RE2
// syntax, so calls to matches are evaluated here with re2js (a port of RE2: linear time).

export interface CallNode {
  readonly op: string;
  readonly args: readonly unknown[];
}
export interface Runner {
  run(ast: unknown, ctx: unknown): unknown;
}

export function isMatchesCall(ast: unknown): ast is CallNode {
  const node = ast as CallNode;
  return (node.op === 'rcall' || node.op === 'call') && node.args[0] === 'matches';
}

const patterns = new Map<string, RE2JS>();

function compilePattern(pattern: string): RE2JS {
  let re = patterns.get(pattern);
  if (re === undefined) {
    try {
      re = RE2JS.compile(pattern);
    } catch (err) {
      throw new Error(`invalid regular expression ${JSON.stringify(pattern)}: ${(err as Error).message}`, {
        cause: err,
      });
    }
    if (patterns.size >= 1000) patterns.clear();
    patterns.set(pattern, re);
  }
  return re;
}

export function runMatches(ev: Runner, node: CallNode, ctx: unknown): unknown {
  const [subjectNode, patternNode] =
    node.op === 'rcall' ? [node.args[1], (node.args[2] as unknown[])[0]] : (node.args[1] as unknown[]);
  const subject = ev.run(subjectNode, ctx);
  const pattern = ev.run(patternNode, ctx);
  if (typeof subject !== 'string' || typeof pattern !== 'string') {
    throw new Error(`matches() takes a string and a pattern string, got ${typeof subject} and ${typeof pattern}`);
  }
  return compilePattern(pattern).matcher(subject).find();
}
