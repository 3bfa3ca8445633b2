// pickaxe recommend eval|train|similar|user (issue 6): item-to-item
// recommendations on interactions files.
//
// On the Online Retail purchases (../shared/data/online-retail: customers
// as users, stock codes as items, cancelled invoices and lines without a
// customer left out), the time split at 2011-10-01: the model must beat
// the popularity baseline clearly (precision and nDCG at least 1.5x), and
// the baseline's figures, the split's sizes and the evaluated users are
// recomputed here from the raw file, independently of pickaxe, by the
// definitions of docs/internals/reco.md. Then the queries on a small
// hand-made file (scores worked out in tests/unit/test_reco.c), gzip input,
// the determinism of seeded splits, and usage errors.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { runCli, makeTempDir, cleanupDir, SHARED_DATA } from './lib/server.mjs';

const T = { timeout: 120000 };
const RETAIL = path.join(SHARED_DATA, 'online-retail', 'online_retail.csv.gz');
const skip = !fs.existsSync(RETAIL) && 'no ../shared/data/online-retail';
const RETAIL_ARGS = ['--csv', RETAIL, '--user', 'CustomerID', '--item', 'StockCode', '--time', 'InvoiceDate',
  '--skip', 'InvoiceNo=C'];

/** The fields of one CSV line (quoted fields may hold commas and doubled quotes; no line breaks in this file). */
function fields(line) {
  const out = [];
  let i = 0;
  for (;;) {
    let f = '';
    if (line[i] === '"') {
      for (i++; ; i++) {
        if (line[i] === '"' && line[i + 1] === '"') { f += '"'; i++; } else if (line[i] === '"') { i++; break; } else f += line[i];
      }
    } else {
      const j = line.indexOf(',', i);
      f = line.slice(i, j < 0 ? line.length : j);
      i = j < 0 ? line.length : j;
    }
    out.push(f);
    if (i >= line.length) return out;
    i++; // the comma
  }
}

/** The popularity baseline of a time split, by the documented definitions, from the raw file. */
function popularityBaseline(text, cut, k) {
  const train = new Map(), test = new Map(); // user -> Set(item)
  const items = new Set();
  let kept = 0, nTrain = 0;
  const lines = text.split('\n');
  for (let n = 1; n < lines.length; n++) {
    if (!lines[n]) continue;
    const f = fields(lines[n].replace(/\r$/, ''));
    const [invoice, item, , , when, , user] = f;
    if (invoice.startsWith('C') || !user || !item) continue;
    kept++;
    items.add(item);
    const part = when < cut ? train : test;
    if (part === train) nTrain++;
    if (!part.has(user)) part.set(user, new Set());
    part.get(user).add(item);
  }
  const users = new Map();
  for (const [u, s] of train) for (const i of s) users.set(i, (users.get(i) ?? 0) + 1);
  const popular = [...users.keys()].sort((a, b) => users.get(b) - users.get(a) || (a < b ? -1 : a > b ? 1 : 0));
  const sum = { precision: 0, recall: 0, ndcg: 0, map: 0 };
  const shown = new Set();
  let evaluated = 0, relevantTotal = 0, cold = 0, nothingNew = 0;
  for (const [u, got] of test) {
    const had = train.get(u);
    if (!had) { cold++; continue; }
    const relevant = [...got].filter((i) => !had.has(i));
    if (!relevant.length) { nothingNew++; continue; }
    evaluated++;
    relevantTotal += relevant.length;
    const rel = new Set(relevant);
    const ranked = [];
    for (const i of popular) {
      if (ranked.length === k) break;
      if (!had.has(i)) ranked.push(i);
    }
    let hits = 0, dcg = 0, ap = 0, idcg = 0;
    ranked.forEach((i, r) => {
      shown.add(i);
      if (!rel.has(i)) return;
      hits++;
      dcg += 1 / Math.log2(r + 2);
      ap += hits / (r + 1);
    });
    const m = Math.min(k, rel.size);
    for (let r = 0; r < m; r++) idcg += 1 / Math.log2(r + 2);
    sum.precision += hits / k;
    sum.recall += hits / rel.size;
    sum.ndcg += dcg / idcg;
    sum.map += ap / m;
  }
  for (const key of Object.keys(sum)) sum[key] /= evaluated;
  return {
    metrics: { ...sum, coverage: shown.size / popular.length },
    kept, nTrain, evaluated, relevantTotal, cold, nothingNew, users: new Set([...train.keys(), ...test.keys()]).size,
    items: items.size,
  };
}

