/**
 * Artifact folders: `<home>/artifacts/<workflow>/<run>/<task>/` (or `<task>/<item>/` for a
 * for_each item). An attempt starts with the folder empty; once the task succeeds every file
 * is made read-only (0444, folders 0555) and listed as `name → absolute path` for later tasks.
 * The folder is only created when a kind asks for it, so noop tasks cost no system call.
 */
import { chmodSync, existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

export function artifactsPath(
  root: string,
  workflow: string,
  runId: string,
  task: string,
  item: number | null,
): string {
  return item === null ? join(root, workflow, runId, task) : join(root, workflow, runId, task, String(item));
}

function makeWritable(dir: string): void {
  chmodSync(dir, 0o755);
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    if (entry.isDirectory()) makeWritable(p);
    else chmodSync(p, 0o644);
  }
}

/** An empty folder for a new attempt (what an earlier attempt left is removed). */
export function freshArtifactsDir(dir: string): string {
  if (existsSync(dir)) {
    makeWritable(dir);
    rmSync(dir, { recursive: true, force: true });
  }
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** Makes the folder's files read-only and lists them; {} when the folder was never created. */
export function sealArtifacts(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  if (!existsSync(dir)) return out;
  const walk = (d: string): void => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, entry.name);
      if (entry.isDirectory()) {
        walk(p);
        chmodSync(p, 0o555);
      } else if (entry.isFile() || statSync(p).isFile()) {
        chmodSync(p, 0o444);
        out[relative(dir, p)] = p;
      }
    }
  };
  walk(dir);
  chmodSync(dir, 0o555);
  return out;
}
