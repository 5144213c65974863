/**
 * Small valid workflows the corpus mutates. They live here, not in examples/, so the corpus does
 * not depend on files another change may rename; between them they use every task kind, both
 * block and flow style, block scalars, escapes, anchors, multi-byte UTF-8 and a process file.
 */

import { readFileSync } from 'node:fs';

export interface Seed {
  readonly name: string;
  readonly text: string;
}

/** DESIGN.md section 3, as written there. */
const provisionBucket = readFileSync(new URL('../fixtures/design-example.yaml', import.meta.url), 'utf8');

/** A scheduled pipeline: for_each, cache, assert, block scalars, sleep, a child workflow. */
const etlNightly = `name: etl_nightly
description: >
  Extract the tables of one day, transform them,
  then load the warehouse.
permissions:
  view: [data, analysts]
  run: [data]
inputs:
  date:
    type: string
    required: true
    pattern: "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
  tables:
    type: list
    default: [orders, customers, payments]
  min_rows: { type: integer, default: 1, minimum: 0 }
  sample_rate: { type: number, default: 0.1, minimum: 0, maximum: 1 }
  dry_run: { type: boolean, default: false }
concurrency: { key: "etl-\${{ inputs.date }}", limit: 1 }
timeout: 6h
tasks:
  extract:
    description: Dump one table.
    for_each: \${{ inputs.tables }}
    concurrency: 2
    cache: { key: "extract-\${{ item }}-\${{ inputs.date }}", ttl: 7d }
    shell:
      run: |
        set -euo pipefail
        ./etl/extract.py --table "$TABLE" --day "$DAY"
        echo "rows=42" >> "$RIVET_OUTPUT"
      env:
        TABLE: \${{ item }}
        DAY: \${{ inputs.date }}
        SOURCE: \${{ secrets.SOURCE_DB_URL }}
    assert:
      - \${{ int(result.rows) >= inputs.min_rows }}
    retry: { attempts: 3, backoff: exponential, delay: 30s, max_delay: 5m, on: [exit_code, timeout] }
    timeout: 45m
  settle:
    needs: [extract]
    sleep: { duration: 1m30s }
  transform:
    needs: [settle]
    if: \${{ !inputs.dry_run }}
    shell:
      command: [dbt, run, --select, daily_facts, --vars, "{day: \${{ inputs.date }}}"]
      expect: { exit_code: [0, 3] }
    outputs:
      rows: \${{ result.rows }}
  load:
    needs: [transform]
    workflow:
      file: ./load_warehouse.yaml
      inputs: { day: "\${{ inputs.date }}", rows: "\${{ tasks.transform.outputs.rows }}" }
  report:
    needs: [load, transform]
    when: always
    http:
      method: POST
      url: \${{ vars.chat_webhook }}
      headers: { Content-Type: application/json, X-Run: "\${{ run.id }}" }
      json:
        text: "ETL \${{ inputs.date }}: \${{ tasks.load.status }}"
        rows: \${{ tasks.transform.outputs.rows }}
      timeout: 10s
on:
  schedule:
    - cron: "30 2 * * *"
      timezone: Europe/Paris
      catch_up: latest
      inputs: { date: "\${{ event.scheduled_at }}" }
`;

/** A long-running process instead of tasks. */
const devServer = `name: dev_server
description: The API in watch mode, restarted when it dies.
inputs:
  port: { type: integer, default: 8080 }
process:
  command: [npm, run, dev, --, --port, "\${{ inputs.port }}"]
  env: { NODE_ENV: development, PORT: "\${{ inputs.port }}" }
  cwd: ./api
  ready:
    http: http://127.0.0.1:8080/healthz
    timeout: 30s
  restart: { policy: on_failure, max_restarts: 5, delay: 2s }
  stop: { signal: SIGTERM, grace: 10s }
`;

/** Flow style throughout: approval with a form, HTTP with auth and polling, noop joins. */
const flowStyle = `{name: release.flow-1, description: "Flow-style release", inputs: {version: {type: string, required: true}, reason: {type: string, default: ""}}, tasks: {
  gate: {approval: {message: "Ship \${{ inputs.version }}?", approvers: [release, sre], timeout: 4h, default: reject, fields: {note: {type: string, required: false}, risk: {type: string, enum: [low, high], default: low}}}},
  deploy: {needs: gate, http: {method: PUT, url: "https://deploy.example/api/\${{ inputs.version }}", auth: {bearer: "\${{ secrets.DEPLOY_TOKEN }}"}, json: {version: "\${{ inputs.version }}", approver: "\${{ tasks.gate.outputs.approver }}"}, expect: {status: 2xx}, poll: {until: "\${{ response.body.state == 'done' }}", interval: 5s, timeout: 10m}}},
  join: {needs: [deploy], noop: },
  done: {needs: [join], when: always, noop: {}}},
  outputs: {decision: "\${{ tasks.gate.outputs.decision }}", status: "\${{ tasks.deploy.outputs.status }}"},
  on: {amqp: {exchange: amq.topic, topic: "org.example.release.#", ack: on_complete, inputs: {version: "\${{ event.body.version }}"}}}}
`;

/** Multi-byte text, escapes, quoting styles, comments and a small legitimate anchor. */
const unicodeText = `# Équipe données — 数据团队 ✓
name: notify_team
description: "Prévenir l'équipe \\u2014 通知 \\U0001F680, tab:\\t end"
catalog:
  title: 'Envoyer un message — ''Team'' 🚀'
  category: Chat
inputs:
  channel: { type: string, default: "#général", enum: ["#général", "#ops"] }
  message:
    type: string
    required: true
    title: Message à envoyer
tasks:
  post:
    http:
      method: POST
      url: https://chat.example/api/post
      headers: &headers
        Content-Type: application/json
        X-Equipe: données
      json:
        channel: \${{ inputs.channel }}
        text: "\${{ inputs.message }} — envoyé par Rivet ✓"
        blocks: [ { type: section, text: "Ünïcödé ✓ 你好" } ]
      expect: { status: [200, 201] }
  echo:
    needs: post
    shell:
      command: [printf, '%s\\n', "\${{ tasks.post.outputs.status }}"]
      env: { LANG: C.UTF-8, GREETING: "¡hola!" }
  mirror:
    needs: [post]
    http:
      url: https://mirror.example/api/post
      headers: *headers
      body: |-
        Première ligne
        deuxième ligne — 2
`;

export const SEEDS: readonly Seed[] = [
  { name: 'provision_bucket', text: provisionBucket },
  { name: 'etl_nightly', text: etlNightly },
  { name: 'dev_server', text: devServer },
  { name: 'flow_style', text: flowStyle },
  { name: 'unicode_text', text: unicodeText },
];
