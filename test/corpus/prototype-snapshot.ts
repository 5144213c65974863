/**
 * Imported first by corpus.test.ts, before any Rivet module is evaluated: the own keys of the
 * built-in prototypes as they were, to compare with after the corpus (RELIABILITY.md 4.5).
 */
const WATCHED: Readonly<Record<string, object>> = {
  'Object.prototype': Object.prototype,
  'Function.prototype': Function.prototype,
  'Array.prototype': Array.prototype,
};

/** Own property names and symbols of each watched prototype, sorted. */
export function prototypeKeys(): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [name, proto] of Object.entries(WATCHED)) out[name] = Reflect.ownKeys(proto).map(String).sort();
  return out;
}

export const PROTOTYPE_KEYS_BEFORE = prototypeKeys();
