/**
 * Small helpers shared by the server API tests (api, runs, limits, schedules): waiting for a
 * run's state through the API, and requests that `fetch` would rewrite (raw `..` paths).
 */
import { request } from 'node:http';
import { type Api, until } from '../helpers/server.ts';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- JSON answers, checked by assertions
export type Json = any;

export const FINISHED = new Set(['succeeded', 'failed', 'cancelled']);

/** Waits (bounded) until the run is in one of `states` (default: Json final state); returns it. */
export async function waitRun(
  api: Api,
  id: string,
  states: ReadonlySet<string> | readonly string[] = FINISHED,
  timeoutMs = 20_000,
): Promise<Json> {
  const wanted = new Set(states);
  return until(
    async () => {
      const r = await api('GET', `/v1/runs/${id}`);
      if (r.status !== 200) throw new Error(`GET /v1/runs/${id}: ${r.status} ${r.text}`);
      return wanted.has(r.body.state) ? r.body : undefined;
    },
    `run ${id} to be ${[...wanted].join('|')}`,
    timeoutMs,
  );
}

/** Starts a run and fails the test unless the server answers 201. */
export async function startRun(api: Api, workflow: string, inputs?: Record<string, unknown>): Promise<string> {
  const r = await api('POST', '/v1/runs', { body: { workflow, ...(inputs === undefined ? {} : { inputs }) } });
  if (r.status !== 201) throw new Error(`cannot start ${workflow}: ${r.status} ${r.text}`);
  return r.body.id as string;
}

/** Waits until an approval of `runId` is pending (its task is then waiting on a decision). */
export async function waitApproval(api: Api, runId: string, task: string): Promise<Json> {
  return until(async () => {
    const r = await api('GET', '/v1/approvals');
    return (r.body.items as Json[]).find((a) => a.runId === runId && a.task === task);
  }, `approval ${task} of run ${runId}`);
}

/**
 * A GET whose path is sent byte for byte (`fetch` resolves `..` and `%2e%2e` segments before
 * sending, so it cannot test what the server does with them).
 */
export function rawGet(url: string, path: string, token: string): Promise<{ status: number; text: string }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request(
      { host: hostname, port, path, method: 'GET', headers: { authorization: `Bearer ${token}` } },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}
