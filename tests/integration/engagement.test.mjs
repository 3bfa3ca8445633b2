// Engagement built in, with the real server on a random port: `pickaxe
// apply` of an "engagement" definition (and its errors), PUT and GET
// /v1/scores/engagement, the decayed score on the profile view
// (computed.engagement) against the formula, one tier segment per profile,
// the counts per tier, and a profile that moves to the next tier as time
// passes, without any new event.
//
// The score of a profile is the sum over its counted track events of
// weight · 2^(-(now - event time) / half-life), the weight and half-life
// being its event name's (or "*"'s for any other track event); an event
// dated in the future counts from when it arrived. Tiers: high (score >=
// high), medium, low, dormant (< low, also without any counted event).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startPickaxe, uniq, getProfile, runCli, eventually, profilePath } from './lib/server.mjs';

const T = { timeout: 30000 };
const MIN = 60000;
const HOUR = 3600000;
const DAY = 86400000;

// Flash events cross the high bound (20) three seconds after their time:
// 20 · 2^(3/60) · 2^(-3 s / 1 min) = 20.
const FLASH_WEIGHT = 20 * 2 ** (3 / 60);
const DEF = {
  events: {
    'Order Completed': { weight: 10, half_life: '7d' },
    'Product Viewed': { weight: 1, half_life: '1d' },
    Flash: { weight: FLASH_WEIGHT, half_life: '1m' },
    '*': { weight: 0.5, half_life: '7d' },
  },
  tiers: { high: 20, medium: 5, low: 1 },
};
// As GET answers it: each half-life in its largest whole unit.
const STORED = {
  events: {
    'Order Completed': { weight: 10, half_life: '1w' },
    'Product Viewed': { weight: 1, half_life: '1d' },
    Flash: { weight: FLASH_WEIGHT, half_life: '1m' },
    '*': { weight: 0.5, half_life: '1w' },
  },
  tiers: DEF.tiers,
};
const HALF = { 'Order Completed': 7 * DAY, 'Product Viewed': DAY, Flash: MIN, '*': 7 * DAY };
const TIERS = ['high', 'medium', 'low', 'dormant'];

// The score of events [[name, ms]...] at time now, computed here from the definition.
function expected(events, now) {
  let v = 0;
  for (const [name, ms] of events) {
    const term = DEF.events[name] ? name : '*';
    v += DEF.events[term].weight * 2 ** (-(now - Math.min(ms, now)) / HALF[term]);
  }
  return v;
}
const tierOf = (v) => (v >= DEF.tiers.high ? 'high' : v >= DEF.tiers.medium ? 'medium' : v >= DEF.tiers.low ? 'low' : 'dormant');

