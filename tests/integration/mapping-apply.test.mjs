// Mappings declared with `pickaxe apply` and used by name: `pickaxe mapping
// list|show` print what apply stored, `pickaxe import FILE --mapping NAME`
// and `pickaxe quality FILE --mapping NAME` read the stored mapping when no
// file of that name exists, a file path still wins, an unknown name fails
// naming both possibilities, and re-applying a changed mapping bumps its
// version and the next import uses it.
import { spawnSync } from 'node:child_process';
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { BIN, makeTempDir, cleanupDir, createSource, runCli, runCliOk } from './lib/server.mjs';

const T = { timeout: 30000 };

const CRM_V1 = {
  identifiers: { user_id: 'customer_id', email: { column: 'email', std: 'email' } },
  traits: { first_name: { column: 'first_name', std: 'trim' }, vip: { column: 'vip', type: 'boolean' } },
};
// Version 2: the first name as "name", lower-cased, and the tier as a number.
const CRM_V2 = {
  identifiers: { user_id: 'customer_id', email: { column: 'email', std: 'email' } },
  traits: { name: { column: 'first_name', std: 'lower' }, tier: { column: 'tier', type: 'number' } },
};
const ORDERS = {
  type: 'track',
  event: 'Order Completed',
  message_id: 'invoice',
  identifiers: { user_id: 'customer' },
  properties: { revenue: { column: 'amount', type: 'number' } },
};

