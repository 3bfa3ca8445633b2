// Journey stage models with the real server on a random port: `pickaxe
// apply` with a "journeys" member (and its errors), the retail preset put
// over HTTP, a customer walking through browsing, considering,
// first_purchase and repeat with the profile view's `journeys.retail`
// following and the stays of /v1/profiles/{ref}/journeys in order, a custom
// journey whose stage changes as time passes (no event), the funnel of a
// small known population over periods, and `pickaxe journey
// list|show|funnel|of|define|delete` answering as the HTTP API does.
//
// A journey is an ordered list of stages, each a rule; a profile's stage is
// the furthest whose rule holds. Each stage is the segment
// journey.MODEL.STAGE (its rule and none of the later ones'); stays and the
// funnel are read from the segment history, which starts when the model is
// defined and records changes at the time they happen (an event's arrival,
// or the instant a window ends).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startPickaxe, uniq, getProfile, runCli, sleep, profilePath } from './lib/server.mjs';

const T = { timeout: 30000 };
const DAY = 86400000;
const iso = (t) => new Date(t).toISOString();
const ms = (s) => Date.parse(s);

const RETAIL = ['new_visitor', 'browsing', 'considering', 'first_purchase', 'repeat', 'loyal', 'lapsing', 'lost'];
const BUSINESS = ['need', 'research', 'decide', 'adopt', 'use', 'recommend'];
// A trial: signed up, then activated (3 uses of a feature), then paying.
const TRIAL = [
  { name: 'signed_up', rule: 'at least 1 event "Signed Up"' },
  { name: 'activated', rule: 'at least 3 events "Feature Used" in last 14 days' },
  { name: 'paying', rule: 'at least 1 event "Subscription Started"' },
];

// Each stay ends when the next begins; the last one is open.
function assertChained(stays, label) {
  for (let k = 0; k + 1 < stays.length; k++)
    assert.equal(stays[k].left_at, stays[k + 1].entered_at, `${label}: stay ${k} ends when stay ${k + 1} begins`);
  if (stays.length) assert.equal(stays[stays.length - 1].left_at, null, `${label}: the last stay is open`);
  for (const s of stays) {
    if (s.left_at === null) continue;
    const exact = (ms(s.left_at) - ms(s.entered_at)) / DAY;
    assert.ok(Math.abs(s.days - exact) <= 0.00006, `${label}: ${s.stage} days ${s.days}, from its times ${exact}`);
  }
}

