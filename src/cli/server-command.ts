/** `rivet server`: resolves the configuration, starts the server, and stops it on SIGTERM or SIGINT. */
import { resolveServerConfig } from '../server/config.ts';
import type { Io } from './output.ts';

export interface ServerCommandOptions {
  readonly config?: string;
  readonly listen?: string;
  readonly data?: string;
  readonly workflows?: string;
  readonly plugin?: readonly string[];
  readonly varsFile?: string;
  readonly secretsFile?: string;
}

export async function serverCommand(opts: ServerCommandOptions, io: Io): Promise<number> {
  const config = resolveServerConfig({
    ...(opts.config === undefined ? {} : { file: opts.config }),
    env: process.env,
    flags: {
      listen: opts.listen,
      data: opts.data,
      workflows: opts.workflows,
      ...(opts.plugin === undefined ? {} : { plugins: [...opts.plugin] }),
      vars_file: opts.varsFile,
      secrets_file: opts.secretsFile,
    },
  });
  const { startServer } = await import('../server/server.ts');
  // RIVET_TEST_CLOCK (test-only, src/server/test-clock.ts): a scaled clock for the restart tests.
  const { testClockFromEnv } = await import('../server/test-clock.ts');
  const clock = testClockFromEnv(process.env);
  const server = await startServer(config, {
    announce: (t) => io.stderr.write(t),
    ...(clock === null ? {} : { clock }),
  });
  io.stderr.write(`rivet server listening on ${server.url} (API viewer: ${server.url}/docs)\n`);
  await new Promise<void>((resolve) => {
    let signals = 0;
    const onSignal = (): void => {
      signals++;
      if (signals === 1) void server.stop().then(resolve);
      else process.exit(130);
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
  return 0;
}
