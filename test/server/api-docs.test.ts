// docs/api.md runs as written: every ```sh block runs with `bash -euo pipefail`, in order, in one
// folder, against a real server (RIVET_SERVER, RIVET_TOKEN set as the page says), and exits 0.
// The authorization table has exactly one row per operation of /openapi.json.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startTestServer, type TestServer } from '../helpers/server.ts';

const DOC = readFileSync(new URL('../../docs/api.md', import.meta.url), 'utf8');

const shBlocks = [...DOC.matchAll(/^```sh\n([\s\S]*?)^```$/gm)].map((m) => m[1]!);

/** The rows of the authorization table: operationId, method, path. */
function tableRows(doc: string): { operationId: string; method: string; path: string }[] {
  const lines = doc.split('\n');
  const header = lines.findIndex((l) => /^\|\s*operationId\s*\|/.test(l));
  assert.ok(header >= 0, 'docs/api.md has no table starting with "| operationId |"');
  const rows = [];
  for (const line of lines.slice(header + 2)) {
    if (!line.startsWith('|')) break;
    const [operationId, method, path] = line
      .split('|')
      .slice(1, -1)
      .map((c) => c.trim());
    rows.push({ operationId: operationId!, method: method!, path: path! });
  }
  return rows;
}

/**
 * Runs a block with bash, asynchronously (the server answers from this process). stdin is
 * /dev/null: bash reads the system bashrc when stdin is a socket, as Node's pipes are.
 */
async function runBash(
  script: string,
  cwd: string,
  env: NodeJS.ProcessEnv,
): Promise<{ status: number | string; stdout: string; stderr: string }> {
  const child = spawn('bash', ['-euo', 'pipefail', '-c', script], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  // A block that hangs (a stream that never ends) fails the test instead of blocking it.
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  const status = await new Promise<number | string>((r) =>
    child.on('close', (code, signal) => r(code ?? signal ?? -1)),
  );
  clearTimeout(timer);
  return { status, stdout, stderr };
}

// The page's examples use curl and jq. Without them a user's machine skips this file, saying why;
// under CI a missing tool fails it.
const missing = ['bash', 'curl', 'jq'].filter((t) => spawnSync('sh', ['-c', `command -v ${t}`]).status !== 0);
if (missing.length > 0 && process.env.CI !== undefined) {
  throw new Error(
    `docs/api.md examples need ${missing.join(', ')}; install them (apt-get install ${missing.join(' ')})`,
  );
}
const skip = missing.length > 0 ? `docs/api.md examples need ${missing.join(', ')}, not installed here` : false;

describe('docs/api.md', { skip }, () => {
  let server: TestServer;
  let work: string;

  before(async () => {
    server = await startTestServer();
    work = mkdtempSync(join(tmpdir(), 'rivet-api-docs-'));
  });

  after(async () => {
    await server?.stop();
    if (work !== undefined) rmSync(work, { recursive: true, force: true });
  });

  it('has curl examples', () => {
    assert.ok(shBlocks.length >= 8, `found ${shBlocks.length} sh blocks`);
    for (const b of shBlocks) assert.match(b, /\$RIVET_SERVER/);
  });

  it('runs every sh block as written, in order', async () => {
    for (const [i, block] of shBlocks.entries()) {
      const result = await runBash(block, work, {
        PATH: process.env.PATH ?? '',
        HOME: work,
        RIVET_SERVER: server.url,
        RIVET_TOKEN: server.adminToken,
      });
      assert.equal(
        result.status,
        0,
        `sh block ${i + 1} exited ${result.status}:\n${block}\n--- stdout\n${result.stdout}\n--- stderr\n${result.stderr}`,
      );
    }
  });

  it('has one table row per operation of /openapi.json, and no other', async () => {
    const doc = (await server.api('GET', '/openapi.json', { token: null })).body as {
      paths: Record<string, Record<string, { operationId: string }>>;
    };
    const documented = new Set(
      Object.entries(doc.paths).flatMap(([path, item]) =>
        Object.entries(item).map(([method, op]) => `${op.operationId} ${method.toUpperCase()} ${path}`),
      ),
    );
    const rows = tableRows(DOC).map((r) => `${r.operationId} ${r.method} ${r.path}`);
    assert.equal(new Set(rows).size, rows.length, 'a row appears twice');
    assert.deepEqual(
      rows.filter((r) => !documented.has(r)),
      [],
      'rows for operations that /openapi.json does not have',
    );
    assert.deepEqual(
      [...documented].filter((r) => !rows.includes(r)),
      [],
      'operations of /openapi.json without a row',
    );
  });
});
