// `pickaxe quality --source NAME`: the data quality of the events a source
// stored, field by field (identifiers, event names, flattened traits and
// properties), read from the event log with and without a server running;
// an empty source gives an empty report, an unknown one a usage error; with
// a CSV file as well, the candidate join keys between the file and the
// stored events.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startPickaxe, runCli, runCliOk } from './lib/server.mjs';

// 12 identifies, 4 tracks, 2 pages, in this order (one batch: log order).
function webEvents() {
  const ev = [];
  for (let i = 0; i < 12; i++) {
    const traits = { email: `user${i}@example.com`, plan: i % 3 === 0 ? 'pro' : 'free' };
    if (i % 2 === 0) traits.age = 20 + i;
    ev.push({ type: 'identify', userId: `u${i}`, traits });
  }
  const revenue = [10.5, 3, 0.25, 100];
  for (let i = 0; i < 4; i++) {
    const products = i % 2 === 0 ? [{ sku: 'SKU-1' }, { sku: 'SKU-2' }] : [{ sku: 'SKU-1' }];
    ev.push({ type: 'track', userId: `u${i}`, event: 'Order Completed', properties: { revenue: revenue[i], products } });
  }
  for (let i = 0; i < 2; i++) {
    ev.push({ type: 'page', anonymousId: 'anon-1', name: 'Home', context: { traits: { email: 'visitor@example.com' } } });
  }
  return ev;
}

const COLUMNS = ['type', 'event', 'userId', 'anonymousId', 'context.traits.email', 'name',
  'properties.products[].sku', 'properties.revenue', 'traits.age', 'traits.email', 'traits.plan'];

const byValue = (list, key) => Object.fromEntries(list.map((x) => [x[key], x.count]));

