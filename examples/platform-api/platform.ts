/**
 * Story 1's services: the platform directory (teams), the bucket API, and a Jira-like issue
 * tracker (transitions and comments), as examples/provision_bucket.yaml calls them.
 */
import { counter, fields, json, problem, type Route, route } from './router.ts';

interface Bucket {
  id: string;
  name: string;
  team_id: string;
  region: string;
  public: boolean;
  storage_class: string;
  state: 'provisioning' | 'ready' | 'quota_review';
  quota_gb: number | null;
  retention_days: number | null;
  labels: Record<string, unknown>;
  links: { console: string | null };
}

const TEAMS = [
  { id: 'team-0101', name: 'payments', cost_center: 'CC-4100' },
  { id: 'team-0102', name: 'checkout', cost_center: 'CC-4200' },
  { id: 'team-0103', name: 'search', cost_center: 'CC-4300' },
  { id: 'team-0104', name: 'data', cost_center: 'CC-5100' },
  { id: 'team-0105', name: 'platform', cost_center: 'CC-9000' },
];

/** Above this quota a bucket waits for a finance review instead of being ready. */
export const QUOTA_REVIEW_ABOVE_GB = 1000;

/** Jira transition ids of the example workflow (see examples/config/vars.yml). */
const TRANSITIONS: Record<string, string> = { '11': 'To Do', '21': 'In Progress', '31': 'Resolved', '41': 'Declined' };

export function platformRoutes(): Route[] {
  const buckets = new Map<string, Bucket>();
  const nextBucket = counter('bkt');
  const issues = new Map<string, { key: string; status: string; comments: string[] }>();
  const issue = (key: string) => {
    let i = issues.get(key);
    if (i === undefined) issues.set(key, (i = { key, status: 'To Do', comments: [] }));
    return i;
  };

  return [
    route('GET', '/platform/teams', (req) => {
      const name = req.query.get('name');
      return json(200, { items: TEAMS.filter((t) => name === null || t.name === name) });
    }),

    route('POST', '/platform/buckets', (req) => {
      const b = fields(req.body);
      if (typeof b?.name !== 'string' || !/^[a-z0-9-]{3,63}$/.test(b.name))
        return problem(400, 'name: 3 to 63 characters a-z, 0-9 and -');
      if (!TEAMS.some((t) => t.id === b.team_id)) return problem(422, `team_id: no team ${String(b.team_id)}`);
      const existing = [...buckets.values()].find((x) => x.name === b.name);
      if (existing !== undefined)
        return json(409, { error: `bucket ${existing.name} already exists`, id: existing.id });
      const bucket: Bucket = {
        id: nextBucket(),
        name: b.name,
        team_id: String(b.team_id),
        region: typeof b.region === 'string' ? b.region : 'eu-west-1',
        public: b.public === true,
        storage_class: typeof b.storage_class === 'string' ? b.storage_class : 'standard',
        state: 'provisioning',
        quota_gb: null,
        retention_days: null,
        labels: {},
        links: { console: null },
      };
      buckets.set(bucket.id, bucket);
      return json(201, bucket, { location: `/platform/buckets/${bucket.id}` });
    }),

    route('GET', '/platform/buckets', (req) => {
      const name = req.query.get('name');
      const team = req.query.get('team_id');
      const items = [...buckets.values()].filter(
        (b) => (name === null || b.name === name) && (team === null || b.team_id === team),
      );
      return json(200, { items });
    }),

    route('GET', '/platform/buckets/:id', (req) => {
      const bucket = buckets.get(req.params.id!);
      return bucket === undefined ? problem(404, `no bucket ${req.params.id}`) : json(200, bucket);
    }),

    route('PATCH', '/platform/buckets/:id', (req) => {
      const bucket = buckets.get(req.params.id!);
      if (bucket === undefined) return problem(404, `no bucket ${req.params.id}`);
      const p = fields(req.body) ?? {};
      if (p.quota_gb !== undefined && !(Number.isInteger(p.quota_gb) && (p.quota_gb as number) > 0))
        return problem(400, 'quota_gb: a positive whole number');
      if (typeof p.quota_gb === 'number') bucket.quota_gb = p.quota_gb;
      if (typeof p.retention_days === 'number') bucket.retention_days = p.retention_days;
      if (fields(p.labels) !== undefined) bucket.labels = { ...bucket.labels, ...fields(p.labels) };
      bucket.state = (bucket.quota_gb ?? 0) > QUOTA_REVIEW_ABOVE_GB ? 'quota_review' : 'ready';
      bucket.links.console = `${req.base}/platform/console/buckets/${bucket.id}`;
      return json(200, bucket);
    }),

    route(
      'GET',
      '/platform/console/buckets/:id',
      (req) => {
        const b = buckets.get(req.params.id!);
        return b === undefined
          ? problem(404, `no bucket ${req.params.id}`)
          : { status: 200, text: `bucket ${b.name} (${b.id}): ${b.state}, ${b.quota_gb ?? '?'} GB in ${b.region}\n` };
      },
      false,
    ),

    route('POST', '/jira/rest/api/2/issue/:key/transitions', (req) => {
      const t = fields(fields(req.body)?.transition);
      const to = TRANSITIONS[String(t?.id)];
      if (to === undefined)
        return json(400, { errorMessages: [`transition ${JSON.stringify(t?.id)} is not valid for this issue`] });
      const i = issue(req.params.key!);
      i.status = to;
      const comments = fields(fields(req.body)?.update)?.comment;
      for (const c of Array.isArray(comments) ? comments : []) {
        const text = fields(fields(c)?.add)?.body;
        if (typeof text === 'string') i.comments.push(text);
      }
      return json(204);
    }),

    route('POST', '/jira/rest/api/2/issue/:key/comment', (req) => {
      const text = fields(req.body)?.body;
      if (typeof text !== 'string' || text === '') return json(400, { errorMessages: ['body is required'] });
      const i = issue(req.params.key!);
      i.comments.push(text);
      return json(201, { id: String(i.comments.length), body: text });
    }),

    route('GET', '/jira/rest/api/2/issue/:key', (req) => {
      const i = issue(req.params.key!);
      return json(200, { key: i.key, fields: { status: { name: i.status } }, comments: i.comments });
    }),
  ];
}