describe('mappings stored by apply, used by name', { timeout: 60000 }, () => {
  let dir;
  let data;
  before(async () => {
    dir = await makeTempDir();
    data = path.join(dir, 'data');
    await createSource(data, 'crm');
    write('customers.csv', ['customer_id,first_name,email,vip,tier', 'c1, Ann ,Ann@Example.com,yes,1',
      'c2,Lee,lee@example.com,no,2'].join('\n'));
    write('more.csv', ['customer_id,first_name,email,vip,tier', 'c3,Bo,bo@example.com,no,3',
      'c4,EVE,eve@example.com,yes,x'].join('\n'));
    write('orders.csv', ['invoice,customer,amount', 'i1,c1,15.5', 'i2,c2,9'].join('\n'));
  });
  after(async () => {
    await cleanupDir(dir);
  });

  function write(name, content) {
    const file = path.join(dir, name);
    fs.writeFileSync(file, typeof content === 'string' ? `${content}\n` : JSON.stringify(content));
    return file;
  }
  const cli = (args) => runCli([...args, '--data', data]);
  const cliOk = (args) => runCliOk([...args, '--data', data]);
  const profile = async (ref) => JSON.parse((await cliOk(['profile', 'get', ref])).stdout);
  const importCsv = (file, mapping) => cli(['import', path.join(dir, file), '--source', 'crm', '--mapping', mapping,
    '--json']);

  it('apply stores the mappings; mapping list and show print them', T, async () => {
    const r = await cliOk(['apply', write('defs.json', { mappings: { crm: CRM_V1, orders: ORDERS } }), '--json']);
    assert.equal(JSON.parse(r.stdout).mappings, 2);

    const list = JSON.parse((await cliOk(['mapping', 'list', '--json'])).stdout);
    assert.deepEqual(list.mappings.map((m) => [m.name, m.version]), [['crm', 1], ['orders', 1]]);
    assert.deepEqual(list.mappings[0].mapping, CRM_V1);
    assert.match(list.mappings[0].updated, /^\d{4}-\d\d-\d\dT/);

    const text = (await cliOk(['mapping', 'list'])).stdout;
    assert.match(text, /^crm\s+1\s+identify\s+csv\s/m);
    assert.match(text, /^orders\s+1\s+track\s+csv\s/m);

    const show = await cliOk(['mapping', 'show', 'orders']);
    assert.deepEqual(JSON.parse(show.stdout), ORDERS, 'show prints the mapping itself');
    const meta = JSON.parse((await cliOk(['mapping', 'show', 'crm', '--json'])).stdout);
    assert.equal(meta.name, 'crm');
    assert.equal(meta.version, 1);
    assert.deepEqual(meta.mapping, CRM_V1);

    const missing = await cli(['mapping', 'show', 'nope']);
    assert.notEqual(missing.code, 0);
    assert.match(missing.stderr, /no mapping named nope/);
  });

  it('import --mapping NAME reads the stored mapping: profiles and traits land', T, async () => {
    const r = await importCsv('customers.csv', 'crm');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).accepted, 2);
    const ann = await profile('email:ann@example.com');
    assert.deepEqual(ann.traits, { email: 'ann@example.com', first_name: 'Ann', vip: true });
    assert.deepEqual((await profile('user_id:c2')).traits, { email: 'lee@example.com', first_name: 'Lee', vip: false });

    const o = await importCsv('orders.csv', 'orders');
    assert.equal(o.code, 0, o.stderr);
    assert.equal(JSON.parse(o.stdout).accepted, 2);
    const exported = (await cliOk(['export', 'profiles'])).stdout.trim().split('\n').map((l) => JSON.parse(l));
    assert.equal(exported.length, 2, 'the orders joined the two customers');
    for (const p of exported) assert.equal(p.counts.by_event['Order Completed'], 1);
  });

  it('quality --mapping NAME checks values against the stored mapping', T, async () => {
    const file = write('quality.csv', ['customer_id,first_name,email,vip', 'c9,Al,al@example.com,maybe',
      'c8,Di,di@example.com,no'].join('\n'));
    const r = await cliOk(['quality', file, '--mapping', 'crm', '--json']);
    const report = JSON.parse(r.stdout);
    assert.equal(report.rows, 2);
    const vip = report.columns.find((c) => c.name === 'vip');
    assert.deepEqual(vip.invalid, [{ rule: 'boolean', count: 1 }], 'vip is a boolean in the stored mapping');
  });

  it('a mapping file path still works, and wins over a stored mapping of the same name', T, async () => {
    const file = write('crm', { identifiers: { user_id: 'customer_id' }, traits: { from_file: { column: 'vip' } } });
    write('abs.csv', ['customer_id,vip', 'c5,gold'].join('\n'));
    write('rel.csv', ['customer_id,vip', 'c6,silver'].join('\n'));
    const r = await importCsv('abs.csv', file);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual((await profile('user_id:c5')).traits, { from_file: 'gold' });
    // A relative path named like the stored mapping "crm": the file is used.
    const rel = spawnSync(BIN, ['import', 'rel.csv', '--source', 'crm', '--mapping', 'crm', '--data', data, '--json'],
      { cwd: dir, encoding: 'utf8', timeout: 20000 });
    assert.equal(rel.status, 0, rel.stderr);
    assert.equal(JSON.parse(rel.stdout).accepted, 1);
    assert.deepEqual((await profile('user_id:c6')).traits, { from_file: 'silver' });
  });

  it('an unknown name fails naming both possibilities, and stores nothing', T, async () => {
    const before = (await cliOk(['export', 'profiles'])).stdout;
    const r = await importCsv('more.csv', 'no-such-mapping');
    assert.equal(r.code, 2);
    assert.match(r.stderr, /no mapping file no-such-mapping and no mapping named no-such-mapping in .*\(pickaxe apply defines them\)/);
    const q = await cli(['quality', path.join(dir, 'more.csv'), '--mapping', 'no-such-mapping']);
    assert.equal(q.code, 2);
    assert.match(q.stderr, /no mapping file no-such-mapping and no mapping named no-such-mapping/);
    const gone = await cli(['import', path.join(dir, 'more.csv'), '--source', 'crm', '--mapping',
      path.join(dir, 'missing.json')]);
    assert.equal(gone.code, 2);
    assert.match(gone.stderr, /no mapping file .*missing\.json/);
    assert.equal((await cliOk(['export', 'profiles'])).stdout, before);
  });

  it('re-applying a changed mapping bumps its version; the next import uses it', T, async () => {
    await cliOk(['apply', write('defs2.json', { mappings: { crm: CRM_V2 } })]);
    const list = JSON.parse((await cliOk(['mapping', 'list', '--json'])).stdout);
    assert.deepEqual(list.mappings.map((m) => [m.name, m.version]), [['crm', 2], ['orders', 1]],
      'only the changed mapping moves; the one not in the file is kept');
    assert.deepEqual(JSON.parse((await cliOk(['mapping', 'show', 'crm'])).stdout), CRM_V2);

    // Applying the same file again changes nothing.
    await cliOk(['apply', path.join(dir, 'defs2.json')]);
    assert.equal(JSON.parse((await cliOk(['mapping', 'show', 'crm', '--json'])).stdout).version, 2);

    const r = await importCsv('more.csv', 'crm');
    assert.equal(r.code, 4, 'one row rejected by the new mapping');
    const out = JSON.parse(r.stdout);
    assert.equal(out.accepted, 1);
    assert.deepEqual(out.errors.map((e) => [e.line, e.field]), [[3, 'tier']]);
    assert.deepEqual((await profile('user_id:c3')).traits, { email: 'bo@example.com', name: 'bo', tier: 3 });
  });
});
