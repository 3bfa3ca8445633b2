#!/usr/bin/env node
// Writes N customers as Segment JSON lines on stdout, for the segment
// backfill benchmark (bench/run-segments.sh): each customer is one identify
// (userId, e-mail, plan, country, age) and 0 to 3 "Order Completed" tracks
// (order_id, revenue) over the 90 days before 2024-04-01. Deterministic:
// the same N gives the same bytes.
//   node bench/profiles-jsonl.mjs 1000000 > customers.jsonl

const n = Number(process.argv[2] || 1000000);
if (!Number.isInteger(n) || n < 1) {
  process.stderr.write('usage: profiles-jsonl.mjs N (a whole number of customers)\n');
  process.exit(2);
}
const PLANS = ['free', 'free', 'free', 'basic', 'basic', 'pro', 'pro', 'enterprise'];
const COUNTRIES = ['GB', 'GB', 'US', 'US', 'US', 'DE', 'FR', 'IE'];
const END = Date.parse('2024-04-01T00:00:00Z');
const DAY = 86400000;
let seed = 12345;
const rand = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);

const out = [];
const flush = () => {
  process.stdout.write(out.join(''));
  out.length = 0;
};
for (let i = 1; i <= n; i++) {
  const t = END - Math.floor(rand() * 90 * DAY);
  out.push(JSON.stringify({
    type: 'identify', userId: `c${i}`, messageId: `c${i}-id`, timestamp: new Date(t).toISOString(),
    traits: { email: `c${i}@example.com`, plan: PLANS[Math.floor(rand() * PLANS.length)],
      country: COUNTRIES[Math.floor(rand() * COUNTRIES.length)], age: 18 + Math.floor(rand() * 60) },
  }) + '\n');
  const orders = Math.floor(rand() * 4);
  for (let j = 0; j < orders; j++) {
    const ot = END - Math.floor(rand() * 90 * DAY);
    out.push(JSON.stringify({
      type: 'track', userId: `c${i}`, event: 'Order Completed', messageId: `c${i}-o${j}`,
      timestamp: new Date(ot).toISOString(),
      properties: { order_id: `c${i}-o${j}`, revenue: Math.round(rand() * 20000) / 100 },
    }) + '\n');
  }
  if (out.length >= 4096) flush();
}
flush();
