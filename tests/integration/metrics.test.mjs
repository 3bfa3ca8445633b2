// /healthz and the Prometheus /metrics endpoint.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startPickaxe, uniq } from './lib/server.mjs';

const T = { timeout: 30000 };

/** Parses Prometheus text into [{name, labels, value}]. */
function parseMetrics(text) {
  const samples = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)(\s+\d+)?$/.exec(line);
    assert.ok(m, `well-formed sample line: ${JSON.stringify(line)}`);
    const labels = {};
    if (m[2]) {
      for (const [, k, v] of m[2].matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[k] = v;
    }
    const value = m[3] === '+Inf' ? Infinity : m[3] === '-Inf' ? -Infinity : Number(m[3]);
    samples.push({ name: m[1], labels, value });
  }
  return samples;
}

/** Sum of every sample of a metric (across labels). */
function total(samples, name) {
  const s = samples.filter((x) => x.name === name);
  assert.ok(s.length > 0, `metric ${name} present`);
  return s.reduce((a, x) => a + x.value, 0);
}

describe('health and metrics', { timeout: 60000 }, () => {
  let px;
  before(async () => { px = await startPickaxe(); });
  after(async () => { await px?.cleanup(); });

  async function scrape() {
    const r = await px.server.api('GET', '/metrics');
    assert.equal(r.status, 200, r.text);
    assert.match(r.headers.get('content-type') || '', /^text\/plain/);
    return parseMetrics(r.text);
  }

  it('GET /healthz → 200 without credentials', T, async () => {
    const r = await px.server.api('GET', '/healthz');
    assert.equal(r.status, 200, r.text);
  });

  it('exposes the documented metrics', T, async () => {
    const s = await scrape();
    const names = new Set(s.map((x) => x.name));
    for (const n of ['pickaxe_events_received_total', 'pickaxe_events_accepted_total', 'pickaxe_events_rejected_total']) {
      assert.ok(names.has(n), `${n} in ${[...names].join(', ')}`);
    }
    const has = (re, what) => assert.ok([...names].some((n) => re.test(n)), `${what} metric in ${[...names].join(', ')}`);
    has(/^pickaxe_\w*commit\w*_bucket$/, 'commit latency histogram buckets');
    has(/^pickaxe_\w*commit\w*_count$/, 'commit latency histogram count');
    has(/^pickaxe_\w*commit\w*_sum$/, 'commit latency histogram sum');
    has(/^pickaxe_\w*queue\w*$/, 'queue depth');
    has(/^pickaxe_\w*profiles\w*$/, 'profiles');
    has(/^pickaxe_\w*merges\w*$/, 'merges');
    const inf = s.find((x) => /commit\w*_bucket$/.test(x.name) && x.labels.le === '+Inf');
    assert.ok(inf, 'histogram has a le="+Inf" bucket');
  });

  it('counters move with traffic: received, accepted, rejected', T, async () => {
    const s0 = await scrape();
    const u = uniq('metrics');
    const r = await px.collect('/v1/batch', {
      batch: [
        { type: 'track', userId: u, event: 'A' },
        { type: 'track', userId: u, event: 'B' },
        { type: 'identify', userId: u },
        { type: 'track', userId: u }, // invalid: no event
      ],
    });
    assert.equal(r.status, 200, r.text);
    const s1 = await scrape();
    const d = (n) => total(s1, n) - total(s0, n);
    assert.equal(d('pickaxe_events_received_total'), 4);
    assert.equal(d('pickaxe_events_accepted_total'), 3);
    assert.equal(d('pickaxe_events_rejected_total'), 1);
    const countName = [...new Set(s1.map((x) => x.name))].find((n) => /^pickaxe_\w*commit\w*_count$/.test(n));
    assert.ok(total(s1, countName) >= 1, 'at least one commit observed');
  });

  it('a definition\'s backfill reports its progress: every live profile, done', T, async () => {
    const u = uniq('bf');
    assert.equal((await px.collect('/v1/track', { userId: u, event: 'Order Completed' })).status, 200);
    const r = await px.server.api('PUT', `/v1/segments/${uniq('bf_seg')}`, {
      body: { rule: 'at least 1 event "Order Completed"' }, auth: { bearer: px.token },
    });
    assert.equal(r.status, 201, r.text);
    const s = await scrape();
    assert.ok(total(s, 'pickaxe_profiles') >= 1);
    assert.equal(total(s, 'pickaxe_backfill_size'), total(s, 'pickaxe_profiles'));
    assert.equal(total(s, 'pickaxe_backfill_done'), total(s, 'pickaxe_backfill_size'));
  });

  it('profile and merge gauges follow identity changes', T, async () => {
    const profileName = (s) => [...new Set(s.map((x) => x.name))].find((n) => /^pickaxe_\w*profiles\w*$/.test(n));
    const mergeName = (s) => [...new Set(s.map((x) => x.name))].find((n) => /^pickaxe_\w*merges\w*$/.test(n));
    const s0 = await scrape();
    const anon = uniq('ma');
    const u = uniq('mu');
    assert.equal((await px.collect('/v1/track', { anonymousId: anon, event: 'A' })).status, 200);
    assert.equal((await px.collect('/v1/identify', { userId: u })).status, 200);
    const s1 = await scrape();
    assert.equal(total(s1, profileName(s1)) - total(s0, profileName(s0)), 2, 'two new profiles');
    assert.equal((await px.collect('/v1/identify', { userId: u, anonymousId: anon })).status, 200);
    const s2 = await scrape();
    assert.ok(total(s2, mergeName(s2)) - total(s1, mergeName(s1)) >= 1, 'merge counted');
  });
});
