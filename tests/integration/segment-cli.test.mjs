// pickaxe segment on the command line: create (backfill), list, count and
// members of audiences (union, intersect, minus), CSV and JSON lines,
// --limit, delete, and the errors: a rule with its line and column, an
// unknown segment, bad options; each with its exit code.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { makeTempDir, cleanupDir, createSource, runCli, runCliOk } from './lib/server.mjs';

const env = { PICKAXE_NOW: '2024-06-01T00:00:00Z' };
const T = { timeout: 60000 };

describe('pickaxe segment (CLI)', { timeout: 120000 }, () => {
  let dir;
  let data;
  const cli = (...args) => runCli([...args, '--data', data], { env });
  const ok = async (...args) => {
    const r = await cli(...args);
    assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };

  before(async () => {
    dir = await makeTempDir('pickaxe-segcli-');
    data = path.join(dir, 'data');
    await createSource(data, 'shop');
    const lines = [
      { type: 'identify', userId: 'ann', traits: { email: 'ann@x.io', country: 'UK' } },
      { type: 'track', userId: 'ann', event: 'Order Completed', properties: { revenue: 50 } },
      { type: 'identify', userId: 'bo', traits: { country: 'FR' } },
      { type: 'track', userId: 'bo', event: 'Order Completed', properties: { revenue: 500 } },
      { type: 'identify', userId: 'cy', traits: { country: 'UK' } },
    ].map((e, i) => JSON.stringify({ ...e, messageId: `m${i}`, timestamp: '2024-05-20T10:00:00Z' }));
    const file = path.join(dir, 'events.jsonl');
    fs.writeFileSync(file, `${lines.join('\n')}\n`);
    await runCliOk(['import', file, '--source', 'shop', '--data', data], { env });
  });
  after(async () => { await cleanupDir(dir); });

  const ids = (csv) => csv.trim().split('\n').slice(1).map((l) => l.split(',')[0]);
  const users = (csv) => csv.trim().split('\n').slice(1).map((l) => /user_id:(\w+)/.exec(l)[1]).sort();

  it('create backfills and says how many; list shows each with its count and rule', T, async () => {
    assert.match(await ok('segment', 'create', 'uk', '--rule', 'country = "UK"'), /^segment uk: version 1, 2 members$/m);
    assert.match(await ok('segment', 'create', 'buyers', '--rule', 'at least 1 event "Order Completed"'),
      /^segment buyers: version 1, 2 members$/m);
    // The same rule again changes nothing (the version stays), nor does the
    // same rule written another way (spacing, sugar: the canonical form).
    assert.match(await ok('segment', 'create', 'uk', '--rule', 'country = "UK"'), /^segment uk: version 1, 2 members$/m);
    assert.match(await ok('segment', 'create', 'uk', '--rule', '  country="UK"  '), /^segment uk: version 1, 2 members$/m);
    const list = JSON.parse(await ok('segment', 'list', '--json'));
    assert.deepEqual(list.segments.map((s) => [s.name, s.count]), [['buyers', 2], ['uk', 2]]);
    assert.match(await ok('segment', 'list'), /^uk +2 +country = "UK"$/m);
  });

  it('counts and members of audiences, left to right', T, async () => {
    assert.equal((await ok('segment', 'count', 'uk')).trim(), '2');
    assert.equal((await ok('segment', 'count', 'uk', 'union', 'buyers')).trim(), '3');
    assert.equal((await ok('segment', 'count', 'uk', 'intersect', 'buyers')).trim(), '1');
    assert.equal((await ok('segment', 'count', 'buyers', 'minus', 'uk')).trim(), '1');
    assert.equal((await ok('segment', 'count', 'uk', 'union', 'buyers', 'minus', 'uk')).trim(), '1');
    const csv = await ok('segment', 'members', 'uk', 'union', 'buyers');
    assert.match(csv, /^profile_id,identifiers$/m);
    assert.deepEqual(users(csv), ['ann', 'bo', 'cy']);
    assert.deepEqual(users(await ok('segment', 'members', 'buyers', 'minus', 'uk', '--format', 'csv')), ['bo']);
    const all = ids(csv);
    assert.deepEqual(all, [...all].sort(), 'members come in profile id order');
    const one = (await ok('segment', 'members', 'uk', '--format', 'jsonl', '--limit', '1')).trim().split('\n');
    assert.equal(one.length, 1);
    const j = JSON.parse(one[0]);
    assert.match(j.id, /^[0-9a-f]{16}$/);
    assert.ok(j.identifiers.some((i) => i.kind === 'email' && i.value === 'ann@x.io'), one[0]);
  });

  it('refuses bad input with a clear message and its exit code', T, async () => {
    let r = await cli('segment', 'create', 'bad', '--rule', 'country = ');
    assert.equal(r.code, 2);
    assert.match(r.stderr, /line 1, column 11: expected a value after '=', found the end of the rule/);
    assert.match(r.stderr, /\n {2}country = \n {12}\^/);
    r = await cli('segment', 'count', 'nope');
    assert.equal(r.code, 3);
    assert.match(r.stderr, /no segment named nope/);
    r = await cli('segment', 'count', 'uk', 'plus', 'buyers');
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /union, intersect or minus/);
    r = await cli('segment', 'members', 'uk', '--format', 'xml');
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--format is csv or jsonl/);
    r = await cli('segment', 'create', 'bad name', '--rule', 'true');
    assert.equal(r.code, 2);
    assert.equal(JSON.parse(await ok('segment', 'list', '--json')).segments.length, 2, 'nothing was defined by the failures');
  });

  it('delete removes the segment and its members; audiences over it then fail', T, async () => {
    await ok('segment', 'delete', 'uk');
    const r = await cli('segment', 'count', 'uk');
    assert.equal(r.code, 3);
    assert.equal((await cli('segment', 'delete', 'uk')).code, 3);
    assert.deepEqual(JSON.parse(await ok('segment', 'list', '--json')).segments.map((s) => s.name), ['buyers']);
    assert.equal((await ok('segment', 'count', 'buyers')).trim(), '2');
  });
});
