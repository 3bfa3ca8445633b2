// RFM built in, with the real server on a random port: `pickaxe apply` of
// an "rfm" definition (and its errors), POST /v1/scores/rfm/refresh and GET
// /v1/scores/rfm, the scores on the profile, segments reading score.NAME,
// `pickaxe rfm show|refresh`, the scheduled refresh, and a refresh whose
// computed trait was deleted.
//
// Ten customers whose quintiles are known by hand: customer i (1..10) placed
// i orders of 10 each, the last one i days and an hour ago, so recency is i
// days, frequency i and monetary 10·i. Boundaries (values at the 20/40/60/80%
// positions): recency 8/6/4/2 days, frequency 3/5/7/9, monetary 30/50/70/90;
// a tie falls in the lower fifth. A customer "c0" never ordered.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startPickaxe, uniq, getProfile, runCli, sleep } from './lib/server.mjs';

const T = { timeout: 30000 };
const DAY = 86400000;
const HOUR = 3600000;

const TRAITS = [
  { name: 'last_purchase', function: 'last', event: 'Order Completed' },
  { name: 'orders', function: 'distinct', event: 'Order Completed', property: 'order_id' },
  { name: 'revenue', function: 'sum', event: 'Order Completed', property: 'revenue' },
];
const RFM = { recency: 'last_purchase', frequency: 'orders', monetary: 'revenue' };

// By hand: R = 1 + boundaries of -days strictly exceeded; F and M alike; FM = (F + M + 1) / 2 rounded down.
const WANT = {
  1: { r: 5, f: 1, m: 1, cell: 'new' },
  2: { r: 4, f: 1, m: 1, cell: 'promising' },
  3: { r: 4, f: 1, m: 1, cell: 'promising' },
  4: { r: 3, f: 2, m: 2, cell: 'about_to_sleep' },
  5: { r: 3, f: 2, m: 2, cell: 'about_to_sleep' },
  6: { r: 2, f: 3, m: 3, cell: 'at_risk' },
  7: { r: 2, f: 3, m: 3, cell: 'at_risk' },
  8: { r: 1, f: 4, m: 4, cell: 'cannot_lose' },
  9: { r: 1, f: 4, m: 4, cell: 'cannot_lose' },
  10: { r: 1, f: 5, m: 5, cell: 'cannot_lose' },
};
const CELLS = {
  champions: 0, loyal: 0, potential_loyalist: 0, new: 1, promising: 2, needs_attention: 0, about_to_sleep: 2,
  at_risk: 2, cannot_lose: 3, hibernating: 0, lost: 0,
};

