// Crash durability: concurrent clients send batches with unique messageIds,
// the server is SIGKILLed mid-load (twice), and after restart every
// acknowledged event must be stored exactly once. Then the profile export
// must survive a full rebuild unchanged.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  makeTempDir, cleanupDir, createSource, createToken, startServer, runCliOk,
  getAllEvents, getProfile, sleep,
} from './lib/server.mjs';

const CLIENTS = 4;
const BATCH = 100; // largest batch; sizes vary from 1 to this
const USERS_PER_CLIENT = 5;
const MIN_ACKED_BEFORE_KILL = 400;
const MIN_LOAD_MS = 1000; // the kill lands at a random moment after this
const MAX_LOAD_MS = 15000;

describe('durability under SIGKILL', { timeout: 110000 }, () => {
  let dir;
  let key;
  let token;
  let server;
  const run = `dur${Date.now().toString(36)}`;
  const sent = new Map(); // messageId → userId, for everything ever sent
  const acked = new Map(); // messageId → userId, for events acknowledged with 200
  const ackedBatches = []; // bodies of fully acknowledged batches, for re-sending
  const users = new Set();
  let usersWithProfiles = 0; // as found by the last verify()
  const ctx = { read: (p) => server.api('GET', p, { auth: { bearer: token } }) };

  before(async () => {
    dir = await makeTempDir();
    key = await createSource(dir, 'load');
    token = await createToken(dir);
  });
  after(async () => {
    if (server?.running) await server.kill();
    await cleanupDir(dir);
  });

  /**
   * Runs CLIENTS concurrent senders; once enough is acknowledged, stops the server
   * mid-load with SIGKILL (how = 'kill') or SIGTERM (how = 'term').
   */
  async function loadAndKill(cycle, how = 'kill') {
    server = await startServer(dir);
    const srv = server;
    let stop = false;
    let ackedThisCycle = 0;
    let batchNo = 0;
    const statuses = {};

    async function client(c) {
      while (!stop) {
        const b = batchNo++;
        const batch = [];
        const size = 1 + Math.floor(Math.random() * BATCH); // varied sizes so the kill lands anywhere
        for (let i = 0; i < size; i++) {
          const messageId = `${run}-k${cycle}-c${c}-b${b}-i${i}`;
          const userId = `${run}-c${c}-u${i % USERS_PER_CLIENT}`;
          users.add(userId);
          sent.set(messageId, userId);
          batch.push({ type: 'track', userId, event: 'Load', messageId, properties: { cycle, c, b, i } });
        }
        let r;
        try {
          r = await srv.api('POST', '/v1/batch', { body: { batch }, auth: { basic: key }, timeoutMs: 10000 });
        } catch {
          if (!srv.running) return; // the server is gone: this request's fate is unknown
          await sleep(10);
          continue;
        }
        statuses[r.status] = (statuses[r.status] || 0) + 1;
        if (r.status === 200) {
          const rejected = new Set((r.json?.rejected || []).map((x) => x.index));
          assert.equal(rejected.size, 0, `no valid item is rejected: ${r.text}`);
          for (const ev of batch) acked.set(ev.messageId, ev.userId);
          ackedThisCycle += batch.length;
          if (ackedBatches.length < 5) ackedBatches.push(batch);
        } else if (r.status === 503) {
          const ra = r.headers.get('retry-after');
          assert.ok(ra !== null, '503 carries Retry-After');
          await sleep(Math.min(Number(ra) * 1000 || 100, 1000));
        } else {
          assert.fail(`unexpected status ${r.status}: ${r.text}`);
        }
      }
    }

    const errors = [];
    const clients = Array.from({ length: CLIENTS }, (_, c) => client(c).catch((e) => {
      errors.push(e);
      stop = true;
    }));
    const t0 = Date.now();
    const killAfter = MIN_LOAD_MS + Math.floor(Math.random() * 500);
    while ((ackedThisCycle < MIN_ACKED_BEFORE_KILL || Date.now() - t0 < killAfter)
      && Date.now() - t0 < MAX_LOAD_MS && srv.running && errors.length === 0) {
      await sleep(20);
    }
    if (errors.length) {
      stop = true;
      await srv.kill();
      await Promise.all(clients);
      throw errors[0];
    }
    assert.ok(ackedThisCycle >= MIN_ACKED_BEFORE_KILL,
      `cycle ${cycle}: only ${ackedThisCycle} events acknowledged in ${MAX_LOAD_MS} ms (statuses ${JSON.stringify(statuses)})`);
    if (how === 'kill') {
      const exit = await srv.kill();
      assert.equal(exit.signal, 'SIGKILL');
    } else {
      const exit = await srv.stop({ timeoutMs: 20000 });
      assert.equal(exit.code, 0, `graceful stop under load (signal ${exit.signal})`);
    }
    stop = true;
    await Promise.all(clients);
    if (errors.length) throw errors[0];
    return { ackedThisCycle, statuses };
  }

  /** Checks every acknowledged messageId is stored once, nothing unknown is stored. */
  async function verify() {
    let storedTotal = 0;
    usersWithProfiles = 0;
    for (const userId of users) {
      const ackedForUser = [...acked].filter(([, u]) => u === userId).map(([m]) => m);
      const r = await ctx.read(`/v1/profiles/${encodeURIComponent(`user_id:${userId}`)}`);
      if (r.status === 404) {
        assert.equal(ackedForUser.length, 0, `profile of ${userId} is missing but ${ackedForUser.length} events were acknowledged`);
        continue;
      }
      assert.equal(r.status, 200, r.text);
      usersWithProfiles += 1;
      const events = await getAllEvents(ctx, `user_id:${userId}`, { limit: 1000 });
      const mids = events.map((e) => e.messageId);
      const counts = new Map();
      for (const m of mids) counts.set(m, (counts.get(m) || 0) + 1);
      const dups = [...counts].filter(([, n]) => n > 1);
      assert.deepEqual(dups, [], `${userId}: messageIds stored more than once`);
      const unknown = mids.filter((m) => sent.get(m) !== userId);
      assert.deepEqual(unknown, [], `${userId}: stored events that were never sent for this user`);
      const lost = ackedForUser.filter((m) => !counts.has(m));
      assert.deepEqual(lost.slice(0, 10), [], `${userId}: ${lost.length} acknowledged events lost`);
      assert.equal(r.json.counts.events, mids.length, `${userId}: counts.events matches the event listing`);
      storedTotal += mids.length;
    }
    return storedTotal;
  }

  it('keeps every acknowledged event exactly once across two crashes and a graceful stop', { timeout: 80000 }, async (t) => {
    const c1 = await loadAndKill(1);
    server = await startServer(dir);
    const stored1 = await verify();
    assert.ok(stored1 >= acked.size, `stored ${stored1} ≥ acknowledged ${acked.size}`);
    await server.stop();

    const c2 = await loadAndKill(2);
    server = await startServer(dir);
    const stored2 = await verify();
    assert.ok(stored2 >= acked.size, `stored ${stored2} ≥ acknowledged ${acked.size}`);
    assert.ok(c1.ackedThisCycle > 0 && c2.ackedThisCycle > 0);
    t.diagnostic(`sent ${sent.size}, acknowledged ${acked.size} (cycle 1: ${c1.ackedThisCycle}, cycle 2: ${c2.ackedThisCycle}), stored ${stored2}, statuses ${JSON.stringify([c1.statuses, c2.statuses])}`);

    // A graceful stop under load keeps everything acknowledged, too.
    await server.stop();
    const c3 = await loadAndKill(3, 'term');
    server = await startServer(dir);
    const stored3 = await verify();
    assert.ok(stored3 >= acked.size, `stored ${stored3} ≥ acknowledged ${acked.size}`);
    t.diagnostic(`after SIGTERM cycle: acknowledged ${acked.size} (cycle 3: ${c3.ackedThisCycle}), stored ${stored3}`);

    // De-duplication survives the crashes: re-sending acknowledged batches stores nothing.
    for (const batch of ackedBatches) {
      const r = await server.api('POST', '/v1/batch', { body: { batch }, auth: { basic: key } });
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json.accepted, 0, r.text);
      assert.equal(r.json.duplicates, batch.length, r.text);
    }
    const someUser = [...users][0];
    const p = await getProfile(ctx, `user_id:${someUser}`);
    assert.equal(p.counts.events, (await getAllEvents(ctx, `user_id:${someUser}`)).length);
    const exit = await server.stop();
    assert.equal(exit.code, 0, 'graceful stop after recovery');
  });

  it('export profiles is identical after rebuild', { timeout: 60000 }, async () => {
    assert.ok(!server?.running);
    const before1 = (await runCliOk(['export', 'profiles', '--data', dir], { timeoutMs: 30000 })).stdout;
    const rows = before1.split('\n').filter((l) => l !== '');
    assert.equal(rows.length, usersWithProfiles, 'one profile per load user that has events');
    for (const row of rows) JSON.parse(row);
    await runCliOk(['rebuild', '--data', dir], { timeoutMs: 45000 });
    const after1 = (await runCliOk(['export', 'profiles', '--data', dir], { timeoutMs: 30000 })).stdout;
    assert.equal(after1, before1);
  });
});
