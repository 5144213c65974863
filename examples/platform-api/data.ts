/**
 * Stories 3 and 4's services: an S3-like object store for the data lake (path-style
 * `PUT|GET /lake/<bucket>/<key>`, `GET /lake/<bucket>?prefix=` lists keys), a warehouse that
 * loads a partition from the lake and says how many rows it loaded, Koji builds and Bodhi
 * comments.
 */
import { createHash } from 'node:crypto';
import { counter, fields, json, problem, type Route, route } from './router.ts';

/** Data rows of a CSV object: its lines but the header, ignoring blank ones. */
export const csvRows = (text: string): number =>
  Math.max(0, text.split('\n').filter((l) => l.trim() !== '').length - 1);

export function dataRoutes(): Route[] {
  const lake = new Map<string, string>(); // "<bucket>/<key>" → content
  const partitions = new Map<string, number>();
  const comments: { id: string; update: string; text: string; karma: number }[] = [];
  const nextComment = counter('cmt');
  const under = (bucket: string, prefix: string): string[] =>
    [...lake.keys()].filter((k) => k.startsWith(`${bucket}/${prefix}`)).sort();

  return [
    route(
      'PUT',
      '/lake/:bucket/*key',
      (req) => {
        const content = typeof req.body === 'string' ? req.body : JSON.stringify(req.body);
        lake.set(`${req.params.bucket}/${req.params.key}`, content);
        return json(200, { bucket: req.params.bucket, key: req.params.key, bytes: Buffer.byteLength(content) });
      },
      false,
    ),

    route(
      'GET',
      '/lake/:bucket/*key',
      (req) => {
        const content = lake.get(`${req.params.bucket}/${req.params.key}`);
        return content === undefined
          ? problem(404, `no object s3://${req.params.bucket}/${req.params.key}`)
          : { status: 200, text: content, headers: { 'content-type': 'text/csv' } };
      },
      false,
    ),

    route(
      'GET',
      '/lake/:bucket',
      (req) => {
        const bucket = req.params.bucket!;
        const keys = under(bucket, req.query.get('prefix') ?? '').map((k) => k.slice(bucket.length + 1));
        return json(200, { bucket, keys });
      },
      false,
    ),

    route('POST', '/warehouse/tables/:table/partitions', (req) => {
      const p = fields(req.body);
      const source = /^s3:\/\/([^/]+)\/(.*)$/.exec(String(p?.source ?? ''));
      if (typeof p?.partition !== 'string' || source === null)
        return problem(400, 'partition and source (s3://bucket/prefix/) are required');
      const objects = under(source[1]!, source[2]!);
      if (objects.length === 0) return problem(422, `no data under ${String(p.source)}`);
      const rows = objects.reduce((n, k) => n + csvRows(lake.get(k)!), 0);
      const id = `${req.params.table}/${p.partition}`;
      const existed = partitions.has(id);
      partitions.set(id, rows);
      const body = { table: req.params.table, partition: p.partition, mode: p.mode ?? 'append', rows_loaded: rows };
      return json(existed ? 200 : 201, body);
    }),

    route(
      'GET',
      '/koji/builds/:nvr',
      (req) => {
        const nvr = req.params.nvr!;
        // name-version-release, as Koji names builds.
        if (!/^.+-[^-]+-[^-]+$/.test(nvr)) return problem(404, `no build ${nvr}`);
        const n = createHash('sha256').update(nvr).digest().readUInt32BE(0);
        return json(200, {
          nvr,
          build_id: 2_000_000 + (n % 900_000),
          task_id: 120_000_000 + (n % 9_000_000),
          state: 'COMPLETE',
        });
      },
      false,
    ),

    route('POST', '/bodhi/comments', (req) => {
      const c = fields(req.body);
      if (typeof c?.update !== 'string' || typeof c.text !== 'string')
        return problem(400, 'update and text are required');
      const comment = {
        id: nextComment(),
        update: c.update,
        text: c.text,
        karma: typeof c.karma === 'number' ? c.karma : 0,
      };
      comments.push(comment);
      return json(201, { comment });
    }),

    route('GET', '/bodhi/comments', (req) => {
      const update = req.query.get('update');
      return json(200, { comments: comments.filter((c) => update === null || c.update === update) }, undefined);
    }),
  ];
}
