import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type SpliceContext, spliceContexts, unclosedQuote } from './shell-splice.ts';

/** Contexts at each `@` of the script (the `@` stands for a `${{ }}`). */
function at(script: string): SpliceContext[] {
  const offsets: number[] = [];
  for (let i = script.indexOf('@'); i !== -1; i = script.indexOf('@', i + 1)) offsets.push(i);
  return spliceContexts(script, offsets);
}

describe('spliceContexts', () => {
  test('words, quotes and backticks', () => {
    assert.deepEqual(at('echo @ "@" \'@\' `@` @'), ['word', 'double-quotes', 'single-quotes', 'backticks', 'word']);
  });

  test('escapes do not open or close quotes', () => {
    assert.deepEqual(at('echo \\"@'), ['word']);
    assert.deepEqual(at('echo "a\\"@" @'), ['double-quotes', 'word']);
    assert.deepEqual(at("echo '\\'@"), ['word'], 'a backslash does not escape inside single quotes');
  });

  test('ANSI-C quoting counts as single quotes', () => {
    assert.deepEqual(at("x=$'a\\'@' @"), ['single-quotes', 'word']);
  });

  test('comments only at the start of a word', () => {
    assert.deepEqual(at('# c @\necho @'), ['comment', 'word']);
    assert.deepEqual(at('echo a#@'), ['word']);
    assert.deepEqual(at('echo ok; # @'), ['comment']);
  });

  test('here-documents, quoted delimiters and <<-', () => {
    assert.deepEqual(at('cat <<EOF\n@\nEOF\n@'), ['heredoc', 'word']);
    assert.deepEqual(at("cat << 'X'\n@\nX\n@"), ['heredoc', 'word']);
    assert.deepEqual(at('cat <<-"END"\n\t@\n\tEND\n@'), ['heredoc', 'word']);
    assert.deepEqual(at('cat <<A <<B\n@\nA\n@\nB\n@'), ['heredoc', 'heredoc', 'word']);
    assert.deepEqual(at('cat <<EOF\nEOFX @\nEOF\n@'), ['heredoc', 'word'], 'only an exact delimiter line ends it');
  });

  test('a here-string is not a here-document', () => {
    assert.deepEqual(at('cat <<< @\n@'), ['word', 'word']);
  });

  test('an unterminated context lasts to the end of the script', () => {
    assert.deepEqual(at('echo "@'), ['double-quotes']);
    assert.deepEqual(at('cat <<EOF\n@'), ['heredoc']);
  });

  test('heredoc markers inside quotes are text', () => {
    assert.deepEqual(at('echo "<<EOF"\n@'), ['word']);
  });

  test('one context per offset, in order', () => {
    const script = 'a @ "@" @';
    const offsets = [2, 5, 8];
    assert.equal(spliceContexts(script, offsets).length, offsets.length);
    assert.deepEqual(spliceContexts(script, []), []);
  });
});

describe('unclosedQuote', () => {
  test('finds the quote or backtick a script never closes', () => {
    assert.deepEqual(unclosedQuote("echo 'hi"), { offset: 5, context: 'single-quotes' });
    assert.deepEqual(unclosedQuote('echo "a\\" b'), { offset: 5, context: 'double-quotes' });
    assert.deepEqual(unclosedQuote('x=`date'), { offset: 2, context: 'backticks' });
  });

  test('quotes inside comments, here-documents and escapes are not quotes', () => {
    assert.equal(unclosedQuote("echo ok # don't\n"), undefined);
    assert.equal(unclosedQuote("cat <<EOF\nit's\nEOF\necho done\n"), undefined);
    assert.equal(unclosedQuote('echo it\\\'s "it\'s"\n'), undefined);
  });
});
