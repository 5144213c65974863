import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type ExprPart, hasTemplate, parseTemplate, TemplateSyntaxError } from './template.ts';

function exprs(s: string): ExprPart[] {
  return parseTemplate(s).parts.filter((p): p is ExprPart => p.kind === 'expr');
}

function syntaxError(s: string): TemplateSyntaxError {
  try {
    parseTemplate(s);
  } catch (err) {
    assert.ok(err instanceof TemplateSyntaxError, `expected a TemplateSyntaxError, got ${String(err)}`);
    return err;
  }
  assert.fail(`expected ${JSON.stringify(s)} to be rejected`);
}

describe('hasTemplate', () => {
  test('finds the opening marker only', () => {
    assert.equal(hasTemplate('plain text'), false);
    assert.equal(hasTemplate('${ not a template }'), false);
    assert.equal(hasTemplate('{{ also not }}'), false);
    assert.equal(hasTemplate('x ${{ y }}'), true);
    assert.equal(hasTemplate('unclosed ${{'), true);
  });
});

describe('parseTemplate', () => {
  test('a whole-value template is one expression part with offsets', () => {
    const t = parseTemplate('${{ inputs.bucket }}');
    assert.equal(t.whole, true);
    assert.equal(t.parts.length, 1);
    const [p] = t.parts;
    assert.deepEqual(p, { kind: 'expr', source: 'inputs.bucket', start: 0, end: 20, sourceStart: 4 });
  });

  test('no spaces inside the braces', () => {
    const t = parseTemplate('${{inputs.x}}');
    assert.equal(t.whole, true);
    assert.deepEqual(t.parts[0], { kind: 'expr', source: 'inputs.x', start: 0, end: 13, sourceStart: 3 });
  });

  test('text around expressions is kept, with offsets', () => {
    const s = 'bucket-${{ inputs.bucket }}-${{ inputs.team }}!';
    const t = parseTemplate(s);
    assert.equal(t.whole, false);
    assert.deepEqual(
      t.parts.map((p) => (p.kind === 'text' ? ['text', p.text, p.start] : ['expr', p.source, p.start, p.end])),
      [
        ['text', 'bucket-', 0],
        ['expr', 'inputs.bucket', 7, 27],
        ['text', '-', 27],
        ['expr', 'inputs.team', 28, 46],
        ['text', '!', 46],
      ],
    );
    for (const e of exprs(s)) assert.equal(s.slice(e.sourceStart, e.sourceStart + e.source.length), e.source);
  });

  test('two adjacent expressions or surrounding spaces are not a whole value', () => {
    assert.equal(parseTemplate('${{ a }}${{ b }}').whole, false);
    assert.equal(parseTemplate(' ${{ a }}').whole, false);
    assert.equal(parseTemplate('${{ a }} ').whole, false);
    assert.equal(parseTemplate('${{ a }}').whole, true);
  });

  test('sourceStart skips leading whitespace and newlines', () => {
    const s = 'x ${{\n   inputs.a\n}}';
    const [e] = exprs(s);
    assert.equal(e!.source, 'inputs.a');
    assert.equal(e!.sourceStart, s.indexOf('inputs.a'));
  });

  test('an unclosed template is an error at its opening marker', () => {
    const err = syntaxError('prefix ${{ inputs.a');
    assert.equal(err.offset, 7);
    assert.match(err.message, /not closed/);
    assert.equal(syntaxError('${{ a }} and ${{ b }').offset, 13);
  });

  test('an empty template is an error at its opening marker', () => {
    const err = syntaxError('ab ${{   }}');
    assert.equal(err.offset, 3);
    assert.match(err.message, /empty/);
    assert.equal(syntaxError('${{}}').offset, 0);
  });

  test('"}}" inside a double-quoted CEL string does not close the expression', () => {
    const [e] = exprs('${{ "}}" + inputs.x }}');
    assert.equal(e!.source, '"}}" + inputs.x');
  });

  test('"}}" inside a single-quoted CEL string does not close the expression', () => {
    const [e] = exprs("${{ 'a}}b' }} tail");
    assert.equal(e!.source, "'a}}b'");
  });

  test('"}}" inside a triple-quoted CEL string does not close the expression', () => {
    const [e] = exprs('${{ """say "}}" here""" }}');
    assert.equal(e!.source, '"""say "}}" here"""');
  });

  test('an escaped quote does not end a CEL string', () => {
    const [e] = exprs('${{ "a\\"}}" }}');
    assert.equal(e!.source, '"a\\"}}"');
  });

  test('map literals with closing braces keep the expression open', () => {
    assert.equal(exprs('${{ {"a": {"b": 1}} }}')[0]!.source, '{"a": {"b": 1}}');
    assert.equal(exprs('${{ {"a": 1}}}')[0]!.source, '{"a": 1}');
    const t = parseTemplate('x=${{ {"k": [1]}["k"] }};');
    assert.equal(t.parts.length, 3);
    assert.equal((t.parts[1] as ExprPart).source, '{"k": [1]}["k"]');
  });

  test('an unterminated CEL string makes the template unclosed', () => {
    assert.equal(syntaxError('${{ "abc }}').offset, 0);
  });

  test('"${{" inside a CEL string is part of the expression', () => {
    const [e] = exprs('${{ "${{ not nested }}" }}');
    assert.equal(e!.source, '"${{ not nested }}"');
  });

  test('a string without templates is one text part', () => {
    const t = parseTemplate('just text');
    assert.equal(t.whole, false);
    assert.deepEqual(t.parts, [{ kind: 'text', text: 'just text', start: 0 }]);
  });
});
