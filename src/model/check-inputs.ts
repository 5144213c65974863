/** Input declarations (and approval form fields): patterns, and defaults that fit their type. */
import { RE2JS } from 're2js';
import { INPUT_TYPES, isMap } from './common.ts';
import type { Diagnostic } from './diagnostics.ts';
import type { SourceMap } from './source-map.ts';

function matchesType(type: string, value: unknown): boolean {
  switch (type) {
    case 'string':
      return typeof value === 'string';
    case 'integer':
      return Number.isInteger(value);
    case 'number':
      return typeof value === 'number';
    case 'boolean':
      return typeof value === 'boolean';
    case 'list':
      return Array.isArray(value);
    case 'object':
      return isMap(value);
    default:
      return true;
  }
}

export function checkInputs(doc: Record<string, unknown>, sm: SourceMap, out: Diagnostic[]): void {
  const check = (defs: unknown, base: (string | number)[]): void => {
    if (!isMap(defs)) return;
    for (const [name, def] of Object.entries(defs)) {
      if (!isMap(def)) continue;
      const type = typeof def.type === 'string' ? def.type : 'string';
      let pattern: RE2JS | undefined;
      if (typeof def.pattern === 'string') {
        // RE2 syntax, matched in linear time: a pattern like ^(a+)+$ cannot stall validation or runs.
        try {
          pattern = RE2JS.compile(def.pattern);
        } catch (err) {
          out.push(
            sm.diagnostic(
              'RV204',
              [...base, name, 'pattern'],
              `invalid regular expression: ${(err as Error).message}`,
              {
                hint: 'patterns use RE2 syntax (no lookaround or backreferences)',
              },
            ),
          );
        }
        if (type !== 'string' && (INPUT_TYPES as readonly string[]).includes(type))
          out.push(
            sm.diagnostic('RV204', [...base, name, 'pattern'], `"pattern" applies to string inputs, not ${type}`, {
              which: 'key',
            }),
          );
      }
      if (def.default !== undefined) {
        const d = def.default;
        if (!matchesType(type, d)) {
          const yaml11 = type === 'boolean' && typeof d === 'string' && /^(yes|no|on|off|y|n)$/i.test(d);
          out.push(
            sm.diagnostic('RV210', [...base, name, 'default'], `the default of "${name}" is not a ${type}`, {
              ...(yaml11 ? { hint: `YAML 1.2 reads ${d} as text: write true or false` } : {}),
            }),
          );
        } else if (pattern !== undefined && typeof d === 'string' && !pattern.matcher(d).find()) {
          out.push(
            sm.diagnostic(
              'RV210',
              [...base, name, 'default'],
              `the default of "${name}" does not match its pattern ${def.pattern as string}`,
            ),
          );
        } else if (Array.isArray(def.enum) && !def.enum.includes(d as never)) {
          out.push(
            sm.diagnostic(
              'RV210',
              [...base, name, 'default'],
              `the default of "${name}" is not one of its enum values`,
            ),
          );
        }
      }
    }
  };
  check(doc.inputs, ['inputs']);
  if (isMap(doc.tasks)) {
    for (const [id, task] of Object.entries(doc.tasks)) {
      if (isMap(task) && isMap(task.approval)) check(task.approval.fields, ['tasks', id, 'approval', 'fields']);
    }
  }
}
