/** The shape of a corpus case, the PRNG and small byte helpers shared by the generators. */
import type { ErrorCode } from '../../src/errors.ts';
import type { LoadedWorkflow } from '../../src/load.ts';

/** RELIABILITY.md section 4.5, the categories that apply to documents. */
export const CATEGORIES = [
  'malformed-yaml',
  'schema',
  'graph',
  'references',
  'expressions',
  'size',
  'alias-bombs',
  'depth',
  'encoding',
  'prototype-keys',
  'type-confusion',
] as const;
export type Category = (typeof CATEGORIES)[number];

export interface CorpusCase {
  readonly name: string;
  readonly category: Category;
  readonly origin: 'generated' | 'hand-written';
  /** `any`: a fuzzed document that may or may not be valid; only "no throw, positioned" holds. */
  readonly expect: 'valid' | 'invalid' | 'any';
  /** Invalid cases: a diagnostic with this code (or with one of these codes) must be reported. */
  readonly code?: ErrorCode | readonly ErrorCode[];
  /** The diagnostic carrying `code` must match these too. */
  readonly message?: RegExp;
  readonly hint?: RegExp;
  /** Where that diagnostic must be (1-based), when the case knows it exactly. */
  readonly at?: { readonly line: number; readonly col: number };
  /** Further checks on the result; throws (an assertion) when they fail. */
  readonly check?: (result: LoadedWorkflow) => void;
  /** Built when the case runs, so that the 10 MB documents never exist at the same time. */
  readonly bytes: () => Uint8Array;
}

const encoder = new TextEncoder();
export const utf8 = (text: string): Uint8Array => encoder.encode(text);

export function concat(...parts: readonly (Uint8Array | string | readonly number[])[]): Uint8Array {
  const arrays = parts.map((p) => (typeof p === 'string' ? utf8(p) : p instanceof Uint8Array ? p : Uint8Array.from(p)));
  const out = new Uint8Array(arrays.reduce((n, a) => n + a.length, 0));
  let at = 0;
  for (const a of arrays) {
    out.set(a, at);
    at += a.length;
  }
  return out;
}

/** 1-based line and column (in UTF-16 units, like the validator) of the end of `prefix`. */
export function positionAfter(prefix: string): { line: number; col: number } {
  const lastNewline = prefix.lastIndexOf('\n');
  let line = 1;
  for (let i = prefix.indexOf('\n'); i !== -1; i = prefix.indexOf('\n', i + 1)) line++;
  return { line, col: prefix.length - lastNewline };
}

export interface Rng {
  /** Uniform in [0, 1). */
  next(): number;
  /** Uniform integer in [0, n). */
  int(n: number): number;
  /** Uniform integer in [lo, hi]. */
  between(lo: number, hi: number): number;
  pick<T>(items: readonly T[]): T;
  chance(p: number): boolean;
}

/** mulberry32: small, fast and good enough to drive a fuzzer reproducibly from a 32-bit seed. */
export function createRng(seed: number): Rng {
  let a = seed >>> 0;
  const next = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number): number => Math.floor(next() * n);
  return {
    next,
    int,
    between: (lo, hi) => lo + int(hi - lo + 1),
    pick: (items) => {
      if (items.length === 0) throw new Error('pick from an empty list');
      return items[int(items.length)]!;
    },
    chance: (p) => next() < p,
  };
}

/** A generator's own stream: adding a generator does not change the cases of the others. */
export function streamFor(seed: number, name: string): Rng {
  let h = seed >>> 0 || 1;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x9e3779b1) >>> 0;
  return createRng(h);
}

/**
 * Edit distance, the test's own so that hint checks do not trust the code under test; with
 * `swaps`, two adjacent letters swapped count as one edit (optimal string alignment).
 */
export function editDistance(a: string, b: string, swaps: boolean): number {
  let before: number[] = [];
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      let v = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
      if (swaps && i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        v = Math.min(v, before[j - 2]! + 1);
      cur.push(v);
    }
    before = prev;
    prev = cur;
  }
  return prev[b.length]!;
}

/**
 * Whether `wrong` should get the hint `did you mean "<right>"`: right is the single nearest name
 * and near enough (a third of the word's length in edits, at least one), whether or not a swap of
 * two letters counts as one edit, so the expectation holds for either way of counting.
 */
export function uniquelyNearest(wrong: string, right: string, names: readonly string[]): boolean {
  const max = Math.max(1, Math.floor(wrong.length / 3));
  const w = wrong.toLowerCase();
  return [false, true].every((swaps) => {
    const d = editDistance(w, right.toLowerCase(), swaps);
    if (d === 0 || d > max) return false;
    return names.every((n) => n === right || editDistance(w, n.toLowerCase(), swaps) > d);
  });
}

/** One random edit (substitution, insertion, deletion or transposition) with letters from `alphabet`. */
export function misspell(rng: Rng, word: string, alphabet = 'abcdefghijklmnopqrstuvwxyz_'): string {
  const i = rng.int(word.length);
  const c = alphabet[rng.int(alphabet.length)]!;
  switch (rng.int(4)) {
    case 0:
      return word.slice(0, i) + c + word.slice(i + 1);
    case 1:
      return word.slice(0, i) + c + word.slice(i);
    case 2:
      return word.length > 1 ? word.slice(0, i) + word.slice(i + 1) : word + c;
    default:
      return i + 1 < word.length ? word.slice(0, i) + word[i + 1] + word[i] + word.slice(i + 2) : c + word;
  }
}
