// `pickaxe import FILE --mapping MAP.json`: a CSV export (quoted fields, a
// ", " separated header as CRM exports have) becomes identify and track
// events through the same pipeline; bad rows go to the reject file with
// their line and reason while every good row lands; importing again stores
// nothing twice.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { makeTempDir, cleanupDir, createSource, runCli, runCliOk } from './lib/server.mjs';

const CUSTOMERS = [
  'customer_id, first_name, email, joined, vip',
  'c1, Ann, " Ann@Example.com", 05/03/2024, yes',
  'c2, "Lee, Jr.", lee@example.com, 2024-01-31, no',
  'c3, Bo, not-an-address, 01/01/2023, no', // rejected: the e-mail does not standardize
  'c4, "Zoë ""Z"" Müller", zoe@example.com, 29/02/2023, y', // rejected: no such date
  'c5, Eve, eve@example.com, 1 Feb 2022, n',
];

const ORDERS = [
  'invoice;customer;amount;when',
  '536365;c1;15.30;2024-03-06',
  '536366;c2;abc;2024-03-07', // rejected: not a number
  '536367;c5;9;2024-03-08',
];

describe('CSV import through a mapping', { timeout: 60000 }, () => {
  let dir;
  let data;
  before(async () => {
    dir = await makeTempDir();
    data = path.join(dir, 'data');
    await createSource(data, 'crm');
    fs.writeFileSync(path.join(dir, 'customers.csv'), `${CUSTOMERS.join('\r\n')}\r\n`);
    fs.writeFileSync(path.join(dir, 'orders.csv'), `${ORDERS.join('\n')}\n`);
    fs.writeFileSync(path.join(dir, 'customers.json'), JSON.stringify({
      identifiers: { user_id: 'customer_id', email: { column: 'email', std: 'email' } },
      traits: {
        first_name: { column: 'first_name', std: 'trim' },
        joined: { column: 'joined', std: 'date' },
        vip: { column: 'vip', type: 'boolean' },
      },
    }));
    fs.writeFileSync(path.join(dir, 'orders.json'), JSON.stringify({
      type: 'track',
      event: 'Order Completed',
      message_id: 'invoice',
      timestamp: { column: 'when', std: 'date' },
      identifiers: { user_id: 'customer' },
      properties: { revenue: { column: 'amount', type: 'number' } },
    }));
  });
  after(async () => {
    await cleanupDir(dir);
  });

  const importFile = (name, mapping, extra = []) => runCli(['import', path.join(dir, name), '--source', 'crm',
    '--mapping', path.join(dir, mapping), '--data', data, '--json', ...extra]);

  it('good rows land, bad rows are rejected with line and reason', async () => {
    const r = await importFile('customers.csv', 'customers.json');
    assert.equal(r.code, 4, 'exit 4: some rows were rejected');
    const out = JSON.parse(r.stdout);
    assert.equal(out.accepted, 3);
    assert.equal(out.rejected, 2);
    assert.deepEqual(out.errors.map((e) => [e.line, e.field]), [[4, 'email'], [5, 'joined']]);
    const rejects = fs.readFileSync(path.join(dir, 'customers.csv.rejects.csv'), 'utf8').trim().split('\n');
    assert.equal(rejects[0], 'line,field,reason');
    assert.match(rejects[1], /^4,"email","not a valid email: /);
    assert.match(rejects[2], /^5,"joined","not a valid date: /);

    const ann = JSON.parse((await runCliOk(['profile', 'get', 'email:ann@example.com', '--data', data])).stdout);
    assert.deepEqual(ann.traits, { email: 'ann@example.com', first_name: 'Ann', joined: '2024-03-05', vip: true });
    const lee = JSON.parse((await runCliOk(['profile', 'get', 'user_id:c2', '--data', data])).stdout);
    assert.equal(lee.traits.first_name, 'Lee, Jr.');
    assert.equal(lee.traits.vip, false);
  });

  it('track rows from a ;-separated file, and a second import stores nothing twice', async () => {
    const r = await importFile('orders.csv', 'orders.json', ['--rejects', path.join(dir, 'bad-orders.csv')]);
    assert.equal(r.code, 4);
    const out = JSON.parse(r.stdout);
    assert.equal(out.accepted, 2);
    assert.deepEqual(out.errors.map((e) => [e.line, e.field]), [[3, 'amount']]);
    assert.ok(fs.existsSync(path.join(dir, 'bad-orders.csv')));
    const ann = JSON.parse((await runCliOk(['profile', 'get', 'user_id:c1', '--data', data])).stdout);
    assert.equal(ann.counts.by_event['Order Completed'], 1);
    assert.equal(ann.first_seen, '2024-03-06T00:00:00.000Z'); // the order's date (the identify came later)

    const again = JSON.parse((await importFile('customers.csv', 'customers.json')).stdout);
    assert.equal(again.accepted, 0);
    assert.equal(again.duplicates, 3);
  });

  it('pickaxe quality profiles the columns and counts what the mapping would reject', async () => {
    const r = await runCliOk(['quality', path.join(dir, 'customers.csv'), '--mapping', path.join(dir, 'customers.json'), '--json']);
    const q = JSON.parse(r.stdout);
    assert.equal(q.rows, 5);
    const col = (name) => q.columns.find((c) => c.name === name);
    assert.equal(col('email').filled, 5);
    assert.deepEqual(col('email').invalid, [{ rule: 'email', count: 1 }]);
    assert.deepEqual(col('joined').invalid, [{ rule: 'date', count: 1 }]);
    assert.equal(col('vip').distinct, 4); // yes, no, no, y, n: distinct as written
    assert.equal(col('customer_id').patterns[0].pattern, 'a9');
    const text = (await runCliOk(['quality', path.join(dir, 'customers.csv')])).stdout;
    assert.match(text, /^5 rows, 0 bad records/);
    assert.match(text, /first_name\n  filled   5 \(100\.0%\)/);
  });

  it('pickaxe quality with several files finds the columns that join them', async () => {
    const a = ['cust_no,city', ...Array.from({ length: 40 }, (_, i) => `C${i},city${i % 3}`)];
    const b = ['invoice;customer', ...Array.from({ length: 40 }, (_, i) => `I${i};c${i + 20}`)];
    fs.writeFileSync(path.join(dir, 'a.csv'), `${a.join('\n')}\n`);
    fs.writeFileSync(path.join(dir, 'b.csv'), `${b.join('\n')}\n`);
    const q = JSON.parse((await runCliOk(['quality', path.join(dir, 'a.csv'), path.join(dir, 'b.csv'), '--json'])).stdout);
    assert.equal(q.files.length, 2);
    assert.equal(q.overlaps.length, 1);
    assert.equal(q.overlaps[0].a.column, 'cust_no');
    assert.equal(q.overlaps[0].b.column, 'customer');
    assert.equal(q.overlaps[0].shared, 20);
    const r = await runCli(['quality', path.join(dir, 'a.csv'), path.join(dir, 'b.csv'), '--mapping', path.join(dir, 'orders.json')]);
    assert.equal(r.code, 2);
  });

  it('JSON lines through a mapping: members and dotted paths as columns, bad lines rejected', async () => {
    const lines = [
      { id: 'L1', contact: { phone: '020 7946 0018', city: 'Leeds' }, points: 120.5 },
      { id: 'L2', contact: { phone: 'ring me' } }, // rejected: not a phone number
      '{"id": "L3", "contact": ', // rejected: not JSON
      { id: 'L4', contact: { city: 'York' }, points: 0 },
    ].map((l) => (typeof l === 'string' ? l : JSON.stringify(l)));
    fs.writeFileSync(path.join(dir, 'loyalty.jsonl'), `${lines.join('\n')}\n`);
    fs.writeFileSync(path.join(dir, 'loyalty.json'), JSON.stringify({
      format: 'jsonl',
      country_code: '44',
      identifiers: { user_id: 'id' },
      traits: {
        phone: { column: 'contact.phone', std: 'phone' },
        city: 'contact.city',
        points: { column: 'points', type: 'number' },
      },
    }));
    const r = await importFile('loyalty.jsonl', 'loyalty.json');
    assert.equal(r.code, 4);
    const out = JSON.parse(r.stdout);
    assert.equal(out.accepted, 2);
    assert.deepEqual(out.errors.map((e) => [e.line, e.field]), [[2, 'contact.phone'], [3, '']]);
    const l1 = JSON.parse((await runCliOk(['profile', 'get', 'user_id:L1', '--data', data])).stdout);
    assert.deepEqual(l1.traits, { phone: '+442079460018', city: 'Leeds', points: 120.5 });
    const l4 = JSON.parse((await runCliOk(['profile', 'get', 'user_id:L4', '--data', data])).stdout);
    assert.deepEqual(l4.traits, { city: 'York', points: 0 });
  });

  it('a mapping that does not fit the file stops the import before anything lands', async () => {
    fs.writeFileSync(path.join(dir, 'wrong.json'), JSON.stringify({ identifiers: { user_id: 'cust_no' } }));
    const r = await importFile('customers.csv', 'wrong.json');
    assert.equal(r.code, 2);
    assert.match(r.stderr, /no column named cust_no/);
    fs.writeFileSync(path.join(dir, 'typo.json'), JSON.stringify({ identifiers: { user_id: 'customer_id' }, trait: {} }));
    const t = await importFile('customers.csv', 'typo.json');
    assert.equal(t.code, 2);
    assert.match(t.stderr, /mapping .*typo\.json: trait: unknown/);
  });
});
