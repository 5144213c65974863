/**
 * The server side of the API benchmarks (bench/api.ts), in its own process so that the clients'
 * work is not charged to it: `rivet` starts a real Rivet server (startServer) on a fresh data
 * folder with the workflows given, `bare` a Fastify app with `GET /hello` and `POST /hello` only.
 * Speaks to its parent over IPC: sends `{ url, token }` once listening, answers `cpu` with
 * process.cpuUsage(), and stops on `stop`.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify from 'fastify';
import { pino } from 'pino';
import { resolveServerConfig } from '../src/server/config.ts';
import { startServer } from '../src/server/server.ts';

export interface ServerSpec {
  readonly mode: 'rivet' | 'bare';
  /** Workflow files by name (rivet only). */
  readonly workflows?: Record<string, string>;
  /** Extra settings, as in the config file (rivet only). */
  readonly settings?: Record<string, unknown>;
}

export type ToChild = { readonly type: 'cpu' } | { readonly type: 'stop' };
export type FromChild =
  | { readonly type: 'ready'; readonly url: string; readonly token: string }
  | { readonly type: 'cpu'; readonly user: number; readonly system: number }
  | { readonly type: 'stopped' };

const send = (m: FromChild): void => void process.send!(m);

async function main(spec: ServerSpec): Promise<void> {
  let stop: () => Promise<void>;
  if (spec.mode === 'bare') {
    const app = Fastify({ logger: false });
    app.get('/hello', async () => ({ ok: true }));
    app.post('/hello', async (req) => ({ ok: true, got: (req.body as { name?: string }).name ?? null }));
    await app.listen({ host: '127.0.0.1', port: 0 });
    const address = app.server.address();
    const port = typeof address === 'object' && address !== null ? address.port : 0;
    stop = () => app.close();
    send({ type: 'ready', url: `http://127.0.0.1:${port}`, token: '' });
  } else {
    const dir = mkdtempSync(join(tmpdir(), 'rivet-bench-api-'));
    const workflows = join(dir, 'workflows');
    mkdirSync(workflows);
    for (const [file, text] of Object.entries(spec.workflows ?? {})) writeFileSync(join(workflows, file), text);
    const config = resolveServerConfig({
      env: {},
      flags: {
        listen: '127.0.0.1:0',
        data: join(dir, 'data'),
        workflows,
        log_level: 'silent',
        ...spec.settings,
      },
    });
    let announced = '';
    const server = await startServer(config, {
      env: { PATH: process.env.PATH ?? '' },
      announce: (t) => (announced += t),
      logger: pino({ level: 'silent' }),
    });
    const token = server.adminToken ?? /rvt_\S+/.exec(announced)?.[0] ?? '';
    stop = async () => {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    };
    send({ type: 'ready', url: server.url, token });
  }
  process.on('message', (m: ToChild) => {
    if (m.type === 'cpu') {
      const { user, system } = process.cpuUsage();
      send({ type: 'cpu', user, system });
    } else if (m.type === 'stop') {
      void stop().then(() => {
        send({ type: 'stopped' });
        process.disconnect();
      });
    }
  });
}

await main(JSON.parse(process.argv[2]!) as ServerSpec);
