/** Rivet's TypeScript API. See docs/api-typescript.md. */
export { ALL_ERROR_CODES, ERROR_CODES, type ErrorCode, RivetError } from './errors.ts';
export * from './model/index.ts';
export * from './expr/index.ts';
export { loadWorkflow, type LoadedWorkflow, validateWorkflowBytes } from './load.ts';
// The plugin interface (docs/plugins.md): plugins import these, and zod, from 'rivet'.
export { definePlugin, type Plugin, type PluginKind } from './kinds/registry.ts';
export { type FailureReason, KIND_API_VERSION, type TaskContext, TaskFailure, type TaskResult } from './kinds/types.ts';
export { z } from 'zod';
// Embedding the server (docs/api-typescript.md, docs/deploy.md).
export { resolveServerConfig, type ServerConfig } from './server/config.ts';
export { type RunningServer, startServer } from './server/server.ts';
