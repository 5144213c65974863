/**
 * YAML 1.2 loading with source positions and hostile-input budgets.
 *
 * We build values ourselves from js-yaml's event stream (`parseEvents`) instead of using `load`:
 * that gives every key and value its offset, lets us refuse alias bombs by counting before
 * expanding, keep mappings as null-prototype objects, reject prototype keys and foreign tags, and
 * report duplicate keys without stopping. js-yaml's event parser is ~20x faster than the `yaml`
 * package's composer on a 10,000-task file (docs/performance.md), which the validation budget needs.
 */
import { EVENT_ID, getScalarValue, parseEvents, SCALAR_STYLE, YAMLException } from 'js-yaml';
import type { Event, ScalarEvent } from 'js-yaml';
import type { ErrorCode } from '../errors.ts';
import { type Diagnostic, LineIndex, makeDiagnostic } from './diagnostics.ts';
import { type ContainerInfo, type ScalarSpan, SourceMap } from './source-map.ts';
import { invalidUtf8Offset, loneSurrogateOffset } from './utf8.ts';
import { resolvePlainScalar, tagName } from './yaml-scalars.ts';

export { SourceMap, type ScalarSpan } from './source-map.ts';
export { invalidUtf8Offset } from './utf8.ts';
export { resolvePlainScalar } from './yaml-scalars.ts';

const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

export interface YamlLimits {
  /** Largest accepted document, in bytes of UTF-8. */
  readonly maxBytes: number;
  /** Deepest nesting of collections. */
  readonly maxDepth: number;
  /**
   * Nodes that aliases may add on top of the nodes written in the file. A string counts as one
   * node per STRING_CHARS_PER_NODE characters (at least one).
   */
  readonly maxAliasNodes: number;
  /** Items in one mapping or sequence. */
  readonly maxCollectionItems: number;
  /** Nodes (scalars, mappings, sequences, aliases) written in the whole document. */
  readonly maxNodes: number;
  /** Characters in one string. */
  readonly maxStringLength: number;
}

/** For the alias budget: the characters of a string that weigh as much as one node. */
export const STRING_CHARS_PER_NODE = 32;

export const DEFAULT_YAML_LIMITS: YamlLimits = Object.freeze({
  maxBytes: 1024 * 1024,
  maxDepth: 64,
  maxAliasNodes: 10_000,
  maxCollectionItems: 20_000,
  maxNodes: 300_000,
  maxStringLength: 256 * 1024,
});

export interface YamlResult {
  readonly value: unknown;
  readonly sourceMap: SourceMap;
  readonly diagnostics: Diagnostic[];
  /** True when the document could not be read as a whole: later checks should not run. */
  readonly fatal: boolean;
}

class Fatal extends Error {}

interface Frame {
  readonly kind: 'map' | 'seq';
  readonly value: Record<string, unknown> | unknown[];
  readonly info: ContainerInfo;
  readonly anchor: string | undefined;
  readonly depth: number;
  size: number;
  count: number;
  /** For mappings: the key read and waiting for its value. */
  key: { name: string; start: number; discard: boolean } | undefined;
}

/** Decodes file bytes as UTF-8 (without a BOM), or gives the diagnostic that explains why not. */
export function decodeUtf8(
  bytes: Uint8Array,
  limits: YamlLimits = DEFAULT_YAML_LIMITS,
): { text: string } | { diagnostic: Diagnostic } {
  if (bytes.length > limits.maxBytes) {
    return {
      diagnostic: makeDiagnostic(
        new LineIndex(''),
        'RV107',
        0,
        `the file is ${bytes.length} bytes; the limit is ${limits.maxBytes} bytes`,
        { hint: 'split the workflow into sub-workflows, or move large data out of the definition' },
      ),
    };
  }
  let text: string | undefined;
  try {
    // The fast path: a strict decoder (it drops a BOM). Only a file it refuses is scanned for the offset.
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    text = undefined;
  }
  if (text === undefined) {
    const bad = Math.max(0, invalidUtf8Offset(bytes));
    const prefix = new TextDecoder().decode(bytes.subarray(0, bad));
    return {
      diagnostic: makeDiagnostic(
        new LineIndex(prefix),
        'RV108',
        prefix.length,
        `invalid UTF-8 byte 0x${bytes[bad]!.toString(16).padStart(2, '0')} at byte ${bad}`,
        { hint: 'save the file as UTF-8' },
      ),
    };
  }
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  return { text };
}

