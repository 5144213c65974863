/**
 * YAML 1.2 loading with source positions and hostile-input budgets.
 *
 * We build values ourselves from js-yaml's event stream (`parseEvents`) instead of using `load`:
 * that gives every key and value its offset, lets us refuse alias bombs by counting before
 * expanding, keep mappings as null-prototype objects, reject prototype keys and foreign tags, and
 * report duplicate keys without stopping. js-yaml's event parser is ~20x faster than the `yaml`
 * package's composer on a 10,000-task file (docs/performance.md), which the validation budget needs.
 */
import { parseEvents, YAMLException } from 'js-yaml';
import type { Event } from 'js-yaml';
import type { ErrorCode } from '../errors.ts';
import { type Diagnostic, LineIndex, makeDiagnostic } from './diagnostics.ts';
import { type ContainerInfo, SourceMap } from './source-map.ts';
import { invalidUtf8Offset, loneSurrogateOffset } from './utf8.ts';
import { YamlBuilder } from './yaml-builder.ts';
import { yamlSyntaxHint } from './yaml-hints.ts';
import { DEFAULT_YAML_LIMITS, type YamlLimits } from './yaml-limits.ts';

export { DEFAULT_YAML_LIMITS, STRING_CHARS_PER_NODE, type YamlLimits } from './yaml-limits.ts';

export { SourceMap, type ScalarSpan } from './source-map.ts';
export { invalidUtf8Offset } from './utf8.ts';
export { resolvePlainScalar } from './yaml-scalars.ts';

export interface YamlResult {
  readonly value: unknown;
  readonly sourceMap: SourceMap;
  readonly diagnostics: Diagnostic[];
  /** True when the document could not be read as a whole: later checks should not run. */
  readonly fatal: boolean;
}

class Fatal extends Error {}

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
        fail('RV101', offset, reason, yamlSyntaxHint(text, offset, reason, lines));
      }
      if (err instanceof RangeError) fail('RV105', 0, 'the document is nested too deeply to read');
      throw err;
    }
    return done(new YamlBuilder({ text, limits, lines, containers, diagnostics, fail }).build(events), false);
  } catch (err) {
    if (err instanceof Fatal) return done(undefined, true);
    report('RV101', 0, `the document could not be read: ${err instanceof Error ? err.message : String(err)}`);
    return done(undefined, true);
  }
}
