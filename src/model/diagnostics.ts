import { ERROR_CODES, type ErrorCode } from '../errors.ts';

/** A path into the loaded document: mapping keys and sequence indexes. */
export type DocPath = readonly (string | number)[];

/** One problem found in a workflow file, with a 1-based line and column. */
export interface Diagnostic {
  readonly code: ErrorCode;
  readonly severity: 'error';
  readonly message: string;
  readonly hint?: string;
  /** 0-based character offset into the text; used to sort diagnostics. */
  readonly offset: number;
  readonly line: number;
  readonly col: number;
  /** Where in the document the problem is, when it is about a field. */
  readonly path?: DocPath;
}

/** Turns character offsets into 1-based line and column numbers. */
export class LineIndex {
  readonly #starts: number[];

  constructor(text: string) {
    const starts = [0];
    // YAML line breaks: \n, \r\n and a lone \r.
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c === 10 || (c === 13 && text.charCodeAt(i + 1) !== 10)) starts.push(i + 1);
    }
    this.#starts = starts;
  }

  position(offset: number): { line: number; col: number } {
    const starts = this.#starts;
    let lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (starts[mid]! <= offset) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + 1, col: offset - starts[lo]! + 1 };
  }
}

export function makeDiagnostic(
  lines: LineIndex,
  code: ErrorCode,
  offset: number,
  message: string,
  extra: { hint?: string; path?: DocPath } = {},
): Diagnostic {
  const { line, col } = lines.position(Math.max(0, offset));
  return {
    code,
    severity: 'error',
    message,
    offset: Math.max(0, offset),
    line,
    col,
    ...(extra.hint === undefined ? {} : { hint: extra.hint }),
    ...(extra.path === undefined ? {} : { path: extra.path }),
  };
}

/** Sorts by position, then code, and drops exact repeats. */
export function sortDiagnostics(diagnostics: readonly Diagnostic[]): Diagnostic[] {
  const sorted = [...diagnostics].sort(
    (a, b) => a.offset - b.offset || a.code.localeCompare(b.code) || a.message.localeCompare(b.message),
  );
  return sorted.filter(
    (d, i) =>
      i === 0 ||
      d.offset !== sorted[i - 1]!.offset ||
      d.code !== sorted[i - 1]!.code ||
      d.message !== sorted[i - 1]!.message,
  );
}

/** `file:line:col: error CODE message` (and the hint on the next line), the CLI's plain form. */
export function formatDiagnostic(file: string, d: Diagnostic): string {
  const head = `${file}:${d.line}:${d.col}: ${d.severity} ${d.code} ${d.message}`;
  return d.hint === undefined ? head : `${head}\n  hint: ${d.hint}`;
}

export function codeName(code: ErrorCode): string {
  return ERROR_CODES[code].name;
}
