/**
 * Hints for YAML syntax errors. The parser reports where it gave up, which is often a line after
 * the mistake ("deficient indentation" below an unclosed `{`): these look for the usual causes.
 */
import type { LineIndex } from './diagnostics.ts';

/** The first bracket or quote opened before `end` and never closed, looking back `lines` lines. */
function unclosedBefore(text: string, end: number, lookBack = 20): number | undefined {
  let start = end;
  for (let n = 0; n <= lookBack && start > 0; n++) start = text.lastIndexOf('\n', start - 2) + 1;
  const open: number[] = [];
  let quote: { char: string; at: number } | undefined;
  for (let i = start; i < end; i++) {
    const c = text[i]!;
    if (quote !== undefined) {
      if (c === '\\' && quote.char === '"') i++;
      else if (c === quote.char) {
        if (c === "'" && text[i + 1] === "'") i++;
        else quote = undefined;
      }
      continue;
    }
    if (c === '#' && (i === start || /\s/.test(text[i - 1]!))) {
      const nl = text.indexOf('\n', i);
      i = nl === -1 ? end : nl;
    } else if ((c === '"' || c === "'") && (i === start || /[\s[{,:]/.test(text[i - 1]!))) quote = { char: c, at: i };
    else if (c === '[' || c === '{') open.push(i);
    else if ((c === ']' || c === '}') && open.length > 0) open.pop();
  }
  return quote?.at ?? open[0];
}

export function yamlSyntaxHint(text: string, offset: number, reason: string, lines: LineIndex): string | undefined {
  const lineStart = text.lastIndexOf('\n', offset - 1) + 1;
  let lineEnd = text.indexOf('\n', offset);
  if (lineEnd === -1) lineEnd = text.length;
  const line = text.slice(lineStart, lineEnd);
  if (/^[ \t]*\t/.test(line) || /^ *\t/.test(text.slice(lineStart, offset + 1))) {
    return 'indent with spaces: YAML does not allow tabs for indentation';
  }
  const unclosed = unclosedBefore(text, lineStart);
  if (unclosed !== undefined && /indentation|end of the stream|flow|quoted/.test(reason)) {
    const { line: l, col } = lines.position(unclosed);
    return `the ${text[unclosed]} at line ${l}, column ${col} is not closed`;
  }
  if (/bad indentation of a mapping entry/.test(reason) && /:\s.*:\s/.test(line.replace(/^\s*-?\s*/, ''))) {
    return 'a ": " inside a value starts a mapping: quote the whole value';
  }
  if (/indentation/.test(reason)) return 'indent nested fields consistently, two spaces per level';
  return undefined;
}
