/** Rivet's TypeScript API. See docs/api-typescript.md. */
export { ALL_ERROR_CODES, ERROR_CODES, type ErrorCode, RivetError } from './errors.ts';
export * from './model/index.ts';
export * from './expr/index.ts';
export { loadWorkflow, type LoadedWorkflow, validateWorkflowBytes } from './load.ts';
