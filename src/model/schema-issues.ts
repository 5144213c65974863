/** Turns zod issues into Rivet diagnostics: a code, a position, a plain message and a hint. */
import type { z } from 'zod';
import type { ErrorCode } from '../errors.ts';
import { DURATION_RE, IDENTIFIER_RE, INPUT_TYPES } from './common.ts';
import type { Diagnostic, DocPath } from './diagnostics.ts';
import { didYouMean } from './suggest.ts';
import type { SourceMap } from './yaml.ts';

type Issue = z.core.$ZodIssue;

const PATTERN_CODES = new Map<string, ErrorCode>([
  [String(DURATION_RE), 'RV206'],
  [String(IDENTIFIER_RE), 'RV205'],
]);

/** Type names from other languages, mapped to Rivet's input types. */
const INPUT_TYPE_ALIASES: Record<string, string> = {
  int: 'integer',
  long: 'integer',
  bool: 'boolean',
  str: 'string',
  text: 'string',
  float: 'number',
  double: 'number',
  array: 'list',
  map: 'object',
  dict: 'object',
  hash: 'object',
};

// YAML 1.1's booleans (y|Y|yes|Yes|YES|n|N|no|...|on|...|off|...), which YAML 1.2 reads as text.
const YAML11_BOOLEANS = new Set([
  'yes',
  'no',
  'on',
  'off',
  'y',
  'n',
  'Y',
  'N',
  'Yes',
  'No',
  'On',
  'Off',
  'YES',
  'NO',
  'ON',
  'OFF',
]);

export function describePath(path: DocPath): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('') || 'the document';
}

export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  switch (typeof value) {
    case 'object':
      return 'a mapping';
    case 'string':
      return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
    case 'undefined':
      return 'nothing';
    default:
      return String(value);
  }
}

const EXPECTED: Record<string, string> = {
  string: 'a string',
  int: 'an integer',
  number: 'a number',
  boolean: 'true or false',
  array: 'a list',
  object: 'a mapping',
  record: 'a mapping',
  null: 'nothing (null)',
};

function valueAt(root: unknown, path: DocPath): unknown {
  let v = root;
  for (const seg of path) {
    if (typeof v !== 'object' || v === null) return undefined;
    v = (v as Record<string | number, unknown>)[seg];
  }
  return v;
}

// zod keeps a schema's structure in `_zod.def`; we only read it to list the keys allowed where an
// unknown key was found, for "did you mean" hints.
interface Def {
  type: string;
  shape?: Record<string, z.ZodType>;
  valueType?: z.ZodType;
  element?: z.ZodType;
  innerType?: z.ZodType;
  options?: z.ZodType[];
  in?: z.ZodType;
}
const defOf = (s: z.ZodType): Def => (s as unknown as { _zod: { def: Def } })._zod.def;

function unwrap(s: z.ZodType, value: unknown): z.ZodType {
  for (;;) {
    const d = defOf(s);
    if (d.innerType !== undefined) s = d.innerType;
    else if (d.type === 'pipe' && d.in !== undefined) s = d.in;
    else if (d.type === 'union' && d.options !== undefined) {
      const wantObject = typeof value === 'object' && value !== null && !Array.isArray(value);
      const pick = d.options.find((o) => {
        const t = defOf(unwrap(o, value)).type;
        return wantObject ? t === 'object' || t === 'record' : Array.isArray(value) ? t === 'array' : true;
      });
      if (pick === undefined) return s;
      s = pick;
    } else return s;
  }
}

function schemaAt(schema: z.ZodType, root: unknown, path: DocPath): z.ZodType | undefined {
  let s: z.ZodType | undefined = schema;
  let value = root;
  for (const seg of path) {
    const d = defOf(unwrap(s, value));
    s =
      d.type === 'object'
        ? d.shape?.[seg]
        : d.type === 'record'
          ? d.valueType
          : d.type === 'array'
            ? d.element
            : undefined;
    if (s === undefined) return undefined;
    value = typeof value === 'object' && value !== null ? (value as Record<string | number, unknown>)[seg] : undefined;
  }
  return s;
}

