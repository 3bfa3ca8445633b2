// The platform's recommendations (src/recs, docs/internals/recs.md) end to
// end on the real Online Retail data set, against an independent
// computation in this file and against the offline library
// (`pickaxe recommend user|similar --csv`, src/reco):
//
//  - the recipe's import (prepare.mjs, order-lines.json), the definition
//    PUT over HTTP, a refresh, and the model's figures (customers, items,
//    pairs) counted here from the raw file;
//  - the answers of GET /v1/recommendations/{ref} and /v1/items/{id}/similar
//    for a sample of customers and items equal the offline library's on
//    the same data. Exactly (ids, order, scores, reasons) when the offline
//    command reads the purchases in the order the platform meets them (see
//    PLATFORM ORDER below); in the raw file's order the comparison is a
//    `todo`: ties are broken by item index, and the two paths number items
//    differently;
//  - the shape of an answer (score, source, reasons among the customer's
//    scored items, nothing the customer bought), exclude=, n, the errors;
//  - stock read per query (PUT/PATCH /v1/products/{id});
//  - the popularity fallback, overall and within a segment (France),
//    against popularity counted here;
//  - retraining on new purchases posted to /v1/batch;
//  - `pickaxe recommend user|similar|model --data DIR` next to the server,
//    and a restarted server (503 until trained at start, then the same
//    answers).
//
// PLATFORM ORDER. The platform interns item ids while walking the live
// profiles in profile-id order (profiles are numbered as the import first
// meets their customer), each profile's items in bytewise id order (the
// `items` state's order); the offline library interns them in the order of
// first appearance in its file. Both break ties by the lower index (equal
// scores in a ranking, equal similarities at a neighbour list's K, equal
// popularity), so equal-score items come out in different orders. And a
// customer with more than recent_items (100) items is scored from the 100
// most recent, ties at the 100th in the order the items are given: bytewise
// on the platform, by index offline. The exact comparison therefore feeds
// the offline command the same purchases sorted by (profile order, stock
// code), and, for the sampled customers with a tie at the 100th, the items
// the platform takes at that time one second later (times change nothing
// else: the model has no half-life).
//
// Skipped when the shared data set is absent.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import {
  SHARED_DATA, REPO_ROOT, makeTempDir, cleanupDir, createSource, createToken, runCli, runCliOk, startServer, sleep,
} from './lib/server.mjs';
import { csvRecords } from './lib/csv.mjs';

const DATA_FILE = path.join(SHARED_DATA, 'online-retail', 'online_retail.csv.gz');
const RECIPE = path.join(REPO_ROOT, 'examples', 'online-retail');
const HAVE_DATA = fs.existsSync(DATA_FILE);
const RECENT = 100; // the definition's default recent_items
const DEF = { interactions: [{ event: 'Order Line', item: 'stock_code' }] };

// ---------------------------------------------------------------------------
// The independent side: the raw file read here (zlib and a CSV reader of its
// own), nothing of pickaxe or of prepare.mjs.

/** "2010-12-01 08:26:00" as UTC milliseconds (the recipe reads the shop's clock as UTC). */
function whenOf(s) {
  const m = /^(\d{4})-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d)$/.exec(s);
  if (!m) throw new Error(`not a date-time: ${s}`);
  return Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]);
}
const dateOf = (ms) => new Date(ms).toISOString().replace('T', ' ').slice(0, 19);
const bytewise = (a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b));

/**
 * What the platform should hold, from the raw lines:
 *  - a customer is a CustomerID ("17850.0" is user_id 17850); its profile is
 *    created by the first line naming it (cancelled or not), so profiles
 *    are numbered in that order (`order`);
 *  - a purchase is a line with a CustomerID whose InvoiceNo does not start
 *    with "C" (the recipe's "Order Line"); a customer's items are the
 *    distinct stock codes of their purchases, each with its latest time;
 *  - the country is that of the customer's latest line (the trait's
 *    current value), as tests/integration/online-retail.test.mjs has it.
 */