describe('pickaxe recommend eval on Online Retail', () => {
  it('beats popularity on the time split at 2011-10-01, whose baseline is recomputed here', { ...T, skip }, async () => {
    const r = await runCli(['recommend', 'eval', ...RETAIL_ARGS, '--split', 'time:2011-10-01', '--k', '10', '--json'],
      { timeoutMs: 60000 });
    assert.equal(r.code, 0, r.stderr);
    const e = JSON.parse(r.stdout);
    for (const side of ['model', 'popularity'])
      for (const key of ['precision', 'recall', 'ndcg', 'map', 'coverage'])
        assert.ok(e[side][key] >= 0 && e[side][key] <= 1, `${side}.${key} = ${e[side][key]}`);
    assert.ok(e.model.precision >= 1.5 * e.popularity.precision,
      `precision: model ${e.model.precision} vs popularity ${e.popularity.precision}`);
    assert.ok(e.model.ndcg >= 1.5 * e.popularity.ndcg, `nDCG: model ${e.model.ndcg} vs popularity ${e.popularity.ndcg}`);
    assert.ok(e.model.recall > e.popularity.recall && e.model.map > e.popularity.map);
    assert.ok(e.model.coverage > 5 * e.popularity.coverage);

    const want = popularityBaseline(zlib.gunzipSync(fs.readFileSync(RETAIL)).toString('utf8'), '2011-10-01', 10);
    assert.equal(want.kept, 397924); // 406,829 lines with a customer, less 8,905 cancelled
    assert.equal(e.train + e.test, want.kept);
    assert.equal(e.train, want.nTrain);
    assert.equal(e.users, want.users);
    assert.equal(e.items, want.items);
    assert.equal(e.evaluated_users, want.evaluated);
    assert.equal(e.cold_users, want.cold);
    assert.equal(e.nothing_new_users, want.nothingNew);
    assert.equal(e.relevant, want.relevantTotal);
    for (const key of ['precision', 'recall', 'ndcg', 'map', 'coverage'])
      assert.ok(Math.abs(e.popularity[key] - want.metrics[key]) <= 1.5e-6,
        `popularity ${key}: pickaxe ${e.popularity[key]}, recomputed ${want.metrics[key]}`);
    assert.match(r.stderr, /541909 records: 397924 interactions, 134697 without a user or item, 9288 skipped by --skip, 0 bad/);
  });

  it('prints the same side by side as text, and a user split is the same for the same seed', { ...T, skip }, async () => {
    const text = await runCli(['recommend', 'eval', ...RETAIL_ARGS, '--split', 'user:0.25', '--seed', '3']);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /^split user:0\.25: \d+ interactions train, \d+ test \(4339 users, 3665 items\)\n/);
    assert.match(text.stdout, /\n {14} +model popularity\nprecision@10 +0\.\d{4} +0\.\d{4}\nrecall@10 .*\nndcg@10 .*\nmap@10 .*\ncoverage .*\n/);
    const runs = [];
    for (const seed of ['3', '3', '4']) {
      const r = await runCli(['recommend', 'eval', ...RETAIL_ARGS, '--split', 'user:0.25', '--seed', seed, '--json']);
      assert.equal(r.code, 0, r.stderr);
      runs.push(JSON.parse(r.stdout));
    }
    const strip = (e) => JSON.stringify({ ...e, timings_s: null });
    assert.equal(strip(runs[0]), strip(runs[1]));
    assert.notEqual(strip(runs[0]), strip(runs[2]));
    const e = runs[0];
    assert.equal(e.evaluated_users, e.test_users); // every user with 2+ items holds one out and keeps one
    assert.ok(e.model.precision >= 2 * e.popularity.precision && e.model.ndcg >= 2 * e.popularity.ndcg);
    assert.equal(e.split, 'user:0.25');
    assert.equal(e.seed, 3);
  });
});

