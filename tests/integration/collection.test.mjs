// Collection API: every endpoint, both auth forms, 401/403, messageId dedup,
// clock-skew correction and batch-level context/integrations.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import zlib from 'node:zlib';
import {
  startPickaxe, uniq, eventually, getProfile, getAllEvents, profilePath, isoFromNow,
} from './lib/server.mjs';

const T = { timeout: 30000 };

function assertOk(r, accepted, duplicates = 0) {
  assert.equal(r.status, 200, `expected 200, got ${r.status}: ${r.text}`);
  assert.equal(r.json?.success, true, r.text);
  assert.equal(r.json.accepted, accepted, r.text);
  assert.equal(r.json.duplicates, duplicates, r.text);
  assert.deepEqual(r.json.rejected, [], r.text);
}

describe('collection API', { timeout: 90000 }, () => {
  let px;
  before(async () => {
    px = await startPickaxe({ sources: [{ name: 'web' }, { name: 'ios' }] });
  });
  after(async () => { await px?.cleanup(); });

  describe('single-event endpoints', () => {
    const u = uniq('single');
    const cases = [
      ['identify', { userId: u, traits: { name: 'Single User' } }],
      ['track', { userId: u, event: 'Signed Up', properties: { plan: 'free' } }],
      ['page', { userId: u, name: 'Home', properties: { path: '/' } }],
      ['screen', { userId: u, name: 'Dashboard' }],
      ['group', { userId: u, groupId: `${u}-acct`, traits: { name: 'Acme' } }],
      ['alias', { userId: u, previousId: `${u}-anon` }],
    ];
    for (const [type, body] of cases) {
      it(`POST /v1/${type} accepts a valid event with Basic auth`, T, async () => {
        const r = await px.collect(`/v1/${type}`, body);
        assertOk(r, 1);
      });
    }

    it('stores one event per call, counted by type', T, async () => {
      await eventually(async () => {
        const p = await getProfile(px, `user_id:${u}`);
        assert.equal(p.counts.events, cases.length, JSON.stringify(p.counts));
        for (const [type] of cases) {
          assert.equal(p.counts.by_type[type], 1, `by_type.${type} in ${JSON.stringify(p.counts)}`);
        }
        assert.equal(p.counts.by_event['Signed Up'], 1, JSON.stringify(p.counts));
      });
    });

    it('accepts an anonymousId-only event', T, async () => {
      const r = await px.collect('/v1/track', { anonymousId: uniq('anon'), event: 'Viewed' });
      assertOk(r, 1);
    });
  });

  describe('authentication', () => {
    const ev = () => ({ userId: uniq('auth'), event: 'Auth Test' });

    it('accepts "writeKey" in the body instead of Basic auth (single event)', T, async () => {
      const userId = uniq('wk');
      const r = await px.server.api('POST', '/v1/track', {
        body: { userId, event: 'Body Key', writeKey: px.key },
      });
      assertOk(r, 1);
      await eventually(async () => {
        const p = await getProfile(px, `user_id:${userId}`);
        assert.equal(p.counts.events, 1);
      });
    });

    it('accepts "writeKey" in the body of a batch', T, async () => {
      const r = await px.server.api('POST', '/v1/batch', {
        body: { writeKey: px.key, batch: [{ type: 'track', ...ev() }, { type: 'identify', userId: uniq('wk') }] },
      });
      assertOk(r, 2);
    });

    it('401 without any credentials', T, async () => {
      const r = await px.server.api('POST', '/v1/track', { body: ev() });
      assert.equal(r.status, 401, r.text);
    });

    it('401 for an unknown write key (Basic and body)', T, async () => {
      let r = await px.server.api('POST', '/v1/track', { body: ev(), auth: { basic: 'not-a-real-key' } });
      assert.equal(r.status, 401, r.text);
      r = await px.server.api('POST', '/v1/batch', { body: { writeKey: 'not-a-real-key', batch: [{ type: 'track', ...ev() }] } });
      assert.equal(r.status, 401, r.text);
    });

    it('401 for a garbled Authorization header', T, async () => {
      const r = await px.server.api('POST', '/v1/track', {
        body: ev(), headers: { authorization: 'Basic %%%not-base64%%%' },
      });
      assert.equal(r.status, 401, r.text);
    });

    it('403 when an admin token is used on a collection endpoint', T, async () => {
      const r = await px.server.api('POST', '/v1/track', { body: ev(), auth: { bearer: px.token } });
      assert.equal(r.status, 403, r.text);
      const b = await px.server.api('POST', '/v1/batch', { body: { batch: [{ type: 'track', ...ev() }] }, auth: { bearer: px.token } });
      assert.equal(b.status, 403, b.text);
    });

    it('403 when a write key is used on a read endpoint', T, async () => {
      const userId = uniq('ro');
      assertOk(await px.collect('/v1/identify', { userId }), 1);
      let r = await px.server.api('GET', profilePath(`user_id:${userId}`), { auth: { basic: px.key } });
      assert.equal(r.status, 403, r.text);
      r = await px.server.api('GET', profilePath(`user_id:${userId}`), { auth: { bearer: px.key } });
      assert.equal(r.status, 403, r.text);
    });

    it('401 on a read endpoint without credentials or with an unknown token', T, async () => {
      let r = await px.server.api('GET', profilePath('user_id:nobody'));
      assert.equal(r.status, 401, r.text);
      r = await px.server.api('GET', profilePath('user_id:nobody'), { auth: { bearer: 'bogus-token' } });
      assert.equal(r.status, 401, r.text);
    });
  });

  describe('batch endpoints', () => {
    for (const ep of ['/v1/batch', '/v1/import']) {
      it(`${ep} accepts every event type`, T, async () => {
        const u = uniq('b');
        const batch = [
          { type: 'identify', userId: u, traits: { email: `${u}@example.com` } },
          { type: 'track', userId: u, event: 'Order Completed', properties: { total: 12.5 } },
          { type: 'page', userId: u, name: 'Checkout' },
          { type: 'screen', userId: u, name: 'Cart' },
          { type: 'group', userId: u, groupId: `${u}-g` },
          { type: 'alias', userId: u, previousId: `${u}-old-anon` },
        ];
        const r = await px.collect(ep, { batch });
        assertOk(r, batch.length);
        await eventually(async () => {
          const p = await getProfile(px, `user_id:${u}`);
          assert.equal(p.counts.events, batch.length, JSON.stringify(p.counts));
        });
      });
    }

    it('merges batch-level context and integrations into each item (item wins)', T, async () => {
      const u = uniq('ctx');
      const m1 = uniq('m');
      const m2 = uniq('m');
      const r = await px.collect('/v1/batch', {
        context: { ip: '203.0.113.9', locale: 'en-GB', app: { name: 'batch-app' } },
        integrations: { All: false, Mixpanel: true },
        batch: [
          { type: 'track', userId: u, event: 'A', messageId: m1, timestamp: isoFromNow(-2000) },
          {
            type: 'track', userId: u, event: 'B', messageId: m2, timestamp: isoFromNow(-1000),
            context: { locale: 'fr-FR' }, integrations: { Mixpanel: false },
          },
        ],
      });
      assertOk(r, 2);
      const events = await eventually(async () => {
        const evs = await getAllEvents(px, `user_id:${u}`);
        assert.equal(evs.length, 2);
        return evs;
      });
      const a = events.find((e) => e.messageId === m1);
      const b = events.find((e) => e.messageId === m2);
      assert.ok(a && b, `both messageIds listed: ${JSON.stringify(events)}`);
      assert.equal(a.context.ip, '203.0.113.9');
      assert.equal(a.context.locale, 'en-GB');
      assert.equal(a.context.app?.name, 'batch-app');
      assert.equal(a.integrations?.Mixpanel, true);
      assert.equal(b.context.ip, '203.0.113.9', 'batch context fills keys the item lacks');
      assert.equal(b.context.locale, 'fr-FR', 'item context wins over batch context');
      assert.equal(b.integrations?.Mixpanel, false, 'item integrations win over batch integrations');
      assert.equal(b.integrations?.All, false);
    });

    it('uses batch-level context.traits for identity (e-mail links the item)', T, async () => {
      const u = uniq('ctxt');
      const email = `${u}@example.com`;
      const r = await px.collect('/v1/batch', {
        context: { traits: { email } },
        batch: [{ type: 'track', userId: u, event: 'With Batch Traits' }],
      });
      assertOk(r, 1);
      await eventually(async () => {
        const byEmail = await getProfile(px, `email:${email}`);
        const byUser = await getProfile(px, `user_id:${u}`);
        assert.equal(byEmail.id, byUser.id);
      });
    });
  });

  describe('encodings the SDKs use (see tests/sdk/README.md)', () => {
    it('accepts a gzip-compressed batch (Content-Encoding: gzip)', T, async () => {
      const u = uniq('gz');
      const body = zlib.gzipSync(JSON.stringify({ batch: [{ type: 'identify', userId: u, traits: { z: 'gzip' } }] }));
      const r = await px.server.api('POST', '/v1/batch', {
        body, auth: { basic: px.key }, headers: { 'content-encoding': 'gzip', 'content-type': 'application/json' },
      });
      assertOk(r, 1);
      await eventually(async () => assert.equal((await getProfile(px, `user_id:${u}`)).traits.z, 'gzip'));
    });

    it('parses JSON whatever the Content-Type (RudderStack sends x-www-form-urlencoded)', T, async () => {
      const u = uniq('ct');
      const body = zlib.gzipSync(JSON.stringify({ batch: [{ type: 'track', userId: u, event: 'Form' }] }));
      let r = await px.server.api('POST', '/v1/batch', {
        body, auth: { basic: px.key },
        headers: { 'content-encoding': 'gzip', 'content-type': 'application/x-www-form-urlencoded' },
      });
      assertOk(r, 1);
      r = await px.server.api('POST', '/v1/track', {
        body: JSON.stringify({ userId: u, event: 'Plain' }), auth: { basic: px.key }, headers: { 'content-type': 'text/plain' },
      });
      assertOk(r, 1);
    });

    // docs/LIMITS.md says 400 for a corrupt gzip body, docs/openapi.yaml says 415: either is a clean refusal.
    it('400/415 for a body that claims gzip but is not, and for a truncated gzip stream', T, async () => {
      const good = zlib.gzipSync(JSON.stringify({ batch: [{ type: 'track', userId: 'gz', event: 'E' }] }));
      for (const body of ['{"batch":[]}', good.subarray(0, good.length - 10)]) {
        const r = await px.server.api('POST', '/v1/batch', {
          body, auth: { basic: px.key }, headers: { 'content-encoding': 'gzip' },
        });
        assert.ok(r.status === 400 || r.status === 415, `${r.status} ${r.text}`);
        assert.equal(r.json?.success, false, r.text);
      }
    });

    it('tolerates batch-level sentAt/timestamp and SDK fields like _metadata and channel', T, async () => {
      const u = uniq('sdkish');
      const now = new Date().toISOString();
      const r = await px.collect('/v1/batch', {
        sentAt: now, timestamp: now,
        batch: [{
          type: 'track', userId: u, event: 'SDK', channel: 'server', _metadata: { nodeVersion: '20' },
          originalTimestamp: now, sentAt: now, context: { library: { name: 'analytics-node', version: '3' } },
        }],
      });
      assertOk(r, 1);
    });
  });

  describe('routing', () => {
    it('405 for GET on a collection endpoint, 404 for an unknown path', T, async () => {
      const g = await px.server.api('GET', '/v1/track', { auth: { basic: px.key } });
      assert.equal(g.status, 405, g.text);
      const n = await px.server.api('POST', '/v1/nonsense', { body: {}, auth: { basic: px.key } });
      assert.equal(n.status, 404, n.text);
    });
  });

  describe('messageId de-duplication', () => {
    it('a repeated messageId from the same source is acknowledged but stored once', T, async () => {
      const u = uniq('dup');
      const messageId = uniq('mid');
      const ev = { userId: u, event: 'Once', messageId };
      assertOk(await px.collect('/v1/track', ev), 1, 0);
      const again = await px.collect('/v1/track', ev);
      assertOk(again, 0, 1);
      const inBatch = await px.collect('/v1/batch', { batch: [{ type: 'track', ...ev }] });
      assertOk(inBatch, 0, 1);
      await eventually(async () => {
        const p = await getProfile(px, `user_id:${u}`);
        assert.equal(p.counts.events, 1);
        const evs = await getAllEvents(px, `user_id:${u}`);
        assert.deepEqual(evs.map((e) => e.messageId), [messageId]);
      });
    });

    it('duplicates inside one batch are counted as duplicates', T, async () => {
      const u = uniq('dupb');
      const messageId = uniq('mid');
      const r = await px.collect('/v1/batch', {
        batch: [
          { type: 'track', userId: u, event: 'X', messageId },
          { type: 'track', userId: u, event: 'X', messageId },
          { type: 'track', userId: u, event: 'Y', messageId: uniq('mid') },
        ],
      });
      assertOk(r, 2, 1);
      await eventually(async () => {
        const p = await getProfile(px, `user_id:${u}`);
        assert.equal(p.counts.events, 2);
      });
    });

    it('the same messageId from two different sources is stored twice', T, async () => {
      const u = uniq('dups');
      const messageId = uniq('mid');
      assertOk(await px.collect('/v1/track', { userId: u, event: 'S', messageId }, px.keys.web), 1);
      assertOk(await px.collect('/v1/track', { userId: u, event: 'S', messageId }, px.keys.ios), 1);
      await eventually(async () => {
        const p = await getProfile(px, `user_id:${u}`);
        assert.equal(p.counts.events, 2);
      });
    });

    it('a missing messageId is generated, so identical events without one are all stored', T, async () => {
      const u = uniq('nomid');
      const ev = { userId: u, event: 'No Id', properties: { a: 1 } };
      assertOk(await px.collect('/v1/track', ev), 1);
      assertOk(await px.collect('/v1/track', ev), 1);
      await eventually(async () => {
        const evs = await getAllEvents(px, `user_id:${u}`);
        assert.equal(evs.length, 2);
        for (const e of evs) assert.ok(typeof e.messageId === 'string' && e.messageId.length > 0, JSON.stringify(e));
        assert.notEqual(evs[0].messageId, evs[1].messageId);
      });
    });
  });

  describe('timestamps', () => {
    const HOUR = 3600 * 1000;

    async function storedTimestamp(u) {
      return eventually(async () => {
        const evs = await getAllEvents(px, `user_id:${u}`);
        assert.equal(evs.length, 1);
        assert.ok(evs[0].timestamp, `event has a timestamp: ${JSON.stringify(evs[0])}`);
        return Date.parse(evs[0].timestamp);
      });
    }

    it('corrects client clock skew: timestamp = receivedAt − (sentAt − originalTimestamp)', T, async () => {
      const u = uniq('skew');
      // The device clock runs 5 hours fast; the event happened 1 hour before it was sent.
      const skew = 5 * HOUR;
      const sentAt = new Date(Date.now() + skew);
      const originalTimestamp = new Date(sentAt.getTime() - HOUR);
      const t0 = Date.now();
      assertOk(await px.collect('/v1/track', {
        userId: u, event: 'Skewed', sentAt: sentAt.toISOString(), originalTimestamp: originalTimestamp.toISOString(),
      }), 1);
      const t1 = Date.now();
      const ts = await storedTimestamp(u);
      assert.ok(ts >= t0 - HOUR - 2000 && ts <= t1 - HOUR + 2000,
        `timestamp ${new Date(ts).toISOString()} should be ~1h before receipt (${new Date(t0).toISOString()})`);
    });

    it('corrects skew inside a batch as well', T, async () => {
      const u = uniq('skewb');
      const sentAt = new Date(Date.now() - 3 * HOUR); // device clock 3h slow
      const originalTimestamp = new Date(sentAt.getTime() - 10 * 60 * 1000);
      const t0 = Date.now();
      assertOk(await px.collect('/v1/batch', {
        batch: [{
          type: 'track', userId: u, event: 'Skewed', sentAt: sentAt.toISOString(),
          originalTimestamp: originalTimestamp.toISOString(),
        }],
      }), 1);
      const t1 = Date.now();
      const ts = await storedTimestamp(u);
      assert.ok(ts >= t0 - 10 * 60 * 1000 - 2000 && ts <= t1 - 10 * 60 * 1000 + 2000,
        `timestamp ${new Date(ts).toISOString()} should be ~10 min before receipt`);
    });

    // Segment's batch format puts sentAt on the batch (both SDKs do); like Segment,
    // pickaxe applies it to items that have no sentAt of their own.
    it('applies a batch-level sentAt to items that have only originalTimestamp', T, async () => {
      const u = uniq('bsent');
      const sentAt = new Date(Date.now() + 5 * HOUR);
      const originalTimestamp = new Date(sentAt.getTime() - HOUR);
      const t0 = Date.now();
      assertOk(await px.collect('/v1/batch', {
        sentAt: sentAt.toISOString(),
        batch: [{ type: 'track', userId: u, event: 'Batch Skew', originalTimestamp: originalTimestamp.toISOString() }],
      }), 1);
      const t1 = Date.now();
      const ts = await storedTimestamp(u);
      assert.ok(ts >= t0 - HOUR - 2000 && ts <= t1 - HOUR + 2000,
        `timestamp ${new Date(ts).toISOString()} should be ~1h before receipt (${new Date(t0).toISOString()})`);
    });

    it('400 naming "timestamp" for an unparseable timestamp', T, async () => {
      const r = await px.collect('/v1/track', { userId: uniq('badts'), event: 'X', timestamp: 'last tuesday' });
      assert.equal(r.status, 400, r.text);
      assert.equal(r.json.field, 'timestamp', r.text);
    });

    it('keeps an explicit timestamp when sentAt/originalTimestamp are absent', T, async () => {
      const u = uniq('ts');
      const timestamp = '2021-03-04T05:06:07.000Z';
      assertOk(await px.collect('/v1/track', { userId: u, event: 'Old', timestamp }), 1);
      assert.equal(await storedTimestamp(u), Date.parse(timestamp));
    });

    it('uses receipt time when no timestamp fields are given', T, async () => {
      const u = uniq('tsnow');
      const t0 = Date.now();
      assertOk(await px.collect('/v1/track', { userId: u, event: 'Now' }), 1);
      const t1 = Date.now();
      const ts = await storedTimestamp(u);
      assert.ok(ts >= t0 - 2000 && ts <= t1 + 2000, `timestamp ${new Date(ts).toISOString()} ≈ now`);
    });
  });
});
