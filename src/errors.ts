/**
 * The one registry of Rivet's stable error codes.
 *
 * A code never changes meaning and is never reused. `docs/errors.md` documents every code here and
 * nothing else; `test/errors.test.ts` checks both directions. Diagnostics of workflow files and,
 * later, API errors carry these codes.
 */

export const ERROR_CODES = {
  // Documents: bytes, YAML and shape of the file.
  RV100: { name: 'empty_document', summary: 'The file holds no workflow definition.' },
  RV101: { name: 'yaml_syntax', summary: 'The file is not valid YAML.' },
  RV102: { name: 'duplicate_key', summary: 'A mapping has the same key twice.' },
  RV103: { name: 'not_a_mapping', summary: 'The document must be a mapping (key: value pairs) at its top level.' },
  RV104: { name: 'alias_budget', summary: 'YAML aliases expand to more nodes than the budget allows (alias bomb).' },
  RV105: { name: 'too_deep', summary: 'Collections are nested deeper than the limit.' },
  RV106: {
    name: 'unsupported_tag',
    summary: 'A YAML tag that Rivet does not accept (custom or language-specific tags).',
  },
  RV107: { name: 'too_large', summary: 'The document exceeds a size limit (bytes, string length or collection size).' },
  RV108: {
    name: 'invalid_encoding',
    summary: 'The file is not valid UTF-8 text (invalid bytes, NUL, lone surrogates).',
  },
  RV109: { name: 'multiple_documents', summary: 'The file holds more than one YAML document.' },
  RV110: {
    name: 'forbidden_key',
    summary: 'A key that could reach the host object model (`__proto__`, `constructor`, `prototype`).',
  },
  // Schema: fields, types and values.
  RV201: { name: 'unknown_field', summary: 'A field that this position does not define.' },
  RV202: { name: 'wrong_type', summary: 'A value of the wrong type.' },
  RV203: { name: 'missing_field', summary: 'A required field is missing.' },
  RV204: { name: 'invalid_value', summary: 'A value outside the allowed set or range, or not matching its pattern.' },
  RV205: {
    name: 'invalid_identifier',
    summary: 'A task, input or output name that is not an identifier (`[a-z_][a-z0-9_]*`).',
  },
  RV206: {
    name: 'invalid_duration',
    summary: 'A duration that cannot be read (use forms like `500ms`, `30s`, `5m`, `1h30m`, `2d`).',
  },
  RV207: { name: 'unknown_kind', summary: 'A task without a known kind, or with more than one kind.' },
  RV208: { name: 'unknown_input_type', summary: 'An input declares a type Rivet does not know.' },
  RV209: { name: 'invalid_cron', summary: 'A schedule whose cron expression or time zone cannot be read.' },
  RV210: { name: 'invalid_default', summary: 'An input default that does not match its declared type or pattern.' },
  // Graph: dependencies between tasks.
  RV301: { name: 'unknown_need', summary: '`needs` names a task that does not exist.' },
  RV302: { name: 'dependency_cycle', summary: 'Tasks depend on each other in a cycle.' },
  RV303: { name: 'duplicate_task', summary: 'Two tasks have the same id.' },
  // Expressions: `${{ }}` templates over CEL.
  RV401: { name: 'expression_syntax', summary: 'A `${{ }}` expression is not valid CEL, or a template is not closed.' },
  RV402: { name: 'unknown_reference', summary: 'An expression names a variable or field that is not in scope here.' },
  RV403: { name: 'unknown_input', summary: 'An expression refers to an input the workflow does not declare.' },
  RV404: { name: 'unknown_task', summary: 'An expression refers to a task that does not exist.' },
  RV405: { name: 'not_upstream', summary: 'An expression refers to a task that is not upstream of the task using it.' },
  RV406: { name: 'unknown_output', summary: 'An expression refers to an output that the task does not produce.' },
  RV407: {
    name: 'expression_type',
    summary: 'An expression calls an unknown function, with the wrong arity, or on the wrong types.',
  },
  RV408: {
    name: 'unsafe_shell_splice',
    summary: 'A `${{ }}` expression inside `shell.run` would splice text into a script.',
  },
  RV409: { name: 'expression_budget', summary: 'An expression exceeded its evaluation budget (cost, size or time).' },
  RV410: { name: 'expression_eval', summary: 'An expression failed while being evaluated.' },
  // Files and command line.
  RV501: { name: 'file_unreadable', summary: 'A file could not be read.' },
  RV502: { name: 'usage', summary: 'The command line is not valid.' },
  RV503: { name: 'plugin_invalid', summary: 'A plugin module could not be loaded or registers an invalid kind.' },
  // Runs.
  RV601: { name: 'invalid_inputs', summary: "The inputs of a run do not match the workflow's `inputs`." },
  RV602: { name: 'run_not_found', summary: 'No run has this id (or the prefix matches several runs).' },
  RV603: { name: 'run_owned', summary: 'Another live engine process is executing this run.' },
  RV604: { name: 'run_state', summary: 'The run is not in a state that allows this action.' },
  RV605: { name: 'missing_secret', summary: 'The workflow refers to a secret or variable that is not set.' },
  RV606: { name: 'store_failure', summary: 'The store could not be opened or written.' },
  // The server and its API.
  RV701: { name: 'config_invalid', summary: 'The server configuration (file, environment or flags) is not valid.' },
  RV702: { name: 'unauthenticated', summary: 'The request has no valid API token (HTTP 401).' },
  RV703: { name: 'forbidden', summary: 'The caller may see this object but not perform this action on it (HTTP 403).' },
  RV704: {
    name: 'not_found',
    summary: 'No such object, or one the caller may not see (HTTP 404; existence is not disclosed).',
  },
  RV705: {
    name: 'invalid_request',
    summary: 'The request does not match the operation: bad JSON, unknown fields, wrong types (HTTP 400).',
  },
  RV706: { name: 'payload_too_large', summary: 'The request body is larger than the configured limit (HTTP 413).' },
  RV707: {
    name: 'too_many_requests',
    summary: 'A limit per caller was reached, such as open event streams per token (HTTP 429).',
  },
  RV708: { name: 'conflict', summary: 'The request conflicts with the current state of the object (HTTP 409).' },
  RV709: {
    name: 'unsupported_media_type',
    summary: 'The request body has a content type the operation does not accept (HTTP 415).',
  },
  RV710: { name: 'unavailable', summary: 'The server is starting or shutting down and takes no new work (HTTP 503).' },
  RV711: {
    name: 'workflow_invalid',
    summary: 'An uploaded workflow has errors; each comes with its line, column and code (HTTP 400).',
  },
} as const satisfies Record<string, { name: string; summary: string }>;

export type ErrorCode = keyof typeof ERROR_CODES;

export const ALL_ERROR_CODES = Object.keys(ERROR_CODES) as ErrorCode[];

/** An error thrown to a caller; carries a stable code and, where useful, a hint on what to do. */
export class RivetError extends Error {
  readonly code: ErrorCode;
  readonly hint: string | undefined;

  constructor(code: ErrorCode, message: string, options: { hint?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'RivetError';
    this.code = code;
    this.hint = options.hint;
  }
}