// The catalogue of tests/unit/test_reco.c (SHOP): u1 bought A (2024-01-10)
// and B (2024-02-20, the file's last day); C goes with A, D with A and B,
// E with B; F is popular on its own. With --shrink 0 --locality 1:
// D = 1/sqrt(8) + 1/sqrt(6), C = 2/sqrt(8), E = 1/sqrt(3).
const SHOP = [
  'order;customer;product;day',
  '1;u1;A;2024-01-10', '2;u1;B;2024-02-20',
  '3;u2;A;2024-01-01', '3;u2;C;2024-01-01', '3;u2;D;2024-01-01', '4;u3;A;2024-01-01', '4;u3;C;2024-01-01',
  '5;u4;B;2024-01-01', '5;u4;D;2024-01-01', '6;u5;B;2024-01-01', '6;u5;E;2024-01-01',
  '7;u6;F;2024-01-01', '8;u7;F;2024-01-01', '9;u8;F;2024-01-01', '10;u9;F;2024-01-01', '11;u10;A;2024-01-01',
  'x1;;G;2024-01-01', // no customer: left out
];

describe('pickaxe recommend similar, user, train', () => {
  let dir, csv, gz;
  before(async () => {
    dir = await makeTempDir('pickaxe-reco-');
    csv = path.join(dir, 'shop.csv');
    gz = path.join(dir, 'shop.csv.gz');
    fs.writeFileSync(csv, SHOP.join('\n') + '\n');
    fs.writeFileSync(gz, zlib.gzipSync(fs.readFileSync(csv)));
  });
  after(() => cleanupDir(dir));
  const shop = (file) => ['--csv', file, '--user', 'customer', '--item', 'product', '--time', 'day', '--shrink', '0',
    '--locality', '1'];

  it('recommends the neighbours of the customer\'s items, with reasons, then popular items', T, async () => {
    const r = await runCli(['recommend', 'user', 'u1', ...shop(csv), '--n', '5', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.equal(out.user, 'u1');
    assert.equal(out.known, true);
    assert.equal(out.items, 2);
    assert.deepEqual(out.recommendations.map((x) => x.item), ['D', 'C', 'E', 'F']);
    const d = out.recommendations[0];
    assert.ok(Math.abs(d.score - (1 / Math.sqrt(8) + 1 / Math.sqrt(6))) < 1e-6);
    assert.deepEqual(d.because.map((x) => x.item), ['B', 'A']);
    assert.ok(Math.abs(d.because[0].score - 1 / Math.sqrt(6)) < 1e-6);
    assert.equal(d.popular, false);
    assert.equal(out.recommendations[3].popular, true);
    assert.deepEqual(out.recommendations[3].because, []);
    // The same from the gzip-compressed file; as text.
    const same = await runCli(['recommend', 'user', 'u1', ...shop(gz), '--n', '5', '--json']);
    assert.equal(same.stdout, r.stdout);
    const text = await runCli(['recommend', 'user', 'u1', ...shop(csv), '--n', '2']);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /^u1: recommendations from the user's items\n {2}1\. D +0\.7618 {2}because: B 0\.4082, A 0\.3536\n {2}2\. C +0\.7071 {2}because: A 0\.7071\n$/);
  });

  it('lets owned items back after the repurchase window and leaves out excluded ones', T, async () => {
    // A was bought 41 days before the file's last day, B on it.
    let r = await runCli(['recommend', 'user', 'u1', ...shop(csv), '--repurchase-days', '30', '--json']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout).recommendations.map((x) => x.item), ['D', 'C', 'E', 'A', 'F']);
    r = await runCli(['recommend', 'user', 'u1', ...shop(csv), '--repurchase-days', '45', '--json']);
    assert.deepEqual(JSON.parse(r.stdout).recommendations.map((x) => x.item), ['D', 'C', 'E', 'F']);
    r = await runCli(['recommend', 'user', 'u1', ...shop(csv), '--exclude', 'D,F,nosuch', '--json']);
    assert.deepEqual(JSON.parse(r.stdout).recommendations.map((x) => x.item), ['C', 'E']);
    // A new customer: the most popular items (A and F have 4 customers, B 3).
    r = await runCli(['recommend', 'user', 'newcomer', ...shop(csv), '--n', '3', '--json']);
    const out = JSON.parse(r.stdout);
    assert.equal(out.known, false);
    assert.deepEqual(out.recommendations.map((x) => [x.item, x.popular, x.score]), [['A', true, 4], ['F', true, 4], ['B', true, 3]]);
  });

  it('lists an item\'s neighbours, and trains with sizes and times', T, async () => {
    let r = await runCli(['recommend', 'similar', 'A', ...shop(csv), '--json']);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.equal(out.item, 'A');
    assert.deepEqual(out.similar.map((x) => x.item), ['C', 'D', 'B']);
    assert.ok(Math.abs(out.similar[0].score - 2 / Math.sqrt(8)) < 1e-6);
    r = await runCli(['recommend', 'similar', 'F', ...shop(csv)]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, '(none)\n');
    r = await runCli(['recommend', 'similar', 'Z', ...shop(csv)]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /no item Z in /);
    r = await runCli(['recommend', 'train', ...shop(csv), '--json']);
    assert.equal(r.code, 0, r.stderr);
    const t = JSON.parse(r.stdout);
    assert.equal(t.interactions, 16);
    assert.equal(t.users, 10);
    assert.equal(t.items, 6);
    assert.equal(t.pairs, 16);
    assert.ok(t.train_s >= 0 && t.read_s >= 0);
    assert.match(r.stderr, /17 records: 16 interactions, 1 without a user or item, 0 skipped by --skip, 0 bad/);
  });

  it('says what is wrong with its arguments, and exits 2', T, async () => {
    const base = ['recommend', 'eval', '--csv', csv, '--user', 'customer', '--item', 'product'];
    const cases = [
      [['recommend'], /usage: pickaxe recommend/],
      [['recommend', 'score'], /unknown command score/],
      [['recommend', 'eval', '--csv', csv], /--csv, --user and --item are required/],
      [[...base, '--split', 'time:2024-01-15'], /--split time:2024-01-15 needs --time/],
      [[...base, '--split', 'users:0.2'], /--split: time:DATE, random:FRACTION or user:FRACTION, not users:0\.2/],
      [[...base, '--split', 'user:1'], /--split: the fraction must be a number between 0 and 1/],
      [[...base, '--split', 'time:soon', '--time', 'day'], /--split: not a date or ISO 8601 time: soon/],
      [[...base, '--k', '0'], /--k is a whole number from 1 to 1000, not 0/],
      [[...base, '--seed', '-1'], /--seed is a whole number, not -1/],
      [[...base, '--skip', 'order'], /--skip is COL=PREFIX, not order/],
      [[...base, '--neighbours', '5000'], /--neighbours is a whole number from 1 to 1000/],
      [[...base, '--shrink', '-1'], /--shrink is a number >= 0, not -1/],
      [[...base, '--half-life', '30'], /--half-life needs --time/],
      [[...base, '--combine', 'avg'], /--combine is max or sum, not avg/],
      [[...base, '--delimiter', ';;'], /--delimiter is one character/],
      [[...base, '--user', 'client'], /no column client \(--user\)/],
      [[...base, '--time', 'when'], /no column when \(--time\)/],
      [[...base, '--frobnicate'], /unknown argument --frobnicate/],
      [['recommend', 'user', ...shop(csv)], /recommend user: which USER\?/],
      [['recommend', 'user', 'u1', ...shop(csv), '--n', '0'], /--n is a whole number from 1 to 10000, not 0/],
      [['recommend', 'similar', 'A', 'B', ...shop(csv)], /unknown argument B/],
    ];
    for (const [args, want] of cases) {
      const r = await runCli(args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, want, args.join(' '));
      assert.equal(r.stdout, '');
    }
  });

  it('says why it cannot evaluate, and exits 1', T, async () => {
    const args = ['recommend', 'eval', '--user', 'customer', '--item', 'product', '--time', 'day'];
    let r = await runCli([...args, '--csv', csv, '--split', 'time:2025-01-01']); // nothing after the date
    assert.equal(r.code, 1);
    assert.match(r.stderr, /no user to evaluate: .*\(16 train, 0 test\)/);
    r = await runCli([...args, '--csv', path.join(dir, 'missing.csv')]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /cannot open .*missing\.csv/);
    const empty = path.join(dir, 'header-only.csv');
    fs.writeFileSync(empty, 'customer,product,day\n,x,2024-01-01\n');
    r = await runCli([...args, '--csv', empty]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /header-only\.csv: no interactions/);
    const bad = path.join(dir, 'bad.csv');
    fs.writeFileSync(bad, 'customer,product,day\na,x,2024-01-01\na,y,someday\nb,x\nb,y,2024-01-02\n');
    r = await runCli(['recommend', 'train', '--user', 'customer', '--item', 'product', '--time', 'day', '--csv', bad]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /bad\.csv:3: not a time; skipped/);
    assert.match(r.stderr, /bad\.csv:4: .*; skipped/);
    assert.match(r.stdout, /^2 interactions, 2 users, 2 items/);
  });
});
