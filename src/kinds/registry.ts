/**
 * The kind registry: the built-in kinds plus those plugins register. A plugin is a module whose
 * default export is `{ apiVersion: 1, kinds: [...] }`; each kind is `{ name, description, spec,
 * outputs, execute }` (see docs/plugins.md). Everything is checked when the plugin is loaded,
 * with coded errors that name the file (habit 9), never at the first run.
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { z } from 'zod';
import { RivetError } from '../errors.ts';
import type { KindDefinition } from '../model/index.ts';
import { IDENTIFIER_RE } from '../model/common.ts';
import { approvalKind } from './approval.ts';
import { httpKind } from './http.ts';
import { noopKind } from './noop.ts';
import { shellKind } from './shell.ts';
import { sleepKind } from './sleep.ts';
import { KIND_API_VERSION, type Kind } from './types.ts';
import { workflowKind } from './workflow.ts';

export const BUILTIN_RUNTIME_KINDS: readonly Kind[] = [
  httpKind as Kind,
  shellKind as Kind,
  approvalKind as Kind,
  sleepKind as Kind,
  workflowKind as Kind,
  noopKind,
];

export class KindRegistry {
  readonly #kinds = new Map<string, Kind>();
  readonly #definitions: KindDefinition[] = [];

  constructor(kinds: readonly Kind[] = BUILTIN_RUNTIME_KINDS) {
    for (const k of kinds) this.add(k, 'built-in');
  }

  add(kind: Kind, source: string): void {
    const name = kind.definition.name;
    if (this.#kinds.has(name)) {
      throw new RivetError('RV503', `${source}: a kind named "${name}" is already registered`, {
        hint: 'pick another name; built-in kinds cannot be replaced',
      });
    }
    this.#kinds.set(name, kind);
    this.#definitions.push(kind.definition);
  }

  get(name: string): Kind | undefined {
    return this.#kinds.get(name);
  }

  /** Definitions for the validator (same array while no kind is added). */
  get definitions(): readonly KindDefinition[] {
    return this.#definitions;
  }

  /** Closes every kind's resources (the CLI calls this before exiting). */
  async close(): Promise<void> {
    await Promise.all([...this.#kinds.values()].map((k) => k.close?.()));
  }

  get definitionMap(): ReadonlyMap<string, KindDefinition> {
    return new Map(this.#definitions.map((d) => [d.name, d]));
  }
}

/** What a plugin's kind looks like before it is checked. */
export interface PluginKind {
  readonly name: string;
  readonly description?: string;
  readonly spec: z.ZodType;
  readonly outputs?: readonly string[] | 'dynamic';
  readonly execute: Kind['execute'];
}

export interface Plugin {
  readonly apiVersion: number;
  readonly kinds: readonly PluginKind[];
}

/** Helps plugin authors get the shape right (types only; the registry checks at load time). */
export function definePlugin(plugin: Plugin): Plugin {
  return plugin;
}

function fail(file: string, message: string, hint?: string): never {
  throw new RivetError('RV503', `${file}: ${message}`, hint === undefined ? {} : { hint });
}

function checkKind(file: string, k: unknown, i: number): Kind {
  if (typeof k !== 'object' || k === null) fail(file, `kinds[${i}] is not an object`);
  const pk = k as Partial<PluginKind>;
  if (typeof pk.name !== 'string' || !IDENTIFIER_RE.test(pk.name)) {
    fail(file, `kinds[${i}].name must be an identifier such as my_kind, got ${JSON.stringify(pk.name)}`);
  }
  if (!(pk.spec instanceof z.ZodType)) {
    fail(
      file,
      `kind ${pk.name}: spec must be a zod schema`,
      "import { z } from 'rivet' so the schema uses Rivet's zod",
    );
  }
  if (typeof pk.execute !== 'function') fail(file, `kind ${pk.name}: execute must be a function (spec, ctx) => result`);
  const outputs = pk.outputs ?? 'dynamic';
  if (outputs !== 'dynamic' && !(Array.isArray(outputs) && outputs.every((o) => typeof o === 'string'))) {
    fail(file, `kind ${pk.name}: outputs must be a list of names or 'dynamic'`);
  }
  const definition: KindDefinition = {
    name: pk.name,
    description: pk.description ?? `Plugin kind from ${file}`,
    spec: pk.spec,
    outputs,
  };
  return { definition, execute: pk.execute.bind(pk) };
}

/** Imports a plugin module and registers its kinds. */
export async function loadPlugin(registry: KindRegistry, file: string): Promise<void> {
  let mod: { default?: unknown };
  try {
    mod = (await import(pathToFileURL(resolve(file)).href)) as { default?: unknown };
  } catch (error) {
    fail(file, `cannot import the plugin: ${(error as Error).message}`);
  }
  const plugin = mod.default as Partial<Plugin> | undefined;
  if (typeof plugin !== 'object' || plugin === null) {
    fail(file, 'the module has no default export', 'export default definePlugin({ apiVersion: 1, kinds: [...] })');
  }
  if (plugin.apiVersion !== KIND_API_VERSION) {
    fail(
      file,
      `apiVersion ${JSON.stringify(plugin.apiVersion)} is not supported (this Rivet speaks ${KIND_API_VERSION})`,
    );
  }
  if (!Array.isArray(plugin.kinds) || plugin.kinds.length === 0) fail(file, 'kinds must be a non-empty list');
  const kinds = plugin.kinds.map((k, i) => checkKind(file, k, i));
  for (const k of kinds) registry.add(k, file);
}
