// Single customer view: trait history with sources and times, golden values
// (most recent by default, source_priority by rule), counts, and merges that
// lose nothing.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startPickaxe, uniq, eventually, getProfile, getAllEvents, identifierSet,
} from './lib/server.mjs';

const T = { timeout: 30000 };

async function send(px, endpoint, body, key) {
  const r = await px.collect(endpoint, body, key);
  assert.equal(r.status, 200, `${endpoint} ${JSON.stringify(body)} → ${r.status} ${r.text}`);
  assert.equal(r.json.accepted, 1, r.text);
}

const t = (s) => `2024-01-${String(s).padStart(2, '0')}T10:00:00.000Z`;
const sameTime = (a, b, msg) => assert.equal(Date.parse(a), Date.parse(b), `${msg}: ${a} vs ${b}`);

function historyEntry(profile, trait, value) {
  const h = profile.trait_history?.[trait];
  assert.ok(Array.isArray(h), `trait_history.${trait} is an array: ${JSON.stringify(profile.trait_history)}`);
  return h.find((e) => JSON.stringify(e.value) === JSON.stringify(value));
}

describe('single customer view', { timeout: 120000 }, () => {
  let px;
  before(async () => {
    px = await startPickaxe({
      sources: [{ name: 'web', priority: 1 }, { name: 'crm', priority: 10 }],
      config: { traits: { default: 'most_recent', rules: { plan: 'source_priority' } } },
    });
  });
  after(async () => { await px?.cleanup(); });

  it('keeps every observed value with its source, first/last observation and count', T, async () => {
    const u = uniq('hist');
    await send(px, '/v1/identify', { userId: u, traits: { color: 'red' }, timestamp: t(1) }, px.keys.web);
    await send(px, '/v1/identify', { userId: u, traits: { color: 'blue' }, timestamp: t(2) }, px.keys.web);
    await send(px, '/v1/identify', { userId: u, traits: { color: 'red' }, timestamp: t(3) }, px.keys.web);
    await send(px, '/v1/identify', { userId: u, traits: { color: 'red' }, timestamp: t(5) }, px.keys.crm);
    const p = await eventually(async () => {
      const prof = await getProfile(px, `user_id:${u}`);
      assert.equal(prof.counts.events, 4);
      return prof;
    });
    const h = p.trait_history.color;
    const redWeb = h.find((e) => e.value === 'red' && e.source === 'web');
    const redCrm = h.find((e) => e.value === 'red' && e.source === 'crm');
    const blueWeb = h.find((e) => e.value === 'blue' && e.source === 'web');
    assert.ok(redWeb && redCrm && blueWeb, `history per value and source: ${JSON.stringify(h)}`);
    assert.equal(redWeb.count, 2);
    sameTime(redWeb.first_observed, t(1), 'red/web first_observed');
    sameTime(redWeb.last_observed, t(3), 'red/web last_observed');
    assert.equal(blueWeb.count, 1);
    sameTime(blueWeb.first_observed, t(2), 'blue first_observed');
    sameTime(blueWeb.last_observed, t(2), 'blue last_observed');
    assert.equal(redCrm.count, 1);
    assert.equal(p.traits.color, 'red');
  });

  it('the golden value is the most recent by event time, not arrival order', T, async () => {
    const u = uniq('recent');
    await send(px, '/v1/identify', { userId: u, traits: { city: 'Paris' }, timestamp: t(10) });
    await send(px, '/v1/identify', { userId: u, traits: { city: 'Berlin' }, timestamp: t(12) });
    await send(px, '/v1/identify', { userId: u, traits: { city: 'Oslo' }, timestamp: t(11) }); // late arrival
    const p = await eventually(async () => {
      const prof = await getProfile(px, `user_id:${u}`);
      assert.equal(prof.counts.events, 3);
      return prof;
    });
    assert.equal(p.traits.city, 'Berlin');
    for (const city of ['Paris', 'Berlin', 'Oslo']) assert.ok(historyEntry(p, 'city', city), `${city} kept`);
  });

  it('a source_priority rule prefers the higher-priority source over a newer value', T, async () => {
    const u = uniq('prio');
    await send(px, '/v1/identify', { userId: u, traits: { plan: 'enterprise', name: 'From CRM' }, timestamp: t(1) }, px.keys.crm);
    await send(px, '/v1/identify', { userId: u, traits: { plan: 'free', name: 'From Web' }, timestamp: t(2) }, px.keys.web);
    const p = await eventually(async () => {
      const prof = await getProfile(px, `user_id:${u}`);
      assert.equal(prof.counts.events, 2);
      return prof;
    });
    assert.equal(p.traits.plan, 'enterprise', 'crm (priority 10) beats web (priority 1) for "plan"');
    assert.equal(p.traits.name, 'From Web', 'other traits stay most-recent');
    assert.equal(historyEntry(p, 'plan', 'free')?.source, 'web');
    assert.equal(historyEntry(p, 'plan', 'enterprise')?.source, 'crm');
    // A newer value from the high-priority source does take over.
    await send(px, '/v1/identify', { userId: u, traits: { plan: 'scale' }, timestamp: t(3) }, px.keys.crm);
    await eventually(async () => {
      assert.equal((await getProfile(px, `user_id:${u}`)).traits.plan, 'scale');
    });
  });

  it('reports first_seen, last_seen and counts by type and event', T, async () => {
    const u = uniq('counts');
    await send(px, '/v1/track', { userId: u, event: 'Viewed', timestamp: t(4) });
    await send(px, '/v1/track', { userId: u, event: 'Viewed', timestamp: t(6) });
    await send(px, '/v1/track', { userId: u, event: 'Bought', timestamp: t(5) });
    await send(px, '/v1/page', { userId: u, name: 'Home', timestamp: t(2) });
    await send(px, '/v1/identify', { userId: u, traits: { a: 1 }, timestamp: t(8) });
    const p = await eventually(async () => {
      const prof = await getProfile(px, `user_id:${u}`);
      assert.equal(prof.counts.events, 5);
      return prof;
    });
    assert.deepEqual(p.counts.by_type, { track: 3, page: 1, identify: 1 });
    assert.deepEqual(p.counts.by_event, { Viewed: 2, Bought: 1 });
    sameTime(p.first_seen, t(2), 'first_seen');
    sameTime(p.last_seen, t(8), 'last_seen');
  });

  it('takes traits from context.traits of non-identify events too', T, async () => {
    const u = uniq('ctxtraits');
    await send(px, '/v1/track', { userId: u, event: 'X', context: { traits: { tier: 'gold' } } });
    await eventually(async () => {
      assert.equal((await getProfile(px, `user_id:${u}`)).traits.tier, 'gold');
    });
  });

  it('a merge loses nothing: identifiers, events, trait history and counts all carry over', T, async () => {
    const anon = uniq('m-anon');
    const u = uniq('m-user');
    const email = `${u}@example.com`;
    const mids = [uniq('mid'), uniq('mid'), uniq('mid'), uniq('mid')];
    await send(px, '/v1/track', { anonymousId: anon, event: 'Browsed', messageId: mids[0], timestamp: t(1) });
    await send(px, '/v1/identify', { anonymousId: anon, traits: { color: 'green' }, messageId: mids[1], timestamp: t(2) });
    await send(px, '/v1/identify', { userId: u, traits: { email, size: 'L', color: 'black' }, messageId: mids[2], timestamp: t(3) }, px.keys.crm);
    const pre = {
      anon: await eventually(() => getProfile(px, `anonymous_id:${anon}`)),
      user: await eventually(() => getProfile(px, `user_id:${u}`)),
    };
    assert.notEqual(pre.anon.id, pre.user.id);

    await send(px, '/v1/track', { userId: u, anonymousId: anon, event: 'Linked', messageId: mids[3], timestamp: t(4) });
    const p = await eventually(async () => {
      const prof = await getProfile(px, `user_id:${u}`);
      assert.equal(prof.id, pre.anon.id, 'older profile survives');
      assert.equal(prof.counts.events, 4);
      return prof;
    });
    const ids = identifierSet(p);
    for (const want of [...identifierSet(pre.anon), ...identifierSet(pre.user)]) {
      assert.ok(ids.includes(want), `${want} kept after merge: ${ids}`);
    }
    assert.deepEqual(p.counts.by_type, { track: 2, identify: 2 });
    assert.deepEqual(p.counts.by_event, { Browsed: 1, Linked: 1 });
    const evs = await getAllEvents(px, p.id);
    assert.deepEqual(evs.map((e) => e.messageId).sort(), [...mids].sort());
    assert.ok(historyEntry(p, 'color', 'green'), 'color green kept');
    assert.ok(historyEntry(p, 'color', 'black'), 'color black kept');
    assert.equal(historyEntry(p, 'color', 'black').source, 'crm');
    assert.ok(historyEntry(p, 'size', 'L'), 'size kept');
    assert.equal(p.traits.color, 'black', 'most recent by event time across both profiles');
    assert.equal(p.traits.size, 'L');
    sameTime(p.first_seen, t(1), 'first_seen from the older profile');
    sameTime(p.last_seen, t(4), 'last_seen');
  });
});
