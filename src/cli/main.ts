/** The `rivet` command line: parses arguments and hands over to one command module. */
import { Command, CommanderError, Option } from 'commander';
import pkg from '../../package.json' with { type: 'json' };
import { RivetError } from '../errors.ts';
import type { Io } from './output.ts';

/** Exit codes: 0 ok, 1 failed, 2 invalid input (bad file or command line), 130 cancelled. */
export const EXIT = { ok: 0, failed: 1, invalid: 2, cancelled: 130 } as const;

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
    .action(async (files: string[], opts: { json?: boolean }) => {
      const { validateCommand } = await import('./validate.ts');
      code = await validateCommand(files, { json: opts.json === true }, io);
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
