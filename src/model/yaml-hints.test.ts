import assert from 'node:assert/strict';
import { test } from 'node:test';
import { lines } from '../../test/helpers/diagnostics.ts';
import { validateWorkflowText } from './validate.ts';

function syntax(text: string): { at: string; hint: string | undefined } {
  const [d] = validateWorkflowText(text).diagnostics;
  assert.equal(d?.code, 'RV101');
  return { at: `${d.line}:${d.col}`, hint: d.hint };
}

test('an unclosed quote is named where it opens, not where the parser gave up', () => {
  const r = syntax(lines('name: x', 'tasks:', '  a:', '    http: { url: "http://x }', '  b: { noop: {} }'));
  assert.deepEqual(r, { at: '5:3', hint: 'the " at line 4, column 18 is not closed' });
});

test('an unclosed flow mapping or sequence is named', () => {
  assert.equal(
    syntax(lines('name: x', 'tasks:', '  a:', '    http: { url: h', '  b: { noop: {} }')).hint,
    'the { at line 4, column 11 is not closed',
  );
  assert.equal(
    syntax(lines('name: x', 'tasks:', '  a:', '    needs: [b', '    noop: {}')).hint,
    'the [ at line 4, column 12 is not closed',
  );
});

test('a colon and space inside a plain value', () => {
  const r = syntax(lines('name: x', 'tasks:', '  a:', '    shell:', '      run: echo: hi'));
  assert.equal(r.hint, 'a ": " inside a value starts a mapping: quote the whole value');
});

test('tabs and inconsistent indentation', () => {
  assert.equal(
    syntax(lines('name: x', 'tasks:', '  a:', '\tnoop: {}')).hint,
    'indent with spaces: YAML does not allow tabs for indentation',
  );
  assert.equal(
    syntax(lines('name: x', 'tasks:', ' a:', '    noop: {}', '  b:', '    noop: {}')).hint,
    'indent nested fields consistently, two spaces per level',
  );
});

test('balanced quotes and brackets on earlier lines, and comments, do not mislead the hint', () => {
  const r = syntax(lines('name: x # a "comment', 'tasks:', '  a: { noop: {} }', ' b:', '    noop: {}'));
  assert.doesNotMatch(r.hint ?? '', /not closed/);
});
