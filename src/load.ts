/** Reading workflow files from disk: the I/O edge around the pure model. */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { RivetError } from './errors.ts';
import {
  decodeUtf8,
  DEFAULT_YAML_LIMITS,
  type ValidateOptions,
  type ValidationResult,
  validateWorkflowText,
} from './model/index.ts';
import type { Diagnostic } from './model/index.ts';

export interface LoadedWorkflow extends ValidationResult {
  readonly file: string;
  /** Content hash of the file's bytes: a workflow's immutable version id. */
  readonly version: string;
}

/** Validates workflow bytes (as read from a file or received by the API). */
export function validateWorkflowBytes(bytes: Uint8Array, file: string, options: ValidateOptions = {}): LoadedWorkflow {
  const version = createHash('sha256').update(bytes).digest('hex').slice(0, 16);
  const decoded = decodeUtf8(bytes, options.limits ?? DEFAULT_YAML_LIMITS);
  if ('diagnostic' in decoded) {
    const empty = validateWorkflowText('', options);
    return { ...empty, diagnostics: [decoded.diagnostic], workflow: undefined, file, version };
  }
  return { ...validateWorkflowText(decoded.text, options), file, version };
}

/**
 * Loads and validates a workflow file. Throws RivetError RV501 when the file cannot be read;
 * problems in the file itself come back as diagnostics.
 */
export async function loadWorkflow(file: string, options: ValidateOptions = {}): Promise<LoadedWorkflow> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(file);
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
  return validateWorkflowBytes(bytes, file, options);
}

export type { Diagnostic };
