// Segment memberships under SIGKILL. The engine keeps a transaction's
// profiles, computed-trait states and membership bitmaps in memory and
// writes them at commit; a crash must never leave memberships that differ
// from what the stored events give. Concurrent clients send batches that
// keep coming back to the same few hundred customers, the server is killed
// mid-load twice, and after each restart every live segment must hold
// exactly the members that a fresh backfill of the same rule finds.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { makeTempDir, cleanupDir, createSource, createToken, startServer, sleep } from './lib/server.mjs';

const CLIENTS = 4;
const USERS = 300;
const MIN_ACKED_BEFORE_KILL = 1500;
const MAX_LOAD_MS = 20000;

// Each live segment has a twin defined after the crash: same rule, backfilled.
// A customer's amounts and kind follow from its number, so each segment
// holds some customers and not others however many events land.
const RULES = {
  loaders: 'at least 5 events "Load" where amount >= 30',
  big: 'computed.amount_avg > 35 and computed.amount_total > 0',
  recent_big: 'count(event "Load" where amount >= 40 in last 1 hour) >= 2',
  plain: 'no event "Load" where kind = "b"',
  both: 'in segment "loaders" and not in segment "big"',
};

describe('segment memberships after SIGKILL', { timeout: 150000 }, () => {
  let dir;
  let key;
  let token;
  let server;
  let seq = 0;
  const admin = (method, path, body) => server.api(method, path, { body, auth: { bearer: token } });

  before(async () => {
    dir = await makeTempDir('pickaxe-segdur-');
    key = await createSource(dir, 'load');
    token = await createToken(dir);
    server = await startServer(dir);
    let r = await admin('PUT', '/v1/computed-traits/amount_total', { function: 'sum', event: 'Load', property: 'amount' });
    assert.equal(r.status, 201, r.text);
    r = await admin('PUT', '/v1/computed-traits/amount_avg', { function: 'avg', event: 'Load', property: 'amount' });
    assert.equal(r.status, 201, r.text);
    for (const [name, rule] of Object.entries(RULES)) {
      r = await admin('PUT', `/v1/segments/${name}`, { rule });
      assert.equal(r.status, 201, r.text);
    }
  });
  after(async () => {
    if (server?.running) await server.kill();
    await cleanupDir(dir);
  });

  async function members(name) {
    const ids = [];
    let cursor = null;
    for (let pages = 0; pages < 1000; pages++) {
      const r = await admin('GET', `/v1/segments/${name}/members?limit=500${cursor ? `&cursor=${cursor}` : ''}`);
      assert.equal(r.status, 200, r.text);
      ids.push(...r.json.members.map((m) => m.id));
      if (r.json.next_cursor === null) return ids;
      cursor = r.json.next_cursor;
    }
    assert.fail('paging does not end');
  }

  async function loadAndKill() {
    const srv = server;
    let stop = false;
    let acked = 0;
    const errors = [];
    async function client(c) {
      while (!stop) {
        const size = 1 + Math.floor(Math.random() * 100);
        const batch = [];
        for (let i = 0; i < size; i++) {
          const n = seq++;
          const u = (n * 7919 + c) % USERS;
          batch.push({
            type: 'track', userId: `u${u}`, event: 'Load', messageId: `m${n}-${c}`,
            properties: { amount: (u % 60) + (n % 5), kind: u % 3 === 0 ? 'b' : 'a' },
          });
        }
        let r;
        try {
          r = await srv.api('POST', '/v1/batch', { body: { batch }, auth: { basic: key }, timeoutMs: 10000 });
        } catch {
          if (!srv.running) return;
          await sleep(10);
          continue;
        }
        if (r.status === 200) acked += batch.length;
        else if (r.status === 503) await sleep(50);
        else throw new Error(`unexpected status ${r.status}: ${r.text}`);
      }
    }
    const clients = Array.from({ length: CLIENTS }, (_, c) => client(c).catch((e) => {
      errors.push(e);
      stop = true;
    }));
    const t0 = Date.now();
    const killAfter = 800 + Math.floor(Math.random() * 700);
    while ((acked < MIN_ACKED_BEFORE_KILL || Date.now() - t0 < killAfter) && Date.now() - t0 < MAX_LOAD_MS
      && errors.length === 0) {
      await sleep(20);
    }
    const exit = await srv.kill();
    stop = true;
    await Promise.all(clients);
    if (errors.length) throw errors[0];
    assert.equal(exit.signal, 'SIGKILL');
    assert.ok(acked >= MIN_ACKED_BEFORE_KILL, `only ${acked} events acknowledged before the kill`);
  }

  async function verify(cycle) {
    for (const [name, rule] of Object.entries(RULES)) {
      const twin = `${name}_check${cycle}`;
      const r = await admin('PUT', `/v1/segments/${twin}`, { rule: rule.replace(/segment "(\w+)"/g, `segment "$1_check${cycle}"`) });
      assert.equal(r.status, 201, r.text);
      const live = await members(name);
      const fresh = await members(twin);
      assert.deepEqual(live, fresh, `${name}: live members differ from a backfill after the crash`);
      const count = await admin('GET', `/v1/segments/${name}`);
      assert.equal(count.json.count, live.length, `${name}: the count matches the members`);
    }
  }

  it('live memberships equal a fresh backfill after each crash', async () => {
    for (let cycle = 1; cycle <= 2; cycle++) {
      await loadAndKill();
      server = await startServer(dir);
      await verify(cycle);
    }
    const sizes = Object.fromEntries(await Promise.all(Object.keys(RULES).map(async (n) => [n, (await members(n)).length])));
    assert.ok(Object.values(sizes).every((n) => n > 0 && n < USERS),
      `every segment has some customers but not all, so the comparison means something: ${JSON.stringify(sizes)}`);
  });
});