describe('RFM scores', { timeout: 120000 }, () => {
  let px;
  let run; // this run's user id prefix
  const uid = (i) => `${run}-c${i}`;
  const admin = (method, p, body) => px.server.api(method, p, { body, auth: { bearer: px.token } });
  const order = (i, k, ts) => ({
    type: 'track', userId: uid(i), event: 'Order Completed', timestamp: new Date(ts).toISOString(),
    properties: { order_id: `o${i}-${k}`, revenue: 10 },
  });
  async function batch(events) {
    const r = await px.collect('/v1/batch', { batch: events });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.accepted, events.length, r.text);
  }
  function writeFile(name, obj) {
    const f = path.join(px.dir, name);
    fs.writeFileSync(f, typeof obj === 'string' ? obj : JSON.stringify(obj));
    return f;
  }
  const apply = (name, obj) => runCli(['apply', writeFile(name, obj), '--data', px.dir]);
  const rfmOf = async (i) => (await getProfile(px, `user_id:${uid(i)}`)).scores?.rfm;

  before(async () => {
    px = await startPickaxe();
    run = uniq('rfm');
    const now = Date.now();
    const events = [];
    for (let i = 1; i <= 10; i++) for (let k = 0; k < i; k++) events.push(order(i, k, now - i * DAY - HOUR - k * HOUR));
    events.push({ type: 'identify', userId: uid(0), traits: { plan: 'free' } });
    await batch(events);
  });
  after(async () => { await px?.cleanup(); });

  it('is 404 (naming "rfm") before it is configured', T, async () => {
    for (const [method, p] of [['GET', '/v1/scores/rfm'], ['POST', '/v1/scores/rfm/refresh']]) {
      const r = await admin(method, p);
      assert.equal(r.status, 404, r.text);
      assert.equal(r.json.error, 'rfm not configured');
      assert.equal(r.json.field, 'rfm');
    }
    const r = await runCli(['rfm', 'show', '--data', px.dir]);
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stderr, /rfm: not configured/);
  });

  it('pickaxe apply refuses a bad rfm definition, naming the member', T, async () => {
    const cases = [
      [{ computed_traits: TRAITS, rfm: { ...RFM, monetary: 'nope' } }, /rfm\.monetary: no computed trait named "nope"/],
      [{ rfm: RFM }, /rfm\.recency: no computed trait named "last_purchase"/],
      [{ computed_traits: TRAITS, rfm: { ...RFM, recency: 'orders' } }, /rfm\.recency: computed trait "orders" is a distinct/],
      [{ computed_traits: TRAITS, rfm: { ...RFM, refresh_every: 'daily' } }, /rfm\.refresh_every: /],
      [{ computed_traits: TRAITS, rfm: { ...RFM, extra: 1 } }, /rfm: unknown member "extra"/],
      [{ computed_traits: TRAITS, rfm: { recency: 'last_purchase' } }, /rfm\.frequency: required/],
    ];
    for (const [file, msg] of cases) {
      const r = await apply('bad.json', file);
      assert.equal(r.code, 2, `${JSON.stringify(file)}: ${r.stdout} ${r.stderr}`);
      assert.match(r.stderr, msg);
    }
    // Nothing of a refused file was kept.
    assert.equal((await admin('GET', '/v1/computed-traits/orders')).status, 404);
    assert.equal((await admin('GET', '/v1/scores/rfm')).status, 404);
  });

  it('apply, then POST /v1/scores/rfm/refresh scores every customer by quintiles', T, async () => {
    const a = await runCli(['apply', writeFile('defs.json', { computed_traits: TRAITS, rfm: { ...RFM, refresh_every: 'never' } }),
      '--data', px.dir, '--json']);
    assert.equal(a.code, 0, a.stderr);
    assert.deepEqual(JSON.parse(a.stdout), { computed_traits: 3, segments: 0, mappings: 0, rfm: true, clv: false, engagement: false, journeys: 0,
      recommendations: false });
    let r = await admin('GET', '/v1/scores/rfm');
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json, { definition: { ...RFM, refresh_every: 'never' }, last_refresh: null, next_refresh_at: null });

    r = await admin('POST', '/v1/scores/rfm/refresh');
    assert.equal(r.status, 200, r.text);
    const last = r.json.last_refresh;
    assert.equal(last.profiles, 11);
    assert.equal(last.population, 10);
    assert.deepEqual(last.cuts, { recency_days: [8, 6, 4, 2], frequency: [3, 5, 7, 9], monetary: [30, 50, 70, 90] });
    assert.deepEqual(last.scores, { r: [3, 2, 2, 2, 1], f: [3, 2, 2, 2, 1], m: [3, 2, 2, 2, 1] });
    assert.deepEqual(last.cells, CELLS);
    assert.equal(last.changed, 10);
    assert.equal(last.removed, 0);
    assert.ok(Math.abs(Date.parse(last.refreshed_at) - Date.now()) < 60000, last.refreshed_at);
    assert.deepEqual((await admin('GET', '/v1/scores/rfm')).json, r.json);

    for (let i = 1; i <= 10; i++) {
      const s = await rfmOf(i);
      assert.deepEqual({ r: s?.r, f: s?.f, m: s?.m, cell: s?.cell }, WANT[i], `customer ${i}: ${JSON.stringify(s)}`);
      assert.deepEqual([s.recency_days, s.frequency, s.monetary], [i, i, 10 * i]);
      assert.equal(s.refreshed_at, last.refreshed_at);
    }
    const c0 = await getProfile(px, `user_id:${uid(0)}`);
    assert.deepEqual(c0.scores, {}, 'never ordered: no RFM');

    // Refreshing again changes nobody's scores.
    r = await admin('POST', '/v1/scores/rfm/refresh');
    assert.equal(r.json.last_refresh.changed, 0);
  });

  it('segments read score.NAME (backfill and refresh)', T, async () => {
    let r = await admin('PUT', '/v1/segments/keep_close', { rule: 'score.rfm_cell = "cannot_lose"' });
    assert.equal(r.status, 201, r.text);
    assert.equal(r.json.count, 3);
    r = await admin('PUT', '/v1/segments/recent_buyers', { rule: 'score.rfm_r >= 4 and score.rfm_recency_days < 3' });
    assert.equal(r.json.count, 2, r.text); // c1 (1 day) and c2 (2 days); c3 scores R 4 but is 3 days
    const p10 = await getProfile(px, `user_id:${uid(10)}`);
    assert.ok(p10.segments.includes('keep_close'));
    // c0 orders now: the next refresh scores it (and moves the boundaries).
    await batch([order(0, 0, Date.now() - HOUR)]);
    r = await admin('POST', '/v1/scores/rfm/refresh');
    assert.equal(r.json.last_refresh.population, 11);
    assert.deepEqual((await rfmOf(0)).cell, 'new');
    r = await admin('GET', '/v1/segments/recent_buyers');
    assert.equal(r.json.count, 3, 'c0, c1 and c2');
  });

  it('pickaxe rfm show and refresh (with the server running)', T, async () => {
    let r = await runCli(['rfm', 'show', '--data', px.dir, '--json']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), (await admin('GET', '/v1/scores/rfm')).json);
    r = await runCli(['rfm', 'refresh', '--data', px.dir]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /11 customers scored of 11 profiles/);
    // c0 (0 days, 1 order of 10) joined: recency -10..0 -> values at positions 2, 4, 6, 8 of 11.
    assert.match(r.stdout, /recency +8 \/ 6 \/ 4 \/ 2 days\n/);
    assert.match(r.stdout, /monetary +20 \/ 40 \/ 60 \/ 80\n/); // 10 10 20 ... 100
    assert.match(r.stdout, /\n  new +2\n/);
    assert.match(r.stdout, /next refresh: on demand only/);
    r = await runCli(['rfm', 'bogus', '--data', px.dir]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /unknown command bogus/);
  });

  it('answers 401 without a token, 405 to other methods, 404 elsewhere under /v1/scores', T, async () => {
    let r = await px.server.api('GET', '/v1/scores/rfm');
    assert.equal(r.status, 401);
    r = await px.server.api('POST', '/v1/scores/rfm/refresh', { auth: { bearer: px.key } });
    assert.equal(r.status, 403);
    r = await admin('PUT', '/v1/scores/rfm', {});
    assert.equal(r.status, 405);
    assert.equal(r.headers.get('allow'), 'GET, HEAD');
    r = await admin('GET', '/v1/scores/rfm/refresh');
    assert.equal(r.status, 405);
    assert.equal(r.headers.get('allow'), 'POST');
    for (const p of ['/v1/scores/bogus', '/v1/scores/rfm/', '/v1/scores/']) {
      r = await admin('GET', p);
      assert.equal(r.status, 404, p);
      assert.equal(r.json.error, 'no such endpoint');
    }
  });

  it('the server refreshes on its own every refresh_every', T, async () => {
    const before = (await admin('GET', '/v1/scores/rfm')).json.last_refresh.refreshed_at;
    const a = await apply('every.json', { rfm: { ...RFM, refresh_every: '2s' } });
    assert.equal(a.code, 0, a.stderr);
    // The definition changed: refreshed at once (the writer checks once a second when idle) ...
    const seen = [];
    const deadline = Date.now() + 15000;
    while (seen.length < 3 && Date.now() < deadline) {
      const r = await admin('GET', '/v1/scores/rfm');
      const at = r.json.last_refresh.refreshed_at;
      if (at !== before && !seen.includes(at)) seen.push(at);
      await sleep(200);
    }
    assert.equal(seen.length, 3, `refreshes seen: ${seen}`);
    // ... then about every 2 s, not more often.
    const gap = Date.parse(seen[2]) - Date.parse(seen[1]);
    assert.ok(gap >= 2000 && gap < 5000, `gap ${gap} ms`);
    const r = await admin('GET', '/v1/scores/rfm');
    assert.equal(r.json.definition.refresh_every, '2s');
    assert.equal(Date.parse(r.json.next_refresh_at) - Date.parse(r.json.last_refresh.refreshed_at), 2000);
  });

  it('a refresh whose computed trait was deleted is 409 naming the member', T, async () => {
    assert.equal((await admin('DELETE', '/v1/computed-traits/revenue')).status, 204);
    const r = await admin('POST', '/v1/scores/rfm/refresh');
    assert.equal(r.status, 409, r.text);
    assert.equal(r.json.error, 'rfm cannot be refreshed');
    assert.equal(r.json.field, 'rfm.monetary');
    assert.match(r.json.reason, /revenue/);
    const c = await runCli(['rfm', 'refresh', '--data', px.dir]);
    assert.equal(c.code, 1);
    assert.match(c.stderr, /rfm: rfm\.monetary: no computed trait named "revenue"/);
    // The scores of the last good refresh stay.
    assert.equal((await rfmOf(10)).cell, 'cannot_lose');
  });
});
