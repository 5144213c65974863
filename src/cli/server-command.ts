/** `rivet server`: resolves the configuration, starts the server, and stops it on SIGTERM or SIGINT. */
import { resolveServerConfig } from '../server/config.ts';
import type { Io } from './output.ts';

export interface ServerCommandOptions {
  readonly config?: string;
  readonly listen?: string;
  readonly data?: string;
  readonly workflows?: string;
  readonly plugin?: readonly string[];
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
    },
  });
  const { startServer } = await import('../server/server.ts');
  const server = await startServer(config, { announce: (t) => io.stderr.write(t) });
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
