// `pickaxe link`: probabilistic merges in the platform. 2,000 people records
// from the bench generator (px-gen-people: typos, nicknames, swapped names,
// missing values, moves...; one duplicate at most per person) are split into
// a CRM export (the originals, keyed by user_id) and a POS export (their
// duplicates, keyed by a loyalty card as anonymous_id): no record shares an
// identifier with another, so only matching can join them. The merges must
// be right (few wrong, most found), explained through the API, never
// repeated, and the same after a rebuild from the log.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { BIN, startPickaxe, runCli, runCliOk, profilePath } from './lib/server.mjs';

const GEN = process.env.PX_GEN_PEOPLE || path.join(path.dirname(BIN), 'bench', 'px-gen-people');
const COLUMNS = ['given_name', 'surname', 'street_number', 'address_1', 'address_2', 'suburb', 'postcode', 'state',
  'date_of_birth', 'soc_sec_id'];

const entity = (id) => id.match(/^rec-(\d+)-/)[1];

// Every live profile: its entities (from user_id and anonymous_id values).
async function profiles(dir) {
  const out = (await runCliOk(['export', 'profiles', '--data', dir])).stdout.trim().split('\n');
  return out.map((l) => JSON.parse(l)).map((p) => ({
    id: p.id,
    entities: new Set(p.identifiers.filter((i) => i.kind === 'user_id' || i.kind === 'anonymous_id')
      .map((i) => entity(i.value))),
    ids: p.identifiers.map((i) => `${i.kind}:${i.value}`),
  }));
}

describe('pickaxe link: probabilistic merges of stored profiles', { timeout: 180000 }, () => {
  let px;
  let dir;
  let dups;
  before(async () => {
    px = await startPickaxe({ sources: [{ name: 'crm' }, { name: 'pos' }], serve: false });
    dir = px.dir;
    const csv = execFileSync(GEN, ['--records', '2000', '--dup-rate', '0.4', '--max-dups', '1', '--seed', '7',
      '--out', '-'], { encoding: 'utf8' });
    // The Febrl columns only: phone and e-mail would be identifiers, joining records without matching.
    const lines = csv.trim().split('\n').map((l) => l.split(',').slice(0, 11).join(','));
    const header = lines[0];
    const orgs = lines.slice(1).filter((l) => /^rec-\d+-org/.test(l));
    dups = lines.slice(1).filter((l) => /^rec-\d+-dup/.test(l));
    fs.writeFileSync(path.join(dir, 'crm.csv'), `${[header, ...orgs].join('\n')}\n`);
    fs.writeFileSync(path.join(dir, 'pos.csv'), `${[header, ...dups].join('\n')}\n`);
    const traits = Object.fromEntries(COLUMNS.map((c) => [c, { column: c, std: 'trim' }]));
    fs.writeFileSync(path.join(dir, 'crm.json'), JSON.stringify({ identifiers: { user_id: 'rec_id' }, traits }));
    fs.writeFileSync(path.join(dir, 'pos.json'), JSON.stringify({ identifiers: { anonymous_id: 'rec_id' }, traits }));
    for (const src of ['crm', 'pos']) {
      const r = await runCli(['import', path.join(dir, `${src}.csv`), '--source', src, '--mapping',
        path.join(dir, `${src}.json`), '--data', dir, '--json']);
      assert.ok(r.code === 0 || r.code === 4, r.stderr);
    }
  });
  after(async () => { await px?.cleanup(); });

  it('a dry run decides without merging', async () => {
    const before = (await profiles(dir)).length;
    const r = JSON.parse((await runCliOk(['link', '--dry-run', '--json', '--data', dir])).stdout);
    assert.equal(r.profiles, before);
    assert.equal(r.dry_run, true);
    assert.equal(r.merged, 0);
    assert.ok(r.matched_pairs >= 0.9 * dups.length, JSON.stringify(r));
    assert.ok(r.pairs_compared < (before * (before - 1)) / 20, 'blocking compares far fewer than all pairs');
    assert.equal((await profiles(dir)).length, before);
  });

  it('merges the same people across sources, rarely wrongly', async () => {
    const r = JSON.parse((await runCliOk(['link', '--json', '--data', dir])).stdout);
    assert.ok(r.merged >= 0.9 * dups.length, `found ${r.merged} of ${dups.length} true pairs: ${JSON.stringify(r)}`);
    const ps = await profiles(dir);
    const wrong = ps.filter((p) => p.entities.size > 1);
    assert.ok(wrong.length <= dups.length / 100, `profiles joining different people: ${JSON.stringify(wrong.slice(0, 5))}`);
    assert.equal(ps.length, r.profiles - r.merged);
  });

  it('each merge is explained under /v1/profiles/{ref}/merges', async () => {
    await px.start();
    const merged = (await profiles(dir)).find((p) => p.ids.length === 2);
    const r = await px.read(profilePath(merged.ids[0], '/merges'));
    assert.equal(r.status, 200, r.text);
    const m = r.json.merges.find((x) => x.cause === 'probabilistic');
    assert.ok(m, r.text);
    assert.equal(m.status, 'merged');
    assert.equal(m.event.type, 'merge');
    assert.ok(m.match.probability >= 0.99 && m.match.probability <= 1, r.text);
    assert.ok(m.match.fields.length >= 5, r.text);
    const named = [m.match.a, m.match.b].map((x) => `${x.kind}:${x.value}`).sort();
    assert.deepEqual(named, [...merged.ids].sort(), 'the match names both profiles by an identifier');
    for (const f of m.match.fields) {
      assert.equal(typeof f.field, 'string');
      assert.equal(typeof f.level, 'string');
      assert.equal(typeof f.weight, 'number');
    }
    const total = m.match.fields.reduce((s, f) => s + f.weight, 0);
    assert.ok(Math.abs(total - m.match.weight) < 1e-6, 'the parts add up to the weight');
    await px.stop();
  });

  it('running it again adds at most a few merges; a rebuild from the log gives the same profiles', async () => {
    // Merged profiles are records again (fewer of them, the model relearned):
    // a second run may find a few more pairs, never the same pair twice.
    const again = JSON.parse((await runCliOk(['link', '--json', '--data', dir])).stdout);
    assert.ok(again.merged <= Math.max(5, dups.length / 100), JSON.stringify(again));
    const wrong = (await profiles(dir)).filter((p) => p.entities.size > 1);
    assert.ok(wrong.length <= dups.length / 100, JSON.stringify(wrong.slice(0, 5)));
    const before = (await runCliOk(['export', 'profiles', '--data', dir])).stdout;
    await runCliOk(['rebuild', '--data', dir]);
    const after = (await runCliOk(['export', 'profiles', '--data', dir])).stdout;
    assert.equal(after, before);
  });

  it('an explicit configuration (as printed) gives the same decisions', async () => {
    const cfg = (await runCliOk(['link', '--print-config', '--data', dir])).stdout;
    const parsed = JSON.parse(cfg);
    assert.ok(parsed.fields.some((f) => f.column === 'surname'), cfg);
    fs.writeFileSync(path.join(dir, 'match.json'), cfg);
    const r = await runCli(['link', '--config', path.join(dir, 'match.json'), '--dry-run', '--json', '--data', dir]);
    assert.equal(r.code, 0, r.stderr);
    fs.writeFileSync(path.join(dir, 'bad.json'), '{"fields": 3}');
    const bad = await runCli(['link', '--config', path.join(dir, 'bad.json'), '--data', dir]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /fields/);
  });
});
