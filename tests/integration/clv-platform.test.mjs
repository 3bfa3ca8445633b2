// CLV built in, with the real server on a random port: `pickaxe apply` of a
// "clv" definition (and its errors), POST /v1/scores/clv/refresh (409 while
// nobody has bought twice), GET /v1/scores/clv and /clv/models, the scores
// on the profile checked against P(alive) computed here from each
// customer's own purchases, a segment reading score.clv, `pickaxe clv
// show|refresh|models`, and the scheduled refit.
//
// Customers are drawn from the BG/NBD story with a seeded generator:
// purchase rates Gamma(0.6, 1/12 per day), drop-out Beta-distributed, first
// purchases over the first 150 of the last 365 days.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startPickaxe, uniq, getProfile, runCli, eventually } from './lib/server.mjs';

const T = { timeout: 60000 };
const DAY = 86400000;
const N = 300;

// Mulberry32: a small seeded generator, so every run sees the same customers.
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// Gamma(shape k, scale 1) by Marsaglia and Tsang (k < 1 boosted).
function gamma(u, k) {
  if (k < 1) return gamma(u, k + 1) * Math.pow(u(), 1 / k);
  const d = k - 1 / 3, c = 1 / Math.sqrt(9 * d);
  for (;;) {
    let x, v;
    do {
      const u1 = u(), u2 = u();
      x = Math.sqrt(-2 * Math.log(u1 || 1e-300)) * Math.cos(2 * Math.PI * u2);
      v = 1 + c * x;
    } while (v <= 0);
    v = v * v * v;
    const w = u();
    if (Math.log(w) < 0.5 * x * x + d - d * v + d * Math.log(v)) return d * v;
  }
}

