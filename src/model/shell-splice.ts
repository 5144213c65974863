/**
 * Where a `${{ }}` sits inside a shell script. At run time an expression in `shell.run` is
 * replaced by its value as one single-quoted shell word, which is safe only where a word can
 * start: outside quotes, backticks and here-documents. Anywhere else the quoting would be wrong
 * or the text would be spliced raw, so validation refuses it (RV408) and points to `env`.
 */

export type SpliceContext = 'word' | 'comment' | 'single-quotes' | 'double-quotes' | 'backticks' | 'heredoc';

/** The shell context at each of the given offsets (sorted ascending), for a POSIX/bash script. */
export function spliceContexts(script: string, offsets: readonly number[]): SpliceContext[] {
  return scan(script, offsets).contexts;
}

/** Where a quote or backtick that the script never closes opens, if one does. */
export function unclosedQuote(
  script: string,
): { readonly offset: number; readonly context: SpliceContext } | undefined {
  const end = scan(script, []);
  return end.mode === 'single-quotes' || end.mode === 'double-quotes' || end.mode === 'backticks' || end.mode === 'ansi'
    ? { offset: end.openedAt, context: end.mode === 'ansi' ? 'single-quotes' : end.mode }
    : undefined;
}

function scan(
  script: string,
  offsets: readonly number[],
): { contexts: SpliceContext[]; mode: Exclude<SpliceContext, 'word'> | 'none' | 'ansi'; openedAt: number } {
  const out: SpliceContext[] = [];
  let k = 0;
  let mode: Exclude<SpliceContext, 'word'> | 'none' | 'ansi' = 'none';
  let openedAt = 0;
  const pendingHeredocs: { delimiter: string; stripTabs: boolean }[] = [];
  let heredoc: { delimiter: string; stripTabs: boolean } | undefined;
  const isWordStart = (i: number): boolean => i === 0 || /[\s;&|()]/.test(script[i - 1]!);

  for (let i = 0; i <= script.length; i++) {
    while (k < offsets.length && offsets[k] === i) {
      out.push(mode === 'none' ? 'word' : mode === 'ansi' ? 'single-quotes' : mode);
      k++;
    }
    if (i >= script.length) break;
    const c = script[i]!;
    switch (mode) {
      case 'none':
        if (c === '\\') i++;
        else if (c === "'") [mode, openedAt] = ['single-quotes', i];
        else if (c === '"') [mode, openedAt] = ['double-quotes', i];
        else if (c === '`') [mode, openedAt] = ['backticks', i];
        else if (c === '$' && script[i + 1] === "'") {
          [mode, openedAt] = ['ansi', i];
          i++;
        } else if (c === '#' && isWordStart(i)) mode = 'comment';
        else if (c === '<' && script[i + 1] === '<' && script[i + 2] !== '<') {
          const m = /^<<(-?)\s*(['"]?)([A-Za-z_][A-Za-z0-9_]*)\2/.exec(script.slice(i));
          if (m) {
            pendingHeredocs.push({ delimiter: m[3]!, stripTabs: m[1] === '-' });
            i += m[0].length - 1;
          }
        } else if (c === '\n' && pendingHeredocs.length > 0) {
          heredoc = pendingHeredocs.shift();
          mode = 'heredoc';
          i--; // revisit this newline in heredoc mode, which reads the body's first line
        }
        break;
      case 'single-quotes':
        if (c === "'") mode = 'none';
        break;
      case 'ansi':
        if (c === '\\') i++;
        else if (c === "'") mode = 'none';
        break;
      case 'double-quotes':
        if (c === '\\') i++;
        else if (c === '"') mode = 'none';
        break;
      case 'backticks':
        if (c === '\\') i++;
        else if (c === '`') mode = 'none';
        break;
      case 'comment':
        if (c === '\n') {
          mode = 'none';
          i--; // the newline may start a pending here-document
        }
        break;
      case 'heredoc': {
        if (c !== '\n') break;
        // A here-document ends at a line that is exactly its delimiter.
        let end = script.indexOf('\n', i + 1);
        if (end === -1) end = script.length;
        let line = script.slice(i + 1, end);
        if (heredoc!.stripTabs) line = line.replace(/^\t+/, '');
        if (line === heredoc!.delimiter) {
          // Offsets inside the delimiter line are still "heredoc"; move past it.
          while (k < offsets.length && offsets[k]! <= end) {
            out.push('heredoc');
            k++;
          }
          i = end - 1;
          heredoc = pendingHeredocs.shift();
          mode = heredoc === undefined ? 'none' : 'heredoc';
          // `end - 1` then `i++` lands on the newline that closes the delimiter line.
        }
        break;
      }
    }
  }
  while (out.length < offsets.length) out.push(mode === 'none' ? 'word' : mode === 'ansi' ? 'single-quotes' : mode);
  return { contexts: out, mode, openedAt };
}
