// Catalog durability: concurrent clients write products (PUT, then PATCH of
// their stock), the server is SIGKILLed mid-load, and after a restart every
// acknowledged write is there, as acknowledged (a product's state is the
// last acknowledged write of it, or a later one that was sent but whose
// answer was lost to the kill).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { makeTempDir, cleanupDir, createToken, startServer, sleep } from './lib/server.mjs';

const CLIENTS = 4;
const MIN_ACKED_BEFORE_KILL = 300;

describe('catalog durability under SIGKILL', { timeout: 60000 }, () => {
  let dir;
  let token;
  let server;
  // id -> the writes sent, in order ({stock, quantity}), and how many of them were acknowledged
  const writes = new Map();

  before(async () => {
    dir = await makeTempDir();
    token = await createToken(dir);
  });
  after(async () => {
    if (server?.running) await server.kill();
    await cleanupDir(dir);
  });

  it('keeps every acknowledged product write across a SIGKILL', async () => {
    server = await startServer(dir);
    let acked = 0;
    let stop = false;
    const client = async (c) => {
      for (let k = 0; !stop; k++) {
        const id = `P-${c}-${k >> 1}`;
        // Even k: the product created in stock with a quantity; odd k: its stock changed.
        const put = k % 2 === 0;
        const state = put ? { stock: 'in_stock', quantity: k } : { stock: 'out_of_stock', quantity: 0 };
        if (!writes.has(id)) writes.set(id, { sent: [], acked: 0 });
        const w = writes.get(id);
        w.sent.push(state);
        let r;
        try {
          r = await server.api(put ? 'PUT' : 'PATCH', `/v1/products/${id}`, {
            auth: { bearer: token },
            body: put ? { name: `Product ${id}`, category: ['Bench', `C${c}`], price: 1.5, ...state } : state,
          });
        } catch {
          return; // the server is gone
        }
        if (r.status !== 200 && r.status !== 201) throw new Error(`${id}: ${r.status} ${JSON.stringify(r.json)}`);
        w.acked = w.sent.length;
        acked++;
      }
    };
    const clients = Array.from({ length: CLIENTS }, (_, c) => client(c));
    while (acked < MIN_ACKED_BEFORE_KILL) await sleep(20);
    await sleep(Math.floor(Math.random() * 300));
    await server.kill();
    stop = true;
    await Promise.all(clients);

    server = await startServer(dir);
    let checked = 0;
    for (const [id, w] of writes) {
      const r = await server.api('GET', `/v1/products/${id}`, { auth: { bearer: token } });
      if (w.acked === 0) {
        // Never acknowledged: absent, or stored as sent.
        if (r.status === 404) continue;
      }
      assert.equal(r.status, 200, `${id} was acknowledged`);
      const got = { stock: r.json.stock, quantity: r.json.quantity };
      const allowed = w.sent.slice(Math.max(w.acked, 1) - 1);
      assert.ok(allowed.some((s) => s.stock === got.stock && s.quantity === got.quantity),
        `${id}: ${JSON.stringify(got)} is none of ${JSON.stringify(allowed)}`);
      checked++;
    }
    assert.ok(checked >= MIN_ACKED_BEFORE_KILL / 2, `${checked} products checked`);
    await server.stop();
  });
});
