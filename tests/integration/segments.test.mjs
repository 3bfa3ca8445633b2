// Segments, audiences and computed traits over the HTTP API, with the real
// server on a random port: definitions, membership that changes in the
// event's own transaction, counts, paged members, set algebra, the profile
// view's "segments" and "computed", rule errors with line and column, auth.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startPickaxe, uniq, getProfile } from './lib/server.mjs';

const T = { timeout: 30000 };

describe('segments API', { timeout: 120000 }, () => {
  let px;
  const admin = (method, path, body) => px.server.api(method, path, { body, auth: { bearer: px.token } });
  const put = (name, rule) => admin('PUT', `/v1/segments/${name}`, { rule });
  const track = (userId, event, properties = {}) => ({ type: 'track', userId, event, properties });
  async function batch(...events) {
    const r = await px.collect('/v1/batch', { batch: events });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.accepted, events.length, r.text);
  }
  async function allMembers(path, limit, method = 'GET', body) {
    const ids = [];
    let cursor = null;
    for (let pages = 0; ; pages++) {
      assert.ok(pages < 100, 'paging does not end');
      const q = `?limit=${limit}${cursor ? `&cursor=${cursor}` : ''}`;
      const r = await admin(method, path + q, body);
      assert.equal(r.status, 200, r.text);
      assert.ok(r.json.members.length <= limit);
      ids.push(...r.json.members.map((m) => m.id));
      if (r.json.next_cursor === null) return ids;
      assert.equal(r.json.members.length, limit, 'only the last page is short');
      assert.equal(r.json.next_cursor, r.json.members[r.json.members.length - 1].id);
      cursor = r.json.next_cursor;
    }
  }

  before(async () => { px = await startPickaxe(); });
  after(async () => { await px?.cleanup(); });

  it('defines a segment (201), redefining it unchanged is 200 with the same version', T, async () => {
    const rule = 'at least 2 events "Order Completed"';
    let r = await put('repeat', rule);
    assert.equal(r.status, 201, r.text);
    assert.equal(r.json.name, 'repeat');
    assert.equal(r.json.rule, rule);
    assert.equal(r.json.canonical, 'count(event "Order Completed") >= 2');
    assert.equal(r.json.version, 1);
    assert.equal(r.json.count, 0);
    assert.ok(Number.isInteger(r.json.id) && r.json.id > 0);
    assert.ok(!Number.isNaN(Date.parse(r.json.created)) && r.json.created === r.json.updated);
    const first = r.json;
    r = await put('repeat', rule);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json, first);
    r = await admin('GET', '/v1/segments/repeat');
    assert.equal(r.status, 200);
    assert.deepEqual(r.json, first);
  });

  it('membership is visible as soon as /v1/batch answers, with counts, members and the profile view', T, async () => {
    const u = uniq('buyer');
    assert.equal((await put('big-spenders', 'sum(revenue of event "Order Completed") > 100')).status, 201);
    await batch(track(u, 'Order Completed', { revenue: 60 }));
    let r = await admin('GET', '/v1/segments/big-spenders');
    assert.equal(r.json.count, 0);
    await batch(track(u, 'Order Completed', { revenue: 50 }));
    // No waiting: the membership changed in the transaction the 200 acknowledged.
    r = await admin('GET', '/v1/segments/big-spenders');
    assert.equal(r.json.count, 1, r.text);
    const p = await getProfile(px, `user_id:${u}`);
    r = await admin('GET', '/v1/segments/big-spenders/members');
    assert.deepEqual(r.json, { members: [{ id: p.id }], next_cursor: null });
    assert.ok(p.segments.includes('big-spenders'), JSON.stringify(p.segments));
    assert.ok(p.segments.includes('repeat'), 'two orders: in "repeat" too');
    assert.deepEqual(p.segments, [...p.segments].sort(), 'name order');
    r = await admin('GET', '/v1/segments/repeat');
    assert.equal(r.json.count, 1);
  });

  it('a profile\'s membership history: entered and left with time, cause and event, newest first, paged', T, async () => {
    const u = uniq('hist');
    assert.equal((await put('hist-two', 'at least 2 events "Hist"')).status, 201);
    assert.equal((await put('hist-none', 'no event "Hist Stop"')).status, 201);
    await batch(track(u, 'Hist'));
    await batch(track(u, 'Hist'));
    await batch(track(u, 'Hist Stop'));
    const all = [];
    let cursor = null;
    for (let pages = 0; ; pages++) {
      assert.ok(pages < 10, 'paging does not end');
      const r = await admin('GET', `/v1/profiles/user_id:${u}/segments?limit=1${cursor ? `&cursor=${cursor}` : ''}`);
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(r.json.segments.filter((s) => s.startsWith('hist-')), ['hist-two']);
      all.push(...r.json.changes.filter((c) => c.segment.startsWith("hist-")));
      if (r.json.next_cursor === null) break;
      assert.equal(r.json.changes.length, 1);
      cursor = r.json.next_cursor;
    }
    // Newest first: left hist-none on "Hist Stop", entered hist-two on the second "Hist",
    // entered hist-none on the first event.
    assert.deepEqual(all.map((c) => [c.segment, c.change, c.cause]), [
      ['hist-none', 'left', 'event'],
      ['hist-two', 'entered', 'event'],
      ['hist-none', 'entered', 'event'],
    ]);
    for (const c of all) {
      assert.ok(Number.isInteger(c.seq) && c.seq > 0 && Number.isInteger(c.segment_id), JSON.stringify(c));
      assert.ok(!Number.isNaN(Date.parse(c.at)));
    }
    assert.ok(all[0].seq > all[1].seq && all[1].seq > all[2].seq);
    let r = await admin('GET', `/v1/profiles/user_id:${u}/segments?cursor=zz`);
    assert.equal(r.status, 400);
    assert.equal(r.json.field, 'cursor');
    r = await admin('GET', `/v1/profiles/user_id:${u}/segments?limit=0`);
    assert.equal(r.status, 400);
    assert.equal(r.json.field, 'limit');
  });

  it('a changed rule backfills and bumps the version', T, async () => {
    const u = uniq('gb');
    await batch(track(u, 'Signed Up'), { type: 'identify', userId: u, traits: { country: 'United Kingdom' } });
    let r = await put('uk', 'country = "France"');
    assert.equal(r.status, 201);
    assert.equal(r.json.count, 0);
    r = await put('uk', 'country = "United Kingdom"');
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.version, 2);
    assert.equal(r.json.count, 1);
    assert.ok(Date.parse(r.json.updated) >= Date.parse(r.json.created));
  });

  it('pages members with limit and next_cursor; 400 for bad limit and cursor', T, async () => {
    const users = Array.from({ length: 7 }, () => uniq('pg'));
    assert.equal((await put('pagers', 'at least 1 event "Paged"')).status, 201);
    await batch(...users.map((u) => track(u, 'Paged')));
    const all = await allMembers('/v1/segments/pagers/members', 1000);
    assert.equal(all.length, 7);
    assert.deepEqual(all, [...all].sort(), 'ascending ids');
    for (const limit of [1, 2, 3, 7]) assert.deepEqual(await allMembers('/v1/segments/pagers/members', limit), all, `limit ${limit}`);
    for (const q of ['?limit=0', '?limit=1001', '?limit=x', '?limit=']) {
      const r = await admin('GET', `/v1/segments/pagers/members${q}`);
      assert.equal(r.status, 400, q);
      assert.deepEqual([r.json.error, r.json.field], ['invalid query', 'limit'], q);
    }
    for (const q of ['?cursor=zz', '?cursor=', '?cursor=0000000000000000', '?cursor=00000000000000001']) {
      const r = await admin('GET', `/v1/segments/pagers/members${q}`);
      assert.equal(r.status, 400, q);
      assert.deepEqual([r.json.field, r.json.reason], ['cursor', 'not a cursor this API returned'], q);
    }
    const r = await admin('GET', '/v1/segments/nope/members?limit=0');
    assert.equal(r.status, 404, 'an unknown segment is 404 whatever the query');
  });

  it('rule errors are 400 with the compiler\'s line, column and message', T, async () => {
    let r = await put('broken', 'country = "UK" and\n  at least events "X"');
    assert.equal(r.status, 400, r.text);
    assert.equal(r.json.error, 'invalid rule');
    assert.equal(r.json.field, 'rule');
    assert.equal(r.json.line, 2);
    assert.equal(r.json.column, 12);
    assert.equal(typeof r.json.message, 'string');
    assert.equal(r.json.reason, r.json.message);
    r = await admin('GET', '/v1/segments/broken');
    assert.equal(r.status, 404, 'nothing stored');
    r = await put('typed', 'count(event "X") and true');
    assert.equal(r.status, 400);
    assert.deepEqual([r.json.line, r.json.column], [1, 1]);
    // A cycle between segments: the engine's message, no position.
    assert.equal((await put('cyc-a', 'in segment "cyc-b"')).status, 201);
    r = await put('cyc-b', 'in segment "cyc-a"');
    assert.equal(r.status, 400, r.text);
    assert.match(r.json.message, /cycle/);
    assert.ok(!('line' in r.json));
    // Bodies and names.
    for (const [body, field] of [[{}, 'rule'], [{ rule: 5 }, 'rule'], [{ rule: '' }, 'rule'], [{ rule: 'true', x: 1 }, 'x'],
      ['[1]', ''], ['{', ''], [{ rule: 'x'.repeat(16385) }, 'rule']]) {
      r = await admin('PUT', '/v1/segments/b', body);
      assert.equal(r.status, 400, JSON.stringify(body).slice(0, 40));
      assert.equal(r.json.field, field);
    }
    r = await put('.hidden', 'true');
    assert.deepEqual([r.status, r.json.field], [400, 'name']);
    r = await put('a'.repeat(128), 'true');
    assert.deepEqual([r.status, r.json.field], [400, 'name'], 'at most 127 bytes');
    assert.equal((await admin('GET', `/v1/segments/${'a'.repeat(128)}`)).status, 404);
  });

  it('lists every segment in name order and deletes (204, then 404)', T, async () => {
    assert.equal((await put('zz-last', 'true')).status, 201);
    let r = await admin('GET', '/v1/segments');
    assert.equal(r.status, 200);
    const names = r.json.segments.map((s) => s.name);
    assert.deepEqual(names, [...names].sort());
    assert.ok(names.includes('zz-last') && names.includes('repeat'));
    const zz = r.json.segments.find((s) => s.name === 'zz-last');
    assert.ok(zz.count >= 1, 'true holds for every profile');
    r = await admin('DELETE', '/v1/segments/zz-last');
    assert.equal(r.status, 204);
    assert.equal(r.text, '');
    r = await admin('DELETE', '/v1/segments/zz-last');
    assert.deepEqual([r.status, r.json.error, r.json.field], [404, 'segment not found', 'name']);
    r = await admin('GET', '/v1/segments/zz-last');
    assert.equal(r.status, 404);
    r = await admin('GET', '/v1/segments');
    assert.ok(!r.json.segments.some((s) => s.name === 'zz-last'));
  });

  it('audiences: union, intersect and minus over segments, count and paged members', T, async () => {
    const [a, b, c] = [uniq('aa'), uniq('bb'), uniq('cc')];
    assert.equal((await put('has-a', 'at least 1 event "A"')).status, 201);
    assert.equal((await put('has-b', 'at least 1 event "B"')).status, 201);
    await batch(track(a, 'A'), track(b, 'B'), track(c, 'A'), track(c, 'B'));
    const id = async (u) => (await getProfile(px, `user_id:${u}`)).id;
    const [ia, ib, ic] = [await id(a), await id(b), await id(c)];
    const count = async (segments, ops) => {
      const r = await admin('POST', '/v1/audiences/count', ops ? { segments, ops } : { segments });
      assert.equal(r.status, 200, r.text);
      return r.json.count;
    };
    assert.equal(await count(['has-a']), 2);
    assert.equal(await count(['has-a', 'has-b'], ['union']), 3);
    assert.equal(await count(['has-a', 'has-b'], ['intersect']), 1);
    assert.equal(await count(['has-a', 'has-b'], ['minus']), 1);
    assert.equal(await count(['has-a', 'has-b', 'has-a'], ['union', 'minus']), 1);
    const body = { segments: ['has-a', 'has-b'], ops: ['union'] };
    const sorted = [ia, ib, ic].sort();
    for (const limit of [1, 2, 100]) assert.deepEqual(await allMembers('/v1/audiences/members', limit, 'POST', body), sorted);
    const only = await allMembers('/v1/audiences/members', 10, 'POST', { segments: ['has-a', 'has-b'], ops: ['minus'] });
    assert.deepEqual(only, [ia]);
    for (const [bad, field, status] of [
      [{ segments: [] }, 'segments', 400],
      [{ segments: ['has-a', 'has-b'] }, 'ops', 400],
      [{ segments: ['has-a', 'has-b'], ops: ['xor'] }, 'ops[0]', 400],
      [{ segments: ['has-a', 5], ops: ['union'] }, 'segments[1]', 400],
      [{ segments: ['has-a', 'nope'], ops: ['union'] }, 'segments[1]', 404],
      [{ segments: ['has-a'], extra: 1 }, 'extra', 400],
    ]) {
      const r = await admin('POST', '/v1/audiences/count', bad);
      assert.deepEqual([r.status, r.json.field], [status, field], JSON.stringify(bad));
    }
    const r = await admin('GET', '/v1/audiences/count');
    assert.deepEqual([r.status, r.headers.get('allow')], [405, 'POST']);
  });

  it('computed traits: define, read, list, in the profile view, delete', T, async () => {
    const u = uniq('ct');
    await batch(track(u, 'Order Completed', { revenue: 12.5, category: 'garden' }),
      track(u, 'Order Completed', { revenue: 7.5, category: 'garden' }));
    let r = await admin('PUT', '/v1/computed-traits/revenue_total', { function: 'sum', event: 'Order Completed', property: 'revenue' });
    assert.equal(r.status, 201, r.text);
    assert.equal(r.json.name, 'revenue_total');
    assert.equal(r.json.definition.name, 'revenue_total', 'the name is filled from the path');
    assert.equal(r.json.version, 1);
    r = await admin('PUT', '/v1/computed-traits/last_order', { name: 'last_order', function: 'last', event: 'Order Completed' });
    assert.equal(r.status, 201, r.text);
    r = await admin('PUT', '/v1/computed-traits/fav', { function: 'most_frequent', event: 'Order Completed', property: 'category' });
    assert.equal(r.status, 201, r.text);
    r = await admin('PUT', '/v1/computed-traits/never', { function: 'max', event: 'Never Happens', property: 'x' });
    assert.equal(r.status, 201, r.text);
    r = await admin('PUT', '/v1/computed-traits/revenue_total', { name: 'other', function: 'sum', property: 'revenue' });
    assert.deepEqual([r.status, r.json.field], [400, 'name']);
    r = await admin('PUT', '/v1/computed-traits/bad', { function: 'median', property: 'revenue' });
    assert.deepEqual([r.status, r.json.error, r.json.field], [400, 'invalid computed trait', 'function']);
    r = await admin('GET', '/v1/computed-traits/revenue_total');
    assert.equal(r.status, 200);
    assert.equal(r.json.definition.function, 'sum');
    r = await admin('GET', '/v1/computed-traits');
    assert.deepEqual(r.json.computed_traits.map((t) => t.name), ['fav', 'last_order', 'never', 'revenue_total']);

    const p = await getProfile(px, `user_id:${u}`);
    assert.equal(p.computed.revenue_total, 20);
    assert.equal(p.computed.fav, 'garden');
    assert.equal(p.computed.never, null);
    assert.ok(!Number.isNaN(Date.parse(p.computed.last_order)), `a time as ISO 8601: ${p.computed.last_order}`);
    assert.match(p.computed.last_order, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);

    // A segment over a computed trait.
    r = await put('rev-20', 'computed.revenue_total >= 20');
    assert.equal(r.status, 201, r.text);
    assert.ok(r.json.count >= 1);
    assert.ok((await getProfile(px, `user_id:${u}`)).segments.includes('rev-20'));

    r = await admin('DELETE', '/v1/computed-traits/never');
    assert.equal(r.status, 204);
    r = await admin('DELETE', '/v1/computed-traits/never');
    assert.deepEqual([r.status, r.json.error], [404, 'computed trait not found']);
    assert.ok(!('never' in (await getProfile(px, `user_id:${u}`)).computed));
  });

  it('auth: 401 without or with an unknown token, 403 for a write key; 405 and 404 for paths', T, async () => {
    const cases = [['GET', '/v1/segments'], ['GET', '/v1/segments/repeat'], ['PUT', '/v1/segments/x', { rule: 'true' }],
      ['DELETE', '/v1/segments/repeat'], ['GET', '/v1/segments/repeat/members'],
      ['POST', '/v1/audiences/count', { segments: ['repeat'] }], ['POST', '/v1/audiences/members', { segments: ['repeat'] }],
      ['GET', '/v1/computed-traits'], ['PUT', '/v1/computed-traits/x', { function: 'count' }],
      ['DELETE', '/v1/computed-traits/x']];
    for (const [method, path, body] of cases) {
      let r = await px.server.api(method, path, { body, auth: null });
      assert.equal(r.status, 401, `${method} ${path}`);
      assert.match(r.json.error, /^missing admin token/);
      r = await px.server.api(method, path, { body, auth: { bearer: 'pka_nope' } });
      assert.deepEqual([r.status, r.json.error], [401, 'unknown admin token'], `${method} ${path}`);
      r = await px.server.api(method, path, { body, auth: { basic: px.key } });
      assert.equal(r.status, 403, `${method} ${path}`);
    }
    assert.equal((await admin('GET', '/v1/segments/x')).status, 404, 'nothing was defined by the refused PUT');
    for (const [method, path, allow] of [['POST', '/v1/segments', 'GET, HEAD'], ['PATCH', '/v1/segments/repeat', 'GET, HEAD, PUT, DELETE'],
      ['PUT', '/v1/segments/repeat/members', 'GET, HEAD'], ['POST', '/v1/computed-traits/x', 'GET, HEAD, PUT, DELETE']]) {
      const r = await admin(method, path, {});
      assert.deepEqual([r.status, r.headers.get('allow')], [405, allow], `${method} ${path}`);
    }
    for (const path of ['/v1/segments/', '/v1/segments/repeat/x', '/v1/computed-traits/a/b', '/v1/audiences', '/v1/segmentsx']) {
      const r = await admin('GET', path);
      assert.deepEqual([r.status, r.json.error], [404, 'no such endpoint'], path);
    }
    // HEAD: GET's status and headers, no body.
    const g = await admin('GET', '/v1/segments/repeat');
    const h = await admin('HEAD', '/v1/segments/repeat');
    assert.deepEqual([h.status, h.text, h.headers.get('content-length')], [200, '', String(Buffer.byteLength(g.text))]);
  });
});
