/** The `rivet` command line: parses arguments and hands over to one command module. */
import { Command, CommanderError, Option } from 'commander';
import pkg from '../../package.json' with { type: 'json' };
import { RivetError } from '../errors.ts';
import { parseDuration } from '../model/duration.ts';
import type { Io } from './output.ts';

/** Exit codes: 0 ok, 1 failed, 2 invalid input (bad file or command line), 130 cancelled. */
export const EXIT = { ok: 0, failed: 1, invalid: 2, cancelled: 130 } as const;

function localOpts(opts: Record<string, unknown>): import('./local.ts').LocalOptions {
  return {
    ...(opts.home === undefined ? {} : { home: opts.home as string }),
    ...(opts.plugin === undefined ? {} : { plugins: opts.plugin as string[] }),
    ...(opts.var === undefined ? {} : { vars: opts.var as string[] }),
    ...(opts.varsFile === undefined ? {} : { varsFile: opts.varsFile as string }),
    ...(opts.secretsFile === undefined ? {} : { secretsFile: opts.secretsFile as string }),
  };
}

export async function main(
  argv: readonly string[],
  io: Io = { stdout: process.stdout, stderr: process.stderr },
): Promise<number> {
  let code: number = EXIT.ok;
  const cli = new Command('rivet')
    .description('Rivet: workflows for platform and SRE teams, run as durable DAGs.')
    .version(pkg.version, '-V, --version', 'print the version')
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
      // Commander's own usage errors get our code, like every other error Rivet prints.
      outputError: (s, write) => write(`error RV502 ${s.replace(/^error: /, '')}`),
    })
    .exitOverride()
    .showHelpAfterError('(run rivet --help for usage)');

  cli
    .command('validate')
    .description('check workflow files; print ok or every problem as file:line:col')
    .argument('<files...>', 'workflow files (YAML), or folders of them')
    .option('--json', 'print machine-readable diagnostics')
    .option('--plugin <module>', 'load task kinds from a plugin module (repeatable)', (v: string, p: string[] = []) => [
      ...p,
      v,
    ])
    .action(async (files: string[], opts: { json?: boolean; plugin?: string[] }) => {
      const { validateCommand } = await import('./validate.ts');
      code = await validateCommand(files, { json: opts.json === true, plugins: opts.plugin ?? [] }, io);
    });

  cli
    .command('graph')
    .description('print the task graph of a workflow')
    .argument('<file>', 'workflow file (YAML)')
    .addOption(new Option('-f, --format <format>', 'output format').choices(['text', 'mermaid', 'dot']).default('text'))
    .action(async (file: string, opts: { format: 'text' | 'mermaid' | 'dot' }) => {
      const { graphCommand } = await import('./graph.ts');
      code = await graphCommand(file, opts.format, io);
    });

  const collect = (v: string, prev: string[] = []): string[] => [...prev, v];
  const int = (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1)
      throw new RivetError('RV502', `expected a positive whole number, got ${JSON.stringify(v)}`);
    return n;
  };
  const grace = (v: string): number => {
    const ms = parseDuration(v);
    if (ms === undefined)
      throw new RivetError('RV502', `expected a duration such as 5s or 1m, got ${JSON.stringify(v)}`);
    return ms;
  };
  const local = (c: Command): Command =>
    c
      .option('--home <dir>', 'the local store folder (default: .rivet, or RIVET_HOME)')
      .option('--plugin <module>', 'load task kinds from a plugin module (repeatable)', collect)
      .option('--server <url>', 'go through the API of a Rivet server (or RIVET_SERVER; token in RIVET_TOKEN)');
  // With a server (--server or RIVET_SERVER) a command goes through the API: remote.ts, loaded only then.
  const remote = (opts: Record<string, unknown>): boolean =>
    opts.server !== undefined || (process.env.RIVET_SERVER ?? '').trim() !== '';

  local(
    cli
      .command('run')
      .description('run a workflow on the local store (or a server); exit 0 ok, 1 failed, 2 invalid, 130 cancelled')
      .argument(
        '<file>',
        'workflow file (YAML); with --server, the name of a workflow on the server (a file gives its name:)',
      )
      .option('-i, --input <name=value>', "an input (repeatable); text is read as the input's declared type", collect)
      .option('--inputs-file <file>', 'inputs from a YAML or JSON file')
      .option('--var <name=value>', 'a deployment variable (repeatable; also RIVET_VAR_<NAME>)', collect)
      .option('--vars-file <file>', 'deployment variables (default .rivet/vars.yaml)')
      .option('--secrets-file <file>', 'secrets (default .rivet/secrets.yaml; also RIVET_SECRET_<NAME>)')
      .option('--force <task>', 'run this task even if its cache key has a result (repeatable)', collect)
      .option('-c, --concurrency <n>', 'most tasks running at once', int)
      .option('--kill-grace <duration>', 'between SIGTERM and SIGKILL when a task is stopped (default 10s)', grace)
      .option('--dry-run', 'print the plan without running anything')
      .option('--json', 'print NDJSON events'),
  ).action(async (file: string, opts: Record<string, unknown>) => {
    if (remote(opts)) {
      const { runRemote } = await import('./remote.ts');
      code = await runRemote(file, { ...opts, input: (opts.input as string[] | undefined) ?? [] }, io);
      return;
    }
    const { runCommand } = await import('./run.ts');
    code = await runCommand(
      file,
      {
        ...localOpts(opts),
        input: (opts.input as string[] | undefined) ?? [],
        ...(opts.inputsFile === undefined ? {} : { inputsFile: opts.inputsFile as string }),
        json: opts.json === true,
        force: (opts.force as string[] | undefined) ?? [],
        ...(opts.concurrency === undefined ? {} : { concurrency: opts.concurrency as number }),
        ...(opts.killGrace === undefined ? {} : { killGraceMs: opts.killGrace as number }),
        dryRun: opts.dryRun === true,
      },
      io,
    );
  });

  const runs = cli
    .command('runs')
    .description('list, show, follow, resume and cancel runs of the local store (or of a server: --server)');
  local(runs.command('list').description('recent runs, newest first'))
    .option('-w, --workflow <name>', 'only runs of this workflow')
    .option('-s, --state <states>', 'only runs in these states (comma-separated)')
    .option('-n, --limit <n>', 'how many', int)
    .option('--json', 'print JSON')
    .action(async (opts: Record<string, unknown>) => {
      if (remote(opts)) {
        code = await (await import('./remote.ts')).listRemote(opts, io);
        return;
      }
      const { listCommand } = await import('./runs.ts');
      code = await listCommand({ ...localOpts(opts), ...(opts as object) }, io);
    });
  local(runs.command('show').description('a run with its tasks').argument('<run>', 'run id (or a unique prefix)'))
    .option('--json', 'print JSON')
    .action(async (run: string, opts: Record<string, unknown>) => {
      if (remote(opts)) {
        code = await (await import('./remote.ts')).showRemote(run, opts, io);
        return;
      }
      const { showCommand } = await import('./runs.ts');
      code = await showCommand(run, { ...localOpts(opts), json: opts.json === true }, io);
    });
  local(runs.command('logs').description("a run's log lines").argument('<run>', 'run id (or a unique prefix)'))
    .option('-t, --task <task>', 'only this task')
    .option('-f, --follow', 'keep printing until the run ends')
    .option('--json', 'print NDJSON')
    .action(async (run: string, opts: Record<string, unknown>) => {
      if (remote(opts)) {
        code = await (await import('./remote.ts')).logsRemote(run, opts, io);
        return;
      }
      const { logsCommand } = await import('./runs.ts');
      code = await logsCommand(run, { ...localOpts(opts), ...(opts as object) }, io);
    });
  local(
    runs
      .command('resume')
      .description('continue an interrupted or failed run, or re-run it from a task')
      .argument('<run>', 'run id (or a unique prefix)'),
  )
    .option('--from <task>', 'run TASK (or TASK[INDEX], or TASK/CHILD_TASK) and everything downstream again')
    .option('-c, --concurrency <n>', 'most tasks running at once', int)
    .option('--kill-grace <duration>', 'between SIGTERM and SIGKILL when a task is stopped (default 10s)', grace)
    .option('--var <name=value>', 'a deployment variable (repeatable)', collect)
    .option('--vars-file <file>', 'deployment variables')
    .option('--secrets-file <file>', 'secrets')
    .option('--json', 'print NDJSON events')
    .action(async (run: string, opts: Record<string, unknown>) => {
      if (remote(opts)) {
        code = await (await import('./remote.ts')).resumeRemote(run, opts, io);
        return;
      }
      const { resumeCommand } = await import('./runs.ts');
      code = await resumeCommand(run, { ...localOpts(opts), ...(opts as object) }, io);
    });
  local(runs.command('cancel').description('cancel a run').argument('<run>', 'run id (or a unique prefix)')).action(
    async (run: string, opts: Record<string, unknown>) => {
      if (remote(opts)) {
        code = await (await import('./remote.ts')).cancelRemote(run, opts, io);
        return;
      }
      const { cancelCommand } = await import('./runs.ts');
      code = await cancelCommand(run, localOpts(opts), io);
    },
  );

  local(
    cli
      .command('approve')
      .description('approve (or reject) a task waiting for approval')
      .argument('<run>', 'run id (or a unique prefix)')
      .argument('<task>', 'the approval task (TASK or TASK[INDEX])'),
  )
    .option('--reject', 'reject instead of approving')
    .option('-m, --comment <text>', 'a comment for the record')
    .option('--field <name=value>', 'a form field of the approval (repeatable)', collect)
    .option('--as <name>', 'who decides (default: your user name)')
    .action(async (run: string, task: string, opts: Record<string, unknown>) => {
      if (remote(opts)) {
        code = await (await import('./remote.ts')).approveRemote(run, task, opts, io);
        return;
      }
      const { approveCommand } = await import('./runs.ts');
      code = await approveCommand(run, task, { ...localOpts(opts), ...(opts as object) }, io);
    });

  const processes = cli
    .command('process')
    .description('start, stop and watch the processes of a Rivet server (needs --server or RIVET_SERVER)');
  const processAction =
    (action: 'start' | 'stop' | 'restart' | 'status' | 'logs') =>
    async (name: string | undefined, opts: Record<string, unknown>): Promise<void> => {
      const { processCommand } = await import('./process.ts');
      code = await processCommand(action, name, opts, io);
    };
  const onServer = (c: Command): Command =>
    c
      .option('--server <url>', 'the Rivet server (or RIVET_SERVER; token in RIVET_TOKEN)')
      .option('--json', 'print JSON');
  onServer(
    processes
      .command('start')
      .description('start a process (the answer comes once it is spawned)')
      .argument('<name>', 'process name (or its process file)'),
  )
    .option('--wait', 'wait until it is ready (exit 1 if it fails or ends instead)')
    .option(
      '-i, --input <name=value>',
      "an input (repeatable), instead of its default; read as the input's type",
      collect,
    )
    .action(processAction('start'));
  onServer(
    processes
      .command('restart')
      .description('stop and start a process again')
      .argument('<name>', 'process name (or its process file)'),
  )
    .option('--wait', 'wait until it is ready (exit 1 if it fails or ends instead)')
    .option(
      '-i, --input <name=value>',
      "an input (repeatable), instead of its default; read as the input's type",
      collect,
    )
    .action(processAction('restart'));
  onServer(
    processes
      .command('stop')
      .description('stop a process: its stop signal, the grace period, then SIGKILL')
      .argument('<name>', 'process name (or its process file)'),
  ).action(processAction('stop'));
  onServer(
    processes
      .command('status')
      .description('a process (name, status, pid, restarts, readiness), or every process')
      .argument('[name]', 'process name (or its process file)'),
  ).action(processAction('status'));
  onServer(
    processes
      .command('logs')
      .description("a process's recent output")
      .argument('<name>', 'process name (or its process file)'),
  )
    .option('-f, --follow', 'keep printing new lines (until Ctrl-C)')
    .option('-n, --lines <n>', 'how many recent lines (default 500)', int)
    .action(processAction('logs'));

  cli
    .command('server')
    .description('serve the Automation API, the scheduler and processes (stop with SIGTERM or Ctrl-C)')
    .option('--config <file>', 'a YAML file of settings (docs/deploy.md)')
    .option('--listen <host:port>', 'where to listen (default 127.0.0.1:8080; RIVET_LISTEN)')
    .option('--data <dir>', 'the store, artifacts and uploads (default .rivet; RIVET_DATA)')
    .option('--workflows <dir>', 'a folder of workflow and process files, watched for changes (RIVET_WORKFLOWS)')
    .option('--vars-file <file>', 'deployment variables (default <data>/vars.yaml; RIVET_VARS_FILE)')
    .option('--secrets-file <file>', 'secrets (default <data>/secrets.yaml; RIVET_SECRETS_FILE)')
    .option('--plugin <module>', 'load task kinds from a plugin module (repeatable)', collect)
    .action(async (opts: Record<string, unknown>) => {
      const { serverCommand } = await import('./server-command.ts');
      code = await serverCommand(opts as never, io);
    });

  try {
    await cli.parseAsync([...argv], { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and version end with code 0; everything else commander rejects is a usage error.
      return err.exitCode === 0 ? EXIT.ok : EXIT.invalid;
    }
    if (err instanceof RivetError) {
      io.stderr.write(`error ${err.code} ${err.message}\n${err.hint ? `  hint: ${err.hint}\n` : ''}`);
      return EXIT.invalid;
    }
    throw err;
  }
  if (argv.length === 0) {
    cli.outputHelp();
    return EXIT.invalid;
  }
  return code;
}
