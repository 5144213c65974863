/**
 * Prometheus metrics of the server: runs and tasks by workflow and kind, task durations, work
 * waiting for capacity, tasks running against capacity, HTTP requests, and Node's own (event-loop
 * lag among them) from prom-client's default collectors.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Engine } from '../engine/engine.ts';
import type { EngineEvent } from '../engine/types.ts';

export class Metrics {
  readonly registry = new Registry();
  readonly #runsStarted: Counter<'workflow'>;
  readonly #runsFinished: Counter<'workflow' | 'state'>;
  readonly #tasksStarted: Counter<'workflow' | 'kind'>;
  readonly #tasksFinished: Counter<'workflow' | 'kind' | 'state'>;
  readonly #taskSeconds: Histogram<'workflow' | 'kind'>;
  readonly http: Histogram<'method' | 'route' | 'status'>;
  readonly #started = new Map<string, number>();
  readonly #off: () => void;

  constructor(engine: Engine) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: 'rivet_' });
    this.#runsStarted = new Counter({
      name: 'rivet_runs_started_total',
      help: 'Runs started, by workflow.',
      labelNames: ['workflow'],
      registers,
    });
    this.#runsFinished = new Counter({
      name: 'rivet_runs_finished_total',
      help: 'Runs that ended, by workflow and final state (succeeded, failed, cancelled).',
      labelNames: ['workflow', 'state'],
      registers,
    });
    this.#tasksStarted = new Counter({
      name: 'rivet_tasks_started_total',
      help: 'Task attempts started, by workflow and kind.',
      labelNames: ['workflow', 'kind'],
      registers,
    });
    this.#tasksFinished = new Counter({
      name: 'rivet_tasks_finished_total',
      help: 'Task attempts that ended, by workflow, kind and state (succeeded, failed, cancelled).',
      labelNames: ['workflow', 'kind', 'state'],
      registers,
    });
    this.#taskSeconds = new Histogram({
      name: 'rivet_task_duration_seconds',
      help: 'Duration of task attempts, by workflow and kind.',
      labelNames: ['workflow', 'kind'],
      buckets: [0.001, 0.005, 0.025, 0.1, 0.5, 1, 2.5, 10, 30, 120, 600],
      registers,
    });
    this.http = new Histogram({
      name: 'rivet_http_request_duration_seconds',
      help: 'API requests, by method, route and status.',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.0005, 0.001, 0.005, 0.025, 0.1, 0.5, 2.5],
      registers,
    });
    new Gauge({
      name: 'rivet_queue_depth',
      help: 'Ready tasks waiting for capacity, and runs waiting for a concurrency slot.',
      registers,
      collect() {
        this.set(engine.queueDepth());
      },
    });
    new Gauge({
      name: 'rivet_tasks_running',
      help: 'Tasks running now (waiting approvals and sleeps excluded).',
      registers,
      collect() {
        this.set(engine.busy);
      },
    });
    new Gauge({
      name: 'rivet_task_capacity',
      help: 'Most tasks the engine runs at once.',
      registers,
      collect() {
        this.set(engine.capacity);
      },
    });
    new Gauge({
      name: 'rivet_runs_active',
      help: 'Runs this server executes now.',
      registers,
      collect() {
        this.set(engine.active.size);
      },
    });
    this.#off = engine.on({ event: (e) => this.#event(engine, e) });
  }

  #event(engine: Engine, e: EngineEvent): void {
    const run = engine.active.get(e.runId);
    const workflow = run?.source.workflow.name ?? (e.data?.workflow as string | undefined) ?? 'unknown';
    switch (e.type) {
      case 'run.created':
        this.#runsStarted.inc({ workflow });
        return;
      case 'run.succeeded':
      case 'run.failed':
      case 'run.cancelled':
        this.#runsFinished.inc({ workflow, state: e.type.slice(4) });
        return;
    }
    if (e.task === null) return;
    const kind = run?.source.workflow.task(e.task)?.kind ?? 'unknown';
    const key = `${e.runId}/${e.task}/${e.item ?? ''}`;
    if (e.type === 'task.started') {
      this.#tasksStarted.inc({ workflow, kind });
      this.#started.set(key, e.at);
    } else if (e.type === 'task.succeeded' || e.type === 'task.failed' || e.type === 'task.cancelled') {
      const started = this.#started.get(key);
      if (started === undefined) return;
      this.#started.delete(key);
      this.#tasksFinished.inc({ workflow, kind, state: e.type.slice(5) });
      this.#taskSeconds.observe({ workflow, kind }, Math.max(0, e.at - started) / 1000);
    }
  }

  close(): void {
    this.#off();
  }
}
