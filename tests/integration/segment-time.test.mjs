// Time passing for segments: memberships that change with no event
// ("in last 30 days"). Without a server, the CLI's reads, `segment sweep`
// and `import` process what is due by now (PICKAXE_NOW sets the clock);
// changes are recorded at the instant they fell due. With a server, the
// writer processes them as they fall due, also while it is busy ingesting.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fsp from 'node:fs/promises';
import path from 'node:path';
import {
  runCliOk, makeTempDir, cleanupDir, createSource, createToken, startServer, startPickaxe, uniq, sleep,
} from './lib/server.mjs';

const T = { timeout: 30000 };
const DAY = 86400000;
const iso = (ms) => new Date(ms).toISOString();

describe('segments and time passing, CLI only', { timeout: 60000 }, () => {
  const t0 = Date.parse('2024-06-01T12:00:00.000Z');
  // Customer → days before t0 of their one order; each leaves "active" 30 days after it.
  const orders = { c1: 1, c2: 10, c3: 5, c4: 40 };
  let dir;
  let token;
  const at = (ms) => ({ env: { PICKAXE_NOW: iso(ms) } });
  const cli = (args, ms) => runCliOk([...args, '--data', dir], at(ms));
  const count = async (ms) => Number((await cli(['segment', 'count', 'active'], ms)).stdout.trim());
  const file = async (name, lines) => {
    const f = path.join(dir, '..', `${path.basename(dir)}-${name}.jsonl`);
    await fsp.writeFile(f, lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
    return f;
  };
  // Segments of each customer as export prints them (export reads, it does not sweep).
  async function exported(ms) {
    const r = await cli(['export', 'profiles'], ms);
    const out = {};
    for (const line of r.stdout.split('\n').filter(Boolean)) {
      const p = JSON.parse(line);
      const user = (p.identifiers || []).find((i) => i.kind === 'user_id')?.value;
      if (user) out[user] = p.segments;
    }
    return out;
  }

  before(async () => {
    dir = await makeTempDir();
    await createSource(dir, 'shop');
    token = await createToken(dir);
    const f = await file('orders', Object.entries(orders).map(([u, d]) => ({
      type: 'track', userId: u, event: 'Order Completed', messageId: `o-${u}`, timestamp: iso(t0 - d * DAY),
    })));
    await cli(['import', f, '--source', 'shop'], t0);
  });
  after(async () => {
    const files = ['orders', 'later'].map((n) => path.join(dir, '..', `${path.basename(dir)}-${n}.jsonl`));
    await Promise.all(files.map((f) => fsp.rm(f, { force: true })));
    await cleanupDir(dir);
  });

  it('a segment over a 30-day window empties as the clock moves on, with no server and no event', T, async () => {
    await cli(['segment', 'create', 'active', '--rule', 'at least 1 event "Order Completed" in last 30 days'], t0);
    assert.equal(await count(t0), 3, 'c4 ordered 40 days ago');

    // Day 22: c2's order (10 days before t0) left the window on day 20.
    let r = await cli(['segment', 'sweep', '--json'], t0 + 22 * DAY);
    const swept = JSON.parse(r.stdout);
    assert.ok(swept.swept >= 1, r.stdout);
    assert.ok(Math.abs(Date.parse(swept.now) - (t0 + 22 * DAY)) < 60000, r.stdout);
    assert.equal(await count(t0 + 22 * DAY), 2);

    // Day 27: an import of something unrelated processes c3 (due day 25) at its end.
    const f = await file('later', [{ type: 'identify', userId: 'c9', messageId: 'later-1', traits: { plan: 'pro' } }]);
    await cli(['import', f, '--source', 'shop'], t0 + 27 * DAY);
    const segs = await exported(t0 + 27 * DAY);
    assert.deepEqual(segs.c1, ['active'], JSON.stringify(segs));
    for (const u of ['c2', 'c3', 'c4', 'c9']) assert.ok(!segs[u]?.includes('active'), `${u}: ${JSON.stringify(segs)}`);

    // Day 31: the count itself catches up (c1 left on day 29); members and list agree.
    assert.equal(await count(t0 + 31 * DAY), 0);
    r = await cli(['segment', 'members', 'active'], t0 + 31 * DAY);
    assert.equal(r.stdout, 'profile_id,identifiers\n');
    r = await cli(['segment', 'list', '--json'], t0 + 31 * DAY);
    assert.equal(JSON.parse(r.stdout).segments.find((s) => s.name === 'active').count, 0);
    r = await cli(['segment', 'sweep', '--json'], t0 + 31 * DAY);
    assert.equal(JSON.parse(r.stdout).swept, 0, 'nothing left due');
    r = await cli(['segment', 'sweep'], t0 + 31 * DAY);
    assert.match(r.stdout, /^swept 0 profiles/);
  });

  it('each departure is recorded at the instant it fell due, cause "time"', T, async () => {
    const server = await startServer(dir, at(t0 + 31 * DAY));
    try {
      for (const u of ['c1', 'c2', 'c3']) {
        const r = await server.api('GET', `/v1/profiles/user_id:${u}/segments`, { auth: { bearer: token } });
        assert.equal(r.status, 200, r.text);
        assert.deepEqual(r.json.segments, []);
        const changes = r.json.changes.filter((c) => c.segment === 'active');
        assert.deepEqual(changes.map((c) => [c.change, c.cause]), [['left', 'time'], ['entered', 'backfill']], u);
        assert.equal(changes[0].at, iso(t0 - orders[u] * DAY + 30 * DAY), u);
        assert.equal(changes[0].seq, null);
      }
    } finally {
      await server.stop();
    }
  });
});

describe('segments and time passing, server', { timeout: 60000 }, () => {
  let px;
  const admin = (method, p, body) => px.server.api(method, p, { body, auth: { bearer: px.token } });
  before(async () => { px = await startPickaxe(); });
  after(async () => { await px?.cleanup(); });

  it('membership drops when its window ends, with no event for that profile, while the writer is busy', T, async () => {
    const r0 = await admin('PUT', '/v1/segments/pinged', { rule: 'at least 1 event "Ping" in last 1 minute' });
    assert.equal(r0.status, 201, r0.text);
    const u = uniq('ping');
    // An event 57.5 s old: in the window now, out of it 2.5 s from now.
    const ts = Date.now() - 57500;
    let r = await px.collect('/v1/batch', { batch: [{ type: 'track', userId: u, event: 'Ping', timestamp: iso(ts) }] });
    assert.equal(r.status, 200, r.text);
    r = await admin('GET', '/v1/segments/pinged');
    assert.equal(r.json.count, 1, r.text);

    // Keep the writer busy with other customers' events meanwhile.
    let loading = true;
    let sent = 0;
    const load = async (k) => {
      for (let i = 0; loading; i++) {
        const batch = Array.from({ length: 50 }, (_, j) => ({ type: 'track', userId: `load-${k}-${j}`, event: 'Browse' }));
        const res = await px.collect('/v1/batch', { batch });
        assert.equal(res.status, 200, res.text);
        sent += batch.length;
      }
    };
    const loaders = [0, 1, 2, 3].map(load);
    try {
      const due = ts + 60000;
      let left = null;
      while (Date.now() < due + 5000) {
        r = await admin('GET', '/v1/segments/pinged');
        if (r.json.count === 0) {
          left = Date.now();
          break;
        }
        await sleep(100);
      }
      assert.ok(left !== null, 'still a member 5 s after the window ended');
      assert.ok(left >= due - 50, `left ${due - left} ms before the window ended`);
      assert.ok(left <= due + 2500, `left ${left - due} ms after the window ended (sweeps run once a second)`);
      assert.ok(sent > 0);
    } finally {
      loading = false;
      await Promise.all(loaders);
    }
    r = await admin('GET', `/v1/profiles/user_id:${u}/segments`);
    assert.equal(r.status, 200, r.text);
    const changes = r.json.changes.filter((c) => c.segment === 'pinged');
    assert.deepEqual(changes.map((c) => [c.change, c.cause]), [['left', 'time'], ['entered', 'event']]);
    assert.equal(changes[0].at, iso(ts + 60000));
  });
});
