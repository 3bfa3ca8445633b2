// The product catalog: /v1/products over HTTP (PUT, GET, PATCH, DELETE,
// the paged list, the batch with good and bad items), 4xx bodies naming the
// field and the reason, the admin token required everywhere; `pickaxe
// product` and `pickaxe import` with a product mapping (a file and a stored
// one, rejected rows named by column, unchanged rows not rewritten) while
// the server runs; and products surviving a restart and a SIGKILL.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { makeTempDir, cleanupDir, createSource, createToken, startServer, runCli, runCliOk } from './lib/server.mjs';

const T = { timeout: 30000 };
const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

describe('product catalog', { timeout: 180000 }, () => {
  let dir;
  let data;
  let token;
  let key;
  let server;
  const admin = (method, p, body, tok = token) => server.api(method, p, { body, auth: tok ? { bearer: tok } : null });
  const productPath = (id) => `/v1/products/${encodeURIComponent(id)}`;
  const cli = (args, opts) => runCli([...args, '--data', data], opts);
  const cliOk = (args, opts) => runCliOk([...args, '--data', data], opts);
  const write = (name, content) => {
    const file = path.join(dir, name);
    fs.writeFileSync(file, content);
    return file;
  };
  // Every product, following next_after.
  async function listAll(limit) {
    const all = [];
    let after = null;
    for (let pages = 0; pages < 100; pages++) {
      const q = `?limit=${limit}${after !== null ? `&after=${encodeURIComponent(after)}` : ''}`;
      const r = await admin('GET', `/v1/products${q}`);
      assert.equal(r.status, 200, r.text);
      assert.ok(r.json.products.length <= limit);
      all.push(...r.json.products);
      after = r.json.next_after;
      if (after === null) return { all, total: r.json.total };
    }
    throw new Error('too many pages');
  }

  before(async () => {
    dir = await makeTempDir('pickaxe-products-');
    data = path.join(dir, 'data');
    key = await createSource(data, 'web');
    token = await createToken(data);
    server = await startServer(data);
  });
  after(async () => {
    if (server?.running) await server.kill();
    await cleanupDir(dir);
  });

  it('PUT creates (201) then replaces (200); GET returns the canonical form', T, async () => {
    let r = await admin('PUT', productPath('85123A'), {
      attributes: { sizes: ['S', 'M'], colour: 'white', gone: null },
      quantity: 12,
      price: 2.55,
      currency: 'GBP',
      category: 'Home > Candles',
      name: 'WHITE HANGING HEART T-LIGHT HOLDER',
    });
    assert.equal(r.status, 201, r.text);
    const { updated_at: first, ...rest } = r.json;
    assert.match(first, ISO);
    assert.deepEqual(rest, {
      id: '85123A', name: 'WHITE HANGING HEART T-LIGHT HOLDER', category: ['Home', 'Candles'], price: 2.55,
      currency: 'GBP', stock: 'in_stock', quantity: 12, attributes: { colour: 'white', sizes: ['S', 'M'] },
    });
    // The members in their canonical order.
    assert.deepEqual(Object.keys(r.json), ['id', 'name', 'category', 'price', 'currency', 'stock', 'quantity',
      'attributes', 'updated_at']);

    r = await admin('GET', productPath('85123A'));
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.updated_at, first);

    // The same product again: 200, nothing rewritten (updated_at kept).
    r = await admin('PUT', productPath('85123A'), { ...rest, updated_at: '1999-01-01T00:00:00.000Z' });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.updated_at, first);

    // A different one: replaced whole (members left out are gone).
    r = await admin('PUT', productPath('85123A'), { id: '85123A', name: 'HEART', price: 2.65 });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(Object.keys(r.json), ['id', 'name', 'price', 'stock', 'updated_at']);
    assert.equal(r.json.price, 2.65);

    // Ids with a slash, spaces and non-ASCII, percent-encoded in the path.
    r = await admin('PUT', productPath('a/b c é'), { stock: 'preorder' });
    assert.equal(r.status, 201, r.text);
    assert.equal(r.json.id, 'a/b c é');
    r = await admin('GET', productPath('a/b c é'));
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.stock, 'preorder');
    // A "/" in an id must be sent as %2F: a raw one is another path.
    r = await admin('GET', '/v1/products/a/b%20c%20%C3%A9');
    assert.equal(r.status, 404);
    assert.equal(r.json.error, 'no such endpoint');
  });

  it('bad input: 4xx with a JSON body naming the field and the reason', T, async () => {
    const cases = [
      [productPath('p1'), { price: -1 }, 400, 'price', /from 0 to/],
      [productPath('p1'), { price: '2.50' }, 400, 'price', /must be a number/],
      [productPath('p1'), { colour: 'red' }, 400, 'colour', /unknown member/],
      [productPath('p1'), { id: 'p2' }, 400, 'id', /does not match the id in the path/],
      [productPath('p1'), { stock: 'sold' }, 400, 'stock', /in_stock, out_of_stock, preorder, backorder, discontinued/],
      [productPath('p1'), { quantity: 1.5 }, 400, 'quantity', /whole number/],
      [productPath('p1'), { currency: 'gbp' }, 400, 'currency', /ISO 4217/],
      [productPath('p1'), { category: ['Home', ''] }, 400, 'category[1]', /must not be empty/],
      [productPath('p1'), { attributes: { spec: { w: 1 } } }, 400, 'attributes.spec', /not an object/],
      [productPath('p1'), [], 400, '', /a product is a JSON object/],
      [productPath('p1'), '{"price":', 400, '', /malformed JSON/],
      [productPath('x'.repeat(257)), {}, 400, 'id', /at most 256 bytes/],
      ['/v1/products/a%00b', {}, 400, 'id', /control characters/],
    ];
    for (const [p, body, status, field, reason] of cases) {
      const r = await admin('PUT', p, body);
      assert.equal(r.status, status, `${p} ${JSON.stringify(body)}: ${r.text}`);
      assert.equal(r.json.success, false);
      assert.equal(r.json.field, field, r.text);
      assert.match(r.json.reason, reason, r.text);
      assert.equal(typeof r.json.error, 'string');
    }
    // Nothing was stored by any of them.
    assert.equal((await admin('GET', productPath('p1'))).status, 404);

    // Too large: one product's body is at most 64 KiB.
    const big = await admin('PUT', productPath('p1'), { name: 'x', attributes: { pad: ' '.repeat(70000) } });
    assert.equal(big.status, 413, big.text);
    assert.match(big.json.reason, /65536 bytes/);

    // Not found, bad queries, methods.
    let r = await admin('GET', productPath('nope'));
    assert.equal(r.status, 404);
    assert.deepEqual([r.json.error, r.json.field], ['product not found', 'id']);
    r = await admin('DELETE', productPath('nope'));
    assert.equal(r.status, 404);
    r = await admin('PATCH', productPath('nope'), { stock: 'in_stock' });
    assert.equal(r.status, 404);
    r = await admin('GET', '/v1/products?limit=0');
    assert.equal(r.status, 400);
    assert.equal(r.json.field, 'limit');
    r = await admin('GET', '/v1/products?limit=1001');
    assert.equal(r.status, 400);
    r = await admin('POST', '/v1/products', {});
    assert.equal(r.status, 405);
    assert.equal(r.headers.get('allow'), 'GET, HEAD');
    r = await admin('POST', productPath('p1'), {});
    assert.equal(r.status, 405);
  });

  it('the admin token is required: 401 without one, 403 with a write key', T, async () => {
    for (const [method, p, body] of [['GET', '/v1/products'], ['GET', productPath('85123A')],
      ['PUT', productPath('z'), { price: 1 }], ['PATCH', productPath('85123A'), { price: 1 }],
      ['DELETE', productPath('85123A')], ['POST', '/v1/products/batch', { products: [{ id: 'z' }] }],
      ['PUT', '/v1/products/bad%00id', {}]]) {
      let r = await server.api(method, p, { body });
      assert.equal(r.status, 401, `${method} ${p}: ${r.text}`);
      assert.match(r.json.error, /admin token/);
      r = await server.api(method, p, { body, auth: { bearer: 'not-a-token' } });
      assert.equal(r.status, 401, `${method} ${p}: ${r.text}`);
      r = await server.api(method, p, { body, auth: { basic: key } });
      assert.equal(r.status, 403, `${method} ${p}: ${r.text}`);
    }
    assert.equal((await admin('GET', productPath('z'))).status, 404, 'nothing was written');
  });

  it('PATCH is a JSON merge patch; stock changes are visible to the next request', T, async () => {
    let r = await admin('PUT', productPath('mug'), {
      name: 'Mug', category: ['Home', 'Kitchen'], price: 4, quantity: 3, attributes: { colour: 'blue', size: 'L' },
    });
    assert.equal(r.status, 201, r.text);
    r = await admin('PATCH', productPath('mug'), { stock: 'out_of_stock' });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.stock, 'out_of_stock');
    assert.equal((await admin('GET', productPath('mug'))).json.stock, 'out_of_stock');

    r = await admin('PATCH', productPath('mug'), { stock: 'in_stock', quantity: 0, attributes: { size: null, material: 'stoneware' } });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.quantity, 0);
    assert.deepEqual(r.json.attributes, { colour: 'blue', material: 'stoneware' });
    r = await admin('PATCH', productPath('mug'), { name: null, category: ['Gifts'] });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.name, undefined);
    assert.deepEqual(r.json.category, ['Gifts']);

    for (const [body, field, reason] of [[{ id: 'cup' }, 'id', /cannot be changed/], [{ price: -2 }, 'price', /from 0/],
      [{ stock: 'gone' }, 'stock', /must be one of/], [[1], '', /JSON object/]]) {
      r = await admin('PATCH', productPath('mug'), body);
      assert.equal(r.status, 400, r.text);
      assert.equal(r.json.field, field);
      assert.match(r.json.reason, reason);
    }
    // The refused patches changed nothing.
    r = await admin('GET', productPath('mug'));
    assert.deepEqual([r.json.stock, r.json.price, r.json.quantity], ['in_stock', 4, 0]);
  });

  it('DELETE removes (204), then 404', T, async () => {
    assert.equal((await admin('PUT', productPath('temp'), {})).status, 201);
    let r = await admin('DELETE', productPath('temp'));
    assert.equal(r.status, 204);
    assert.equal(r.text, '');
    r = await admin('DELETE', productPath('temp'));
    assert.equal(r.status, 404);
    assert.equal((await admin('GET', productPath('temp'))).status, 404);
  });

  it('POST /v1/products/batch: good items land, bad ones are reported by index', T, async () => {
    const products = [];
    for (let i = 0; i < 25; i++) products.push({ id: `b${String(i).padStart(3, '0')}`, price: i, stock: i % 5 ? 'in_stock' : 'backorder' });
    products.splice(3, 0, { id: 'bad1', price: 'free' });
    products.splice(7, 0, { name: 'no id' });
    products.splice(10, 0, 'not an object');
    let r = await admin('POST', '/v1/products/batch', { products });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.success, true);
    assert.deepEqual([r.json.accepted, r.json.created, r.json.replaced, r.json.unchanged], [25, 25, 0, 0]);
    assert.deepEqual(r.json.rejected, [
      { index: 3, field: 'price', reason: 'must be a number from 0 to 1e+15' },
      { index: 7, field: 'id', reason: 'is required' },
      { index: 10, field: '', reason: 'a product is a JSON object' },
    ]);
    assert.equal((await admin('GET', productPath('bad1'))).status, 404);
    assert.equal((await admin('GET', productPath('b024'))).json.price, 24);

    // Again with one change: 24 unchanged, 1 replaced.
    const again = products.filter((p) => typeof p === 'object' && p.id?.startsWith('b0'));
    again[0] = { ...again[0], price: 100 };
    r = await admin('POST', '/v1/products/batch', { products: again });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual([r.json.created, r.json.replaced, r.json.unchanged, r.json.rejected.length], [0, 1, 24, 0]);

    // Nothing valid: 400, same shape.
    r = await admin('POST', '/v1/products/batch', { products: [{ id: '' }] });
    assert.equal(r.status, 400, r.text);
    assert.equal(r.json.error, 'no valid products');
    assert.deepEqual(r.json.rejected, [{ index: 0, field: 'id', reason: 'must not be empty' }]);

    // The envelope.
    for (const [body, field] of [[{ items: [] }, 'items'], [{ products: [] }, 'products'], [{ products: {} }, 'products'],
      [[], '']]) {
      r = await admin('POST', '/v1/products/batch', body);
      assert.equal(r.status, 400, r.text);
      assert.equal(r.json.field, field, r.text);
    }
    const many = Array.from({ length: 1001 }, (_, i) => ({ id: `m${i}` }));
    r = await admin('POST', '/v1/products/batch', { products: many });
    assert.equal(r.status, 400, r.text);
    assert.match(r.json.reason, /1 to 1000 products/);
    r = await admin('POST', '/v1/products/batch', '{"products":[{"id":"x"}');
    assert.equal(r.status, 400);
    assert.equal(r.json.error, 'malformed JSON');
    // /v1/products/batch is the batch only (a product "batch" is written by batches, imports and the CLI).
    r = await admin('PUT', '/v1/products/batch', { name: 'x' });
    assert.equal(r.status, 405, r.text);
    assert.equal(r.headers.get('allow'), 'POST');
    r = await admin('POST', '/v1/products/batch', { products: [{ id: 'batch', name: 'the batch product' }] });
    assert.equal(r.json.created, 1, r.text);
    r = await admin('GET', '/v1/products?after=b024&limit=1');
    assert.equal(r.json.products[0].id, 'batch');
  });

  it('GET /v1/products pages in id order', T, async () => {
    const { all, total } = await listAll(7);
    const ids = all.map((p) => p.id);
    assert.equal(ids.length, total);
    assert.deepEqual(ids, [...ids].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))));
    assert.equal(new Set(ids).size, ids.length);
    assert.ok(ids.includes('a/b c é') && ids.includes('mug') && ids.includes('b000'));
    // after= an id that is not there starts at the next one.
    const r = await admin('GET', `/v1/products?limit=2&after=${encodeURIComponent('b0055')}`);
    assert.deepEqual(r.json.products.map((p) => p.id), ['b006', 'b007']);
    // The default page is 100.
    const d = await admin('GET', '/v1/products');
    assert.equal(d.json.products.length, Math.min(100, total));
    // HEAD: headers only.
    const h = await admin('HEAD', '/v1/products');
    assert.equal(h.status, 200);
    assert.equal(h.text, '');
  });

  it('pickaxe product get/put/set-stock/delete/list work beside the running server', T, async () => {
    let r = await cliOk(['product', 'set-stock', 'mug', 'discontinued', '--quantity', '7']);
    assert.equal(JSON.parse(r.stdout).stock, 'discontinued');
    // The server sees the change at once.
    let g = await admin('GET', productPath('mug'));
    assert.deepEqual([g.json.stock, g.json.quantity], ['discontinued', 7]);

    const lines = [
      JSON.stringify({ id: 'cli1', name: 'One', price: 1 }),
      JSON.stringify({ id: 'cli2', price: -1 }),
      '',
      'not json',
      JSON.stringify({ id: 'cli3', stock: 'backorder', category: 'A > B' }),
    ].join('\n');
    r = await cli(['product', 'put', '-', '--json'], { input: lines });
    assert.equal(r.code, 4, r.stderr);
    const sum = JSON.parse(r.stdout);
    assert.deepEqual([sum.accepted, sum.created, sum.rejected], [2, 2, 2]);
    assert.deepEqual(sum.errors.map((e) => [e.line, e.field]), [[2, 'price'], [4, '']]);
    g = await admin('GET', productPath('cli3'));
    assert.deepEqual(g.json.category, ['A', 'B']);

    // One pretty-printed product from a file.
    const file = write('one.json', JSON.stringify({ id: 'cli4', name: 'Four', attributes: { x: [1, 2] } }, null, 2));
    r = await cliOk(['product', 'put', file]);
    assert.match(r.stdout, /1 products: 1 created, 0 replaced, 0 unchanged, 0 rejected/);
    r = await cliOk(['product', 'get', 'cli4']);
    assert.deepEqual(JSON.parse(r.stdout).attributes, { x: [1, 2] });

    r = await cliOk(['product', 'list', '--limit', '2', '--after', 'cli1', '--json']);
    const page = JSON.parse(r.stdout);
    assert.deepEqual(page.products.map((p) => p.id), ['cli3', 'cli4']);
    assert.equal(page.next_after, 'cli4');
    r = await cliOk(['product', 'list']);
    assert.match(r.stdout, /^ID\s+STOCK\s+QUANTITY\s+PRICE\s+NAME$/m);
    assert.match(r.stdout, /^mug\s+discontinued\s+7\s+4\s*$/m);

    r = await cliOk(['product', 'delete', 'cli4']);
    assert.match(r.stdout, /product cli4 deleted/);
    for (const args of [['product', 'get', 'cli4'], ['product', 'delete', 'cli4'], ['product', 'set-stock', 'cli4', 'in_stock']]) {
      r = await cli(args);
      assert.equal(r.code, 3, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, /no product with id cli4/);
    }
    r = await cli(['product', 'set-stock', 'mug', 'sold']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /not a stock state/);
    r = await cli(['product', 'set-stock', 'mug', 'in_stock', '--quantity', '-1']);
    assert.equal(r.code, 2);
    r = await cli(['product', 'frobnicate']);
    assert.equal(r.code, 2);
  });

  it('pickaxe import with a product mapping: rows land, rejects name the column, unchanged rows are not rewritten', T, async () => {
    const mapping = {
      type: 'product',
      product: {
        id: 'StockCode', name: 'Description', category: { column: 'Category', separator: ' > ' },
        price: { column: 'UnitPrice', type: 'number' }, currency: { value: 'gbp' }, stock: 'Stock', quantity: 'Qty',
      },
      attributes: { colour: 'Colour', weight: { column: 'Weight', type: 'number' } },
    };
    const mapFile = write('products-map.json', JSON.stringify(mapping));
    const csv = write('products.csv', [
      'StockCode,Description,Category,UnitPrice,Stock,Qty,Colour,Weight',
      '85123A,WHITE HANGING HEART T-LIGHT HOLDER,Home > Candles,2.55,In Stock,12,white,0.3',
      '71053,WHITE METAL LANTERN,Home > Lighting,3.39,out of stock,,,',
      '22752,SET 7 BABUSHKA NESTING BOXES,Toys,7.65,preorder,-3,red,',
      '21730,GLASS STAR FROSTED T-LIGHT HOLDER,Home >  > Candles,4.25,in_stock,2,,',
      ',NO ID,Home,1,in_stock,1,,',
      '84029G,KNITTED UNION FLAG HOT WATER BOTTLE,Home,£3.39,in_stock,1,,',
      '84029E,RED WOOLLY HOTTIE WHITE HEART.,Home,3.39,sold,1,,',
      '22423,REGENCY CAKESTAND 3 TIER,Kitchen > Cake stands,12.75,backorder,0,,1.5',
      '',
    ].join('\n'));
    let r = await cli(['import', csv, '--mapping', mapFile, '--json']);
    assert.equal(r.code, 4, r.stderr);
    let sum = JSON.parse(r.stdout);
    assert.deepEqual([sum.accepted, sum.created, sum.replaced, sum.unchanged, sum.rejected], [3, 2, 1, 0, 5]);
    assert.deepEqual(sum.errors.map((e) => [e.line, e.field]), [[4, 'Qty'], [5, 'Category'], [6, 'StockCode'],
      [7, 'UnitPrice'], [8, 'Stock']]);
    const rejects = fs.readFileSync(`${csv}.rejects.csv`, 'utf8').trim().split('\n');
    assert.equal(rejects[0], 'line,field,reason');
    assert.equal(rejects.length, 6);
    assert.match(rejects[1], /^4,"Qty","must not be negative: -3"$/);

    let g = await admin('GET', productPath('85123A'));
    assert.deepEqual({ ...g.json, updated_at: undefined }, {
      id: '85123A', name: 'WHITE HANGING HEART T-LIGHT HOLDER', category: ['Home', 'Candles'], price: 2.55,
      currency: 'GBP', stock: 'in_stock', quantity: 12, attributes: { colour: 'white', weight: 0.3 }, updated_at: undefined,
    });
    g = await admin('GET', productPath('22423'));
    assert.deepEqual([g.json.stock, g.json.quantity, g.json.category], ['backorder', 0, ['Kitchen', 'Cake stands']]);
    assert.equal((await admin('GET', productPath('71053'))).json.stock, 'out_of_stock');
    const stamp = (await admin('GET', productPath('71053'))).json.updated_at;

    // The same file again, through the mapping stored by apply (no --source): nothing rewritten.
    await cliOk(['apply', write('defs.json', JSON.stringify({ mappings: { catalog: mapping } }))]);
    r = await cliOk(['mapping', 'list']);
    assert.match(r.stdout, /^catalog\s+1\s+product\s+csv\s/m);
    r = await cli(['import', csv, '--mapping', 'catalog', '--json']);
    assert.equal(r.code, 4, r.stderr);
    sum = JSON.parse(r.stdout);
    assert.deepEqual([sum.created, sum.replaced, sum.unchanged, sum.rejected], [0, 0, 3, 5]);
    assert.equal((await admin('GET', productPath('71053'))).json.updated_at, stamp);

    // A --source is accepted and ignored; a clean file exits 0 with a text summary.
    const clean = write('clean.csv', 'StockCode,Description,Category,UnitPrice,Stock,Qty,Colour,Weight\n71053,WHITE METAL LANTERN,Home > Lighting,3.39,in stock,4,,\n');
    r = await cli(['import', clean, '--mapping', 'catalog', '--source', 'web']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /1 products \(0 created, 1 replaced, 0 unchanged\), 0 rejected/);
    g = await admin('GET', productPath('71053'));
    assert.deepEqual([g.json.stock, g.json.quantity], ['in_stock', 4]);

    // JSON lines through a jsonl product mapping.
    const jmap = write('jmap.json', JSON.stringify({ type: 'product', format: 'jsonl',
      product: { id: 'sku', name: 'title', stock: { column: 'available', type: 'boolean' }, price: 'price.amount' } }));
    const jl = write('products.jsonl', [
      JSON.stringify({ sku: 'J1', title: 'Jay', available: false, price: { amount: 9.5 } }),
      JSON.stringify({ sku: 'J2', title: 'Kay', available: 'maybe' }),
    ].join('\n'));
    r = await cli(['import', jl, '--mapping', jmap, '--json']);
    assert.equal(r.code, 4, r.stderr);
    sum = JSON.parse(r.stdout);
    assert.deepEqual([sum.created, sum.rejected], [1, 1]);
    assert.equal(sum.errors[0].field, 'available');
    g = await admin('GET', productPath('J1'));
    assert.deepEqual([g.json.stock, g.json.price], ['out_of_stock', 9.5]);

    // A product mapping that does not load fails the import with its key named.
    const badMap = write('bad-map.json', JSON.stringify({ type: 'product', product: { name: 'Description' } }));
    r = await cli(['import', csv, '--mapping', badMap]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /product\.id: is required/);
    // Events still need a source.
    r = await cli(['import', csv]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--source NAME is required/);
  });

  it('products survive a restart and a SIGKILL', T, async () => {
    const before = await listAll(1000);
    assert.ok(before.total > 30);
    await server.stop();
    server = await startServer(data);
    let after = await listAll(1000);
    assert.deepEqual(after, before);
    // Acknowledged writes are durable: a change answered just before a SIGKILL is there after it.
    const r = await admin('PATCH', productPath('mug'), { stock: 'out_of_stock', quantity: 0 });
    assert.equal(r.status, 200, r.text);
    await server.kill();
    server = await startServer(data);
    const g = await admin('GET', productPath('mug'));
    assert.deepEqual([g.json.stock, g.json.quantity], ['out_of_stock', 0]);
    after = await listAll(1000);
    assert.equal(after.total, before.total);
    // pickaxe rebuild (the derived state replayed) leaves the catalog alone.
    await server.stop();
    await cliOk(['rebuild']);
    server = await startServer(data);
    assert.equal((await listAll(1000)).total, before.total);
  });
});
