// The dense core of Online Retail's purchases, for comparing the
// recommender with published results on denser data (movie ratings):
// customers with at least U distinct items and items bought by at least I
// distinct customers, filtered again until nothing changes (a k-core).
// Reads the raw file (gzip CSV), leaves out lines without a customer and
// cancelled invoices, as `pickaxe recommend --skip InvoiceNo=C` does, and
// prints the kept lines as CSV (customer,item,time); the core's size on
// stderr.
//   node bench/retail-core.mjs ../shared/data/online-retail/online_retail.csv.gz 50 50 > core.csv
import fs from 'node:fs';
import zlib from 'node:zlib';

const [file, minItems, minCustomers] = [process.argv[2], Number(process.argv[3]), Number(process.argv[4])];
if (!file || !(minItems >= 1) || !(minCustomers >= 1)) {
  process.stderr.write('usage: node bench/retail-core.mjs FILE.csv.gz MIN_ITEMS MIN_CUSTOMERS > core.csv\n');
  process.exit(2);
}

/** The fields of one CSV line (quoted fields may hold commas and doubled quotes). */
function fields(line) {
  const out = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i];
    if (quoted && ch === '"' && line[i + 1] === '"') cur += '"', i++;
    else if (ch === '"') quoted = !quoted;
    else if (ch === ',' && !quoted) out.push(cur), cur = '';
    else cur += ch;
  }
  out.push(cur);
  return out;
}

const rows = [];
const lines = zlib.gunzipSync(fs.readFileSync(file)).toString('utf8').split('\n');
for (const line of lines.slice(1)) {
  if (!line) continue;
  const [invoice, item, , , when, , customer] = fields(line.replace(/\r$/, ''));
  if (customer && item && !invoice.startsWith('C')) rows.push([customer, item, when]);
}

const add = (m, k, v) => (m.get(k) ?? m.set(k, new Set()).get(k)).add(v);
let kept = rows;
for (;;) {
  const items = new Map(), buyers = new Map();
  for (const [c, i] of kept) add(items, c, i), add(buyers, i, c);
  const next = kept.filter(([c, i]) => items.get(c).size >= minItems && buyers.get(i).size >= minCustomers);
  if (next.length === kept.length) {
    const pairs = [...items.values()].reduce((a, s) => a + s.size, 0);
    process.stderr.write(`core: ${items.size} customers, ${buyers.size} items, ${pairs} (customer, item) pairs, ` +
      `${(pairs / items.size).toFixed(1)} per customer, density ${(100 * pairs / items.size / buyers.size).toFixed(2)}%\n`);
    break;
  }
  kept = next;
}
process.stdout.write(`customer,item,time\n${kept.map((r) => r.join(',')).join('\n')}\n`);