function readRaw(text) {
  const raw = { lines: [], customers: new Map(), purchaseLines: 0, header: null };
  for (const { rec } of csvRecords(text)) {
    if (!raw.header) {
      raw.header = rec;
      assert.deepEqual(rec, ['InvoiceNo', 'StockCode', 'Description', 'Quantity', 'InvoiceDate', 'UnitPrice',
        'CustomerID', 'Country']);
      continue;
    }
    if (rec.length === 1 && rec[0] === '') continue;
    assert.equal(rec.length, 8);
    const [invoice, stock, , , date, , customer, country] = rec;
    // Both paths must see the same ids: the mapping trims stock_code, the
    // offline reader does not; so no code may have white space to trim, and
    // the files written here need no quoting.
    assert.equal(stock, stock.trim(), `stock code ${JSON.stringify(stock)}`);
    assert.match(stock, /^[\x20-\x7e]+$/, `stock code ${JSON.stringify(stock)}`);
    assert.ok(!/[",]/.test(stock), `stock code ${JSON.stringify(stock)}`);
    const line = { invoice, stock, date, customer, ts: whenOf(date) };
    raw.lines.push(line);
    if (customer === '') continue;
    const m = /^(\d+)\.0$/.exec(customer);
    assert.ok(m, `CustomerID ${customer}`);
    let c = raw.customers.get(customer);
    if (!c) {
      c = { raw: customer, id: String(Number(m[1])), order: raw.customers.size, items: new Map(), first: new Map(),
        country: null, countryTs: -Infinity };
      raw.customers.set(customer, c);
    }
    if (line.ts >= c.countryTs) {
      c.country = country;
      c.countryTs = line.ts;
    }
    if (invoice.startsWith('C')) continue;
    if (!c.items.has(stock)) c.first.set(stock, raw.lines.length - 1);
    raw.purchaseLines++;
    c.items.set(stock, Math.max(c.items.get(stock) ?? -Infinity, line.ts));
  }
  raw.byId = new Map([...raw.customers.values()].map((c) => [c.id, c]));
  raw.buyers = [...raw.customers.values()].filter((c) => c.items.size > 0); // in profile order
  // The platform's item numbering (PLATFORM ORDER above).
  raw.index = new Map();
  for (const c of raw.buyers) {
    for (const s of [...c.items.keys()].sort(bytewise)) if (!raw.index.has(s)) raw.index.set(s, raw.index.size);
  }
  return raw;
}

/** Items by the number of distinct customers of `custs` who bought them, ties by the platform's index. */
function popularity(raw, custs) {
  const count = new Map();
  for (const c of custs) for (const s of c.items.keys()) count.set(s, (count.get(s) ?? 0) + 1);
  return [...count].sort((a, b) => b[1] - a[1] || raw.index.get(a[0]) - raw.index.get(b[0]))
    .map(([id, n]) => ({ id, n }));
}

/**
 * The items the platform scores a customer from: the RECENT most recent,
 * ties at the cut in bytewise id order; and whether there is a tie at the
 * cut (the RECENT-th and the next have the same time).
 */
function recentItems(c) {
  const all = [...c.items].sort((a, b) => b[1] - a[1] || bytewise(a[0], b[0]));
  return { ids: new Set(all.slice(0, RECENT).map(([s]) => s)), cutTie: all.length > RECENT &&
    all[RECENT - 1][1] === all[RECENT][1], cut: all.length > RECENT ? all[RECENT - 1][1] : null };
}

/**
 * The purchases as the offline command's input, one line per (customer,
 * item) with its latest time: what the platform keeps per customer (the
 * `items` state), and the same data for the offline library, which combines
 * a customer's lines for an item by max (weight 1) and keeps the latest
 * time. 4 columns, all the command reads. In raw order, the pairs come in
 * the order of their first line, so items are first met in the raw file's
 * order; in platform order, by (profile order, stock code); see PLATFORM
 * ORDER. nudge: customer (raw id) → the recentItems() whose items at the
 * cut are written one second later.
 */
function pairsCsv(raw, order, nudge = new Map()) {
  const pairs = [];
  for (const c of raw.buyers) {
    for (const [stock, ts] of c.items) pairs.push({ c, stock, ts, first: c.first.get(stock) });
  }
  if (order === 'raw') pairs.sort((a, b) => a.first - b.first);
  else pairs.sort((a, b) => a.c.order - b.c.order || bytewise(a.stock, b.stock));
  const out = ['InvoiceNo,StockCode,InvoiceDate,CustomerID'];
  for (const { c, stock, ts } of pairs) {
    const later = nudge.get(c.raw);
    out.push(`X,${stock},${dateOf(later && later.ids.has(stock) && ts === later.cut ? ts + 1000 : ts)},${c.raw}`);
  }
  return `${out.join('\n')}\n`;
}

// ---------------------------------------------------------------------------

/** Runs node prepare.mjs SRC > OUT. */
function prepare(src, out) {
  return new Promise((resolve, reject) => {
    const fd = fs.openSync(out, 'w');
    const child = spawn(process.execPath, [path.join(RECIPE, 'prepare.mjs'), src], { stdio: ['ignore', fd, 'pipe'] });
    let err = '';
    child.stderr.on('data', (c) => { err += c; });
    const timer = setTimeout(() => child.kill('SIGKILL'), 60000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      fs.closeSync(fd);
      if (code === 0) resolve(err);
      else reject(new Error(`prepare.mjs exited ${code}: ${err}`));
    });
  });
}

/** fn over xs, two at a time (the machine has two cores). */
async function pool(xs, fn, width = 2) {
  const out = new Array(xs.length);
  let next = 0;
  await Promise.all(Array.from({ length: width }, async () => {
    while (next < xs.length) {
      const k = next++;
      out[k] = await fn(xs[k]);
    }
  }));
  return out;
}

/** The offline command's answer: {json, stderr}. */
async function offline(kind, target, csv) {
  const args = ['recommend', kind, target, '--csv', csv, '--user', 'CustomerID', '--item', 'StockCode', '--skip',
    'InvoiceNo=C', '--n', '10', '--json'];
  if (kind === 'user') args.push('--time', 'InvoiceDate', '--max-items', String(RECENT));
  const r = await runCliOk(args, { timeoutMs: 60000 });
  return { json: JSON.parse(r.stdout), stderr: r.stderr };
}

/** A score as the offline command prints it (%.6g). */
const sig6 = (x) => Number(x.toPrecision(6));

/** Where the platform's items differ from the offline command's (recommendations or similar); [] when equal. */
function differences(items, off) {
  const list = off.recommendations ?? off.similar;
  const show = (xs) => xs.map((x) => `${x.id ?? x.item}:${x.score}`).join(' ');
  const why = [];
  if (items.length !== list.length) why.push(`${items.length} items, offline ${list.length}`);
  for (let k = 0; k < Math.min(items.length, list.length) && why.length === 0; k++) {
    const a = items[k];
    const b = list[k];
    if (a.id !== b.item) why.push(`rank ${k + 1}: ${a.id}, offline ${b.item}`);
    else if (sig6(a.score) !== b.score) why.push(`rank ${k + 1} ${a.id}: score ${a.score}, offline ${b.score}`);
    else if (off.recommendations && (a.source === 'popular') !== b.popular) {
      why.push(`rank ${k + 1}: source ${a.source}`);
    }
    else if (off.recommendations && JSON.stringify(a.reasons.map((r) => [r.id, sig6(r.score)]))
      !== JSON.stringify(b.because.map((r) => [r.item, r.score]))) {
      why.push(`rank ${k + 1} ${a.id}: reasons ${JSON.stringify(a.reasons)}, offline ${JSON.stringify(b.because)}`);
    }
  }
  if (why.length) why.push(`platform ${show(items)}`, `offline  ${show(list)}`);
  return why;
}

/** Everything of an answer but the model's training time (two models trained on the same data answer alike). */
const answer = (j) => ({ ...j, model: undefined });

describe('recommendations on Online Retail', {
  timeout: 180000,
  skip: HAVE_DATA ? false : `the shared data set is not there (${DATA_FILE}); set PX_SHARED_DATA`,
}, () => {
  let dir;
  let data;
  let raw;
  let server;
  let token;
  let writeKey;
  let figures; // the model's figures after the first refresh
  const apiAnswers = new Map(); // user id → GET /v1/recommendations/user_id:N?n=10
  const simAnswers = new Map(); // item → GET /v1/items/{id}/similar?n=10
  let sampleCustomers;
  let sampleItems;

  const api = (method, p, body, auth = { bearer: token }) => server.api(method, p, { body, auth });
  const get = async (p) => {
    const r = await api('GET', p);
    assert.equal(r.status, 200, `GET ${p}: ${r.text}`);
    return r.json;
  };
  const recsOf = (ref, q = '') => get(`/v1/recommendations/${encodeURIComponent(ref)}?n=10${q}`);
  const ids = (j) => j.items.map((x) => x.id);
  const rawOrderFile = () => {
    const csv = path.join(dir, 'raw-order.csv');
    if (!fs.existsSync(csv)) fs.writeFileSync(csv, pairsCsv(raw, 'raw'));
    return csv;
  };
  const refresh = async () => {
    const r = await api('POST', '/v1/recommendations/refresh');
    assert.equal(r.status, 200, r.text);
    return r.json.model;
  };

  before(async () => {
    raw = readRaw(zlib.gunzipSync(fs.readFileSync(DATA_FILE)).toString('utf8'));
    dir = await makeTempDir('pickaxe-recs-');
    data = path.join(dir, 'data');
    writeKey = await createSource(data, 'online-retail');
    token = await createToken(data);
    const lines = path.join(dir, 'order-lines.csv');
    await prepare(DATA_FILE, lines);
    const r = await runCli(['import', lines, '--source', 'online-retail', '--mapping',
      path.join(RECIPE, 'order-lines.json'), '--data', data, '--json'], { timeoutMs: 120000 });
    assert.equal(r.code, 0, `import: ${r.stderr}`);
    server = await startServer(data);

    // The sample: customers spread over basket sizes (the biggest two
    // included), items over popularity (the most popular and one bought once).
    const bySize = [...raw.buyers].sort((a, b) => a.items.size - b.items.size || a.order - b.order);
    const spread = (xs, n) => Array.from({ length: n }, (_, k) => xs[Math.round((k * (xs.length - 1)) / (n - 1))]);
    sampleCustomers = [...new Set(['14911', '12748', ...spread(bySize, 19).map((c) => c.id)])];
    const pop = popularity(raw, raw.buyers);
    sampleItems = [...new Set(['85123A', '23522', ...spread(pop, 9).map((p) => p.id)])];
  });
  after(async () => {
    if (server) await server.stop().catch(() => server.kill());
    await cleanupDir(dir);
  });

  it('the definition over HTTP and a refresh: customers, items and pairs as counted from the raw file', async () => {
    let r = await api('PUT', '/v1/recommendations', DEF);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json.definition.interactions,
      [{ event: 'Order Line', item: 'stock_code', kind: 'purchase', weight: 1 }]);
    assert.equal(r.json.definition.recent_items, RECENT);
    figures = await refresh();
    const pairs = raw.buyers.reduce((a, c) => a + c.items.size, 0);
    const want = { profiles: raw.customers.size, customers: raw.buyers.length, items: raw.index.size, pairs };
    assert.deepEqual({ profiles: figures.profiles, customers: figures.customers, items: figures.items,
      pairs: figures.pairs }, want);
    assert.deepEqual(want, { profiles: 4372, customers: 4339, items: 3665, pairs: 266802 });
    r = await api('GET', '/v1/recommendations');
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.model.pairs, pairs);
    assert.deepEqual(r.json.definition.interactions, [{ event: 'Order Line', item: 'stock_code', kind: 'purchase',
      weight: 1 }]);

    for (const id of sampleCustomers) apiAnswers.set(id, await recsOf(`user_id:${id}`));
    for (const item of sampleItems) {
      simAnswers.set(item, await get(`/v1/items/${encodeURIComponent(item)}/similar?n=10`));
    }
    // Profiles are numbered in the order the import first met their customer.
    const seq = sampleCustomers.map((id) => [raw.byId.get(id).order, parseInt(apiAnswers.get(id).profile, 16)])
      .sort((a, b) => a[0] - b[0]).map(([, pid]) => pid);
    assert.deepEqual(seq, [...seq].sort((a, b) => a - b));
  });

  it('the offline command reads the raw file as the platform does: the same lines out, the same pairs', async () => {
    // Guest lines and cancelled invoices are left out by both (the platform
    // by prepare.mjs and the event name, the command by --skip and the empty
    // user); the file of pairs in raw order is the same data as the raw file.
    const csv = rawOrderFile();
    const [gz, pairs] = await pool([DATA_FILE, csv], (f) => offline('user', '14911.0', f));
    const cancelled = raw.lines.filter((l) => l.invoice.startsWith('C')).length;
    const guests = raw.lines.filter((l) => l.customer === '' && !l.invoice.startsWith('C')).length;
    assert.match(gz.stderr, new RegExp(`: ${raw.lines.length} records: ${raw.purchaseLines} interactions, ${guests
    } without a user or item, ${cancelled} skipped by --skip, 0 bad`));
    assert.equal(raw.purchaseLines, 397924);
    assert.deepEqual(pairs.json, gz.json);
    assert.equal(gz.json.items, raw.byId.get('14911').items.size);
  });

  // The offline command on the same data, in the raw file's order: both
  // number items by their ids (ties go to the lower), so the order the data
  // came in changes nothing, ties at the 100th most recent item included.
  it('equals the offline library on the same data (ids, order, scores, reasons)', async (t) => {
    const csv = rawOrderFile();
    const users = await pool(sampleCustomers, (id) => offline('user', raw.byId.get(id).raw, csv));
    const sims = await pool(sampleItems, (item) => offline('similar', item, csv));
    const bad = [];
    users.forEach(({ json }, k) => {
      const id = sampleCustomers[k];
      const d = differences(apiAnswers.get(id).items, json);
      const tie = recentItems(raw.byId.get(id)).cutTie ? ' (a tie at the 100th most recent item)' : '';
      if (d.length) bad.push(`customer ${id}${tie}: ${d.join(' | ')}`);
    });
    sims.forEach(({ json }, k) => {
      const d = differences(simAnswers.get(sampleItems[k]).items, json);
      if (d.length) bad.push(`item ${sampleItems[k]}: ${d.join(' | ')}`);
    });
    for (const b of bad) t.diagnostic(b);
    assert.deepEqual(bad, [], `${bad.length} of ${sampleCustomers.length} customers and ${sampleItems.length} items`);
  });

  it('each item has a score, a source and reasons among the customer\'s scored items; nothing bought', () => {
    for (const id of sampleCustomers) {
      const c = raw.byId.get(id);
      const scored = recentItems(c).ids;
      const j = apiAnswers.get(id);
      assert.equal(j.items.length, 10, `customer ${id}`);
      assert.equal(j.fallback, j.items.some((x) => x.source === 'popular') ? 'overall' : null);
      let last = Infinity;
      for (const x of j.items) {
        assert.equal(typeof x.score, 'number');
        assert.ok(['similar', 'popular'].includes(x.source), `${id}: ${JSON.stringify(x)}`);
        assert.ok(Array.isArray(x.reasons));
        assert.ok(!c.items.has(x.id), `customer ${id} bought ${x.id}`);
        if (x.source === 'similar') {
          assert.ok(x.score <= last, `customer ${id}: scores descending`);
          last = x.score;
          assert.ok(x.reasons.length >= 1 && x.reasons.length <= 3);
          for (const r of x.reasons) assert.ok(scored.has(r.id), `customer ${id}: reason ${r.id} of ${x.id}`);
        } else {
          assert.deepEqual(x.reasons, []);
        }
      }
    }
  });

  it('exclude= and n', async () => {
    const ref = 'user_id:14911';
    const ten = apiAnswers.get('14911');
    const twelve = await get(`/v1/recommendations/${ref}?n=12`);
    assert.deepEqual(ids(twelve).slice(0, 10), ids(ten));
    let j = await recsOf(ref, `&exclude=${ids(ten)[0]},${ids(ten)[1]},NO-SUCH-ITEM`);
    assert.deepEqual(ids(j), [...ids(ten).slice(2), ...ids(twelve).slice(10, 12)]);
    j = await get(`/v1/recommendations/${ref}?n=1`);
    assert.deepEqual(ids(j), ids(ten).slice(0, 1));
    j = await get(`/v1/recommendations/${ref}?n=100`);
    assert.equal(j.items.length, 100);
    assert.deepEqual(ids(j).slice(0, 10), ids(ten));
    j = await get(`/v1/items/23522/similar?n=3&exclude=${simAnswers.get('23522').items[0].id}`);
    assert.deepEqual(ids(j), ids(simAnswers.get('23522')).slice(1, 4));
    for (const n of ['0', '101', 'abc', '', '-1', '1.5']) {
      for (const p of [`/v1/recommendations/${ref}?n=${n}`, `/v1/items/23522/similar?n=${n}`]) {
        const r = await api('GET', p);
        assert.equal(r.status, 400, `${p}: ${r.text}`);
        assert.equal(r.json.field, 'n', p);
      }
    }
  });

  it('errors: unknown profile or item 404, wrong method 405, no token 401, a bad definition 400', async () => {
    let r = await api('GET', '/v1/recommendations/user_id:99999999');
    assert.equal(r.status, 404, r.text);
    assert.equal(r.json.field, 'ref');
    r = await api('GET', '/v1/items/NO-SUCH-ITEM/similar');
    assert.equal(r.status, 404, r.text);
    assert.equal(r.json.field, 'id');
    for (const [method, p, allow] of [['POST', '/v1/recommendations/user_id:14911', 'GET, HEAD'],
      ['DELETE', '/v1/recommendations', 'GET, HEAD, PUT'], ['GET', '/v1/recommendations/refresh', 'POST'],
      ['POST', '/v1/items/23522/similar', 'GET, HEAD']]) {
      r = await api(method, p);
      assert.equal(r.status, 405, `${method} ${p}: ${r.text}`);
      assert.equal(r.headers.get('allow'), allow, `${method} ${p}`);
    }
    for (const [method, p] of [['GET', '/v1/recommendations/user_id:14911'], ['GET', '/v1/items/23522/similar'],
      ['GET', '/v1/recommendations'], ['PUT', '/v1/recommendations'], ['POST', '/v1/recommendations/refresh']]) {
      r = await api(method, p, method === 'PUT' ? DEF : undefined, null);
      assert.equal(r.status, 401, `${method} ${p}: ${r.text}`);
      r = await api(method, p, method === 'PUT' ? DEF : undefined, { bearer: 'not-a-token' });
      assert.equal(r.status, 401, `${method} ${p} with a wrong token: ${r.text}`);
    }
    for (const [body, field] of [
      [{ interactions: [{ event: 'Order Line', item: 'stock_code', kind: 'bought' }] },
        'recommendations.interactions[0].kind'],
      [{ interactions: [] }, 'recommendations.interactions'],
      [{ interactions: [{ event: 'Order Line' }] }, 'recommendations.interactions[0].item'],
      [{ ...DEF, locality: 0 }, 'recommendations.locality'],
      [{ ...DEF, fallback_segments: 'france' }, 'recommendations.fallback_segments'],
      ['{', 'recommendations']]) {
      r = await api('PUT', '/v1/recommendations', body);
      assert.equal(r.status, 400, `${JSON.stringify(body)}: ${r.text}`);
      assert.equal(r.json.field, field, JSON.stringify(body));
    }
    r = await api('GET', '/v1/recommendations');
    assert.equal(r.json.definition.recent_items, RECENT, 'the definition is unchanged');
    assert.equal(r.json.model.pairs, figures.pairs);
  });

  it('stock is read per query: an out-of-stock product leaves at once and comes back in stock', async () => {
    const ref = 'user_id:14911';
    const before12 = await get(`/v1/recommendations/${ref}?n=12`);
    const [first, second] = ids(before12);
    let r = await api('PUT', `/v1/products/${encodeURIComponent(first)}`,
      { name: 'first pick', stock: 'out_of_stock' });
    assert.ok(r.status === 201 || r.status === 200, r.text);
    let j = await get(`/v1/recommendations/${ref}?n=10`);
    assert.ok(!ids(j).includes(first));
    assert.equal(ids(j)[0], second);
    assert.deepEqual(ids(j), ids(before12).slice(1, 11));
    // Its neighbour lists leave it out too.
    const reason = before12.items[0].reasons[0].id;
    j = await get(`/v1/items/${encodeURIComponent(reason)}/similar?n=50`);
    assert.ok(!ids(j).includes(first), `similar of ${reason}`);

    r = await api('PATCH', `/v1/products/${encodeURIComponent(first)}`, { stock: 'in_stock' });
    assert.equal(r.status, 200, r.text);
    j = await get(`/v1/recommendations/${ref}?n=10`);
    assert.deepEqual(ids(j), ids(before12).slice(0, 10));
    assert.equal(j.items[0].product.id, first);
    assert.equal(j.items[0].product.name, 'first pick');
    assert.equal(j.items[0].product.stock, 'in_stock');
    assert.equal(j.items[1].product, undefined, 'not in the catalog');

    // /similar: the first neighbour out of stock, then back.
    const sim = simAnswers.get('23522');
    const top = sim.items[0].id;
    r = await api('PATCH', `/v1/products/${encodeURIComponent(top)}`, { stock: 'out_of_stock' });
    assert.equal(r.status, 200, r.text);
    j = await get('/v1/items/23522/similar?n=9');
    assert.deepEqual(ids(j), ids(sim).slice(1, 10));
    r = await api('PUT', `/v1/products/${encodeURIComponent(top)}`, { stock: 'in_stock', quantity: 0 });
    assert.equal(r.status, 200, r.text);
    j = await get('/v1/items/23522/similar?n=9');
    assert.ok(!ids(j).includes(top), 'quantity 0 is not available either');
    r = await api('PATCH', `/v1/products/${encodeURIComponent(top)}`, { quantity: 5 });
    assert.equal(r.status, 200, r.text);
    j = await get('/v1/items/23522/similar?n=10');
    assert.deepEqual(ids(j), ids(sim));
    assert.equal(j.items[0].product.quantity, 5);
    assert.equal(j.items[0].score, sim.items[0].score);
  });

  let newOverall; // a new customer without a segment
  let newFrench; // a new customer in the France segment
  const identify = async (userId, traits) => {
    const r = await server.api('POST', '/v1/identify', { body: { userId, traits }, auth: { basic: writeKey } });
    assert.equal(r.status, 200, r.text);
  };

  it('a new customer gets the overall popularity', async () => {
    newOverall = 'user_id:990001';
    await identify('990001', { name: 'New Customer' });
    const j = await recsOf(newOverall);
    assert.equal(j.fallback, 'overall');
    const want = popularity(raw, raw.buyers).slice(0, 10);
    assert.deepEqual(j.items.map((x) => [x.id, x.score, x.source, x.reasons.length]),
      want.map((p) => [p.id, p.n, 'popular', 0]));
  });

  it('with a fallback segment, a new French customer gets the popularity among French customers', async () => {
    let r = await api('PUT', '/v1/segments/france', { rule: 'country = "France"' });
    assert.ok(r.status === 200 || r.status === 201, r.text);
    r = await api('PUT', '/v1/recommendations', { ...DEF, fallback_segments: ['france'], refresh_every: 'never' });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json.definition.fallback_segments, ['france']);
    const m = await refresh();
    assert.equal(m.pairs, figures.pairs);
    newFrench = 'user_id:990002';
    await identify('990002', { country: 'France' });
    const french = raw.buyers.filter((c) => c.country === 'France');
    assert.equal(french.length, 87);
    const want = popularity(raw, french).slice(0, 10);
    let j = await recsOf(newFrench);
    assert.deepEqual(j.fallback, { segment: 'france' });
    assert.deepEqual(j.items.map((x) => [x.id, x.source]), want.map((p) => [p.id, 'popular']),
      `French counts: ${JSON.stringify(want)}`);
    // The customer without a segment still gets the overall list; ?segment= picks one.
    j = await recsOf(newOverall);
    assert.equal(j.fallback, 'overall');
    j = await recsOf(newOverall, '&segment=france');
    assert.deepEqual(j.fallback, { segment: 'france' });
    assert.deepEqual(ids(j), want.map((p) => p.id));
    r = await api('GET', `/v1/recommendations/${newOverall}?segment=nowhere`);
    assert.equal(r.status, 400, r.text);
    assert.equal(r.json.field, 'segment');
    // A French customer with a history is scored from it, the segment filling nothing.
    const known = french.find((c) => c.items.size >= 20);
    j = await recsOf(`user_id:${known.id}`);
    assert.equal(j.fallback, null);
  });

  it('retraining picks up new purchases', async () => {
    const now = Date.now();
    const line = (userId, stock, k) => ({
      type: 'track', event: 'Order Line', userId, messageId: `recs-new-${userId}-${k}`,
      timestamp: new Date(now - 60000 + k * 1000).toISOString(), properties: { stock_code: stock, quantity: 1 },
    });
    const r = await server.api('POST', '/v1/batch', {
      body: { batch: [line('990003', '23522', 0), line('990003', 'PX-NEW-1', 1), line('990004', 'PX-NEW-1', 2),
        line('990004', '22914', 3)] },
      auth: { basic: writeKey },
    });
    assert.equal(r.status, 200, r.text);
    // Before retraining: known items are owned and score already; the new item is unknown to the model.
    const q = await api('GET', '/v1/items/PX-NEW-1/similar');
    assert.equal(q.status, 404, q.text);
    let j = await get('/v1/recommendations/user_id:990003?n=100');
    assert.ok(!ids(j).includes('23522'));
    const similar = j.items.filter((x) => x.source === 'similar');
    assert.ok(similar.length > 0);
    for (const x of similar) assert.deepEqual(x.reasons.map((y) => y.id), ['23522']);

    const m = await refresh();
    assert.deepEqual({ profiles: m.profiles, customers: m.customers, items: m.items, pairs: m.pairs },
      { profiles: figures.profiles + 4, customers: figures.customers + 2, items: figures.items + 1,
        pairs: figures.pairs + 4 });
    j = await get('/v1/items/PX-NEW-1/similar');
    assert.deepEqual(ids(j).sort(), ['22914', '23522']);
    j = await get('/v1/recommendations/user_id:990003?n=100');
    assert.ok(!ids(j).includes('23522') && !ids(j).includes('PX-NEW-1'));
    const fromNew = j.items.find((x) => x.id === '22914');
    assert.ok(fromNew, '22914, bought with PX-NEW-1 by another customer, is recommended');
    assert.equal(fromNew.source, 'similar');
    assert.ok(fromNew.reasons.some((y) => y.id === 'PX-NEW-1'), JSON.stringify(fromNew));
    for (const x of j.items.filter((y) => y.source === 'similar')) {
      for (const y of x.reasons) assert.ok(['23522', 'PX-NEW-1'].includes(y.id), JSON.stringify(x));
    }
  });

  // The answers compared by the tests below.
  const probes = () => [
    ['user', 'user_id:14911'], ['user', 'user_id:990003'], ['user', 'user_id:990002'], ['user', newOverall],
    ['user', `user_id:${sampleCustomers[2]}`], ['similar', '23522'], ['similar', 'PX-NEW-1'], ['similar', '85123A']];
  const probeApi = ([kind, target]) => get(kind === 'user' ? `/v1/recommendations/${encodeURIComponent(target)}?n=10`
    : `/v1/items/${encodeURIComponent(target)}/similar?n=10`);

  it('pickaxe recommend user|similar|model --data DIR next to the server answers as the API', async () => {
    const want = await Promise.all(probes().map(probeApi));
    const got = await pool(probes(), ([kind, target]) => runCliOk(['recommend', kind, target, '--data', data, '--json'],
      { timeoutMs: 60000 }).then((r) => JSON.parse(r.stdout)));
    got.forEach((j, k) => assert.deepEqual(answer(j), answer(want[k]), probes()[k].join(' ')));
    const cli = JSON.parse((await runCliOk(['recommend', 'model', '--data', data, '--json'])).stdout);
    const model = (await get('/v1/recommendations')).model;
    const keys = ['profiles', 'customers', 'items', 'pairs', 'neighbours', 'catalog_products', 'excluded_items'];
    const pick = (o) => Object.fromEntries(keys.map((k) => [k, o[k]]));
    assert.deepEqual(pick(cli), pick(model));
    // The text output names the same items.
    const text = await runCliOk(['recommend', 'user', 'user_id:14911', '--data', data]);
    assert.deepEqual(text.stdout.split('\n').filter((l) => /^ *\d+ /.test(l)).map((l) => l.trim().split(/\s+/)[1]),
      ids(want[0]));
  });

  let early; // the answers to a query before the restarted server's first model: [status, Retry-After, body]
  it('a restarted server trains at start and answers as before', async () => {
    const want = await Promise.all(probes().map(probeApi));
    await server.stop();
    server = await startServer(data);
    const deadline = Date.now() + 30000;
    early = [];
    let r;
    for (;;) {
      r = await api('GET', '/v1/recommendations/user_id:14911?n=10');
      if (r.status === 200) break;
      early.push([r.status, r.headers.get('retry-after'), r.text]);
      assert.ok(Date.now() < deadline, `not trained 30 s after the restart: ${r.status} ${r.text}`);
      await sleep(20);
    }
    const got = await Promise.all(probes().map(probeApi));
    got.forEach((j, k) => assert.deepEqual(answer(j), answer(want[k]), probes()[k].join(' ')));
  });

  it('until then it answers 503 with Retry-After: 1, never "not configured"', (t) => {
    assert.ok(early, 'the restart test ran');
    t.diagnostic(`${early.length} answers before the model was ready: ${JSON.stringify(early.map(([s]) => s))}`);
    for (const [status, retry, text] of early) {
      assert.deepEqual([status, retry], [503, '1'], `before the first model, with the definition there: ${text}`);
    }
  });
});

describe('recommendations without a definition', { timeout: 30000 }, () => {
  it('answer 404 naming recommendations on a fresh server', async () => {
    const dir = await makeTempDir('pickaxe-recs-none-');
    let server;
    try {
      const token = await createToken(dir);
      server = await startServer(dir);
      for (const [method, p] of [['GET', '/v1/recommendations'], ['GET', '/v1/recommendations/user_id:1'],
        ['GET', '/v1/items/85123A/similar'], ['POST', '/v1/recommendations/refresh']]) {
        const r = await server.api(method, p, { auth: { bearer: token } });
        assert.equal(r.status, 404, `${method} ${p}: ${r.text}`);
        assert.equal(r.json.field, 'recommendations', `${method} ${p}`);
      }
      const r = await runCli(['recommend', 'model', '--data', dir]);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /not configured/);
    } finally {
      if (server) await server.stop();
      await cleanupDir(dir);
    }
  });
});
