// The checkout service's local dev server, as examples/dev_server.yaml starts it (`npm run dev`):
// it answers /healthz once it is up, logs each request, and stops cleanly on SIGINT or SIGTERM.
import { createServer } from 'node:http';

const port = Number(process.env.PORT ?? 8080);
const level = process.env.LOG_LEVEL ?? 'info';
const database = (process.env.DATABASE_URL ?? 'postgres://localhost:5432/checkout_dev').replace(/:[^:@/]*@/, ':***@');

const server = createServer((req, res) => {
  if (level === 'debug') console.log(`${req.method} ${req.url}`);
  if (req.url === '/healthz') {
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
    return;
  }
  res.writeHead(200, { 'content-type': 'text/plain' }).end('checkout (dev)\n');
});
server.listen(port, '127.0.0.1', () => {
  // PORT=0 picks a free port: the line says which.
  console.log(`checkout dev server on http://127.0.0.1:${server.address().port} (database ${database})`);
});
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    console.log(`${signal}: stopping`);
    server.close(() => process.exit(0));
  });
}