describe('engagement', { timeout: 120000 }, () => {
  let px;
  let run; // this run's user id prefix
  const uid = (name) => `${run}-${name}`;
  const admin = (method, p, body) => px.server.api(method, p, { body, auth: { bearer: px.token } });
  function writeFile(name, obj) {
    const f = path.join(px.dir, name);
    fs.writeFileSync(f, typeof obj === 'string' ? obj : JSON.stringify(obj));
    return f;
  }
  const apply = (name, obj, ...args) => runCli(['apply', writeFile(name, obj), '--data', px.dir, ...args]);
  async function batch(events) {
    const r = await px.collect('/v1/batch', { batch: events });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.accepted, events.length, r.text);
  }
  async function nothingConfigured() {
    const r = await admin('GET', '/v1/scores/engagement');
    assert.equal(r.status, 404, r.text);
    assert.equal((await admin('GET', '/v1/computed-traits/engagement')).status, 404);
    for (const t of TIERS) assert.equal((await admin('GET', `/v1/segments/engagement_${t}`)).status, 404, t);
  }
  // The profile's score and tiers, read between t0 and t1.
  async function scoreOf(name) {
    const t0 = Date.now();
    const p = await getProfile(px, `user_id:${uid(name)}`);
    const t1 = Date.now();
    return { value: p.computed.engagement, tiers: p.segments.filter((s) => s.startsWith('engagement_')), t0, t1, profile: p };
  }
  // The score read equals the formula at some moment of the request (it
  // only falls with time), within 1e-6 relative.
  function assertScore(name, got, events) {
    const hi = expected(events, got.t0);
    const lo = expected(events, got.t1);
    const tol = 1e-6 * Math.max(hi, 1e-300);
    assert.ok(got.value <= hi + tol && got.value >= lo - tol,
      `${name}: computed.engagement ${got.value}, formula ${lo} .. ${hi}`);
  }

  before(async () => {
    px = await startPickaxe();
    run = uniq('eng');
  });
  after(async () => { await px?.cleanup(); });

  it('is 404 (naming "engagement") before it is configured', T, async () => {
    for (const method of ['GET', 'HEAD']) {
      const r = await admin(method, '/v1/scores/engagement');
      assert.equal(r.status, 404, r.text);
      if (method === 'GET') {
        assert.equal(r.json.error, 'engagement not configured');
        assert.equal(r.json.field, 'engagement');
      } else {
        assert.equal(r.text, '');
      }
    }
  });

  it('pickaxe apply refuses a bad engagement definition (exit 2, naming the member) and keeps nothing', T, async () => {
    const events = { 'Order Completed': { weight: 10, half_life: '7d' } };
    const cases = [
      [{ engagement: { events: { 'Order Completed': { weight: -1, half_life: '7d' } } } },
        /engagement\.events: Order Completed: weight must be above 0/],
      [{ engagement: { events: { 'Order Completed': { weight: 1, half_life: '1 week' } } } },
        /engagement\.events: Order Completed: half_life must be/],
      [{ engagement: { events: {} } }, /engagement\.events: is required/],
      [{ engagement: { tiers: DEF.tiers } }, /engagement\.events: is required/],
      [{ engagement: { events, tiers: { high: 1, medium: 2, low: 0.5 } } }, /engagement\.tiers: must be high > medium > low/],
      [{ engagement: { events, tiers: { top: 50 } } }, /engagement\.tiers\.top: unknown tier/],
      [{ engagement: { events, tiers: { low: -2 } } }, /engagement\.tiers\.low: must be a number above 0/],
      [{ engagement: { events, weights: {} } }, /engagement: unknown member "weights"/],
      [{ engagement: [events] }, /engagement: must be an object/],
      // The whole file or nothing: a good engagement with a bad segment, a
      // good computed trait with a bad engagement.
      [{ engagement: { events }, segments: [{ name: 'broken', rule: 'country =' }] }, /broken/],
      [{ computed_traits: [{ name: 'orders', function: 'count', event: 'Order Completed' }], engagement: { events: {} } },
        /engagement\.events/],
    ];
    for (const [file, msg] of cases) {
      const r = await apply('bad.json', file);
      assert.equal(r.code, 2, `${JSON.stringify(file)}: ${r.stdout} ${r.stderr}`);
      assert.match(r.stderr, msg, JSON.stringify(file));
      assert.equal(r.stdout, '');
    }
    await nothingConfigured();
    assert.equal((await admin('GET', '/v1/computed-traits/orders')).status, 404);
  });

  it('pickaxe apply defines it (tiers by default) and the running server serves it', T, async () => {
    const events = { 'Order Completed': { weight: 2, half_life: '30d' } };
    let r = await apply('defs.json', { engagement: { events } }, '--json');
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.deepEqual([out.engagement, out.rfm, out.clv, out.computed_traits, out.segments, out.mappings],
      [true, false, false, 0, 0, 0], r.stdout);
    r = await apply('defs.json', { engagement: { events } });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /engagement \(computed\.engagement, segments engagement_high \.\.\. engagement_dormant\)/);

    r = await admin('GET', '/v1/scores/engagement');
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json, {
      definition: { events, tiers: { high: 20, medium: 5, low: 1 } },
      tiers: { high: 0, medium: 0, low: 0, dormant: 0 },
    });
    const head = await admin('HEAD', '/v1/scores/engagement');
    assert.equal(head.status, 200);
    assert.equal(head.headers.get('content-length'), String(Buffer.byteLength(r.text)));
    assert.equal(head.text, '');
    r = await admin('GET', '/v1/computed-traits/engagement');
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json.definition, { name: 'engagement', function: 'decay', events });
    for (const [t, rule] of [['high', 'computed.engagement >= 20'], ['medium', 'computed.engagement >= 5 and computed.engagement < 20'],
      ['low', 'computed.engagement >= 1 and computed.engagement < 5'], ['dormant', 'computed.engagement < 1']]) {
      r = await admin('GET', `/v1/segments/engagement_${t}`);
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json.rule, rule);
    }
  });

  // name -> [[event, time]...]: what each user sent (identify-only: none).
  const sent = {};
  let base;

  it('PUT /v1/scores/engagement changes it and backfills; a refused PUT keeps the old one', T, async () => {
    base = Date.now();
    // Before the PUT (scored by its backfill): an order ten days ago; three
    // orders; two orders over a week ago; three views; one view; an identify.
    sent.tenDays = [['Order Completed', base - 10 * DAY]];
    sent.buyer = [['Order Completed', base - HOUR], ['Order Completed', base - DAY], ['Order Completed', base - 3 * DAY]];
    sent.lapsing = [['Order Completed', base - 8 * DAY], ['Order Completed', base - 9 * DAY]];
    sent.viewer = [['Product Viewed', base - HOUR], ['Product Viewed', base - 2 * HOUR], ['Product Viewed', base - 3 * HOUR]];
    sent.glance = [['Product Viewed', base - 2 * HOUR]];
    sent.idle = [];
    const track = (name) => sent[name].map(([event, ms]) => ({ type: 'track', userId: uid(name), event, timestamp: new Date(ms).toISOString() }));
    await batch([...['tenDays', 'buyer', 'lapsing', 'viewer', 'glance'].flatMap(track),
      { type: 'identify', userId: uid('idle'), traits: { plan: 'free' } }]);

    let r = await admin('PUT', '/v1/scores/engagement', DEF);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json.definition, STORED);
    assert.deepEqual(r.json.tiers, { high: 1, medium: 1, low: 2, dormant: 2 });
    assert.deepEqual((await admin('GET', '/v1/scores/engagement')).json, r.json);
    // The same definition again: nothing changes.
    const versions = async () => Promise.all(TIERS.map(async (t) => (await admin('GET', `/v1/segments/engagement_${t}`)).json.version));
    const before1 = await versions();
    const trait = (await admin('GET', '/v1/computed-traits/engagement')).json;
    r = await admin('PUT', '/v1/scores/engagement', DEF);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(await versions(), before1);
    assert.equal((await admin('GET', '/v1/computed-traits/engagement')).json.version, trait.version);

    // Refused: 400 naming the member, and the stored definition stays.
    for (const [body, field] of [
      [{ ...DEF, tiers: { high: 5, medium: 5, low: 1 } }, 'engagement.tiers'],
      [{ ...DEF, tiers: { ...DEF.tiers, extreme: 100 } }, 'engagement.tiers.extreme'],
      [{ events: { ...DEF.events, Flash: { weight: 1, half_life: '10s' } } }, 'engagement.events'],
      [{ events: DEF.events, tier: {} }, 'engagement'],
      ['{"events":', 'engagement'],
    ]) {
      r = await admin('PUT', '/v1/scores/engagement', body);
      assert.equal(r.status, 400, `${JSON.stringify(body)}: ${r.text}`);
      assert.equal(r.json.error, 'invalid engagement');
      assert.equal(r.json.field, field, JSON.stringify(body));
      assert.equal(typeof r.json.reason, 'string');
    }
    r = await admin('GET', '/v1/scores/engagement');
    assert.deepEqual(r.json.definition, STORED);
    assert.deepEqual(await versions(), before1);

    // Admin only; other methods 405.
    r = await px.server.api('PUT', '/v1/scores/engagement', { body: DEF });
    assert.equal(r.status, 401);
    r = await px.server.api('PUT', '/v1/scores/engagement', { body: DEF, auth: { basic: px.key } });
    assert.equal(r.status, 403);
    r = await px.server.api('GET', '/v1/scores/engagement', { auth: { basic: px.key } });
    assert.equal(r.status, 403);
    for (const m of ['POST', 'DELETE', 'PATCH']) {
      r = await admin(m, '/v1/scores/engagement', DEF);
      assert.equal(r.status, 405, m);
      assert.equal(r.headers.get('allow'), 'GET, HEAD, PUT');
    }
  });

  it('scores each profile by the formula, puts it in exactly one tier, and counts the tiers', T, async () => {
    // After the PUT (scored as they arrive): other track events ("*"), a
    // page and a screen (not counted), an order dated in the future (counts
    // from its arrival).
    const now = Date.now();
    sent.other = [['Signed Up', now - DAY], ['Newsletter Opened', now - 2 * DAY], ['Signed Up', now - 3 * DAY]];
    sent.future = [['Order Completed', now + HOUR]];
    const received = Date.now();
    await batch([
      ...sent.other.map(([event, ms]) => ({ type: 'track', userId: uid('other'), event, timestamp: new Date(ms).toISOString() })),
      { type: 'page', userId: uid('other'), name: 'Home' },
      { type: 'screen', userId: uid('other'), name: 'Main' },
      { type: 'track', userId: uid('future'), event: 'Order Completed', timestamp: new Date(now + HOUR).toISOString() },
    ]);
    const arrived = Date.now();

    const want = { tenDays: 'low', buyer: 'high', lapsing: 'medium', viewer: 'low', glance: 'dormant', idle: 'dormant', other: 'low', future: 'medium' };
    for (const name of Object.keys(want)) {
      const got = await scoreOf(name);
      if (name === 'future') {
        // Weight 10 from its arrival (between received and arrived).
        const lo = 10 * 2 ** (-(got.t1 - received) / HALF['Order Completed']);
        const hi = 10 * 2 ** (-(got.t0 - arrived) / HALF['Order Completed']);
        assert.ok(got.value >= lo * (1 - 1e-6) && got.value <= hi * (1 + 1e-6), `future: ${got.value}, expected ${lo} .. ${hi}`);
      } else if (name === 'idle') {
        assert.equal(got.value, 0);
      } else {
        assertScore(name, got, sent[name]);
      }
      assert.equal(tierOf(got.value), want[name], `${name}: ${got.value}`);
      assert.deepEqual(got.tiers, [`engagement_${want[name]}`], `${name}: ${got.value}`);
    }
    // The example: an order ten days ago with weight 10 and half-life 7d.
    const ten = await scoreOf('tenDays');
    assert.ok(Math.abs(ten.value - 10 * 2 ** (-10 / 7)) < 1e-6 * ten.value, `${ten.value} vs ${10 * 2 ** (-10 / 7)}`);

    const r = await admin('GET', '/v1/scores/engagement');
    assert.equal(r.status, 200, r.text);
    const counts = Object.fromEntries(TIERS.map((t) => [t, Object.values(want).filter((w) => w === t).length]));
    assert.deepEqual(r.json, { definition: STORED, tiers: counts });
    for (const t of TIERS) {
      const m = await admin('GET', `/v1/segments/engagement_${t}/members`);
      assert.equal(m.json.members.length, counts[t], t);
    }
  });

  it('moves a profile to the next tier when its score crosses the bound, without any new event', T, async () => {
    const before1 = (await admin('GET', '/v1/scores/engagement')).json.tiers;
    // A Flash worth FLASH_WEIGHT now, halving every minute: high until 3 s from now, then medium.
    const ts = Date.now();
    sent.flash = [['Flash', ts]];
    await batch([{ type: 'track', userId: uid('flash'), event: 'Flash', timestamp: new Date(ts).toISOString() }]);
    const first = await scoreOf('flash');
    assert.ok(first.t1 < ts + 2500, 'the first read came late; the test needs it before the crossing');
    assertScore('flash', first, sent.flash);
    assert.deepEqual(first.tiers, ['engagement_high'], `${first.value}`);
    assert.deepEqual((await admin('GET', '/v1/scores/engagement')).json.tiers, { ...before1, high: before1.high + 1 });

    // The server sweeps once a second: the move comes within about a second of the crossing.
    const moved = await eventually(async () => {
      const got = await scoreOf('flash');
      assert.deepEqual(got.tiers, ['engagement_medium'], `${got.value} at ${got.t0 - ts} ms`);
      return got;
    }, { timeoutMs: 10000, intervalMs: 100 });
    assert.ok(moved.t1 >= ts + 3000, `moved at ${moved.t1 - ts} ms, before the crossing at 3000 ms`);
    assertScore('flash', moved, sent.flash);
    assert.ok(moved.value < DEF.tiers.high && moved.value >= DEF.tiers.medium, `${moved.value}`);

    // The timeline: entered high with the event, then left high and entered
    // medium at the crossing's millisecond, cause "time"; still one event.
    const h = await px.read(profilePath(`user_id:${uid('flash')}`, '/segments'));
    assert.equal(h.status, 200, h.text);
    assert.deepEqual(h.json.segments, ['engagement_medium']);
    const changes = h.json.changes.map((c) => [c.segment, c.change, c.cause]);
    assert.deepEqual(changes, [['engagement_medium', 'entered', 'time'], ['engagement_high', 'left', 'time'],
      ['engagement_high', 'entered', 'event']]);
    const crossing = ts + 60000 * Math.log2(FLASH_WEIGHT / DEF.tiers.high); // ts + 3000
    for (const c of h.json.changes.slice(0, 2))
      assert.ok(Math.abs(Date.parse(c.at) - crossing) <= 2, `${c.segment} ${c.change} at ${c.at}, crossing at ${new Date(crossing).toISOString()}`);
    const ev = await px.read(profilePath(`user_id:${uid('flash')}`, '/events?include=events'));
    assert.equal(ev.status, 200, ev.text);
    assert.equal(ev.json.events.length, 1, ev.text);
    assert.deepEqual((await admin('GET', '/v1/scores/engagement')).json.tiers, { ...before1, medium: before1.medium + 1 });

    // The other profiles did not move.
    for (const name of ['buyer', 'lapsing', 'tenDays']) {
      const got = await scoreOf(name);
      assertScore(name, got, sent[name]);
      assert.deepEqual(got.tiers, [`engagement_${tierOf(got.value)}`], name);
    }
  });
});
