import { z } from 'zod';
import { duration, scalar, text } from '../common.ts';
import { checkHeaders, checkUrl } from './checks.ts';
import type { KindDefinition } from './types.ts';

const status = z.union([z.int().min(100).max(599), z.string().regex(/^[1-5]xx$/)]);

export const httpSpec = z.strictObject({
  method: z
    .enum(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'])
    .default('GET')
    .meta({ description: 'Non-GET requests carry an Idempotency-Key header.' }),
  url: text.meta({ description: 'Absolute http(s) URL.' }),
  query: z.record(z.string(), scalar).optional().meta({ description: 'Query parameters, URL-encoded.' }),
  headers: z.record(z.string(), z.string()).optional().meta({ description: 'Request headers.' }),
  json: z.unknown().optional().meta({ description: 'A JSON body; sets Content-Type: application/json.' }),
  form: z.record(z.string(), scalar).optional().meta({ description: 'A URL-encoded form body.' }),
  body: z.string().optional().meta({ description: 'A raw text body.' }),
  auth: z
    .strictObject({
      basic: z.strictObject({ username: z.string(), password: z.string() }).optional(),
      bearer: z.string().optional(),
    })
    .optional(),
  timeout: duration.optional().meta({ description: 'Time limit of the request.' }),
  tls: z.strictObject({ insecure_skip_verify: z.boolean().optional(), ca_file: z.string().optional() }).optional(),
  expect: z
    .strictObject({
      status: z
        .union([status, z.array(status).min(1)])
        .meta({ description: 'Accepted statuses: 200, [201, 409] or "2xx".' }),
    })
    .optional(),
  follow_redirects: z.boolean().optional().meta({ description: 'Follow 3xx redirects (default true).' }),
  max_redirects: z.int().min(0).max(20).optional(),
  max_response_bytes: z.int().min(1).optional().meta({ description: 'Larger responses fail the task.' }),
  poll: z
    .strictObject({
      until: text.meta({ description: 'A ${{ }} condition on `response`; polling stops when it holds.' }),
      url: text.optional().meta({ description: 'What to poll; default: the Location of a 202, else the same URL.' }),
      interval: duration.optional(),
      timeout: duration.optional(),
    })
    .optional(),
});

export const http: KindDefinition = {
  name: 'http',
  description: 'Calls an HTTP API.',
  spec: httpSpec,
  outputs: ['status', 'headers', 'body'],
  response: true,
  responseConditions: [['poll', 'until']],
  exclusive: { fields: ['json', 'form', 'body'], optional: true },
  check: (spec) => [
    ...checkUrl(spec.url, ['url']),
    ...(typeof spec.poll === 'object' && spec.poll !== null
      ? checkUrl((spec.poll as { url?: unknown }).url, ['poll', 'url'], { relative: true })
      : []),
    ...checkHeaders(spec.headers, ['headers']),
  ],
};
