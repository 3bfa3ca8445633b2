#!/usr/bin/env node
// Writes N customers drawn from the BG/NBD story as Segment JSON lines on
// stdout, for the CLV refresh benchmark (bench/run-clv-refresh.sh): per
// customer a purchase rate from Gamma(0.6, 1/12 per day) and a drop-out
// probability from Beta(0.8, 2.5); the first purchase falls in the first 150
// of the 365 days before 2024-04-01, and after each purchase the customer
// drops out with that probability or buys again after an exponential wait.
// Each purchase is an "Order Completed" track with a revenue of 10-60.
// Deterministic: the same N gives the same bytes.
//   node bench/clv-customers.mjs 1000000 > customers.jsonl

const n = Number(process.argv[2] || 1000000);
if (!Number.isInteger(n) || n < 1) {
  process.stderr.write('usage: clv-customers.mjs N (a whole number of customers)\n');
  process.exit(2);
}
const END = Date.parse('2024-04-01T00:00:00Z');
const DAY = 86400000;

// Mulberry32, seeded.
let state = 12345;
const u = () => {
  state = (state + 0x6d2b79f5) >>> 0;
  let t = state;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};
// Gamma(k, 1): Marsaglia and Tsang, k < 1 boosted.
function gamma(k) {
  if (k < 1) return gamma(k + 1) * Math.pow(u() || 1e-300, 1 / k);
  const d = k - 1 / 3, c = 1 / Math.sqrt(9 * d);
  for (;;) {
    let x, v;
    do {
      x = Math.sqrt(-2 * Math.log(u() || 1e-300)) * Math.cos(2 * Math.PI * u());
      v = 1 + c * x;
    } while (v <= 0);
    v = v * v * v;
    if (Math.log(u() || 1e-300) < 0.5 * x * x + d - d * v + d * Math.log(v)) return d * v;
  }
}

const out = [];
const flush = () => {
  process.stdout.write(out.join(''));
  out.length = 0;
};
for (let i = 1; i <= n; i++) {
  const lambda = gamma(0.6) / 12, g1 = gamma(0.8), p = g1 / (g1 + gamma(2.5));
  let t = 365 - u() * 150; // days before END
  for (let k = 0; ; k++) {
    out.push(JSON.stringify({
      type: 'track', userId: `c${i}`, event: 'Order Completed', messageId: `c${i}-o${k}`,
      timestamp: new Date(END - Math.round(t * DAY)).toISOString(),
      properties: { revenue: Math.round(1000 + 5000 * u()) / 100 },
    }) + '\n');
    if (u() < p) break;
    t -= -Math.log(1 - u()) / lambda;
    if (t < 0.01) break;
  }
  if (out.length >= 10000) flush();
}
flush();
