/**
 * Edit distance with an early exit once it exceeds `max`. Swapping two adjacent letters counts as
 * one edit (optimal string alignment), so the commonest typo (`biuld` for `build`) is one edit away.
 */
export function editDistance(a: string, b: string, max = Number.POSITIVE_INFINITY): number {
  if (Math.abs(a.length - b.length) > max) return max + 1;
  let before: number[] = [];
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    let rowMin = i;
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, before[j - 2]! + 1);
      cur.push(v);
      if (v < rowMin) rowMin = v;
    }
    if (rowMin > max) return max + 1;
    before = prev;
    prev = cur;
  }
  return prev[b.length]!;
}

/** Candidates all `nearest` calls may still compare in the current validation (withSuggestionBudget). */
let remaining = Number.POSITIVE_INFINITY;

/**
 * Runs `fn` with a budget on the candidates that all `nearest` calls together may compare. One
 * lookup scans up to 5,000 candidates, so a file with tens of thousands of misspelt names would
 * otherwise make validation quadratic (30,000 unknown `needs` took 50 s). Once the budget is
 * spent, hints are simply left out.
 */
export function withSuggestionBudget<T>(candidates: number, fn: () => T): T {
  const outer = remaining;
  remaining = candidates;
  try {
    return fn();
  } finally {
    remaining = outer;
  }
}

/**
 * The candidate nearest to `word`, if it is near enough to be a likely misspelling:
 * at most a third of the word's length in edits (at least one), case-insensitive.
 */
export function nearest(word: string, candidates: Iterable<string>): string | undefined {
  const lower = word.toLowerCase();
  const max = Math.max(1, Math.floor(word.length / 3));
  let best: string | undefined;
  let bestDistance = max + 1;
  let seen = 0;
  for (const candidate of candidates) {
    // Bounded: suggestions over huge maps are not worth quadratic time.
    if (++seen > 5000 || --remaining < 0) break;
    const d = editDistance(lower, candidate.toLowerCase(), bestDistance - 1);
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best;
}

export function didYouMean(word: string, candidates: Iterable<string>): string | undefined {
  const n = nearest(word, candidates);
  return n === undefined ? undefined : `did you mean "${n}"?`;
}