/** Parses one YAML document into plain null-prototype data plus a source map. Never throws. */
export function parseYaml(text: string, limits: YamlLimits = DEFAULT_YAML_LIMITS): YamlResult {
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const lines = new LineIndex(text);
  const containers = new WeakMap<object, ContainerInfo>();
  const diagnostics: Diagnostic[] = [];
  const fail = (code: ErrorCode, offset: number, message: string, hint?: string): never => {
    diagnostics.push(makeDiagnostic(lines, code, offset, message, hint === undefined ? {} : { hint }));
    throw new Fatal();
  };
  const report = (code: ErrorCode, offset: number, message: string, hint?: string): void => {
    diagnostics.push(makeDiagnostic(lines, code, offset, message, hint === undefined ? {} : { hint }));
  };
  const done = (value: unknown, fatal: boolean): YamlResult => ({
    value,
    sourceMap: new SourceMap(text, lines, value, containers),
    diagnostics,
    fatal,
  });

  try {
    if (text.length > limits.maxBytes) {
      fail('RV107', 0, `the document is ${text.length} characters; the limit is ${limits.maxBytes}`);
    }
    const nul = text.indexOf('\u0000');
    if (nul !== -1)
      fail('RV108', nul, 'the file contains a NUL character', 'a workflow file is text: remove the NUL byte');
    if (!text.isWellFormed()) {
      fail('RV108', loneSurrogateOffset(text), 'the text contains a lone surrogate');
    }
    let events: Event[];
    try {
      events = parseEvents(text, { maxDepth: limits.maxDepth });
    } catch (err) {
      if (err instanceof YAMLException) {
        const reason = err.reason || 'invalid YAML';
        const offset = err.mark?.position ?? 0;
        if (/maxDepth/.test(reason)) {
          fail(
            'RV105',
            offset,
            `collections are nested deeper than ${limits.maxDepth} levels`,
            'flatten the structure',
          );
        }
        const lineStart = text.lastIndexOf('\n', offset - 1) + 1;
        const indent = /^[ \t]*/.exec(text.slice(lineStart, offset + 1))![0];
        const hint = indent.includes('\t') ? 'indent with spaces: YAML does not allow tabs for indentation' : undefined;
        fail('RV101', offset, reason, hint);
      }
      if (err instanceof RangeError) fail('RV105', 0, 'the document is nested too deeply to read');
      throw err;
    }
    return done(construct(text, events, limits, containers, lines, diagnostics, fail, report), false);
  } catch (err) {
    if (err instanceof Fatal) return done(undefined, true);
    report('RV101', 0, `the document could not be read: ${err instanceof Error ? err.message : String(err)}`);
    return done(undefined, true);
  }
}

/** The document path of the collection on top of the stack. */
function stackPath(stack: readonly Frame[]): (string | number)[] {
  const path: (string | number)[] = [];
  for (let i = 0; i < stack.length - 1; i++) {
    const f = stack[i]!;
    path.push(f.kind === 'map' ? (f.key?.name ?? '') : (f.value as unknown[]).length);
  }
  return path;
}

type Fail = (code: ErrorCode, offset: number, message: string, hint?: string) => never;
type Report = (code: ErrorCode, offset: number, message: string, hint?: string) => void;