describe('quality of a stored source', { timeout: 90000 }, () => {
  let px;
  let csv;
  before(async () => {
    px = await startPickaxe({ sources: [{ name: 'web' }, { name: 'crm' }, { name: 'pos' }] });
    let r = await px.collect('/v1/batch', { batch: webEvents() });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.accepted, 18);
    // Another source's events are not web's.
    r = await px.collect('/v1/batch', { batch: [{ type: 'track', userId: 'p1', event: 'Sale', properties: { till: 4 } }] },
      px.keys.pos);
    assert.equal(r.status, 200, r.text);
    csv = path.join(px.dir, '..', `${path.basename(px.dir)}-crm.csv`);
    const rows = ['customer_no,city', ...Array.from({ length: 15 }, (_, i) => `U${i},city${i % 3}`)];
    fs.writeFileSync(csv, `${rows.join('\n')}\n`);
  });
  after(async () => {
    if (csv) fs.rmSync(csv, { force: true });
    await px.cleanup();
  });

  const check = (q) => {
    assert.equal(q.events, 18);
    assert.equal(q.bad_records, 0);
    assert.equal(q.columns_capped, false);
    assert.deepEqual(q.columns.map((c) => c.name), COLUMNS);
    const col = (name) => q.columns.find((c) => c.name === name);

    const type = col('type');
    assert.equal(type.filled, 18);
    assert.equal(type.fill_rate, 1);
    assert.equal(type.distinct, 3);
    assert.deepEqual(type.top, [{ value: 'identify', count: 12 }, { value: 'track', count: 4 }, { value: 'page', count: 2 }]);

    const user = col('userId');
    assert.equal(user.filled, 16);
    assert.equal(user.fill_rate, 0.8889);
    assert.equal(user.distinct, 12);
    assert.deepEqual(user.patterns, [{ pattern: 'a9', count: 14 }, { pattern: 'a99', count: 2 }]);
    assert.deepEqual(byValue(user.top, 'value'), { u0: 2, u1: 2, u2: 2, u3: 2, [user.top[4].value]: 1 });

    assert.deepEqual([col('anonymousId').filled, col('anonymousId').distinct], [2, 1]);
    assert.deepEqual(col('event').top, [{ value: 'Order Completed', count: 4 }]);
    assert.deepEqual(col('event').patterns, [{ pattern: 'Aaaaa Aaaaaaaaa', count: 4 }]);
    assert.deepEqual(col('name').top, [{ value: 'Home', count: 2 }]);
    assert.equal(col('name').fill_rate, 0.1111);

    const email = col('traits.email');
    assert.equal(email.filled, 12);
    assert.equal(email.distinct, 12);
    assert.deepEqual(email.patterns, [{ pattern: 'aaaa9@aaaaaaa.aaa', count: 10 }, { pattern: 'aaaa99@aaaaaaa.aaa', count: 2 }]);
    assert.deepEqual(col('traits.plan').top, [{ value: 'free', count: 8 }, { value: 'pro', count: 4 }]);
    assert.deepEqual([col('traits.age').filled, col('traits.age').distinct], [6, 6]);
    assert.deepEqual(col('traits.age').patterns, [{ pattern: '99', count: 6 }]);
    assert.deepEqual(col('context.traits.email').top, [{ value: 'visitor@example.com', count: 2 }]);

    // Numbers as their JSON text; an array's items each a value, the event once.
    const revenue = col('properties.revenue');
    assert.deepEqual(byValue(revenue.top, 'value'), { '10.5': 1, 3: 1, '0.25': 1, 100: 1 });
    assert.deepEqual(byValue(revenue.patterns, 'pattern'), { '99.9': 1, 9: 1, '9.99': 1, 999: 1 });
    const sku = col('properties.products[].sku');
    assert.equal(sku.filled, 4);
    assert.equal(sku.distinct, 2);
    assert.deepEqual(sku.top, [{ value: 'SKU-1', count: 4 }, { value: 'SKU-2', count: 2 }]);
    assert.deepEqual(sku.patterns, [{ pattern: 'AAA-9', count: 6 }]);
  };

  it('reports every field of the source\'s events while the server runs', async () => {
    const r = await runCliOk(['quality', '--source', 'web', '--data', px.dir, '--json']);
    check(JSON.parse(r.stdout));
  });

  it('--limit N reads only the newest N events', async () => {
    const q = JSON.parse((await runCliOk(['quality', '--source', 'web', '--data', px.dir, '--json', '--limit', '3'])).stdout);
    assert.equal(q.events, 3);
    const type = q.columns.find((c) => c.name === 'type');
    assert.deepEqual(type.top, [{ value: 'page', count: 2 }, { value: 'track', count: 1 }]);
    assert.equal(q.columns.find((c) => c.name === 'properties.revenue').top[0].value, '100');
    assert.ok(!q.columns.some((c) => c.name.startsWith('traits.')), 'no identify among the newest 3');
    const bad = await runCli(['quality', '--source', 'web', '--data', px.dir, '--limit', 'lots']);
    assert.equal(bad.code, 2);
  });

  it('a source without events gives an empty report', async () => {
    const r = await runCliOk(['quality', '--source', 'crm', '--data', px.dir, '--json']);
    assert.deepEqual(JSON.parse(r.stdout), { events: 0, bad_records: 0, columns_capped: false, columns: [] });
    const text = await runCliOk(['quality', '--source', 'crm', '--data', px.dir]);
    assert.equal(text.stdout, '0 events, 0 bad records\n\n');
  });

  it('an unknown source is a usage error', async () => {
    let r = await runCli(['quality', '--source', 'nope', '--data', px.dir, '--json']);
    assert.equal(r.code, 2);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /no source named nope/);
    r = await runCli(['quality', csv, '--source', 'nope', '--data', px.dir]);
    assert.equal(r.code, 2);
    r = await runCli(['quality', '--source', 'web', '--data', path.join(px.dir, 'no-such-dir')]);
    assert.equal(r.code, 2);
    assert.ok(!fs.existsSync(path.join(px.dir, 'no-such-dir')), 'no data directory made');
  });

  it('a file with a source: both reports and the join keys between them', async () => {
    const q = JSON.parse((await runCliOk(['quality', csv, '--source', 'web', '--data', px.dir, '--json'])).stdout);
    assert.equal(q.files.length, 2);
    assert.equal(q.files[0].file, csv);
    assert.equal(q.files[0].report.rows, 15);
    assert.equal(q.files[1].source, 'web');
    assert.equal(q.files[1].report.events, 18);
    assert.deepEqual(q.overlaps, [{
      a: { file: csv, column: 'customer_no', distinct: 15 },
      b: { file: 'source:web', column: 'userId', distinct: 12 },
      shared: 12, containment: 1, jaccard: 0.8,
    }]);
    const text = (await runCliOk(['quality', csv, '--source', 'web', '--data', px.dir])).stdout;
    assert.match(text, /^== .*-crm\.csv ==\n15 rows, 0 bad records\n/);
    assert.match(text, /\n== source:web ==\n18 events, 0 bad records\n/);
    assert.ok(text.endsWith(`candidate join keys (values shared between files and sources):\n  ${csv}:customer_no ~ source:web:userId  12 shared, 100% of the smaller\n`), text);
  });

  it('reads the same with the server stopped, and one source against another', async () => {
    await px.stop();
    check(JSON.parse((await runCliOk(['quality', '--source', 'web', '--data', px.dir, '--json'])).stdout));
    const q = JSON.parse((await runCliOk(['quality', '--source', 'web', '--source', 'pos', '--data', px.dir, '--json'])).stdout);
    assert.deepEqual(q.files.map((f) => [f.source, f.report.events]), [['web', 18], ['pos', 1]]);
    assert.deepEqual(q.files[1].report.columns.map((c) => c.name), ['type', 'event', 'userId', 'anonymousId', 'properties.till']);
    assert.equal(q.files[1].report.columns[3].filled, 0);
    assert.deepEqual(q.overlaps, []);
  });
});
