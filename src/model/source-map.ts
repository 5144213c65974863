/** Positions of every key and value of a loaded document, looked up by path. */
import type { ErrorCode } from '../errors.ts';
import { type Diagnostic, type DocPath, type LineIndex, makeDiagnostic } from './diagnostics.ts';

/** Where a scalar's text sits in the source, to place errors inside it (a column in an expression). */
export interface ScalarSpan {
  readonly valueStart: number;
  readonly valueEnd: number;
  readonly quoted: boolean;
  readonly block: boolean;
}

export interface Entry {
  readonly keyStart: number;
  readonly valueStart: number;
  readonly scalar?: ScalarSpan;
}

export interface ContainerInfo {
  readonly start: number;
  readonly entries: Map<string | number, Entry>;
}

/** Positions of every key and value of a loaded document, looked up by path. */
export class SourceMap {
  readonly text: string;
  readonly lines: LineIndex;
  readonly root: unknown;
  readonly #containers: WeakMap<object, ContainerInfo>;

  constructor(text: string, lines: LineIndex, root: unknown, containers: WeakMap<object, ContainerInfo>) {
    this.text = text;
    this.lines = lines;
    this.root = root;
    this.#containers = containers;
  }

  #walk(path: DocPath): { parent: ContainerInfo | undefined; entry: Entry | undefined; depth: number } {
    let value: unknown = this.root;
    let parent: ContainerInfo | undefined;
    let entry: Entry | undefined;
    let depth = 0;
    for (const seg of path) {
      const info = typeof value === 'object' && value !== null ? this.#containers.get(value) : undefined;
      const next = info?.entries.get(seg);
      if (info === undefined || next === undefined) break;
      parent = info;
      entry = next;
      depth++;
      value = (value as Record<string | number, unknown>)[seg];
    }
    return { parent, entry, depth };
  }

  /**
   * Offset of the value at `path` (or of its key with `which: 'key'`). A path that does not exist
   * in full (a missing field) resolves to the deepest existing part: the key of the object that
   * lacks it.
   */
  offset(path: DocPath, which: 'key' | 'value' = 'value'): number {
    const { entry, depth } = this.#walk(path);
    if (entry === undefined) {
      const rootInfo =
        typeof this.root === 'object' && this.root !== null ? this.#containers.get(this.root) : undefined;
      return rootInfo?.start ?? 0;
    }
    if (depth < path.length) return entry.keyStart;
    return which === 'key' ? entry.keyStart : entry.valueStart;
  }

  /** The span of the string scalar at `path`, if there is one. */
  scalar(path: DocPath): ScalarSpan | undefined {
    const { entry, depth } = this.#walk(path);
    return depth === path.length ? entry?.scalar : undefined;
  }

  /**
   * Source offset of character `index` of the decoded string at `path`. Exact for plain and
   * unescaped quoted scalars; for escapes, folding and block scalars it finds the decoded line (or,
   * across folds, the word at `index`) in the source, and falls back to the start of the scalar.
   */
  offsetInString(path: DocPath, decoded: string, index: number): number {
    const span = this.scalar(path);
    if (span === undefined) return this.offset(path);
    const raw = this.text.slice(span.valueStart, span.valueEnd);
    if (raw === decoded) return span.valueStart + index;
    const lineStart = decoded.lastIndexOf('\n', index - 1) + 1;
    let lineEnd = decoded.indexOf('\n', index);
    if (lineEnd === -1) lineEnd = decoded.length;
    const line = decoded.slice(lineStart, lineEnd);
    const found = line.length > 0 ? raw.indexOf(line) : -1;
    if (found !== -1) return span.valueStart + found + (index - lineStart);
    // Folding joins source lines, so the decoded line is not in the source; but folding only
    // changes whitespace, so the text from `index` to the next space is: take the same occurrence.
    const word = /^\S+/.exec(decoded.slice(index))?.[0];
    if (word !== undefined) {
      let nth = 0;
      for (let i = decoded.indexOf(word); i !== -1 && i < index; i = decoded.indexOf(word, i + 1)) nth++;
      let at = raw.indexOf(word);
      for (; at !== -1 && nth > 0; nth--) at = raw.indexOf(word, at + 1);
      if (at !== -1) return span.valueStart + at;
    }
    return span.valueStart - (span.quoted ? 1 : 0);
  }

  diagnostic(
    code: ErrorCode,
    path: DocPath,
    message: string,
    extra: { hint?: string; which?: 'key' | 'value'; offset?: number } = {},
  ): Diagnostic {
    const offset = extra.offset ?? this.offset(path, extra.which);
    return makeDiagnostic(this.lines, code, offset, message, {
      path,
      ...(extra.hint === undefined ? {} : { hint: extra.hint }),
    });
  }
}