function construct(
  text: string,
  events: Event[],
  limits: YamlLimits,
  containers: WeakMap<object, ContainerInfo>,
  lines: LineIndex,
  diagnostics: Diagnostic[],
  fail: Fail,
  report: Report,
): unknown {
  const anchors = new Map<string, { value: unknown; size: number }>();
  const stack: Frame[] = [];
  let root: unknown;
  let documents = 0;
  let aliasNodes = 0;

  const slice = (start: number, end: number): string => (start < 0 ? '' : text.slice(start, end));

  const checkTag = (start: number, end: number, kind: 'scalar' | 'map' | 'seq'): string | undefined => {
    if (start < 0) return undefined;
    const raw = text.slice(start, end);
    const name = tagName(raw);
    const fits = name === undefined ? false : kind === 'scalar' ? name !== 'map' && name !== 'seq' : name === kind;
    if (!fits) {
      fail(
        'RV106',
        start,
        `unsupported YAML tag ${raw}`,
        'Rivet reads plain YAML 1.2 data: remove the tag (quote the value if it must stay a string)',
      );
    }
    return name;
  };

  /** Attaches a finished value (and its span) to the enclosing collection, or makes it the root. */
  const attach = (
    value: unknown,
    start: number,
    size: number,
    scalar: ScalarSpan | undefined,
    keyText?: string,
  ): void => {
    const top = stack[stack.length - 1];
    if (top === undefined) {
      root = value;
      return;
    }
    top.size += size;
    if (top.kind === 'seq') {
      const arr = top.value as unknown[];
      if (arr.length >= limits.maxCollectionItems) {
        fail('RV107', start, `a sequence has more than ${limits.maxCollectionItems} items`);
      }
      top.info.entries.set(
        arr.length,
        scalar === undefined ? { keyStart: start, valueStart: start } : { keyStart: start, valueStart: start, scalar },
      );
      arr.push(value);
      return;
    }
    if (top.key === undefined) {
      if (keyText === undefined) fail('RV101', start, 'mapping keys must be plain scalars (strings or numbers)');
      const name = keyText as string;
      let discard = false;
      const map = top.value as Record<string, unknown>;
      if (FORBIDDEN_KEYS.has(name)) {
        report(
          'RV110',
          start,
          `the key "${name}" is not allowed`,
          'rename it: keys that name JavaScript object internals are refused',
        );
        discard = true;
      } else if (Object.hasOwn(map, name)) {
        const first = top.info.entries.get(name)!;
        const where = lines.position(first.keyStart);
        diagnostics.push(
          makeDiagnostic(lines, 'RV102', start, `duplicate key "${name}" (first defined at line ${where.line})`, {
            hint: 'remove or rename one of them',
            path: stackPath(stack),
          }),
        );
        discard = true;
      }
      if (++top.count > limits.maxCollectionItems) {
        fail('RV107', start, `a mapping has more than ${limits.maxCollectionItems} keys`);
      }
      top.key = { name, start, discard };
      return;
    }
    const key = top.key;
    top.key = undefined;
    if (key.discard) return;
    (top.value as Record<string, unknown>)[key.name] = value;
    top.info.entries.set(
      key.name,
      scalar === undefined
        ? { keyStart: key.start, valueStart: start }
        : { keyStart: key.start, valueStart: start, scalar },
    );
  };

  let nodes = 0;
  for (const ev of events) {
    if (ev.type !== EVENT_ID.POP && ev.type !== EVENT_ID.DOCUMENT && ++nodes > limits.maxNodes) {
      const at = 'start' in ev ? ev.start : 'valueStart' in ev ? ev.valueStart : 0;
      fail(
        'RV107',
        Math.max(0, at),
        `the document has more than ${limits.maxNodes} nodes`,
        'split the workflow into sub-workflows',
      );
    }
    switch (ev.type) {
      case EVENT_ID.DOCUMENT: {
        if (++documents > 1) {
          fail(
            'RV109',
            secondDocumentOffset(text, events, events.indexOf(ev)),
            'the file holds more than one YAML document',
            'keep one workflow per file',
          );
        }
        break;
      }
      case EVENT_ID.MAPPING:
      case EVENT_ID.SEQUENCE: {
        const kind = ev.type === EVENT_ID.MAPPING ? 'map' : 'seq';
        checkTag(ev.tagStart, ev.tagEnd, kind);
        const top = stack[stack.length - 1];
        if (top?.kind === 'map' && top.key === undefined) {
          fail('RV101', ev.start, 'mapping keys must be plain scalars (strings or numbers)');
        }
        const value = kind === 'map' ? (Object.create(null) as Record<string, unknown>) : [];
        const info: ContainerInfo = { start: ev.start, entries: new Map() };
        containers.set(value, info);
        stack.push({
          kind,
          value,
          info,
          anchor: ev.anchorStart >= 0 ? slice(ev.anchorStart, ev.anchorEnd) : undefined,
          depth: stack.length + 1,
          size: 1,
          count: 0,
          key: undefined,
        });
        break;
      }
      case EVENT_ID.POP: {
        const frame = stack.pop();
        if (frame === undefined) break; // end of document
        if (frame.kind === 'map' && frame.key !== undefined) {
          // A key without a value (`? key`) is a null value.
          stack.push(frame);
          attach(null, frame.key.start, 1, undefined);
          stack.pop();
        }
        if (frame.anchor !== undefined) anchors.set(frame.anchor, { value: frame.value, size: frame.size });
        attach(frame.value, frame.info.start, frame.size, undefined);
        break;
      }
      case EVENT_ID.ALIAS: {
        const name = slice(ev.anchorStart, ev.anchorEnd);
        const target = anchors.get(name);
        if (target === undefined)
          fail(
            'RV101',
            Math.max(0, ev.anchorStart - 1),
            `unknown alias *${name}`,
            'define the anchor (&name) before using it',
          );
        const { value, size } = target!;
        aliasNodes += size;
        if (aliasNodes > limits.maxAliasNodes) {
          fail(
            'RV104',
            Math.max(0, ev.anchorStart - 1),
            `aliases expand to more than ${limits.maxAliasNodes} nodes`,
            'this looks like an alias bomb; write the data out or use fewer aliases',
          );
        }
        const top = stack[stack.length - 1];
        if (top?.kind === 'map' && top.key === undefined) {
          fail('RV101', Math.max(0, ev.anchorStart - 1), 'aliases cannot be used as mapping keys');
        }
        attach(value, Math.max(0, ev.anchorStart - 1), size, undefined);
        break;
      }
      case EVENT_ID.SCALAR: {
        const tag = checkTag(ev.tagStart, ev.tagEnd, 'scalar');
        const decoded = getScalarValue(text, ev);
        const quoted = ev.style === SCALAR_STYLE.SINGLE_QUOTED || ev.style === SCALAR_STYLE.DOUBLE_QUOTED;
        const block = ev.style === SCALAR_STYLE.LITERAL_BLOCK || ev.style === SCALAR_STYLE.FOLDED_BLOCK;
        const top = stack[stack.length - 1];
        const isKey = top?.kind === 'map' && top.key === undefined;
        // An empty scalar (`key:` with nothing after it) has no source range (-1): place it at its
        // tag or anchor, else at its key, else at the collection holding it, never at 1:1.
        const start =
          ev.valueStart >= 0
            ? ev.valueStart - (quoted ? 1 : 0)
            : ev.tagStart >= 0
              ? ev.tagStart
              : ev.anchorStart >= 0
                ? ev.anchorStart - 1
                : (top?.key?.start ?? top?.info.start ?? 0);
        const value = scalarValue(decoded, ev, tag, start, fail);
        if (typeof value === 'string') checkString(value, start, limits, fail);
        const span: ScalarSpan = { valueStart: ev.valueStart, valueEnd: ev.valueEnd, quoted, block };
        // A long string weighs more than one node: aliasing it repeats its text, and every copy is
        // checked again (a 200 KB string of expressions aliased 5,000 times exhausted the heap).
        const size = typeof value === 'string' ? 1 + Math.floor(value.length / STRING_CHARS_PER_NODE) : 1;
        if (ev.anchorStart >= 0) anchors.set(slice(ev.anchorStart, ev.anchorEnd), { value, size });
        attach(
          value,
          start,
          size,
          typeof value === 'string' ? span : undefined,
          isKey ? (tag === undefined ? decoded : String(value)) : undefined,
        );
        break;
      }
    }
  }
  return root;
}

