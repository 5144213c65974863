/** `rivet validate FILE...` */
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { ERROR_CODES, RivetError } from '../errors.ts';
import { type LoadedWorkflow, loadWorkflow } from '../load.ts';
import type { Diagnostic, KindDefinition } from '../model/index.ts';
import { EXIT } from './main.ts';
import { type Io, paint, printable, renderDiagnostic } from './output.ts';

interface FileReport {
  readonly file: string;
  readonly valid: boolean;
  readonly version?: string;
  readonly name?: string;
  readonly tasks?: number;
  readonly process?: boolean;
  readonly diagnostics: readonly (Diagnostic & { name: string })[];
}

async function check(
  file: string,
  kinds: readonly KindDefinition[] | undefined,
): Promise<{ report: FileReport; loaded?: LoadedWorkflow }> {
  try {
    const loaded = await loadWorkflow(file, kinds === undefined ? {} : { kinds });
    const diagnostics = loaded.diagnostics.map((d) => ({ ...d, name: ERROR_CODES[d.code].name }));
    const wf = loaded.workflow;
    return {
      loaded,
      report: {
        file,
        valid: wf !== undefined,
        version: loaded.version,
        ...(wf ? { name: wf.name, tasks: wf.tasks.length, process: wf.document.process !== undefined } : {}),
        diagnostics,
      },
    };
  } catch (err) {
    if (!(err instanceof RivetError)) throw err;
    const d: Diagnostic & { name: string } = {
      code: err.code,
      name: ERROR_CODES[err.code].name,
      severity: 'error',
      message: err.message,
      offset: 0,
      line: 1,
      col: 1,
    };
    return { report: { file, valid: false, diagnostics: [d] } };
  }
}

/** A folder stands for the workflow files directly inside it (*.yaml, *.yml), in name order. */
async function expand(paths: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  for (const path of paths) {
    const info = await stat(path).catch(() => undefined);
    if (info?.isDirectory() !== true) {
      out.push(path);
      continue;
    }
    const names = (await readdir(path)).filter((n) => /\.ya?ml$/.test(n)).sort();
    // An empty folder stays in the list, so that it is reported rather than silently passed.
    out.push(...(names.length > 0 ? names.map((n) => join(path, n)) : [path]));
  }
  return out;
}

export async function validateCommand(
  paths: readonly string[],
  opts: { json: boolean; plugins?: readonly string[] },
  io: Io,
): Promise<number> {
  // Plugin kinds (--plugin, RIVET_PLUGINS) are known to the validator as they are to `rivet run`.
  const plugins = [...(opts.plugins ?? []), ...(process.env.RIVET_PLUGINS ?? '').split(':').filter((p) => p !== '')];
  let kinds: readonly KindDefinition[] | undefined;
  if (plugins.length > 0) {
    const { KindRegistry, loadPlugin } = await import('../kinds/registry.ts');
    const registry = new KindRegistry();
    for (const p of plugins) await loadPlugin(registry, p);
    kinds = registry.definitions;
  }
  const files = await expand(paths);
  const results = await Promise.all(files.map((f) => check(f, kinds)));
  const invalid = results.filter((r) => !r.report.valid);
  if (opts.json) {
    const body = { valid: invalid.length === 0, files: results.map((r) => r.report) };
    io.stdout.write(`${JSON.stringify(body, (k, v: unknown) => (k === 'offset' ? undefined : v), 2)}\n`);
    return invalid.length === 0 ? EXIT.ok : EXIT.invalid;
  }
  let errors = 0;
  for (const { report, loaded } of results) {
    if (report.valid) {
      const what = report.process ? 'process' : `${report.tasks} task${report.tasks === 1 ? '' : 's'}`;
      io.stdout.write(`${paint(io.stdout, 'green', 'ok')} ${printable(report.file)} (${report.name}, ${what})\n`);
      continue;
    }
    for (const d of report.diagnostics) {
      errors++;
      io.stdout.write(`${renderDiagnostic(io.stdout, report.file, d, loaded?.sourceMap.text)}\n`);
    }
  }
  if (invalid.length > 0) {
    io.stdout.write(
      `${errors} error${errors === 1 ? '' : 's'} in ${invalid.length} of ${files.length} file${files.length === 1 ? '' : 's'}\n`,
    );
  }
  return invalid.length === 0 ? EXIT.ok : EXIT.invalid;
}
