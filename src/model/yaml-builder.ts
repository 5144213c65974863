/**
 * Builds plain data from js-yaml's event stream, one event at a time, recording where every key
 * and value is, and enforcing the document budgets as it goes (see yaml.ts for why events).
 */
import { EVENT_ID, getScalarValue, SCALAR_STYLE } from 'js-yaml';
import type { AliasEvent, Event, MappingEvent, ScalarEvent, SequenceEvent } from 'js-yaml';
import type { ErrorCode } from '../errors.ts';
import { type Diagnostic, type LineIndex, makeDiagnostic } from './diagnostics.ts';
import type { ContainerInfo, ScalarSpan } from './source-map.ts';
import { resolvePlainScalar, tagName } from './yaml-scalars.ts';
import { STRING_CHARS_PER_NODE, type YamlLimits } from './yaml-limits.ts';

export type Fail = (code: ErrorCode, offset: number, message: string, hint?: string) => never;

const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

interface Frame {
  readonly kind: 'map' | 'seq';
  readonly value: Record<string, unknown> | unknown[];
  readonly info: ContainerInfo;
  readonly anchor: string | undefined;
  /** Nodes in this collection, counting what its aliases expand to. */
  size: number;
  count: number;
  /** For mappings: the key read and waiting for its value. */
  key: { name: string; start: number; discard: boolean } | undefined;
}

export interface BuilderContext {
  readonly text: string;
  readonly limits: YamlLimits;
  readonly lines: LineIndex;
  readonly containers: WeakMap<object, ContainerInfo>;
  readonly diagnostics: Diagnostic[];
  /** Records a diagnostic and stops building. */
  readonly fail: Fail;
}

export class YamlBuilder {
  readonly #c: BuilderContext;
  readonly #anchors = new Map<string, { value: unknown; size: number }>();
  readonly #stack: Frame[] = [];
  #root: unknown;
  #documents = 0;
  #nodes = 0;
  #aliasNodes = 0;

  constructor(context: BuilderContext) {
    this.#c = context;
  }

  /** Builds the document's value from all its events. */
  build(events: readonly Event[]): unknown {
    events.forEach((ev, index) => {
      if (ev.type !== EVENT_ID.POP && ev.type !== EVENT_ID.DOCUMENT) this.#countNode(ev);
      switch (ev.type) {
        case EVENT_ID.DOCUMENT:
          if (++this.#documents > 1) {
            this.#c.fail(
              'RV109',
              secondDocumentOffset(this.#c.text, events, index),
              'the file holds more than one YAML document',
              'keep one workflow per file',
            );
          }
          break;
        case EVENT_ID.MAPPING:
        case EVENT_ID.SEQUENCE:
          this.#open(ev);
          break;
        case EVENT_ID.POP:
          this.#close();
          break;
        case EVENT_ID.ALIAS:
          this.#alias(ev);
          break;
        case EVENT_ID.SCALAR:
          this.#scalar(ev);
          break;
      }
    });
    return this.#root;
  }