function allowedKeys(schema: z.ZodType, root: unknown, path: DocPath): string[] {
  const s = schemaAt(schema, root, path);
  if (s === undefined) return [];
  const d = defOf(unwrap(s, valueAt(root, path)));
  return d.type === 'object' && d.shape ? Object.keys(d.shape) : [];
}

export interface IssueContext {
  readonly schema: z.ZodType;
  readonly root: unknown;
  readonly sourceMap: SourceMap;
  readonly kindNames: readonly string[];
}

/** Diagnostics for the issues of one zod parse. */
export function schemaDiagnostics(issues: readonly Issue[], ctx: IssueContext): Diagnostic[] {
  const out: Diagnostic[] = [];
  for (const issue of issues) mapIssue(issue, issue.path as (string | number)[], ctx, out);
  return out;
}

function isTaskPath(path: DocPath): boolean {
  return path.length === 2 && path[0] === 'tasks';
}

function mapIssue(issue: Issue, path: DocPath, ctx: IssueContext, out: Diagnostic[]): void {
  const sm = ctx.sourceMap;
  const where = describePath(path);
  const value = valueAt(ctx.root, path);
  switch (issue.code) {
    case 'unrecognized_keys': {
      const task = isTaskPath(path) ? (value as Record<string, unknown>) : undefined;
      const taskHasKind = task !== undefined && ctx.kindNames.some((k) => Object.hasOwn(task, k));
      for (const key of issue.keys) {
        const keyPath = [...path, key];
        if (task !== undefined && !taskHasKind) {
          const hint = didYouMean(key, ctx.kindNames) ?? `known kinds: ${ctx.kindNames.join(', ')}`;
          out.push(
            sm.diagnostic('RV207', keyPath, `unknown task kind "${key}" in task "${String(path[1])}"`, {
              which: 'key',
              hint,
            }),
          );
          continue;
        }
        const hint =
          key === '<<'
            ? 'YAML merge keys (<<) are not supported: repeat the fields, or alias the whole mapping'
            : didYouMean(key, allowedKeys(ctx.schema, ctx.root, path));
        out.push(
          sm.diagnostic('RV201', keyPath, `unknown field "${key}" in ${where}`, {
            which: 'key',
            ...(hint === undefined ? {} : { hint }),
          }),
        );
      }
      return;
    }
    case 'invalid_type': {
      if (value === undefined && issue.expected !== 'undefined') {
        const field = path[path.length - 1];
        out.push(
          sm.diagnostic(
            'RV203',
            path,
            `missing required field "${String(field)}" in ${describePath(path.slice(0, -1))}`,
            { which: 'key' },
          ),
        );
        return;
      }
      const expected = EXPECTED[issue.expected] ?? issue.expected;
      let hint: string | undefined;
      if (issue.expected === 'boolean' && typeof value === 'string' && YAML11_BOOLEANS.has(value)) {
        hint = `YAML 1.2 reads ${value} as text: write true or false`;
      } else if (issue.expected === 'string' && (typeof value === 'number' || typeof value === 'boolean')) {
        hint = 'quote the value to keep it as text';
      }
      out.push(
        sm.diagnostic(
          'RV202',
          path,
          `${where} must be ${expected}, got ${describeValue(value)}`,
          hint === undefined ? {} : { hint },
        ),
      );
      return;
    }
    case 'invalid_value': {
      const allowed = issue.values.map((v) => String(v));
      if (value === undefined) {
        // A required field with a fixed set of values (webhook.kind) that is not there at all.
        out.push(
          sm.diagnostic(
            'RV203',
            path,
            `missing required field "${String(path[path.length - 1])}" in ${describePath(path.slice(0, -1))}`,
            { which: 'key', hint: `one of: ${allowed.join(', ')}` },
          ),
        );
        return;
      }
      const isInputType = path[path.length - 1] === 'type' && allowed.join() === INPUT_TYPES.join();
      const alias = isInputType && typeof value === 'string' ? INPUT_TYPE_ALIASES[value.toLowerCase()] : undefined;
      const hint =
        alias !== undefined
          ? `did you mean "${alias}"?`
          : typeof value === 'string'
            ? didYouMean(value, allowed)
            : undefined;
      out.push(
        sm.diagnostic(
          isInputType ? 'RV208' : 'RV204',
          path,
          `${where} must be one of ${allowed.join(', ')}; got ${describeValue(value)}`,
          hint === undefined ? {} : { hint },
        ),
      );
      return;
    }
    case 'invalid_format': {
      const code = (issue.pattern !== undefined && PATTERN_CODES.get(issue.pattern)) || 'RV204';
      const message =
        code === 'RV206'
          ? `${where}: ${describeValue(value)} is not a duration`
          : code === 'RV205'
            ? `${where}: ${describeValue(value)} is not an identifier`
            : `${where}: ${describeValue(value)} does not match ${issue.pattern ?? issue.format}`;
      const hint =
        code === 'RV206'
          ? 'write a number and a unit: 500ms, 30s, 5m, 1h30m, 2d'
          : code === 'RV205'
            ? 'use lower-case letters, digits and _, not starting with a digit (it is used in expressions)'
            : path.length === 1 && path[0] === 'name'
              ? 'a workflow name uses letters, digits, _ . and -, and starts with a letter or digit'
              : undefined;
      out.push(sm.diagnostic(code, path, message, hint === undefined ? {} : { hint }));
      return;
    }
    case 'invalid_key': {
      const key = String(path[path.length - 1]);
      const parent = path[path.length - 2];
      const kind =
        path.length === 2 && path[0] === 'tasks'
          ? 'task id'
          : parent === 'outputs'
            ? 'output name'
            : parent === 'inputs'
              ? 'input name'
              : parent === 'fields'
                ? 'field name'
                : 'name';
      out.push(
        sm.diagnostic('RV205', path, `${kind} "${key}" is not an identifier`, {
          which: 'key',
          hint: 'use lower-case letters, digits and _, not starting with a digit (it is used in expressions)',
        }),
      );
      return;
    }
    case 'invalid_union': {
      const branches = issue.errors;
      // A branch whose issues are all below this value matched its type: report those.
      const deeper = branches.filter(
        (b) => b.length > 0 && b.every((i) => i.path.length > 0 || i.code !== 'invalid_type'),
      );
      if (deeper.length > 0) {
        const best = deeper.reduce((a, b) => (b.length < a.length ? b : a));
        for (const i of best) mapIssue(i, [...path, ...(i.path as (string | number)[])], ctx, out);
        return;
      }
      const expected = [
        ...new Set(
          branches.flatMap((b) =>
            b
              .filter((i) => i.code === 'invalid_type')
              .map((i) => EXPECTED[(i as { expected: string }).expected] ?? 'another type'),
          ),
        ),
      ];
      if (value === undefined) {
        out.push(
          sm.diagnostic('RV203', path, `missing required field "${String(path[path.length - 1])}"`, { which: 'key' }),
        );
        return;
      }
      out.push(
        sm.diagnostic(
          'RV202',
          path,
          `${where} must be ${expected.join(' or ') || 'another type'}, got ${describeValue(value)}`,
        ),
      );
      return;
    }
    case 'too_small':
    case 'too_big': {
      const bound = issue.code === 'too_small' ? issue.minimum : issue.maximum;
      const word = issue.code === 'too_small' ? 'at least' : 'at most';
      const message =
        issue.origin === 'array'
          ? `${where} must have ${word} ${bound} item${Number(bound) === 1 ? '' : 's'}`
          : issue.origin === 'string'
            ? `${where} must be ${word} ${bound} characters long`
            : `${where} must be ${word} ${bound}, got ${describeValue(value)}`;
      out.push(sm.diagnostic('RV204', path, message));
      return;
    }
    default:
      out.push(sm.diagnostic('RV204', path, `${where}: ${issue.message}`));
  }
}