/** Source range of an event, [-1, -1] when it has none (document events, empty scalars). */
function eventRange(ev: Event): [number, number] {
  if (ev.type === EVENT_ID.SCALAR) return [ev.valueStart, ev.valueEnd];
  if (ev.type === EVENT_ID.MAPPING || ev.type === EVENT_ID.SEQUENCE) return [ev.start, ev.start + 1];
  if (ev.type === EVENT_ID.ALIAS) return [ev.anchorStart, ev.anchorEnd];
  return [-1, -1];
}

/**
 * Where the document that starts at `events[index]` begins: its `---` line when it has one,
 * else its first node (after a `...` end marker there is no `---`), else the end of the first.
 */
function secondDocumentOffset(text: string, events: readonly Event[], index: number): number {
  let previousEnd = 0;
  for (let i = 0; i < index; i++) previousEnd = Math.max(previousEnd, eventRange(events[i]!)[1]);
  let firstNode = -1;
  for (let i = index + 1; i < events.length && firstNode < 0; i++) firstNode = eventRange(events[i]!)[0];
  for (const m of text.slice(previousEnd).matchAll(/^---(?=\s|$)/gm)) {
    const at = previousEnd + m.index;
    if (firstNode < 0 || at <= firstNode) return at;
  }
  return firstNode >= 0 ? firstNode : previousEnd;
}

function scalarValue(decoded: string, ev: ScalarEvent, tag: string | undefined, start: number, fail: Fail): unknown {
  if (tag === undefined) return ev.style === SCALAR_STYLE.PLAIN ? resolvePlainScalar(decoded) : decoded;
  if (tag === 'str') return decoded;
  const resolved = resolvePlainScalar(decoded);
  const ok =
    (tag === 'int' && Number.isInteger(resolved)) ||
    (tag === 'float' && typeof resolved === 'number') ||
    (tag === 'bool' && typeof resolved === 'boolean') ||
    (tag === 'null' && resolved === null);
  if (!ok) fail('RV106', start, `"${decoded}" is not a valid !!${tag}`);
  return resolved;
}

function checkString(value: string, start: number, limits: YamlLimits, fail: Fail): void {
  if (value.length > limits.maxStringLength) {
    fail('RV107', start, `a string of ${value.length} characters exceeds the limit of ${limits.maxStringLength}`);
  }
  if (!value.isWellFormed()) fail('RV108', start, 'the string contains a lone surrogate (an invalid \\u escape)');
  if (value.includes('\u0000')) fail('RV108', start, 'the string contains a NUL character', 'remove the \\0 escape');
}
