/** The workflow model: pure types, loading, validation and the DAG (no I/O). */
export { buildDag, type Dag } from './dag.ts';
export { type Diagnostic, type DocPath, formatDiagnostic, LineIndex, sortDiagnostics } from './diagnostics.ts';
export { BUILTIN_KINDS, type KindDefinition } from './kinds/index.ts';
export type { KindIssue } from './kinds/types.ts';
export { parseDuration, INPUT_TYPES, type InputDefinition } from './common.ts';
export { createWorkflowSchema, workflowJsonSchema, type TaskDocument, type WorkflowDocument } from './schema.ts';
export {
  type Task,
  type ValidateOptions,
  type ValidationResult,
  type Workflow,
  validateWorkflowText,
  workflowFromValidatedDocument,
  MAX_TASKS,
} from './validate.ts';
export { decodeUtf8, DEFAULT_YAML_LIMITS, parseYaml, SourceMap, type YamlLimits } from './yaml.ts';
export { dataEdges, listReferences, type TemplateReferences } from './references.ts';
