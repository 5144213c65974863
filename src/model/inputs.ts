/**
 * Checking the inputs a run starts with against the workflow's `inputs:` declarations: required
 * inputs, unknown names, types, enum, pattern (RE2), minimum and maximum; defaults filled in.
 * Text from a command line (`--input n=3`) is read as the declared type. Pure: the CLI, the API
 * and triggers all call it and report every problem at once.
 */
import { RE2JS } from 're2js';
import { type InputDefinition, isMap } from './common.ts';

export interface InputProblem {
  readonly name: string;
  /** JSON pointer to the value, e.g. `/inputs/bucket`. */
  readonly pointer: string;
  readonly message: string;
}

export type InputResult =
  | { readonly ok: true; readonly values: Record<string, unknown> }
  | { readonly ok: false; readonly problems: readonly InputProblem[] };

const patternCache = new Map<string, RE2JS>();

function compiled(pattern: string): RE2JS {
  let re = patternCache.get(pattern);
  if (re === undefined) {
    re = RE2JS.compile(pattern);
    patternCache.set(pattern, re);
  }
  return re;
}

/** Reads command-line text as the declared type; leaves it as text when it does not parse. */
export function fromText(type: string, text: string): unknown {
  switch (type) {
    case 'integer':
    case 'number':
      return text.trim() !== '' && Number.isFinite(Number(text)) ? Number(text) : text;
    case 'boolean':
      return text === 'true' ? true : text === 'false' ? false : text;
    case 'list':
    case 'object':
      try {
        return JSON.parse(text) as unknown;
      } catch {
        return type === 'list' && !text.trim().startsWith('[') ? text.split(',').map((s) => s.trim()) : text;
      }
    default:
      return text;
  }
}

function typeProblem(type: string, value: unknown): string | undefined {
  const ok =
    (type === 'string' && typeof value === 'string') ||
    (type === 'integer' && Number.isInteger(value)) ||
    (type === 'number' && typeof value === 'number' && Number.isFinite(value)) ||
    (type === 'boolean' && typeof value === 'boolean') ||
    (type === 'list' && Array.isArray(value)) ||
    (type === 'object' && isMap(value));
  if (ok) return undefined;
  const an = (word: string): string => `${/^[aeiou]/.test(word) ? 'an' : 'a'} ${word}`;
  const got = Array.isArray(value) ? 'a list' : value === null ? 'null' : an(typeof value);
  return `expected ${an(type)}, got ${got}`;
}

function valueProblem(def: InputDefinition, value: unknown): string | undefined {
  const type = def.type;
  const t = typeProblem(type, value);
  if (t !== undefined) return t;
  if (def.enum !== undefined && !def.enum.some((e) => e === value)) {
    return `must be one of ${def.enum.map((e) => JSON.stringify(e)).join(', ')}`;
  }
  if (typeof value === 'string' && def.pattern !== undefined && !compiled(def.pattern).matcher(value).find()) {
    return `does not match the pattern ${def.pattern}`;
  }
  if (typeof value === 'number') {
    if (def.minimum !== undefined && value < def.minimum) return `must be at least ${def.minimum}`;
    if (def.maximum !== undefined && value > def.maximum) return `must be at most ${def.maximum}`;
  }
  return undefined;
}

function pointerTo(name: string): string {
  return `/inputs/${name.replace(/~/g, '~0').replace(/\//g, '~1')}`;
}

/**
 * Checks `provided` against `defs`. With `text: true` the values are command-line strings and
 * are first read as their declared type.
 */
export function resolveInputs(
  defs: Readonly<Record<string, InputDefinition>> | undefined,
  provided: Readonly<Record<string, unknown>>,
  options: { readonly text?: boolean } = {},
): InputResult {
  const declared = defs ?? {};
  const problems: InputProblem[] = [];
  const values = Object.create(null) as Record<string, unknown>;
  for (const name of Object.keys(provided)) {
    if (!Object.hasOwn(declared, name)) {
      const known = Object.keys(declared);
      problems.push({
        name,
        pointer: pointerTo(name),
        message: `unknown input "${name}"${known.length > 0 ? ` (inputs: ${known.join(', ')})` : ' (the workflow declares no inputs)'}`,
      });
    }
  }
  for (const [name, def] of Object.entries(declared)) {
    let value = Object.hasOwn(provided, name) ? provided[name] : undefined;
    if (value === undefined) {
      if (def.default !== undefined) values[name] = def.default;
      else if (def.required === true) {
        problems.push({ name, pointer: pointerTo(name), message: `input "${name}" is required` });
      }
      continue;
    }
    if (options.text === true && typeof value === 'string') value = fromText(def.type, value);
    const problem = valueProblem(def, value);
    if (problem !== undefined) problems.push({ name, pointer: pointerTo(name), message: `input "${name}" ${problem}` });
    else values[name] = value;
  }
  return problems.length > 0 ? { ok: false, problems } : { ok: true, values };
}
