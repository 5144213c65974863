#!/usr/bin/env node
// Dumps one source table for one day into a CSV file (a stand-in for the real extractor: the
// rows are made up, but the same table and day always give the same rows).
//   ./etl/extract.mjs --table orders --until 2025-11-21 --source "$SOURCE_DB_URL" --out FILE
import { writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { parseArgs } from 'node:util';
import { toCsv } from './lake.mjs';

const { values } = parseArgs({
  options: {
    table: { type: 'string' },
    until: { type: 'string' },
    source: { type: 'string' },
    out: { type: 'string' },
  },
});
const { table, until, source, out } = values;
if (!table || !until || !source || !out) {
  console.error('usage: extract.mjs --table NAME --until YYYY-MM-DD --source URL --out FILE');
  process.exit(2);
}
const day = new Date(Date.parse(`${until}T00:00:00Z`) - 86_400_000).toISOString().slice(0, 10);
/** A number in [0, n) that depends only on the parts. */
const pick = (n, ...parts) => createHash('sha256').update(parts.join('/')).digest().readUInt32BE(0) % n;

const orders = 100 + pick(50, 'orders', day);
const builders = {
  orders: [
    ['order_id', 'customer_id', 'amount_eur', 'created_at'],
    (i) => ({
      order_id: `o-${day}-${i}`,
      customer_id: `c-${pick(40, 'customer', day, i)}`,
      amount_eur: (5 + pick(20000, 'amount', day, i) / 100).toFixed(2),
      created_at: `${day}T${String(pick(24, 'hour', day, i)).padStart(2, '0')}:00:00Z`,
    }),
    orders,
  ],
  customers: [
    ['customer_id', 'country'],
    (i) => ({ customer_id: `c-${i}`, country: ['NL', 'FR', 'DE', 'ES'][pick(4, 'country', i)] }),
    40,
  ],
  payments: [
    ['payment_id', 'order_id', 'amount_eur', 'method'],
    (i) => ({
      payment_id: `p-${day}-${i}`,
      order_id: `o-${day}-${i}`,
      amount_eur: (5 + pick(20000, 'amount', day, i) / 100).toFixed(2),
      method: ['card', 'ideal', 'sepa'][pick(3, 'method', day, i)],
    }),
    orders - 2, // two orders of the day are not paid yet
  ],
};
const spec = builders[table];
if (spec === undefined) {
  console.error(`extract.mjs: unknown table ${table} (orders, customers, payments)`);
  process.exit(2);
}
const [names, row, count] = spec;
writeFileSync(
  out,
  toCsv(
    Array.from({ length: count }, (_, i) => row(i)),
    names,
  ),
);
// The source URL is a secret: Rivet shows it as *** in the task log.
console.log(`extracted ${count} rows of ${table} for ${day} from ${source}`);
