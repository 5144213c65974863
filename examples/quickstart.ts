/**
 * The quick start (`npm run example`): one real example, end to end, with one command.
 *
 * It starts the fake platform API of examples/platform-api on a free port, runs the self-service
 * bucket story (examples/provision_bucket.yaml) with the real `rivet run` on the embedded store
 * (.rivet/, or RIVET_HOME), approves its approval step from a second process with the real
 * `rivet approve` as a platform engineer would, prints what the run did, and stops the server.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { startPlatformApi } from './platform-api/server.ts';

const repo = fileURLToPath(new URL('..', import.meta.url));
const color = process.stdout.isTTY === true && process.env.NO_COLOR === undefined;
const dim = (s: string): string => (color ? `\x1b[2m${s}\x1b[22m` : s);
const bold = (s: string): string => (color ? `\x1b[1m${s}\x1b[22m` : s);
const stripAnsi = (s: string): string => s.replace(/\x1b\[[0-9;]*m/g, '');

function rivet(args: string[]): ChildProcess {
  const shown = args.map((a) => (/^[\w./:=-]+$/.test(a) ? a : `'${a}'`)).join(' ');
  process.stdout.write(`${bold(`$ npx rivet ${shown}`)}\n`);
  return spawn(process.execPath, [join(repo, 'bin', 'rivet.js'), ...args], {
    cwd: repo,
    env: { ...process.env, ...(color ? { FORCE_COLOR: '1' } : {}) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
}

const exited = (child: ChildProcess): Promise<number> =>
  new Promise((done) => child.once('close', (code) => done(code ?? 1)));

const api = await startPlatformApi({ port: 0 });
let code: number;
try {
  process.stdout.write(
    `${bold('Rivet quick start')}: the self-service bucket story, examples/provision_bucket.yaml\n` +
      dim(`A fake of the internal platform (examples/platform-api) listens on ${api.url}.\n\n`),
  );
  const run = rivet([
    'run',
    'examples/provision_bucket.yaml',
    '--vars-file',
    'examples/config/vars.yml',
    '--secrets-file',
    'examples/config/secrets.example.yml',
    '--var',
    `platform_api=${api.url}/platform`,
    '--var',
    `jira_url=${api.url}/jira`,
    '--input',
    'team=payments',
    '--input',
    'bucket=payments-invoices',
    '--input',
    'ticket=PAY-1234',
  ]);
  let runId: string | undefined;
  let approval: Promise<number> | undefined;
  for await (const line of createInterface({ input: run.stdout! })) {
    process.stdout.write(`${line}\n`);
    const plain = stripAnsi(line);
    runId ??= /^run (\S+) (?:started|resumed)/.exec(plain)?.[1];
    if (approval === undefined && runId !== undefined && /\bapprove waiting$/.test(plain)) {
      // A platform engineer approves from another shell, choosing the quota on the form.
      process.stdout.write(dim('\n(in another shell, a platform engineer approves it)\n'));
      const approve = rivet(['approve', runId, 'approve', '--field', 'quota_gb=200', '--comment', 'ok for Q4']);
      approve.stdout!.pipe(process.stdout, { end: false });
      approval = exited(approve);
    }
  }
  code = await exited(run);
  if (approval !== undefined && (await approval) !== 0) code = 1;
  const calls = api.requests.map((r) => `${r.method} ${r.path} → ${r.status}`);
  const ticket = (await (
    await fetch(`${api.url}/jira/rest/api/2/issue/PAY-1234`, { headers: { authorization: 'Bearer quickstart' } })
  ).json()) as { fields: { status: { name: string } } };
  process.stdout.write(
    `\nThe platform API saw ${calls.length} requests:\n${calls.map((c) => `  ${c}`).join('\n')}\n` +
      `Ticket PAY-1234 is now ${ticket.fields.status.name}.\n\n` +
      (runId === undefined
        ? ''
        : `The run stays in the local store: npx rivet runs show ${runId}   (and: npx rivet runs logs ${runId})\n`) +
      'Every example runs the same way against examples/platform-api: see the header of each file in examples/.\n',
  );
} finally {
  await api.close();
}
process.exitCode = code;
