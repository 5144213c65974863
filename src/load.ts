/** Reading workflow files from disk: the I/O edge around the pure model. */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { basename, dirname, relative, resolve } from 'node:path';
import { RivetError } from './errors.ts';
import {
  decodeUtf8,
  DEFAULT_YAML_LIMITS,
  parseYaml,
  type ValidateOptions,
  type ValidationResult,
  validateWorkflowText,
  sortDiagnostics,
  type Workflow,
} from './model/index.ts';
import { didYouMean } from './model/suggest.ts';
import type { Diagnostic } from './model/index.ts';

export interface LoadedWorkflow extends ValidationResult {
  readonly file: string;
  /** Content hash of the file's bytes: a workflow's immutable version id. */
  readonly version: string;
}

/** Validates workflow bytes (as read from a file or received by the API). */
/** A workflow version: the first 16 hex digits of the SHA-256 of the file's bytes. */
export function versionOf(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex').slice(0, 16);
}

export function validateWorkflowBytes(bytes: Uint8Array, file: string, options: ValidateOptions = {}): LoadedWorkflow {
  const version = versionOf(bytes);
  const decoded = decodeUtf8(bytes, options.limits ?? DEFAULT_YAML_LIMITS);
  if ('diagnostic' in decoded) {
    // Undecodable bytes have no text to point into: an empty source map, and the one diagnostic.
    return {
      sourceMap: parseYaml('').sourceMap,
      diagnostics: [decoded.diagnostic],
      workflow: undefined,
      file,
      version,
    };
  }
  return { ...validateWorkflowText(decoded.text, options), file, version };
}

/**
 * Loads and validates a workflow file, and the sub-workflow files it names (`workflow: { file }`):
 * each must exist and be valid, receive only inputs it declares and every input it requires, and
 * no file may include itself. Throws RivetError RV501 when the file itself cannot be read;
 * problems in the file come back as diagnostics.
 */
export async function loadWorkflow(
  file: string,
  options: ValidateOptions = {},
  chain: readonly string[] = [],
): Promise<LoadedWorkflow> {
  const loaded = validateWorkflowBytes(await readWorkflowFile(file), file, options);
  if (loaded.workflow === undefined) return loaded;
  const problems = await checkSubWorkflows(loaded, loaded.workflow, options, [...chain, resolve(file)]);
  if (problems.length === 0) return loaded;
  return { ...loaded, workflow: undefined, diagnostics: sortDiagnostics([...loaded.diagnostics, ...problems]) };
}

/** Reads a workflow file; RV501 with the reason when it cannot. */
export async function readWorkflowFile(file: string): Promise<Uint8Array> {
  try {
    return await readFile(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const reason =
      code === 'ENOENT'
        ? 'no such file'
        : code === 'EISDIR'
          ? 'it is a folder (with no *.yaml or *.yml files)'
          : (err as Error).message;
    throw new RivetError('RV501', `cannot read ${file}: ${reason}`, { cause: err });
  }
}

async function checkSubWorkflows(
  parent: LoadedWorkflow,
  workflow: Workflow,
  options: ValidateOptions,
  chain: readonly string[],
): Promise<Diagnostic[]> {
  const out: Diagnostic[] = [];
  const sm = parent.sourceMap;
  for (const task of workflow.tasks) {
    const spec = task.spec as { file?: unknown; inputs?: Record<string, unknown> } | null;
    if (task.kind !== 'workflow' || typeof spec?.file !== 'string' || spec.file.includes('${{')) continue;
    const at = ['tasks', task.id, 'workflow', 'file'];
    const childPath = resolve(dirname(parent.file), spec.file);
    if (chain.includes(childPath)) {
      const names = [...chain.slice(chain.indexOf(childPath)), childPath].map((p) => basename(p));
      out.push(
        sm.diagnostic('RV302', at, `sub-workflow cycle: ${names.join(' → ')}`, {
          hint: 'a workflow cannot run itself',
        }),
      );
      continue;
    }
    let child: LoadedWorkflow;
    try {
      child = await loadWorkflow(childPath, options, chain);
    } catch (err) {
      if (!(err instanceof RivetError)) throw err;
      out.push(
        sm.diagnostic(
          'RV501',
          at,
          `sub-workflow ${spec.file} cannot be read: ${err.message.replace(/^cannot read [^:]*: /, '')}`,
        ),
      );
      continue;
    }
    if (child.workflow === undefined) {
      const first = child.diagnostics[0]!;
      const more = child.diagnostics.length > 1 ? ` (and ${child.diagnostics.length - 1} more)` : '';
      out.push(
        sm.diagnostic(
          first.code,
          at,
          `sub-workflow ${spec.file} is not valid: ${first.line}:${first.col}: ${first.message}${more}`,
          {
            hint: `run rivet validate ${relative(process.cwd(), childPath)}`,
          },
        ),
      );
      continue;
    }
    const declared = child.workflow.document.inputs ?? {};
    const given = spec.inputs ?? {};
    for (const name of Object.keys(given)) {
      if (Object.hasOwn(declared, name)) continue;
      const hint =
        didYouMean(name, Object.keys(declared)) ?? `it declares: ${Object.keys(declared).join(', ') || 'no inputs'}`;
      out.push(
        sm.diagnostic(
          'RV403',
          ['tasks', task.id, 'workflow', 'inputs', name],
          `sub-workflow ${spec.file} has no input "${name}"`,
          { which: 'key', hint },
        ),
      );
    }
    for (const [name, def] of Object.entries(declared)) {
      if (def.required === true && def.default === undefined && !Object.hasOwn(given, name)) {
        out.push(
          sm.diagnostic('RV203', ['tasks', task.id, 'workflow'], `sub-workflow ${spec.file} requires input "${name}"`, {
            which: 'key',
          }),
        );
      }
    }
  }
  return out;
}

export type { Diagnostic };
