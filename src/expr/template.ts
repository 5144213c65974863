/**
 * `${{ expr }}` templates: splitting a string into literal text and CEL expressions.
 *
 * The closing `}}` is found with awareness of CEL string literals and braces, so a map literal
 * (`{"a": {"b": 1}}`) or a string containing `}}` does not end the expression early.
 */

export const OPEN = '${{';
export const CLOSE = '}}';

export interface TextPart {
  readonly kind: 'text';
  readonly text: string;
  readonly start: number;
}

export interface ExprPart {
  readonly kind: 'expr';
  /** The CEL source between the braces, trimmed. */
  readonly source: string;
  /** Offset of `${{` in the template string. */
  readonly start: number;
  /** Offset just after `}}`. */
  readonly end: number;
  /** Offset of the first character of `source` in the template string. */
  readonly sourceStart: number;
}

export type TemplatePart = TextPart | ExprPart;

export interface Template {
  readonly parts: readonly TemplatePart[];
  /** The string is exactly one `${{ }}`: its value keeps its type instead of becoming text. */
  readonly whole: boolean;
}

export class TemplateSyntaxError extends Error {
  /** Offset in the template string. */
  readonly offset: number;
  constructor(message: string, offset: number) {
    super(message);
    this.name = 'TemplateSyntaxError';
    this.offset = offset;
  }
}

export function hasTemplate(value: string): boolean {
  return value.includes(OPEN);
}

/** Index of the `}}` that closes an expression starting at `from`, or -1. */
function findClose(s: string, from: number): number {
  let depth = 0;
  for (let i = from; i < s.length; i++) {
    const c = s[i];
    if (c === '"' || c === "'") {
      const triple = s.startsWith(c.repeat(3), i);
      const quote = triple ? c.repeat(3) : c;
      let j = i + quote.length;
      for (; j < s.length; j++) {
        if (s[j] === '\\') j++;
        else if (s.startsWith(quote, j)) break;
      }
      if (j >= s.length) return -1;
      i = j + quote.length - 1;
    } else if (c === '{') depth++;
    else if (c === '}') {
      if (depth === 0 && s[i + 1] === '}') return i;
      depth = Math.max(0, depth - 1);
    }
  }
  return -1;
}

/** Splits a string into text and expressions. Throws TemplateSyntaxError on an unclosed or empty `${{`. */
export function parseTemplate(s: string): Template {
  const parts: TemplatePart[] = [];
  let pos = 0;
  while (pos < s.length) {
    const open = s.indexOf(OPEN, pos);
    if (open === -1) break;
    if (open > pos) parts.push({ kind: 'text', text: s.slice(pos, open), start: pos });
    const close = findClose(s, open + OPEN.length);
    if (close === -1) throw new TemplateSyntaxError('"${{" is not closed by "}}"', open);
    const inner = s.slice(open + OPEN.length, close);
    const lead = inner.length - inner.trimStart().length;
    const source = inner.trim();
    if (source === '') throw new TemplateSyntaxError('empty expression "${{ }}"', open);
    parts.push({
      kind: 'expr',
      source,
      start: open,
      end: close + CLOSE.length,
      sourceStart: open + OPEN.length + lead,
    });
    pos = close + CLOSE.length;
  }
  if (pos < s.length) parts.push({ kind: 'text', text: s.slice(pos), start: pos });
  const only = parts.length === 1 ? parts[0] : undefined;
  const whole = only?.kind === 'expr' && only.start === 0 && only.end === s.length;
  return { parts, whole };
}
