#!/usr/bin/env node
// The `dbt` stand-in of examples/bin/dbt: builds the daily_facts model of one day from the raw
// extracts in the lake (orders joined with their payments) and writes it back to the lake.
//   dbt run --select daily_facts --vars "{day: 2025-11-21}"      (env: LAKE, AWS_ENDPOINT_URL)
import { getObject, parseCsv, putObject, toCsv } from './lake.mjs';

const args = process.argv.slice(2);
const model = args[args.indexOf('--select') + 1];
const day = /day:\s*([0-9-]+)/.exec(args[args.indexOf('--vars') + 1] ?? '')?.[1];
if (args[0] !== 'run' || model !== 'daily_facts' || day === undefined || !process.env.LAKE) {
  console.error('usage: dbt run --select daily_facts --vars "{day: YYYY-MM-DD}" (with LAKE set)');
  process.exit(2);
}
const lake = `s3://${process.env.LAKE}`;
const started = Date.now();
const raw = async (table) => parseCsv(await getObject(`${lake}/raw/${table}/day=${day}/${table}.csv`));
const [orders, payments, customers] = await Promise.all([raw('orders'), raw('payments'), raw('customers')]);
const paid = new Map(payments.map((p) => [p.order_id, p]));
const country = new Map(customers.map((c) => [c.customer_id, c.country]));
const facts = orders
  .filter((o) => paid.has(o.order_id))
  .map((o) => ({
    order_id: o.order_id,
    customer_id: o.customer_id,
    country: country.get(o.customer_id) ?? 'unknown',
    amount_eur: o.amount_eur,
    payment_method: paid.get(o.order_id).method,
  }));
const names = ['order_id', 'customer_id', 'country', 'amount_eur', 'payment_method'];
await putObject(`${lake}/facts/day=${day}/daily_facts.csv`, toCsv(facts, names));
console.log(`Running with dbt=1.8.0 (examples stand-in)`);
console.log(`1 of 1 START sql table model analytics.daily_facts ........ [RUN]`);
console.log(
  `1 of 1 OK created sql table model analytics.daily_facts ... [SELECT ${facts.length} in ${((Date.now() - started) / 1000).toFixed(2)}s]`,
);
console.log('Completed successfully');
