/** Every route module, registered in one place. */
import type { FastifyInstance } from 'fastify';
import type { ServerContext } from '../context.ts';
import { registerApprovalRoutes } from './approvals.ts';
import { registerAuditRoutes } from './audit.ts';
import { registerProcessRoutes } from './processes.ts';
import { registerRunRoutes } from './runs.ts';
import { registerScheduleRoutes } from './schedules.ts';
import { registerServerRoutes } from './server.ts';
import { registerUserRoutes } from './users.ts';
import { registerWorkflowRoutes } from './workflows.ts';

export function registerRoutes(app: FastifyInstance, ctx: ServerContext): void {
  registerServerRoutes(app, ctx);
  registerWorkflowRoutes(app, ctx);
  registerRunRoutes(app, ctx);
  registerApprovalRoutes(app, ctx);
  registerScheduleRoutes(app, ctx);
  registerProcessRoutes(app, ctx);
  registerUserRoutes(app, ctx);
  registerAuditRoutes(app, ctx);
}
