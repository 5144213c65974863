/**
 * The server's workflows: the files of the watched folder (`--workflows DIR`) and those uploaded
 * through the API (kept as files under `<data>/workflows/`). Every valid file is a version in
 * the store; a changed file becomes a new version while runs in flight keep theirs. An invalid
 * file keeps the last good version of its name and is reported with its diagnostics.
 */
import { watch, type FSWatcher } from 'node:fs';
import { mkdir, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import type { WorkflowSource } from '../engine/types.ts';
import type { KindRegistry } from '../kinds/registry.ts';
import { loadWorkflow, validateWorkflowBytes } from '../load.ts';
import type { Diagnostic } from '../model/index.ts';
import type { Store } from '../store/types.ts';

export type WorkflowOrigin = 'folder' | 'upload';

export interface RegisteredWorkflow {
  readonly name: string;
  readonly origin: WorkflowOrigin;
  readonly source: WorkflowSource;
  readonly kind: 'tasks' | 'process';
  readonly updatedAt: number;
}

export interface FileProblem {
  readonly file: string;
  readonly diagnostics: readonly Diagnostic[];
}

export interface RegistryOptions {
  readonly store: Store;
  readonly kinds: KindRegistry;
  /** The watched folder, or null. */
  readonly folder: string | null;
  /** Where uploads are kept. */
  readonly uploads: string;
  readonly now?: () => number;
  readonly onError?: (error: unknown) => void;
}

const WORKFLOW_FILE = /\.ya?ml$/;

async function yamlFiles(dir: string): Promise<string[]> {
  let entries;
  try {
    entries = await readdir(dir, { recursive: true, withFileTypes: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  return entries
    .filter((e) => e.isFile() && WORKFLOW_FILE.test(e.name))
    .map((e) => resolve(e.parentPath, e.name))
    .filter(
      (f) =>
        !relative(dir, f)
          .split('/')
          .some((part) => part.startsWith('.')),
    )
    .sort();
}

export class WorkflowRegistry {
  readonly #options: RegistryOptions;
  #byName = new Map<string, RegisteredWorkflow>();
  #problems: FileProblem[] = [];
  #watcher: FSWatcher | null = null;
  #reloadTimer: NodeJS.Timeout | null = null;
  #loading: Promise<void> = Promise.resolve();
  readonly #listeners = new Set<() => void>();

  constructor(options: RegistryOptions) {
    this.#options = options;
  }

  get(name: string): RegisteredWorkflow | undefined {
    return this.#byName.get(name);
  }

  list(): RegisteredWorkflow[] {
    return [...this.#byName.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  problems(): readonly FileProblem[] {
    return this.#problems;
  }

  /** Called after every (re)load that changed something. */
  onChange(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Reads both folders; serialised, so overlapping reloads do not interleave. */
  reload(): Promise<void> {
    this.#loading = this.#loading.then(
      () => this.#reload(),
      () => this.#reload(),
    );
    return this.#loading;
  }

  async #reload(): Promise<void> {
    const now = (this.#options.now ?? Date.now)();
    const next = new Map<string, RegisteredWorkflow>();
    const problems: FileProblem[] = [];
    const sets: [WorkflowOrigin, string | null][] = [
      ['folder', this.#options.folder],
      ['upload', this.#options.uploads],
    ];
    for (const [origin, dir] of sets) {
      if (dir === null) continue;
      for (const file of await yamlFiles(dir)) {
        const loaded = await loadWorkflow(file, { kinds: this.#options.kinds.definitions }).catch((error: unknown) => {
          problems.push({ file, diagnostics: [] });
          this.#options.onError?.(error);
          return undefined;
        });
        if (loaded === undefined) continue;
        if (loaded.workflow === undefined) {
          problems.push({ file, diagnostics: loaded.diagnostics });
          continue;
        }
        const name = loaded.workflow.name;
        if (next.has(name)) {
          problems.push({
            file,
            diagnostics: [
              {
                code: 'RV303',
                severity: 'error',
                message: `another file already defines the workflow "${name}": ${next.get(name)!.source.file}`,
                offset: 0,
                line: 1,
                col: 1,
              },
            ],
          });
          continue;
        }
        const previous = this.#byName.get(name);
        const source: WorkflowSource = {
          workflow: loaded.workflow,
          version: loaded.version,
          file,
          source: loaded.sourceMap.text,
        };
        next.set(name, {
          name,
          origin,
          source,
          kind: loaded.workflow.document.process === undefined ? 'tasks' : 'process',
          updatedAt: previous?.source.version === loaded.version ? previous.updatedAt : now,
        });
        if (previous?.source.version !== loaded.version) {
          await this.#options.store.saveWorkflowVersion({
            version: loaded.version,
            name,
            file,
            source: source.source,
            createdAt: now,
          });
        }
      }
    }
    // A file that turned invalid keeps the last good version of its workflow.
    for (const p of problems) {
      for (const [name, w] of this.#byName) {
        if (w.source.file === p.file && !next.has(name)) next.set(name, w);
      }
    }
    const changed =
      next.size !== this.#byName.size ||
      [...next].some(([name, w]) => this.#byName.get(name)?.source.version !== w.source.version);
    this.#byName = next;
    this.#problems = problems;
    if (changed) for (const l of this.#listeners) l();
  }

  /** Watches the folders; a burst of changes reloads once. */
  watch(): void {
    const dirs = [this.#options.folder, this.#options.uploads].filter((d): d is string => d !== null);
    const schedule = (): void => {
      if (this.#reloadTimer !== null) clearTimeout(this.#reloadTimer);
      this.#reloadTimer = setTimeout(() => {
        this.#reloadTimer = null;
        this.reload().catch((error: unknown) => this.#options.onError?.(error));
      }, 100);
    };
    const watchers = dirs.map((d) => watch(d, { recursive: true }, schedule));
    this.#watcher = {
      close: () => {
        for (const w of watchers) w.close();
      },
    } as FSWatcher;
  }

  close(): void {
    this.#watcher?.close();
    this.#watcher = null;
    if (this.#reloadTimer !== null) clearTimeout(this.#reloadTimer);
  }

  /** Validates a definition without keeping it. */
  validate(text: string): { ok: true; name: string } | { ok: false; diagnostics: readonly Diagnostic[] } {
    const loaded = validateWorkflowBytes(Buffer.from(text), 'upload.yaml', { kinds: this.#options.kinds.definitions });
    return loaded.workflow === undefined
      ? { ok: false, diagnostics: loaded.diagnostics }
      : { ok: true, name: loaded.workflow.name };
  }

  /** Keeps an uploaded definition under its name (written atomically), then reloads. */
  async upload(
    name: string,
    text: string,
  ): Promise<
    | { ok: true; workflow: RegisteredWorkflow; created: boolean }
    | { ok: false; diagnostics: readonly Diagnostic[] }
    | { ok: false; conflict: string }
  > {
    const checked = this.validate(text);
    if (!checked.ok) return checked;
    if (checked.name !== name) {
      return {
        ok: false,
        diagnostics: [
          {
            code: 'RV204',
            severity: 'error',
            message: `the file's name is "${checked.name}" but it is uploaded as "${name}"`,
            offset: 0,
            line: 1,
            col: 1,
            path: ['name'],
          },
        ],
      };
    }
    const existing = this.#byName.get(name);
    if (existing !== undefined && existing.origin === 'folder') {
      return { ok: false, conflict: `the workflow "${name}" comes from ${existing.source.file} in the watched folder` };
    }
    await mkdir(this.#options.uploads, { recursive: true });
    const file = join(this.#options.uploads, `${name}.yaml`);
    const temp = join(this.#options.uploads, `.${name}.yaml.tmp`);
    await writeFile(temp, text);
    await rename(temp, file);
    await this.reload();
    const workflow = this.#byName.get(name);
    if (workflow === undefined || workflow.source.file !== file) {
      // Valid alone but not in place, e.g. a sub-workflow file it names is missing.
      const problem = this.#problems.find((p) => p.file === file);
      await rm(file, { force: true });
      await this.reload();
      return { ok: false, diagnostics: problem?.diagnostics ?? [] };
    }
    return { ok: true, workflow, created: existing === undefined };
  }

  /** Forgets an uploaded workflow (its versions stay in the store for past runs). */
  async remove(name: string): Promise<'removed' | 'not_found' | 'folder'> {
    const existing = this.#byName.get(name);
    if (existing === undefined) return 'not_found';
    if (existing.origin === 'folder') return 'folder';
    await rm(existing.source.file, { force: true });
    await this.reload();
    return 'removed';
  }
}
