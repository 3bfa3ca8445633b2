// The profile timeline with segment changes: GET /v1/profiles/{ref}/events
// interleaves the profile's membership changes ("Segment Entered"/"Segment
// Left") with its events, newest first, a change right after the event that
// caused it; paging with limit 1 and 2 gives every item once; ?include=
// filters; a merged profile's changes show on the survivor's timeline.
// Real server on a random port.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startPickaxe, uniq, getProfile, profilePath, sleep } from './lib/server.mjs';

const T = { timeout: 30000 };

describe('timeline with segment changes', { timeout: 120000 }, () => {
  let px;
  const seg = {}; // name -> id
  const admin = (method, path, body) => px.server.api(method, path, { body, auth: { bearer: px.token } });
  async function put(name, rule) {
    const r = await admin('PUT', `/v1/segments/${name}`, { rule });
    assert.equal(r.status, 201, r.text);
    seg[name] = r.json.id;
  }
  async function send(path, body) {
    const r = await px.collect(path, body);
    assert.equal(r.status, 200, r.text);
    await sleep(3); // distinct receivedAt between requests
  }
  async function page(ref, q) {
    const r = await px.read(profilePath(ref, '/events') + q);
    assert.equal(r.status, 200, r.text);
    return r.json;
  }
  // Every item, following next_cursor with the given limit.
  async function walk(ref, limit, include) {
    const items = [];
    let cursor = null;
    for (let pages = 0; ; pages++) {
      assert.ok(pages < 200, 'paging ends');
      const q = `?limit=${limit}${include ? `&include=${include}` : ''}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
      const p = await page(ref, q);
      assert.ok(p.events.length <= limit);
      items.push(...p.events);
      if (p.next_cursor === null) return items;
      assert.equal(p.events.length, limit, 'only the last page is short');
      assert.match(p.next_cursor, /^([0-9a-f]{32}|s[0-9a-f]{56})$/);
      assert.equal(p.next_cursor.startsWith('s'), p.events[limit - 1].type === 'segment', 'the cursor is the last item\'s place');
      cursor = p.next_cursor;
    }
  }
  // A short label per item: "E:<event>" for events, "+name"/"-name" for changes.
  const label = (i) => (i.type === 'segment' ? `${i.event === 'Segment Entered' ? '+' : '-'}${i.segment}` : `E:${i.event ?? i.type}`);

  const u = uniq('tl');
  const other = uniq('tl-other');
  let items; // u's whole timeline, newest first
  before(async () => {
    px = await startPickaxe();
    await put('tl-once', 'count(event "Order Completed") = 1');
    await put('tl-repeat', 'at least 2 events "Order Completed"');
    await send('/v1/track', { userId: u, event: 'Order Completed', properties: { n: 1 } });
    await send('/v1/track', { userId: other, event: 'Order Completed' });
    // One batch: the order's changes come right after it, before the page view.
    const r = await px.collect('/v1/batch', { batch: [
      { type: 'track', userId: u, event: 'Order Completed', properties: { n: 2 } },
      { type: 'track', userId: u, event: 'Page Viewed' },
    ] });
    assert.equal(r.status, 200, r.text);
    await sleep(3);
    await put('tl-viewer', 'at least 1 event "Page Viewed"'); // backfill: u enters at definition time
    items = await walk(`user_id:${u}`, 100);
  });
  after(async () => { await px?.cleanup(); });

  it('interleaves changes with events, newest first, each change after its event', T, async () => {
    assert.deepEqual(items.map(label), [
      '+tl-viewer', 'E:Page Viewed', '+tl-repeat', '-tl-once', 'E:Order Completed', '+tl-once', 'E:Order Completed',
    ]);
    for (let n = 1; n < items.length; n++) assert.ok(items[n - 1].timestamp >= items[n].timestamp, 'newest first');
    assert.ok(seg['tl-once'] < seg['tl-repeat'], 'changes of one event in segment id order');
  });

  it('a segment item names the segment, cause, causing event and profile', T, async () => {
    const p = await getProfile(px, `user_id:${u}`);
    const [viewer, , repeat, , order2, once, order1] = items;
    assert.deepEqual(once, {
      type: 'segment', event: 'Segment Entered', segment: 'tl-once', segmentId: seg['tl-once'], cause: 'event',
      seq: once.seq, profileId: p.id, timestamp: order1.receivedAt,
    });
    assert.ok(Number.isInteger(once.seq) && once.seq > 0);
    assert.equal(repeat.timestamp, order2.receivedAt);
    assert.ok(repeat.seq > once.seq);
    assert.deepEqual([viewer.cause, viewer.seq, viewer.segmentId], ['backfill', null, seg['tl-viewer']]);
    // The same changes as /segments lists, newest first.
    const s = await px.read(profilePath(`user_id:${u}`, '/segments'));
    assert.deepEqual(items.filter((i) => i.type === 'segment').map((i) => [i.segment, i.cause, i.seq, i.timestamp]),
      s.json.changes.map((c) => [c.segment, c.cause, c.seq, c.at]));
  });

  it('pages of 1 and 2 give every item once, in order; the cursor survives newer items', T, async () => {
    assert.deepEqual(await walk(`user_id:${u}`, 1), items);
    assert.deepEqual(await walk(`user_id:${u}`, 2), items);
    const first = await page(`user_id:${u}`, '?limit=1'); // ends on a change: an "s" cursor
    const two = await page(`user_id:${u}`, '?limit=2'); // ends on an event
    assert.match(first.next_cursor, /^s[0-9a-f]{56}$/);
    assert.match(two.next_cursor, /^[0-9a-f]{32}$/);
    await put('tl-late', 'at least 1 event "Order Completed"'); // newer changes for u
    await send('/v1/track', { userId: u, event: 'Order Completed' });
    let rest = await page(`user_id:${u}`, `?limit=3&cursor=${first.next_cursor}`);
    assert.deepEqual(rest.events, items.slice(1, 4));
    rest = await page(`user_id:${u}`, `?limit=100&cursor=${two.next_cursor}`);
    assert.deepEqual(rest.events, items.slice(2));
    assert.equal(rest.next_cursor, null);
  });

  it('?include= filters: events, segments, both', T, async () => {
    const now = await walk(`user_id:${u}`, 100);
    const events = now.filter((i) => i.type !== 'segment'), changes = now.filter((i) => i.type === 'segment');
    assert.equal(events.length, 4);
    assert.equal(changes.length, 5);
    assert.deepEqual(await walk(`user_id:${u}`, 1, 'events'), events);
    assert.deepEqual(await walk(`user_id:${u}`, 2, 'segments'), changes);
    assert.deepEqual(await walk(`user_id:${u}`, 1, 'segments'), changes);
    assert.deepEqual(await walk(`user_id:${u}`, 2, 'segments,events'), now);
    assert.deepEqual(await walk(`user_id:${u}`, 100, 'events,segments,events'), now);
    // A cursor from one filter works with another: the place is the same.
    const p = await page(`user_id:${u}`, '?limit=1&include=segments');
    const q = await page(`user_id:${u}`, `?limit=100&include=events&cursor=${p.next_cursor}`);
    assert.deepEqual(q.events, events.filter((e) => e.timestamp <= p.events[0].timestamp));
  });

  it('400 JSON naming the field for a bad include or cursor; limit, then include, then cursor', T, async () => {
    const bad = [
      ['include=', 'include'], ['include=bogus', 'include'], ['include=events,', 'include'], ['include=Events', 'include'],
      ['include=events%20', 'include'],
      ['cursor=s' + '0'.repeat(55), 'cursor'], ['cursor=S' + '0'.repeat(56), 'cursor'],
      ['cursor=s' + '0'.repeat(16) + '05' + '0'.repeat(38), 'cursor'], // no such cause
      ['cursor=' + 'A'.repeat(32), 'cursor'], ['cursor=not-a-cursor', 'cursor'],
      // An event's cursor is exactly 32 lowercase hex digits (was a unit test of px_profile_events).
      ['cursor=xyz', 'cursor'], ['cursor=00', 'cursor'], ['cursor=' + '0'.repeat(33), 'cursor'],
      ['cursor=zz' + '0'.repeat(30), 'cursor'], ['cursor=' + '0'.repeat(31) + 'g', 'cursor'],
      ['cursor=0x' + '0'.repeat(15) + 'x' + '0'.repeat(14), 'cursor'],
      ['cursor=%20' + '0'.repeat(15) + '%20' + '0'.repeat(15), 'cursor'],
      ['cursor=-' + '0'.repeat(15) + '%2B' + '0'.repeat(15), 'cursor'],
      ['limit=0&include=bogus&cursor=zz', 'limit'], ['include=bogus&cursor=zz', 'include'],
    ];
    for (const [q, field] of bad) {
      const r = await px.read(profilePath(`user_id:${u}`, '/events') + `?${q}`);
      assert.equal(r.status, 400, `${q}: ${r.text}`);
      assert.match(r.headers.get('content-type'), /^application\/json/);
      assert.deepEqual([r.json?.error, r.json?.field], ['invalid query', field], `${q}: ${r.text}`);
    }
  });

  it('another profile\'s changes stay on its own timeline', T, async () => {
    const o = await walk(`user_id:${other}`, 1);
    assert.deepEqual(o.map(label), ['+tl-late', '+tl-once', 'E:Order Completed']);
  });

  it('after a merge the survivor\'s timeline holds the loser\'s changes too, under its id', T, async () => {
    const anon = uniq('tl-anon'), w = uniq('tl-w');
    await send('/v1/page', { anonymousId: anon, name: 'Home' }); // the older profile: it survives
    await send('/v1/track', { userId: w, event: 'Order Completed' }); // w enters tl-once and tl-late
    const survivor = (await getProfile(px, `anonymous_id:${anon}`)).id;
    const loser = (await getProfile(px, `user_id:${w}`)).id;
    assert.notEqual(survivor, loser);
    await send('/v1/identify', { userId: w, anonymousId: anon }); // merges w into the anonymous profile
    assert.equal((await getProfile(px, `user_id:${w}`)).id, survivor);
    const all = await walk(survivor, 100);
    const whose = (i) => (i.type !== 'segment' ? label(i)
      : `${label(i)}@${i.profileId === loser ? 'loser' : i.profileId === survivor ? 'survivor' : i.profileId}`);
    // At the merge (the identify, whose seq the changes give) the loser leaves
    // each segment and the survivor, now holding the order, enters it.
    assert.deepEqual(all.map(whose), [
      '+tl-late@survivor', '-tl-late@loser', '+tl-once@survivor', '-tl-once@loser', 'E:identify',
      '+tl-late@loser', '+tl-once@loser', 'E:Order Completed', 'E:page',
    ]);
    const identify = all[4];
    assert.ok(all.slice(0, 4).every((i) => i.cause === 'event' && i.timestamp === identify.receivedAt));
    assert.deepEqual(await walk(`user_id:${w}`, 1), all);
    assert.deepEqual(await walk(survivor, 2), all);
    assert.deepEqual(await walk(survivor, 1, 'segments'), all.filter((i) => i.type === 'segment'));
  });
});