describe('CLV in the platform', { timeout: 240000 }, () => {
  let px;
  let run;
  const now = Date.now();
  const purchases = new Map(); // user id -> [ms...]
  const admin = (method, p, body) => px.server.api(method, p, { body, auth: { bearer: px.token } });
  const uid = (i) => `${run}-u${i}`;
  function writeFile(name, obj) {
    const f = path.join(px.dir, name);
    fs.writeFileSync(f, JSON.stringify(obj));
    return f;
  }
  const apply = (obj) => runCli(['apply', writeFile('defs.json', obj), '--data', px.dir]);
  async function batch(events) {
    for (let i = 0; i < events.length; i += 500) {
      const part = events.slice(i, i + 500);
      const r = await px.collect('/v1/batch', { batch: part });
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json.accepted, part.length, r.text);
    }
  }
  const order = (user, ms, revenue) => {
    if (!purchases.has(user)) purchases.set(user, []);
    purchases.get(user).push(ms);
    return { type: 'track', userId: user, event: 'Order Completed', timestamp: new Date(ms).toISOString(),
      properties: { revenue } };
  };

  before(async () => {
    px = await startPickaxe();
    run = uniq('clv');
  });
  after(async () => { await px?.cleanup(); });

  it('is 404 (naming "clv") before it is configured', T, async () => {
    for (const [method, p] of [['GET', '/v1/scores/clv'], ['GET', '/v1/scores/clv/models'], ['POST', '/v1/scores/clv/refresh']]) {
      const r = await admin(method, p);
      assert.equal(r.status, 404, r.text);
      assert.equal(r.json.error, 'clv not configured');
      assert.equal(r.json.field, 'clv');
    }
    const r = await runCli(['clv', 'show', '--data', px.dir]);
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stderr, /clv: not configured/);
  });

  it('pickaxe apply refuses a bad clv definition, naming the member', T, async () => {
    const cases = [
      [{ clv: {} }, /clv\.event: required/],
      [{ clv: { event: 'Order Completed', unit: 'month' } }, /clv\.unit: /],
      [{ clv: { event: 'Order Completed', horizon: '5h' } }, /clv\.horizon: /],
      [{ clv: { event: 'Order Completed', discount_rate: 2 } }, /clv\.discount_rate: /],
      [{ clv: { event: 'Order Completed', refresh_every: 'daily' } }, /clv\.refresh_every: /],
      [{ clv: { event: 'Order Completed', extra: 1 } }, /clv: unknown member "extra"/],
    ];
    for (const [file, msg] of cases) {
      const r = await apply(file);
      assert.equal(r.code, 2, `${JSON.stringify(file)}: ${r.stdout} ${r.stderr}`);
      assert.match(r.stderr, msg);
    }
    assert.equal((await admin('GET', '/v1/scores/clv')).status, 404);
  });

  it('says 409 while nobody has bought twice, and keeps no model', T, async () => {
    await batch([order(uid('first'), now - 30 * DAY, 40)]);
    const a = await runCli(['apply', writeFile('defs.json', { clv: { event: 'Order Completed', unit: 'day', refresh_every: 'never' } }),
      '--data', px.dir, '--json']);
    assert.equal(a.code, 0, a.stderr);
    assert.equal(JSON.parse(a.stdout).clv, true);
    let r = await admin('POST', '/v1/scores/clv/refresh');
    assert.equal(r.status, 409, r.text);
    assert.equal(r.json.error, 'no model fitted');
    assert.match(r.json.reason, /repeat purchase/);
    r = await admin('GET', '/v1/scores/clv');
    assert.equal(r.status, 200);
    assert.equal(r.json.model, null);
    assert.equal(r.json.last_refresh.fitted, false);
    assert.equal(r.json.last_refresh.customers, 1);
    assert.deepEqual(r.json.definition, { event: 'Order Completed', revenue: 'revenue', unit: 'day', horizon: '365d',
      discount_rate: 0.1, refresh_every: 'never' });
    assert.equal(r.json.next_refresh_at, null);
  });

  it('fits on the stored purchases and scores every customer', T, async () => {
    const u = rng(7);
    const events = [];
    for (let i = 0; i < N; i++) {
      const lambda = gamma(u, 0.6) / 12, p = gamma(u, 0.8) / (gamma(u, 0.8) + gamma(u, 2.5));
      let t = 365 - u() * 150; // days ago
      for (;;) {
        events.push(order(uid(i), now - Math.round(t * DAY), Math.round(1000 + 5000 * u()) / 100));
        if (u() < p) break;
        t -= -Math.log(1 - u()) / lambda;
        if (t < 0.01) break;
      }
    }
    events.push({ type: 'identify', userId: uid('browser'), traits: { plan: 'free' } }); // never bought
    await batch(events);
    let r = await apply({ clv: { event: 'Order Completed', unit: 'day', refresh_every: 'never' },
      segments: [{ name: `${run}-valuable`, rule: 'score.clv >= 50' }] });
    assert.equal(r.code, 0, r.stderr);

    r = await admin('POST', '/v1/scores/clv/refresh');
    assert.equal(r.status, 200, r.text);
    const { model, last_refresh: last } = r.json;
    assert.equal(model.version, 1);
    assert.equal(model.unit, 'day');
    assert.equal(model.customers, N + 1);
    assert.equal(last.fitted, true);
    assert.equal(last.model, 1);
    assert.equal(last.customers, N + 1);
    assert.equal(last.purchases, events.length); // theirs, and the first test's one, less the identify
    assert.equal(last.purchases_without_amount, 0);
    for (const k of ['r', 'alpha', 'a', 'b']) assert.ok(model.bgnbd[k] > 0, JSON.stringify(model));
    assert.ok(model.gamma_gamma && model.gamma_gamma.q > 1, JSON.stringify(model));
    assert.deepEqual((await admin('GET', '/v1/scores/clv')).json, r.json);

    // P(alive) from each customer's own purchase days and the fitted model.
    const { r: rr, alpha, a, b } = model.bgnbd;
    const today = Math.floor(Date.parse(last.refreshed_at) / DAY);
    let valuable = 0;
    for (let i = 0; i < N; i++) {
      const days = [...new Set(purchases.get(uid(i)).map((ms) => Math.floor(ms / DAY)))].sort((x, y) => x - y);
      const x = days.length - 1, tx = days[days.length - 1] - days[0], TT = today - days[0];
      const want = x === 0 ? 1 : 1 / (1 + (a / (b + x - 1)) * Math.pow((alpha + TT) / (alpha + tx), rr + x));
      const s = (await getProfile(px, `user_id:${uid(i)}`)).scores;
      assert.ok(Math.abs(s.p_alive - want) < 1e-9, `${uid(i)} (x ${x}, t_x ${tx}, T ${TT}): ${s.p_alive} vs ${want}`);
      assert.ok(s.expected_purchases_90d >= 0 && s.expected_spend > 0 && s.clv >= 0, JSON.stringify(s));
      assert.equal(s.clv_model, 1);
      if (s.clv >= 50) valuable++;
    }
    if ((await getProfile(px, `user_id:${uid('first')}`)).scores.clv >= 50) valuable++;
    const browser = await getProfile(px, `user_id:${uid('browser')}`);
    assert.deepEqual(browser.scores, {}, 'never bought: no CLV');
    r = await admin('GET', `/v1/segments/${run}-valuable`);
    assert.equal(r.json.count, valuable, r.text);
    assert.ok(valuable > 0 && valuable < N, `${valuable} valuable`);
  });

  it('pickaxe clv show, refresh and models (with the server running)', T, async () => {
    let r = await runCli(['clv', 'show', '--data', px.dir, '--json']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), (await admin('GET', '/v1/scores/clv')).json);
    r = await runCli(['clv', 'refresh', '--data', px.dir]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /model 2: fitted .* on 301 customers/);
    assert.match(r.stdout, /BG\/NBD: r [0-9.]+, alpha/);
    assert.match(r.stdout, /next refresh: on demand only/);
    r = await runCli(['clv', 'models', '--data', px.dir, '--json']);
    assert.equal(r.code, 0, r.stderr);
    const models = JSON.parse(r.stdout).models;
    assert.deepEqual(models.map((m) => m.version), [2, 1]);
    assert.deepEqual((await admin('GET', '/v1/scores/clv/models')).json, { models });
    const p = await getProfile(px, `user_id:${uid(0)}`);
    assert.equal(p.scores.clv_model, 2);
  });

  it('answers 401 without a token, 405 to other methods', T, async () => {
    let r = await px.server.api('GET', '/v1/scores/clv');
    assert.equal(r.status, 401);
    r = await admin('PUT', '/v1/scores/clv', {});
    assert.equal(r.status, 405);
    assert.equal(r.headers.get('allow'), 'GET, HEAD');
    r = await admin('GET', '/v1/scores/clv/refresh');
    assert.equal(r.status, 405);
    assert.equal(r.headers.get('allow'), 'POST');
  });

  it('the server refits on its own every refresh_every', T, async () => {
    const r = await apply({ clv: { event: 'Order Completed', unit: 'day', refresh_every: '1h' } });
    assert.equal(r.code, 0, r.stderr);
    // The definition changed: due at once; the writer checks once a second.
    const status = await eventually(async () => {
      const s = (await admin('GET', '/v1/scores/clv')).json;
      assert.equal(s.model?.version, 3);
      return s;
    }, { timeoutMs: 15000, intervalMs: 200 });
    assert.equal(status.definition.refresh_every, '1h');
    const next = Date.parse(status.next_refresh_at) - Date.parse(status.last_refresh.refreshed_at);
    assert.equal(next, 3600000);
  });
});
