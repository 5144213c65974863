// docs/errors.md and the code registry (src/errors.ts) stay in step, in both directions.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { ALL_ERROR_CODES, ERROR_CODES } from '../src/errors.ts';

const doc = readFileSync(new URL('../docs/errors.md', import.meta.url), 'utf8');
const documented = new Map([...doc.matchAll(/^### (RV\d{3}) (\w+)$/gm)].map((m) => [m[1]!, m[2]!]));

test('every registered code has a section in docs/errors.md with the same name', () => {
  const missing = ALL_ERROR_CODES.filter((c) => documented.get(c) !== ERROR_CODES[c].name);
  assert.deepEqual(missing, [], `codes missing or misnamed in docs/errors.md: ${missing.join(', ')}`);
});

test('every code documented in docs/errors.md exists in the registry', () => {
  const unknown = [...documented.keys()].filter((c) => !Object.hasOwn(ERROR_CODES, c));
  assert.deepEqual(unknown, []);
});

test('codes are unique by name and well-formed', () => {
  const names = ALL_ERROR_CODES.map((c) => ERROR_CODES[c].name);
  assert.equal(new Set(names).size, names.length);
  for (const c of ALL_ERROR_CODES) assert.match(c, /^RV\d{3}$/);
});