describe('journeys', { timeout: 240000 }, () => {
  let px;
  let run; // this run's user id prefix
  const uid = (name) => `${run}-${name}`;
  const admin = (method, p, body) => px.server.api(method, p, { body, auth: { bearer: px.token } });
  const get = async (p) => {
    const r = await admin('GET', p);
    assert.equal(r.status, 200, `GET ${p}: ${r.text}`);
    return r.json;
  };
  function writeFile(name, obj) {
    const f = path.join(px.dir, name);
    fs.writeFileSync(f, typeof obj === 'string' ? obj : JSON.stringify(obj));
    return f;
  }
  const apply = (name, obj, ...args) => runCli(['apply', writeFile(name, obj), '--data', px.dir, ...args]);
  const journey = (...args) => runCli(['journey', ...args, '--data', px.dir]);
  const journeyOk = async (...args) => {
    const r = await journey(...args);
    assert.equal(r.code, 0, `pickaxe journey ${args.join(' ')}: ${r.stderr}`);
    return r;
  };
  async function track(name, event, extra = {}) {
    const r = await px.collect('/v1/track', { userId: uid(name), event, ...extra });
    assert.equal(r.status, 200, r.text);
  }
  async function batch(events) {
    const r = await px.collect('/v1/batch', { batch: events });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.accepted, events.length, r.text);
  }
  async function liveProfiles() {
    const r = await px.server.api('GET', '/metrics');
    const m = /^pickaxe_profiles (\d+)$/m.exec(r.text);
    assert.ok(m, 'pickaxe_profiles in /metrics');
    return Number(m[1]);
  }
  const journeysOf = (name) => get(profilePath(`user_id:${uid(name)}`, '/journeys'));

  before(async () => {
    px = await startPickaxe();
    run = uniq('jny');
  });
  after(async () => { await px?.cleanup(); });

  it('has none before one is defined: an empty list, 404 for a name, {} on a profile', T, async () => {
    assert.deepEqual(await get('/v1/journeys'), { journeys: [] });
    for (const p of ['/v1/journeys/retail', '/v1/journeys/retail/funnel']) {
      let r = await admin('GET', p);
      assert.equal(r.status, 404, r.text);
      assert.deepEqual(r.json, { success: false, error: 'journey not found', field: 'name', reason: 'no journey named "retail"' });
      r = await admin('HEAD', p);
      assert.deepEqual([r.status, r.text], [404, '']);
    }
    const r = await admin('DELETE', '/v1/journeys/retail');
    assert.equal(r.status, 404, r.text);
    const c = await px.collect('/v1/identify', { userId: uid('early'), traits: { plan: 'free' } });
    assert.equal(c.status, 200, c.text);
    assert.deepEqual((await getProfile(px, `user_id:${uid('early')}`)).journeys, {});
    assert.deepEqual(await journeysOf('early'), {});
    const l = await journeyOk('list', '--json');
    assert.deepEqual(JSON.parse(l.stdout), { journeys: [] });
    const s = await journey('show', 'retail');
    assert.equal(s.code, 3, s.stderr);
    assert.match(s.stderr, /no journey named retail/);
  });

  it('pickaxe apply refuses bad journeys (exit 2, naming the journey and the member) and keeps nothing', T, async () => {
    const cases = [
      [{ journeys: { retail: { preset: 'shop' } } }, /journeys\.retail: journey\.preset: must be "retail" or "business", and alone/],
      [{ journeys: { retail: { preset: 'retail', stages: TRIAL } } }, /journeys\.retail: journey\.preset: .*alone/],
      [{ journeys: { Retail: { preset: 'retail' } } }, /journeys\.Retail: name: a journey name is 1-47 characters of a-z 0-9 _/],
      [{ journeys: { j: { stages: TRIAL.slice(0, 1) } } }, /journeys\.j: journey\.stages: must be a list of 2 to 16 stages/],
      [{ journeys: { j: { stages: [TRIAL[0], { name: 'b', rule: 'country =' }] } } },
        /journeys\.j: journey\.stages\[1\]\.rule: stage b: line 1, column \d+: /],
      [{ journeys: { j: { stages: [TRIAL[0], { ...TRIAL[1], name: 'signed_up' }] } } }, /journeys\.j: journey\.stages\[1\]: stage "signed_up" is given twice/],
      [{ journeys: { j: { stages: [TRIAL[0], { name: 'Two', rule: 'true' }] } } }, /journeys\.j: journey\.stages\[1\]: a stage name is 1-47/],
      [{ journeys: { j: { stages: TRIAL, extra: 1 } } }, /journeys\.j: journey: unknown member "extra"/],
      [{ journeys: { j: 'retail' } }, /journeys\.j: journey: must be an object/],
      [{ journeys: {}, bogus: 1 }, /unknown member "bogus".*journeys/],
      // The whole file or nothing: a good journey before a bad one, a good
      // journey with a bad segment.
      [{ journeys: { good: { preset: 'retail' }, bad: { preset: 'x' } } }, /journeys\.bad: journey\.preset/],
      [{ journeys: { good: { preset: 'retail' } }, segments: [{ name: 'broken', rule: 'country =' }] }, /broken/],
    ];
    for (const [file, msg] of cases) {
      const r = await apply('bad.json', file);
      assert.equal(r.code, 2, `${JSON.stringify(file)}: ${r.stdout} ${r.stderr}`);
      assert.match(r.stderr, msg, JSON.stringify(file));
      assert.equal(r.stdout, '');
    }
    assert.deepEqual(await get('/v1/journeys'), { journeys: [] });
    const segs = await get('/v1/segments');
    assert.deepEqual(segs.segments.filter((s) => s.name.startsWith('journey.')), []);
  });

  it('pickaxe apply refuses a "journeys" member that is not an object', T, async () => {
    for (const journeys of [[{ preset: 'retail' }], 'retail']) {
      const r = await apply('bad.json', { journeys });
      assert.deepEqual([r.code, r.signal], [2, null], `${JSON.stringify(journeys)}: ${r.stdout} ${r.stderr}`);
      assert.match(r.stderr, /journeys/);
    }
  });

  it('pickaxe apply defines journeys (a preset and stages); the running server serves them', T, async () => {
    const file = { journeys: { b2b: { preset: 'business' }, trial: { stages: TRIAL } } };
    let r = await apply('defs.json', file, '--json');
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout),
      { computed_traits: 0, segments: 0, mappings: 0, rfm: false, clv: false, engagement: false, journeys: 2,
        recommendations: false });
    r = await apply('defs.json', file);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^ {2}2 journeys \(pickaxe journey list\)$/m);

    const list = await get('/v1/journeys');
    assert.deepEqual(list.journeys.map((j) => j.name), ['b2b', 'trial']);
    assert.deepEqual(list.journeys[0].stages.map((s) => s.name), BUSINESS);
    const live = await liveProfiles();
    assert.equal(list.journeys[0].stages[0].profiles, live, 'every profile is in need (true) at first');
    assert.deepEqual(list.journeys[1], {
      name: 'trial',
      stages: TRIAL.map((s) => ({ ...s, segment: `journey.trial.${s.name}`, profiles: 0 })),
    });
    const head = await admin('HEAD', '/v1/journeys');
    assert.equal(head.status, 200);
    assert.equal(head.headers.get('content-length'), String(Buffer.byteLength(JSON.stringify(list))));
    assert.equal(head.text, '');
    // Each stage is a segment: its rule and none of the later ones'.
    const seg = await get('/v1/segments/journey.trial.signed_up');
    assert.equal(seg.rule, '(at least 1 event "Signed Up") and not ((at least 3 events "Feature Used" in last 14 days) or '
      + '(at least 1 event "Subscription Started"))');
    assert.equal((await get('/v1/segments/journey.trial.paying')).rule, '(at least 1 event "Subscription Started")');
    assert.deepEqual(await get('/v1/journeys/trial'), list.journeys[1]);
  });

  it('PUT /v1/journeys/retail {"preset": "retail"} defines the retail preset', T, async () => {
    let r = await admin('PUT', '/v1/journeys/retail', { preset: 'retail' });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json.stages.map((s) => [s.name, s.segment]), RETAIL.map((n) => [n, `journey.retail.${n}`]));
    const rules = Object.fromEntries(r.json.stages.map((s) => [s.name, s.rule]));
    assert.equal(rules.new_visitor, 'true');
    assert.equal(rules.browsing, 'at least 1 event "Product Viewed"');
    assert.equal(rules.first_purchase, 'at least 1 event "Order Completed"');
    assert.equal(rules.repeat, 'at least 2 events "Order Completed"');
    assert.equal(r.json.stages.reduce((n, s) => n + s.profiles, 0), await liveProfiles(), 'every profile in one stage');
    const first = r.json;
    r = await admin('PUT', '/v1/journeys/retail', { preset: 'retail' });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json, first, 'the same definition again changes nothing');
    assert.deepEqual((await get('/v1/journeys')).journeys.map((j) => j.name), ['b2b', 'retail', 'trial']);
    r = await admin('PUT', '/v1/journeys/retail', { preset: 'Retail' });
    assert.equal(r.status, 400, r.text);
    assert.deepEqual([r.json.error, r.json.field], ['invalid journey', 'journey.preset']);
    assert.deepEqual(await get('/v1/journeys/retail'), first, 'a refused PUT keeps the model');
  });

  // Times (before, after) around each step of the walk, and the stages.
  const walk = [];

  it('a customer walks through browsing, considering, first_purchase and repeat; journeys.retail follows', T, async () => {
    const steps = [
      ['identify', 'new_visitor', 'need'],
      ['Product Viewed', 'browsing', 'research'],
      ['Product Added', 'considering', 'research'],
      ['Order Completed', 'first_purchase', 'adopt'],
      ['Order Completed', 'repeat', 'adopt'],
    ];
    for (const [event, stage, b2b] of steps) {
      await sleep(5);
      const t0 = Date.now();
      if (event === 'identify') {
        const r = await px.collect('/v1/identify', { userId: uid('walker'), traits: { email: `${uid('walker')}@example.com` } });
        assert.equal(r.status, 200, r.text);
      } else {
        await track('walker', event, { properties: { revenue: 20 } });
      }
      const t1 = Date.now();
      walk.push({ stage, t0, t1 });
      const p = await getProfile(px, `user_id:${uid('walker')}`);
      // trial: no stage (its first stage is not `true`), so not listed.
      assert.deepEqual(p.journeys, { b2b, retail: stage }, `after ${event}`);
      assert.deepEqual(p.segments.filter((s) => s.startsWith('journey.')), [`journey.b2b.${b2b}`, `journey.retail.${stage}`]);
    }

    const j = await journeysOf('walker');
    assert.deepEqual(Object.keys(j).sort(), ['b2b', 'retail', 'trial']);
    const { stays } = j.retail;
    assert.deepEqual(stays.map((s) => s.stage), walk.map((w) => w.stage));
    assertChained(stays, 'retail');
    walk.forEach((w, k) => {
      const t = ms(stays[k].entered_at);
      assert.ok(t >= w.t0 && t <= w.t1, `${w.stage} entered at ${stays[k].entered_at}, its event was sent at ${iso(w.t0)}..${iso(w.t1)}`);
    });
    assert.deepEqual([j.retail.stage, j.retail.since], ['repeat', stays[stays.length - 1].entered_at]);
    assert.ok(stays[stays.length - 1].days >= 0 && stays[stays.length - 1].days < 0.01);
    assert.deepEqual(j.b2b.stays.map((s) => s.stage), ['need', 'research', 'adopt']);
    assertChained(j.b2b.stays, 'b2b');
    assert.deepEqual(j.trial, { stage: null, since: null, stays: [] });

    const head = await admin('HEAD', profilePath(`user_id:${uid('walker')}`, '/journeys'));
    assert.deepEqual([head.status, head.text], [200, '']);
    const r = await admin('GET', profilePath('user_id:nobody', '/journeys'));
    assert.equal(r.status, 404, r.text);
    assert.equal(r.json.error, 'profile not found');
    // Seen before the models were defined: entered their first stage then.
    const early = await journeysOf('early');
    assert.deepEqual(early.retail.stays.map((s) => [s.stage, s.left_at]), [['new_visitor', null]]);
    assert.deepEqual(early.trial, { stage: null, since: null, stays: [] });
  });

  it('a stage reached as time passes: quiet a minute after the last Ping, at that instant', { timeout: 40000 }, async () => {
    const stages = [
      { name: 'seen', rule: 'true' },
      { name: 'active', rule: 'at least 1 event "Ping" in last 1 minute' },
      { name: 'quiet', rule: 'at least 1 event "Ping" and no event "Ping" in last 1 minute' },
    ];
    let r = await admin('PUT', '/v1/journeys/pings', { stages });
    assert.equal(r.status, 200, r.text);
    const c = await px.collect('/v1/identify', { userId: uid('pinger') });
    assert.equal(c.status, 200, c.text);
    assert.equal((await getProfile(px, `user_id:${uid('pinger')}`)).journeys.pings, 'seen');
    // A Ping 57.5 s old: active now, quiet 2.5 s from now.
    const ts = Date.now() - 57500;
    await batch([{ type: 'track', userId: uid('pinger'), event: 'Ping', timestamp: iso(ts) }]);
    assert.equal((await getProfile(px, `user_id:${uid('pinger')}`)).journeys.pings, 'active');
    const due = ts + 60000;
    let stage = 'active';
    while (stage === 'active' && Date.now() < due + 5000) {
      await sleep(100);
      stage = (await getProfile(px, `user_id:${uid('pinger')}`)).journeys.pings;
    }
    assert.equal(stage, 'quiet', 'still active 5 s after the minute ended');
    const j = (await journeysOf('pinger')).pings;
    assert.deepEqual(j.stays.map((s) => s.stage), ['seen', 'active', 'quiet']);
    assertChained(j.stays, 'pings');
    assert.deepEqual([j.stage, j.since, j.stays[2].entered_at], ['quiet', iso(due), iso(due)]);
    r = await admin('GET', profilePath(`user_id:${uid('pinger')}`, '/segments'));
    assert.equal(r.status, 200, r.text);
    const quiet = r.json.changes.filter((ch) => ch.segment === 'journey.pings.quiet');
    assert.deepEqual(quiet.map((ch) => [ch.change, ch.cause, ch.at]), [['entered', 'time', iso(due)]]);
  });

  // The funnel's periods: before the population's first events, between
  // its two phases, after.
  const marks = {};

  it('the funnel of a small known population over periods', T, async () => {
    // p1: signed_up -> activated -> paying; p2: signed_up -> activated;
    // p3: signed_up; p4: signed_up -> paying (skips activated); p5: one
    // Feature Used, in no stage.
    const uses = (name, n) => Array.from({ length: n }, () => ({ type: 'track', userId: uid(name), event: 'Feature Used' }));
    const signUp = (name) => ({ type: 'track', userId: uid(name), event: 'Signed Up' });
    const subscribe = (name) => ({ type: 'track', userId: uid(name), event: 'Subscription Started' });
    await sleep(10);
    marks.t0 = Date.now();
    await sleep(10);
    for (const p of ['p1', 'p2', 'p3', 'p4']) await batch([signUp(p)]);
    await batch(uses('p5', 1));
    await sleep(10);
    marks.tMid = Date.now();
    await sleep(10);
    await batch(uses('p1', 3));
    await batch([subscribe('p1')]);
    await batch(uses('p2', 3));
    await batch([subscribe('p4')]);
    await sleep(10);
    marks.tEnd = Date.now();

    const expect = { p1: ['signed_up', 'activated', 'paying'], p2: ['signed_up', 'activated'], p3: ['signed_up'], p4: ['signed_up', 'paying'] };
    const stays = {};
    for (const [p, path_] of Object.entries(expect)) {
      const j = (await journeysOf(p)).trial;
      assert.deepEqual(j.stays.map((s) => s.stage), path_, p);
      assertChained(j.stays, p);
      stays[p] = j.stays;
    }
    assert.deepEqual((await journeysOf('p5')).trial, { stage: null, since: null, stays: [] });
    assert.deepEqual((await get('/v1/journeys/trial')).stages.map((s) => s.profiles), [1, 1, 2]);

    const live = await liveProfiles();
    const funnel = async (query) => {
      const f = await get(`/v1/journeys/trial/funnel${query}`);
      assert.equal(f.journey, 'trial');
      assert.equal(f.profiles, live, `${query}: every live profile is looked at`);
      assert.deepEqual(f.stages.map((s) => s.name), TRIAL.map((s) => s.name));
      return f;
    };
    const counts = (f) => Object.fromEntries(f.stages.map((s) => [s.name, [s.at_end, s.entered, s.advanced, s.to_next, s.conversion, s.left]]));
    // The mean days of the stays of a stage that ended in [from, to].
    const meanDays = (stage, from, to) => {
      const ended = Object.values(stays).flat().filter((s) => s.stage === stage && s.left_at !== null && ms(s.left_at) >= from && ms(s.left_at) <= to);
      return ended.length ? ended.reduce((n, s) => n + (ms(s.left_at) - ms(s.entered_at)) / DAY, 0) / ended.length : null;
    };
    const checkMeans = (f, from, to) => {
      for (const s of f.stages) {
        const want = meanDays(s.name, from, to);
        if (want === null) assert.equal(s.mean_days, null, s.name);
        else assert.ok(Math.abs(s.mean_days - want) <= 0.00006, `${s.name}: mean_days ${s.mean_days}, from the stays ${want}`);
      }
    };
    const { t0, tMid, tEnd } = marks;
    //                                   at_end entered advanced to_next conversion left
    const whole = { signed_up: [1, 4, 3, 2, 0.75, 3], activated: [1, 2, 1, 1, 0.5, 1], paying: [2, 2, 0, 0, 0, 0] };
    const first = { signed_up: [4, 4, 0, 0, 0, 0], activated: [0, 0, 0, 0, null, 0], paying: [0, 0, 0, 0, null, 0] };
    const second = { signed_up: [1, 0, 0, 0, null, 3], activated: [1, 2, 1, 1, 0.5, 1], paying: [2, 2, 0, 0, 0, 0] };
    const none = { signed_up: [0, 0, 0, 0, null, 0], activated: [0, 0, 0, 0, null, 0], paying: [0, 0, 0, 0, null, 0] };

    let f = await funnel(`?from=${iso(t0)}&to=${iso(tEnd)}`);
    assert.deepEqual(counts(f), whole);
    assert.deepEqual([f.from, f.to], [iso(t0), iso(tEnd)]);
    checkMeans(f, t0, tEnd);
    f = await funnel(`?from=${iso(t0)}&to=${iso(tMid)}`);
    assert.deepEqual(counts(f), first);
    checkMeans(f, t0, tMid);
    f = await funnel(`?from=${iso(tMid)}&to=${iso(tEnd)}`);
    assert.deepEqual(counts(f), second);
    checkMeans(f, tMid, tEnd);
    // Dates: the midnights (UTC) around the population's events.
    f = await funnel(`?from=${iso(t0).slice(0, 10)}&to=${iso(tEnd + DAY).slice(0, 10)}`);
    assert.deepEqual(counts(f), whole);
    assert.deepEqual([f.from, f.to], [`${iso(t0).slice(0, 10)}T00:00:00.000Z`, `${iso(tEnd + DAY).slice(0, 10)}T00:00:00.000Z`]);
    // Defaults: to now, from 30 days before to.
    const before = Date.now();
    f = await funnel('');
    assert.deepEqual(counts(f), whole);
    assert.ok(ms(f.to) >= before && ms(f.to) <= Date.now(), f.to);
    assert.equal(ms(f.to) - ms(f.from), 30 * DAY);
    f = await funnel(`?to=${iso(tMid)}`);
    assert.deepEqual(counts(f), first);
    assert.equal(f.from, iso(tMid - 30 * DAY));
    assert.deepEqual(counts(await funnel(`?from=${iso(tMid)}`)), second);
    // Before the model was defined: nothing (stages are not reconstructed).
    assert.deepEqual(counts(await funnel('?from=2020-01-01&to=2020-12-31')), none);

    for (const [q, field, reason] of [
      ['?from=soon', 'from', 'must be an ISO 8601 time or a date YYYY-MM-DD'],
      ['?to=2024-02-30T25:00:00Z', 'to', 'must be an ISO 8601 time or a date YYYY-MM-DD'],
      [`?from=${iso(tEnd)}&to=${iso(t0)}`, 'from', 'must not be after to'],
    ]) {
      const r = await admin('GET', `/v1/journeys/trial/funnel${q}`);
      assert.equal(r.status, 400, `${q}: ${r.text}`);
      assert.deepEqual(r.json, { success: false, error: 'invalid query', field, reason }, q);
    }
  });

  it('pickaxe journey list|show|funnel|of answer as the HTTP API does', T, async () => {
    let r = await journeyOk('list', '--json');
    assert.deepEqual(JSON.parse(r.stdout), await get('/v1/journeys'));
    r = await journeyOk('list');
    const heads = r.stdout.split('\n').filter((l) => l.startsWith('journey '));
    assert.deepEqual(heads, ['journey b2b:', 'journey pings:', 'journey retail:', 'journey trial:']);

    const trial = await get('/v1/journeys/trial');
    r = await journeyOk('show', 'trial', '--json');
    assert.deepEqual(JSON.parse(r.stdout), trial);
    r = await journeyOk('show', 'trial');
    const lines = r.stdout.trimEnd().split('\n');
    assert.equal(lines[0], 'journey trial:');
    assert.deepEqual(lines.slice(1).map((l) => l.trim().split(/\s+/).slice(0, 3)),
      trial.stages.map((s) => [s.name, String(s.profiles), 'profiles']));
    trial.stages.forEach((s, k) => assert.ok(lines[k + 1].endsWith(`profiles  ${s.rule}`), lines[k + 1]));

    const { t0, tEnd } = marks;
    const http = await get(`/v1/journeys/trial/funnel?from=${iso(t0)}&to=${iso(tEnd)}`);
    r = await journeyOk('funnel', 'trial', '--from', iso(t0), '--to', iso(tEnd), '--json');
    assert.deepEqual(JSON.parse(r.stdout), http);
    const day = iso(t0).slice(0, 10);
    r = await journeyOk('funnel', 'trial', '--from', day, '--to', iso(tEnd + DAY).slice(0, 10), '--json');
    assert.deepEqual(JSON.parse(r.stdout), await get(`/v1/journeys/trial/funnel?from=${day}&to=${iso(tEnd + DAY).slice(0, 10)}`));
    r = await journeyOk('funnel', 'trial', '--from', iso(t0), '--to', iso(tEnd));
    const rows = r.stdout.trimEnd().split('\n');
    assert.equal(rows[0], `journey trial from ${iso(t0)} to ${iso(tEnd)}, ${http.profiles} profiles`);
    assert.equal(rows[1].trim().replace(/\s+/g, ' '), 'stage at end entered advanced conversion mean days');
    assert.deepEqual(rows.slice(2).map((l) => l.trim().split(/\s+/)), http.stages.map((s) => [s.name, String(s.at_end), String(s.entered),
      String(s.advanced), s.conversion === null ? '-' : `${(100 * s.conversion).toFixed(1)}%`, s.mean_days === null ? '-' : s.mean_days.toFixed(1)]));

    // of: JSON (with or without --json); the open stays' days run on with the clock.
    const openDays = (j) => {
      const out = structuredClone(j);
      const days = [];
      for (const m of Object.values(out))
        for (const s of m.stays) if (s.left_at === null) days.push(s.days), s.days = 'open';
      return { out, days };
    };
    for (const who of ['walker', 'pinger', 'p1', 'p5']) {
      const viaHttp = openDays(await journeysOf(who));
      for (const extra of [[], ['--json']]) {
        r = await journeyOk('of', `user_id:${uid(who)}`, ...extra);
        const viaCli = openDays(JSON.parse(r.stdout));
        assert.deepEqual(viaCli.out, viaHttp.out, who);
        viaCli.days.forEach((d, k) => assert.ok(d >= viaHttp.days[k] && d - viaHttp.days[k] < 0.001, `${who}: ${d} vs ${viaHttp.days[k]}`));
      }
    }
    r = await journeyOk('of', `email:${uid('walker')}@example.com`);
    assert.equal(JSON.parse(r.stdout).retail.stage, 'repeat');

    for (const [args, code, msg] of [
      [['show', 'nope'], 3, /journey show: no journey named nope/],
      [['funnel', 'nope'], 3, /journey funnel: no journey named nope/],
      [['of', 'user_id:nobody'], 3, /journey of: no profile user_id:nobody/],
      [['funnel', 'trial', '--from', 'soon'], 2, /--from: not a date: soon/],
      [['funnel', 'trial', '--to', '2024-13-01'], 2, /--to: not a date/],
      [['funnel', 'trial', '--from', '2024-05-02', '--to', '2024-05-01'], 2, /--from is after --to/],
      [['show'], 2, /NAME or REF is required/],
      [['list', 'x'], 2, /takes no argument/],
      [['frobnicate'], 2, /unknown command frobnicate/],
      [['list', '--bogus'], 2, /unknown option --bogus/],
    ]) {
      r = await journey(...args);
      assert.equal(r.code, code, `${args.join(' ')}: ${r.stdout} ${r.stderr}`);
      assert.match(r.stderr, msg, args.join(' '));
    }
  });

  it('pickaxe journey define, with the server running, agrees with the server', T, async () => {
    // The retail rules under another name: the same profiles in each stage.
    let r = await journeyOk('define', 'retail_copy', '--preset', 'retail');
    assert.match(r.stdout, /^journey retail_copy:\n/);
    const retail = await get('/v1/journeys/retail');
    const copy = await get('/v1/journeys/retail_copy');
    assert.deepEqual(copy.stages.map((s) => [s.name, s.rule, s.profiles]), retail.stages.map((s) => [s.name, s.rule, s.profiles]));
    assert.equal((await getProfile(px, `user_id:${uid('walker')}`)).journeys.retail_copy, 'repeat');
    // Events after it are evaluated against it by the server.
    await track('copycat', 'Product Viewed');
    assert.equal((await getProfile(px, `user_id:${uid('copycat')}`)).journeys.retail_copy, 'browsing');

    const f = writeFile('two.json', { stages: [{ name: 'one', rule: 'true' }, { name: 'two', rule: 'at least 1 event "Product Viewed"' }] });
    r = await journeyOk('define', 'two', '--file', f);
    assert.match(r.stdout, /^journey two:\n {2}one +\d+ profiles {2}true\n {2}two +\d+ profiles {2}at least 1 event "Product Viewed"\n$/);
    const two = await get('/v1/journeys/two');
    assert.equal(two.stages[0].profiles + two.stages[1].profiles, await liveProfiles());
    for (const [args, msg] of [
      [['define', 'x', '--preset', 'shop'], /journey define: journey\.preset: must be "retail" or "business"/],
      [['define', 'X', '--preset', 'retail'], /journey define: name: a journey name is 1-47/],
      [['define', 'x'], /give --preset retail\|business or --file FILE\.json/],
      [['define', 'x', '--preset', 'retail', '--file', f], /give --preset retail\|business or --file FILE\.json/],
      [['define', 'x', '--file', writeFile('one.json', { stages: [{ name: 'one', rule: 'true' }] })], /journey\.stages: must be a list of 2 to 16/],
    ]) {
      r = await journey(...args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stdout} ${r.stderr}`);
      assert.match(r.stderr, msg, args.join(' '));
    }
    assert.equal((await admin('GET', '/v1/journeys/x')).status, 404);
  });

  it('pickaxe journey delete and DELETE /v1/journeys/{name} remove a model and its stage segments', T, async () => {
    let r = await journeyOk('delete', 'retail_copy');
    assert.equal(r.stdout, 'journey retail_copy deleted\n');
    assert.equal((await admin('GET', '/v1/journeys/retail_copy')).status, 404);
    for (const s of RETAIL) assert.equal((await admin('GET', `/v1/segments/journey.retail_copy.${s}`)).status, 404, s);
    assert.equal((await getProfile(px, `user_id:${uid('walker')}`)).journeys.retail_copy, undefined);
    r = await journey('delete', 'retail_copy');
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stderr, /journey delete: no journey named retail_copy/);

    const quietId = (await get('/v1/segments/journey.pings.quiet')).id;
    r = await admin('DELETE', '/v1/journeys/pings');
    assert.equal(r.status, 204, r.text);
    assert.equal(r.text, '');
    r = await admin('DELETE', '/v1/journeys/pings');
    assert.equal(r.status, 404, r.text);
    for (const s of ['seen', 'active', 'quiet']) assert.equal((await admin('GET', `/v1/segments/journey.pings.${s}`)).status, 404, s);
    const p = await getProfile(px, `user_id:${uid('pinger')}`);
    assert.deepEqual(Object.keys(p.journeys).sort(), ['b2b', 'retail', 'two']);
    assert.deepEqual(Object.keys(await journeysOf('pinger')).sort(), ['b2b', 'retail', 'trial', 'two']);
    assert.deepEqual((await get('/v1/journeys')).journeys.map((j) => j.name), ['b2b', 'retail', 'trial', 'two']);
    // The members of a deleted stage left it (cause deleted; the segment's name is gone).
    r = await admin('GET', profilePath(`user_id:${uid('pinger')}`, '/segments'));
    assert.deepEqual(r.json.segments.filter((s) => s.startsWith('journey.pings.')), []);
    const left = r.json.changes.filter((ch) => ch.segment_id === quietId);
    assert.deepEqual(left.map((ch) => [ch.segment, ch.change, ch.cause]), [[null, 'left', 'deleted'], [null, 'entered', 'time']]);
  });
});
