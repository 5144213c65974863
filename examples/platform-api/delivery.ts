/**
 * Stories 2 and 5's services: the deployments API (202 + Location, then a state that moves on
 * with each poll), the deployed apps' health endpoints, canaries, the service mesh's routes, a
 * Prometheus-like query API with healthy golden signals, and a chat webhook that keeps messages.
 */
import { counter, fields, json, problem, type Route, route } from './router.ts';

/** How many polls of a deployment (or a canary) it takes to finish. */
export const POLLS_TO_FINISH = 2;

export interface GoldenSignals {
  p99_seconds: number;
  requests_per_second: number;
  error_ratio: number;
  cpu_ratio: number;
}

/** What the query API answers for every service, unless `POST /_control/golden-signals` says otherwise. */
export const HEALTHY: GoldenSignals = {
  p99_seconds: 0.182,
  requests_per_second: 42.5,
  error_ratio: 0.002,
  cpu_ratio: 0.41,
};

export function deliveryRoutes(): Route[] {
  const deployments = new Map<
    string,
    { id: string; service: string; environment: string; image: string; polls: number; state: string; url: string }
  >();
  const nextDeployment = counter('dep');
  const apps = new Map<string, { image: string }>();
  const canaries = new Map<
    string,
    { id: string; service: string; version: string; replicas: number; ready_replicas: number; state: string }
  >();
  const nextCanary = counter('can');
  const meshRoutes = new Map<string, unknown>();
  const signals = new Map<string, GoldenSignals>();
  const chat = new Map<string, { text: string; at: string }[]>();

  const canaryOf = (service: string, id: string) => {
    const c = canaries.get(id);
    return c !== undefined && c.service === service ? c : undefined;
  };

  return [
    route('POST', '/deploy/services/:service/deployments', (req) => {
      const d = fields(req.body);
      if (typeof d?.environment !== 'string' || typeof d.image !== 'string' || d.image === '')
        return problem(400, 'environment and image are required');
      const id = nextDeployment();
      const app = `${req.params.service}-${d.environment}`;
      const url = `${req.base}/apps/${app}`;
      deployments.set(id, {
        id,
        service: req.params.service!,
        environment: d.environment,
        image: d.image,
        polls: 0,
        state: 'queued',
        url,
      });
      return json(
        202,
        { id, state: 'queued' },
        { location: `/deploy/services/${req.params.service}/deployments/${id}` },
      );
    }),

    route('GET', '/deploy/services/:service/deployments/:id', (req) => {
      const d = deployments.get(req.params.id!);
      if (d === undefined || d.service !== req.params.service) return problem(404, `no deployment ${req.params.id}`);
      d.polls++;
      d.state = d.polls >= POLLS_TO_FINISH ? 'succeeded' : 'in_progress';
      if (d.state === 'succeeded') apps.set(d.url.slice(d.url.lastIndexOf('/') + 1), { image: d.image });
      const { polls: _polls, ...shown } = d;
      return json(200, shown);
    }),

    route(
      'GET',
      '/apps/:app/healthz',
      (req) => {
        const app = apps.get(req.params.app!);
        return app === undefined
          ? json(503, { status: 'not deployed' })
          : json(200, { status: 'ok', app: req.params.app, image: app.image });
      },
      false,
    ),

    route('POST', '/deploy/services/:service/canaries', (req) => {
      const c = fields(req.body);
      if (typeof c?.version !== 'string') return problem(400, 'version is required');
      const id = nextCanary();
      const replicas = Number.isInteger(c.replicas) ? (c.replicas as number) : 1;
      const canary = {
        id,
        service: req.params.service!,
        version: c.version,
        replicas,
        ready_replicas: 0,
        state: 'starting',
      };
      canaries.set(id, canary);
      return json(202, canary, { location: `/deploy/services/${req.params.service}/canaries/${id}` });
    }),

    route('GET', '/deploy/services/:service/canaries/:id', (req) => {
      const c = canaryOf(req.params.service!, req.params.id!);
      if (c === undefined) return problem(404, `no canary ${req.params.id}`);
      if (c.state === 'starting') {
        c.ready_replicas = Math.min(c.replicas, c.ready_replicas + Math.ceil(c.replicas / POLLS_TO_FINISH));
        if (c.ready_replicas === c.replicas) c.state = 'running';
      }
      return json(200, c);
    }),

    route('POST', '/deploy/services/:service/canaries/:id/promote', (req) => {
      const c = canaryOf(req.params.service!, req.params.id!);
      if (c === undefined) return problem(404, `no canary ${req.params.id}`);
      c.state = 'promoted';
      return json(200, c);
    }),

    route('DELETE', '/deploy/services/:service/canaries/:id', (req) => {
      const c = canaryOf(req.params.service!, req.params.id!);
      if (c === undefined) return problem(404, `no canary ${req.params.id}`);
      canaries.delete(c.id);
      return json(204);
    }),

    route('PATCH', '/mesh/routes/:service', (req) => {
      const w = fields(fields(req.body)?.weights);
      const stable = w?.stable;
      const canary = w?.canary;
      if (typeof stable !== 'number' || typeof canary !== 'number' || stable + canary !== 100)
        return problem(422, 'weights.stable and weights.canary must add up to 100');
      const updated = {
        service: req.params.service,
        weights: { stable, canary },
        updated_at: new Date().toISOString(),
      };
      meshRoutes.set(req.params.service!, updated);
      return json(200, updated);
    }),

    route(
      'GET',
      '/prometheus/api/v1/query',
      (req) => {
        const q = req.query.get('query');
        if (q === null || q.trim() === '')
          return json(400, { status: 'error', errorType: 'bad_data', error: 'query is required' });
        const service = /(?:service|container)="([^"]+)"/.exec(q)?.[1] ?? '';
        const s = signals.get(service) ?? HEALTHY;
        const value = q.includes('histogram_quantile')
          ? s.p99_seconds
          : q.includes('container_cpu_usage_seconds_total')
            ? s.cpu_ratio
            : q.includes('code=~"5..')
              ? s.error_ratio
              : s.requests_per_second;
        // Like Prometheus, a ratio with no 5xx series at all is an empty vector.
        const result =
          value === 0 && q.includes('code=~')
            ? []
            : [{ metric: { service }, value: [Date.now() / 1000, String(value)] }];
        return json(200, { status: 'success', data: { resultType: 'vector', result } });
      },
      false,
    ),

    route(
      'POST',
      '/_control/golden-signals',
      (req) => {
        const b = fields(req.body);
        if (typeof b?.service !== 'string') return problem(400, 'service is required');
        const { service, ...rest } = b;
        signals.set(service, { ...HEALTHY, ...(rest as Partial<GoldenSignals>) });
        return json(200, signals.get(service));
      },
      false,
    ),

    route(
      'POST',
      '/chat/hooks/:channel',
      (req) => {
        const text = fields(req.body)?.text;
        if (typeof text !== 'string' || text === '') return problem(400, 'text is required');
        const list = chat.get(req.params.channel!) ?? [];
        list.push({ text, at: new Date().toISOString() });
        chat.set(req.params.channel!, list);
        return json(200, { ok: true });
      },
      false,
    ),

    route('GET', '/chat/hooks/:channel', (req) => json(200, { messages: chat.get(req.params.channel!) ?? [] }), false),
  ];
}
