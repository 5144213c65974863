/**
 * The workflow file's schema (DESIGN.md section 3). One source for the validator and for
 * `schema/workflow.schema.json`, which editors use through the YAML language server.
 */
import { z } from 'zod';
import { duration, identifier, inputDefinition, scalar, stringList, text } from './common.ts';
import { exclusiveJsonSchema } from './kinds/exclusive.ts';
import type { KindDefinition } from './kinds/index.ts';

export const TASK_FIELDS = [
  'description',
  'needs',
  'when',
  'if',
  'for_each',
  'concurrency',
  'retry',
  'timeout',
  'cache',
  'assert',
  'outputs',
] as const;

export const RETRY_ON = ['timeout', 'error', '5xx', '429', 'exit_code'] as const;

const retry = z.strictObject({
  attempts: z.int().min(1).max(100).meta({ description: 'Total attempts, the first included.' }),
  backoff: z.enum(['fixed', 'exponential']).optional(),
  delay: duration.optional(),
  max_delay: duration.optional(),
  jitter: z.boolean().optional(),
  on: z
    .array(z.union([z.enum(RETRY_ON), z.literal(429)]))
    .min(1)
    .optional()
    .meta({ description: 'Which failures retry; default: all.' }),
});

const map = z.record(z.string(), z.unknown());
const oneOrMany = <T extends z.ZodType>(item: T) => z.union([item, z.array(item).min(1)]);

const schedule = z.strictObject({
  cron: z.string().meta({ description: 'Five or six cron fields, e.g. "0 3 * * 1-5".' }),
  timezone: z.string().optional().meta({ description: 'IANA time zone, e.g. Europe/Paris; default UTC.' }),
  inputs: map.optional(),
  catch_up: z
    .enum(['none', 'latest', 'all'])
    .optional()
    .meta({ description: 'What to do with ticks missed while down.' }),
});

const webhook = z.strictObject({
  kind: z.enum(['github', 'gitlab', 'jira', 'standard', 'generic']),
  secret: z.string().optional(),
  events: stringList.optional(),
  filter: text.optional().meta({ description: 'A ${{ }} condition on `event`; other deliveries are ignored.' }),
  inputs: map.optional(),
});

const amqp = z.strictObject({
  exchange: z.string().optional(),
  topic: z.string().meta({ description: 'Binding key, e.g. org.fedoraproject.prod.bodhi.update.request.#' }),
  queue: z.string().optional(),
  filter: text.optional(),
  inputs: map.optional(),
  ack: z.enum(['on_record', 'on_complete']).optional(),
});

/** A process runs either a script or an argv list. */
export const PROCESS_COMMAND = ['run', 'command'] as const;

const process = z
  .strictObject({
    run: text.optional(),
    command: z.array(z.string()).min(1).optional(),
    env: z.record(z.string(), scalar).optional(),
    cwd: z.string().optional(),
    ready: z
      .strictObject({
        http: z.string().optional().meta({ description: 'A URL that answers 2xx once ready.' }),
        tcp: z.union([z.int().min(1).max(65535), z.string()]).optional(),
        log: z.string().optional().meta({ description: 'A regular expression matched against output lines.' }),
        timeout: duration.optional(),
      })
      .optional(),
    restart: z
      .strictObject({
        policy: z.enum(['never', 'on_failure', 'always']),
        max_restarts: z.int().min(0).optional(),
        delay: duration.optional(),
      })
      .optional(),
    stop: z
      .strictObject({
        signal: z.enum(['SIGTERM', 'SIGINT', 'SIGQUIT', 'SIGHUP', 'SIGKILL']).optional(),
        grace: duration.optional(),
      })
      .optional(),
  })
  .meta(exclusiveJsonSchema(PROCESS_COMMAND));

export function createTaskSchema(kinds: readonly KindDefinition[]) {
  const kindFields: Record<string, z.ZodType> = {};
  for (const k of kinds) {
    // Fields that exclude each other are checked by the validator (with a clear message) and,
    // for editors, said in JSON Schema as well.
    const spec = k.exclusive ? k.spec.meta(exclusiveJsonSchema(k.exclusive.fields, k.exclusive.optional)) : k.spec;
    kindFields[k.name] = spec.optional().meta({ description: k.description });
  }
  return z
    .strictObject({
      description: z.string().optional().meta({ description: 'What the task does, for people.' }),
      needs: z
        .union([identifier, z.array(identifier)])
        .optional()
        .meta({ description: 'Tasks that must finish first.' }),
      when: z
        .enum(['success', 'failure', 'always'])
        .optional()
        .meta({ description: 'How the needed tasks must have ended.' }),
      if: text.optional().meta({ description: 'A ${{ }} condition; the task is skipped when false.' }),
      for_each: z
        .union([text, z.array(z.unknown())])
        .optional()
        .meta({ description: 'Runs the task once per item.' }),
      concurrency: z.int().min(1).optional().meta({ description: 'How many for_each items run at once.' }),
      retry: retry.optional().meta({ description: 'Attempts and backoff for failures that may pass on a retry.' }),
      timeout: duration.optional().meta({ description: 'Time limit of one attempt.' }),
      cache: z
        .strictObject({ key: text, ttl: duration.optional() })
        .optional()
        .meta({ description: 'A task whose key has a successful result is done without running.' }),
      assert: z.array(text).optional().meta({ description: '${{ }} conditions on `result` that must hold.' }),
      outputs: z
        .record(identifier, z.unknown())
        .optional()
        .meta({ description: 'Named values computed from `result` (and `response` for http).' }),
      ...kindFields,
    })
    .meta({ oneOf: kinds.map((k) => ({ required: [k.name] })) });
}

export function createWorkflowSchema(kinds: readonly KindDefinition[]) {
  return z.strictObject({
    name: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/)
      .meta({ description: 'The workflow name: letters, digits, _ . and -.' }),
    description: z.string().optional(),
    catalog: z
      .strictObject({ title: z.string(), category: z.string().optional(), description: z.string().optional() })
      .optional()
      .meta({ description: 'Shows the workflow in the self-service catalog.' }),
    inputs: z.record(identifier, inputDefinition).optional(),
    concurrency: z.strictObject({ key: text.optional(), limit: z.int().min(1).optional() }).optional(),
    timeout: duration.optional(),
    permissions: z
      .strictObject({ view: stringList.optional(), run: stringList.optional(), approve: stringList.optional() })
      .optional(),
    tasks: z.record(identifier, createTaskSchema(kinds)).optional(),
    process: process.optional().meta({ description: 'A long-running supervised command (instead of tasks).' }),
    outputs: z.record(identifier, z.unknown()).optional(),
    on: z
      .strictObject({
        schedule: oneOrMany(schedule).optional(),
        webhook: oneOrMany(webhook).optional(),
        amqp: oneOrMany(amqp).optional(),
      })
      .optional(),
  });
}

export type WorkflowSchema = ReturnType<typeof createWorkflowSchema>;
export type WorkflowDocument = z.output<WorkflowSchema>;
export type TaskDocument = NonNullable<WorkflowDocument['tasks']>[string];

/** The JSON Schema (draft 2020-12) published as schema/workflow.schema.json. */
export function workflowJsonSchema(kinds: readonly KindDefinition[]): Record<string, unknown> {
  const schema = z.toJSONSchema(createWorkflowSchema(kinds), { target: 'draft-2020-12', io: 'input' });
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    title: 'Rivet workflow',
    ...schema,
  };
}
