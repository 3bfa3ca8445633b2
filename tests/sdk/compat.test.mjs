// Compatibility with the real Segment and RudderStack Node SDKs: each one is
// pointed at a pickaxe server, sends identify/track/page/screen/group/alias,
// and the result is read back through the profile API.
//
// Run: (cd tests/sdk && npm ci) && node --test tests/sdk/
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { Analytics as SegmentAnalytics } from '@segment/analytics-node';
import RudderAnalytics from '@rudderstack/rudder-sdk-node';
import {
  startPickaxe, uniq, eventually, getProfile, getAllEvents, identifierSet, profilePath,
} from '../integration/lib/server.mjs';

const T = { timeout: 60000 };

/** The identify/track/page/screen/group/alias story both SDKs tell. */
function story(prefix) {
  const U = uniq(`${prefix}-user`);
  const A1 = uniq(`${prefix}-anon1`);
  const A2 = uniq(`${prefix}-anon2`);
  const G = uniq(`${prefix}-acct`);
  const email = `${U}@Example.COM`;
  return {
    U, A1, A2, G, email,
    calls: [
      ['page', { anonymousId: A1, name: 'Home', properties: { path: '/' } }],
      ['track', { anonymousId: A1, event: 'Product Viewed', properties: { sku: 'SKU-1', price: 9.99 } }],
      ['identify', { userId: U, anonymousId: A1, traits: { email: `  ${email} `, name: `${prefix} User`, plan: 'pro' } }],
      ['group', { userId: U, groupId: G, traits: { name: `${prefix} Corp`, employees: 42 } }],
      ['screen', { userId: U, name: 'Settings' }],
      ['track', { anonymousId: A2, event: 'Opened Email' }],
      ['alias', { previousId: A2, userId: U }],
      ['track', { userId: U, event: 'Order Completed', properties: { total: 99.5 } }],
    ],
  };
}

/** Checks the profile built from story(): identifiers, traits, account, counts, merges, events. */
async function checkStory(px, s, messageIds) {
  const p = await eventually(async () => {
    const prof = await getProfile(px, `user_id:${s.U}`);
    assert.equal(prof.counts.events, s.calls.length, JSON.stringify(prof.counts));
    return prof;
  }, { timeoutMs: 10000 });
  const ids = identifierSet(p);
  for (const want of [`user_id:${s.U}`, `anonymous_id:${s.A1}`, `anonymous_id:${s.A2}`, `email:${s.email.toLowerCase()}`]) {
    assert.ok(ids.includes(want), `${want} in ${ids.join(' ')}`);
  }
  for (const ref of [`anonymous_id:${s.A1}`, `anonymous_id:${s.A2}`, `email:${s.email.toLowerCase()}`]) {
    assert.equal((await getProfile(px, ref)).id, p.id, `${ref} resolves to the user's profile`);
  }
  assert.equal(p.traits.plan, 'pro');
  assert.match(p.traits.name, / User$/);
  const acct = (p.accounts || []).find((a) => a.group_id === s.G);
  assert.ok(acct, `account ${s.G} in ${JSON.stringify(p.accounts)}`);
  assert.match(acct.traits.name, / Corp$/);
  assert.equal(acct.traits.employees, 42);
  assert.deepEqual(p.counts.by_type, { page: 1, track: 3, identify: 1, group: 1, screen: 1, alias: 1 });
  assert.deepEqual(p.counts.by_event, { 'Product Viewed': 1, 'Opened Email': 1, 'Order Completed': 1 });

  const merges = await px.read(profilePath(p.id, '/merges'));
  assert.equal(merges.status, 200, merges.text);
  assert.ok(merges.json.merges.some((m) => m.status === 'merged'), `the alias merged A2's profile: ${merges.text}`);

  const events = await getAllEvents(px, p.id);
  assert.deepEqual(events.map((e) => e.messageId).sort(), [...messageIds].sort(), 'every SDK messageId stored once');
  const now = Date.now();
  for (const e of events) {
    const ts = Date.parse(e.timestamp);
    assert.ok(Math.abs(ts - now) < 120000, `event time ${e.timestamp} is about now`);
  }
}

describe('SDK compatibility', { timeout: 110000 }, () => {
  let px;
  before(async () => {
    px = await startPickaxe({ sources: [{ name: 'segment-node' }, { name: 'rudder-node' }, { name: 'rudder-plain' }] });
  });
  after(async () => { await px?.cleanup(); });

  describe('@segment/analytics-node', () => {
    function client(writeKey, statuses) {
      const a = new SegmentAnalytics({
        writeKey,
        host: px.server.url, // the SDK posts to new URL('/v1/batch', host)
        flushAt: 1,
        flushInterval: 50,
        maxRetries: 1,
        httpRequestTimeout: 10000,
      });
      a.on('http_response', (r) => statuses.push(r.status));
      return a;
    }
    const call = (a, method, params) => new Promise((resolve, reject) => {
      a[method](params, (err, ctx) => (err ? reject(err) : resolve(ctx)));
    });

    it('delivers every call type and builds the expected profile', T, async () => {
      const statuses = [];
      const a = client(px.keys['segment-node'], statuses);
      const s = story('seg');
      const mids = [];
      try {
        for (const [method, params] of s.calls) {
          const ctx = await call(a, method, params);
          mids.push(ctx.event.messageId);
        }
      } finally {
        await a.closeAndFlush({ timeout: 10000 });
      }
      assert.equal(statuses.length, s.calls.length, `one request per call (flushAt 1): ${statuses}`);
      assert.ok(statuses.every((x) => x === 200), `all 200: ${statuses}`);
      await checkStory(px, s, mids);
    });

    it('sees a 401 for an unknown write key and reports a delivery failure', T, async () => {
      const statuses = [];
      const a = client('no-such-write-key', statuses);
      try {
        await assert.rejects(call(a, 'track', { userId: uniq('segbad'), event: 'Nope' }));
      } finally {
        await a.closeAndFlush({ timeout: 10000 });
      }
      assert.deepEqual(statuses, [401], 'not retried');
    });
  });

  describe('@rudderstack/rudder-sdk-node', () => {
    function client(writeKey, opts = {}) {
      return new RudderAnalytics(writeKey, {
        dataPlaneUrl: px.server.url, // the SDK posts to dataPlaneUrl + '/v1/batch'
        flushAt: 1,
        flushInterval: 50,
        retryCount: 1,
        logLevel: 'error',
        // Without an errorHandler the SDK rethrows from an un-awaited flush (an unhandled rejection).
        errorHandler: () => {},
        ...opts,
      });
    }
    const call = (a, method, params) => new Promise((resolve, reject) => {
      a[method](params, (err) => (err ? reject(err) : resolve()));
    });

    for (const [label, source, opts] of [
      ['gzip on (the default)', 'rudder-node', {}],
      ['gzip off', 'rudder-plain', { gzip: false }],
    ]) {
      it(`delivers every call type and builds the expected profile, ${label}`, T, async () => {
        const a = client(px.keys[source], opts);
        const s = story(source);
        const mids = [];
        try {
          for (const [method, params] of s.calls) {
            const messageId = randomUUID();
            mids.push(messageId);
            await call(a, method, { ...params, messageId });
          }
        } finally {
          await a.flush();
        }
        await checkStory(px, s, mids);
      });
    }

    it('gets an error callback for an unknown write key', T, async () => {
      const a = client('no-such-write-key', { logLevel: 'none' });
      try {
        await assert.rejects(call(a, 'track', { userId: uniq('rudbad'), event: 'Nope' }));
      } finally {
        await a.flush().catch(() => {});
      }
    });
  });
});