  #countNode(ev: Exclude<Event, { type: 1 | 6 }>): void {
    if (++this.#nodes <= this.#c.limits.maxNodes) return;
    const [start] = eventRange(ev);
    this.#c.fail(
      'RV107',
      Math.max(0, start),
      `the document has more than ${this.#c.limits.maxNodes} nodes`,
      'split the workflow into sub-workflows',
    );
  }

  #slice(start: number, end: number): string {
    return start < 0 ? '' : this.#c.text.slice(start, end);
  }

  #top(): Frame | undefined {
    return this.#stack[this.#stack.length - 1];
  }

  /** Whether the next node is a mapping key. */
  #atKey(): boolean {
    const top = this.#top();
    return top?.kind === 'map' && top.key === undefined;
  }

  #checkTag(start: number, end: number, kind: 'scalar' | 'map' | 'seq'): string | undefined {
    if (start < 0) return undefined;
    const raw = this.#c.text.slice(start, end);
    const name = tagName(raw);
    const fits = name === undefined ? false : kind === 'scalar' ? name !== 'map' && name !== 'seq' : name === kind;
    if (!fits) {
      this.#c.fail(
        'RV106',
        start,
        `unsupported YAML tag ${raw}`,
        'Rivet reads plain YAML 1.2 data: remove the tag (quote the value if it must stay a string)',
      );
    }
    return name;
  }

  #open(ev: MappingEvent | SequenceEvent): void {
    const kind = ev.type === EVENT_ID.MAPPING ? 'map' : 'seq';
    this.#checkTag(ev.tagStart, ev.tagEnd, kind);
    if (this.#atKey()) this.#c.fail('RV101', ev.start, 'mapping keys must be plain scalars (strings or numbers)');
    const value = kind === 'map' ? (Object.create(null) as Record<string, unknown>) : [];
    const info: ContainerInfo = { start: ev.start, entries: new Map() };
    this.#c.containers.set(value, info);
    const anchor = ev.anchorStart >= 0 ? this.#slice(ev.anchorStart, ev.anchorEnd) : undefined;
    this.#stack.push({ kind, value, info, anchor, size: 1, count: 0, key: undefined });
  }

  #close(): void {
    const frame = this.#stack.pop();
    if (frame === undefined) return; // the end of the document
    if (frame.kind === 'map' && frame.key !== undefined) {
      // A key without a value (`? key`) is a null value.
      this.#stack.push(frame);
      this.#attach(null, frame.key.start, 1, undefined);
      this.#stack.pop();
    }
    // Anchors are registered once complete, so an alias inside its own anchor is unknown: no cycles.
    if (frame.anchor !== undefined) this.#anchors.set(frame.anchor, { value: frame.value, size: frame.size });
    this.#attach(frame.value, frame.info.start, frame.size, undefined);
  }

  #alias(ev: AliasEvent): void {
    const name = this.#slice(ev.anchorStart, ev.anchorEnd);
    const at = Math.max(0, ev.anchorStart - 1);
    const target = this.#anchors.get(name);
    if (target === undefined) {
      this.#c.fail('RV101', at, `unknown alias *${name}`, 'define the anchor (&name) before using it');
    }
    // Counted before anything is expanded: a billion-laughs document stops here, in microseconds.
    this.#aliasNodes += target.size;
    if (this.#aliasNodes > this.#c.limits.maxAliasNodes) {
      this.#c.fail(
        'RV104',
        at,
        `aliases expand to more than ${this.#c.limits.maxAliasNodes} nodes`,
        'this looks like an alias bomb; write the data out or use fewer aliases',
      );
    }
    if (this.#atKey()) this.#c.fail('RV101', at, 'aliases cannot be used as mapping keys');
    this.#attach(target.value, at, target.size, undefined);
  }

  #scalar(ev: ScalarEvent): void {
    const tag = this.#checkTag(ev.tagStart, ev.tagEnd, 'scalar');
    const decoded = getScalarValue(this.#c.text, ev);
    const quoted = ev.style === SCALAR_STYLE.SINGLE_QUOTED || ev.style === SCALAR_STYLE.DOUBLE_QUOTED;
    const block = ev.style === SCALAR_STYLE.LITERAL_BLOCK || ev.style === SCALAR_STYLE.FOLDED_BLOCK;
    const top = this.#top();
    const isKey = this.#atKey();
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
    const value = scalarValue(decoded, ev, tag, start, this.#c.fail);
    if (typeof value === 'string') checkString(value, start, this.#c.limits, this.#c.fail);
    const span: ScalarSpan = { valueStart: ev.valueStart, valueEnd: ev.valueEnd, quoted, block };
    // A long string weighs more than one node: aliasing it repeats its text, and every copy is
    // checked again (a 200 KB string of expressions aliased 5,000 times exhausted the heap).
    const size = typeof value === 'string' ? 1 + Math.floor(value.length / STRING_CHARS_PER_NODE) : 1;
    if (ev.anchorStart >= 0) this.#anchors.set(this.#slice(ev.anchorStart, ev.anchorEnd), { value, size });
    const keyText = isKey ? (tag === undefined ? decoded : String(value)) : undefined;
    this.#attach(value, start, size, typeof value === 'string' ? span : undefined, keyText);
  }

  /** Attaches a finished value (and its span) to the enclosing collection, or makes it the root. */
  #attach(value: unknown, start: number, size: number, scalar: ScalarSpan | undefined, keyText?: string): void {
    const top = this.#top();
    if (top === undefined) {
      this.#root = value;
      return;
    }
    top.size += size;
    if (top.kind === 'seq') {
      const arr = top.value as unknown[];
      if (arr.length >= this.#c.limits.maxCollectionItems) {
        this.#c.fail('RV107', start, `a sequence has more than ${this.#c.limits.maxCollectionItems} items`);
      }
      top.info.entries.set(arr.length, entry(start, start, scalar));
      arr.push(value);
    } else if (top.key === undefined) {
      if (keyText === undefined)
        this.#c.fail('RV101', start, 'mapping keys must be plain scalars (strings or numbers)');
      this.#readKey(top, keyText, start);
    } else {
      const key = top.key;
      top.key = undefined;
      if (key.discard) return;
      (top.value as Record<string, unknown>)[key.name] = value;
      top.info.entries.set(key.name, entry(key.start, start, scalar));
    }
  }

  #readKey(top: Frame, name: string, start: number): void {
    const c = this.#c;
    let discard = false;
    if (FORBIDDEN_KEYS.has(name)) {
      c.diagnostics.push(
        makeDiagnostic(c.lines, 'RV110', start, `the key "${name}" is not allowed`, {
          hint: 'rename it: keys that name JavaScript object internals are refused',
        }),
      );
      discard = true;
    } else if (Object.hasOwn(top.value, name)) {
      const first = c.lines.position(top.info.entries.get(name)!.keyStart);
      c.diagnostics.push(
        makeDiagnostic(c.lines, 'RV102', start, `duplicate key "${name}" (first defined at line ${first.line})`, {
          hint: 'remove or rename one of them',
          path: this.#path(),
        }),
      );
      discard = true;
    }
    if (++top.count > c.limits.maxCollectionItems) {
      c.fail('RV107', start, `a mapping has more than ${c.limits.maxCollectionItems} keys`);
    }
    top.key = { name, start, discard };
  }

  /** The document path of the collection on top of the stack. */
  #path(): (string | number)[] {
    const path: (string | number)[] = [];
    for (let i = 0; i < this.#stack.length - 1; i++) {
      const f = this.#stack[i]!;
      path.push(f.kind === 'map' ? (f.key?.name ?? '') : (f.value as unknown[]).length);
    }
    return path;
  }
}

function entry(keyStart: number, valueStart: number, scalar: ScalarSpan | undefined) {
  return scalar === undefined ? { keyStart, valueStart } : { keyStart, valueStart, scalar };
}

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
