// Assertions on validator diagnostics, shared by the model's unit tests.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { validateWorkflowText } from '../../src/model/validate.ts';

/** The workflow of DESIGN.md section 3, as written there: it must validate cleanly. */
export const DESIGN_EXAMPLE = readFileSync(new URL('../fixtures/design-example.yaml', import.meta.url), 'utf8');

/** `CODE line:col` of every diagnostic. */
export function found(text: string): string[] {
  return validateWorkflowText(text).diagnostics.map((d) => `${d.code} ${d.line}:${d.col}`);
}

/** Line and column of the `nth` occurrence of `needle` on 1-based `line` of `text`. */
export function where(text: string, line: number, needle: string, nth = 0): string {
  const l = text.split('\n')[line - 1];
  assert.ok(l !== undefined, `no line ${line}`);
  let col = -1;
  for (let i = 0; i <= nth; i++) col = l.indexOf(needle, col + 1);
  assert.ok(col >= 0, `"${needle}" not on line ${line}: ${l}`);
  return `${line}:${col + 1}`;
}

/** Asserts the text has exactly one diagnostic: `code` at `needle` on `line`. */
export function expectOnly(text: string, code: string, line: number, needle: string, nth = 0): void {
  const r = validateWorkflowText(text);
  assert.deepEqual(
    r.diagnostics.map((d) => `${d.code} ${d.line}:${d.col}`),
    [`${code} ${where(text, line, needle, nth)}`],
    r.diagnostics.map((d) => d.message).join('; '),
  );
  assert.equal(r.workflow, undefined);
}

/** Asserts the text validates with no diagnostics. */
export function expectClean(text: string): void {
  const r = validateWorkflowText(text);
  assert.deepEqual(
    r.diagnostics.map((d) => `${d.code} ${d.line}:${d.col} ${d.message}`),
    [],
  );
  assert.ok(r.workflow);
}

/** Lines joined into a document. */
export const lines = (...ls: string[]): string => `${ls.join('\n')}\n`;
