// `pickaxe rebuild` replays the event log: after it, the export and every
// profile (ids, identifiers, traits, history, merges and refusals) must be
// exactly what live ingestion produced — including when arrival order and
// event-time order disagree, which decides who wins a contested identifier.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startPickaxe, startServer, runCliOk, uniq, getProfile, profilePath,
} from './lib/server.mjs';

const ts = (min) => new Date(Date.UTC(2024, 5, 1, 9, min)).toISOString();

describe('rebuild', { timeout: 90000 }, () => {
  let px;
  const refs = [];
  before(async () => {
    px = await startPickaxe({
      sources: [{ name: 'web', priority: 1 }, { name: 'crm', priority: 9 }],
      config: {
        identity: { kinds: [{ kind: 'loyalty_card', max_per_profile: 1 }] },
        traits: { default: 'most_recent', rules: { plan: 'source_priority' } },
      },
    });
  });
  after(async () => { await px?.cleanup(); });

  it('replays to an identical export and identical profiles', { timeout: 60000 }, async () => {
    const r = uniq('rb');
    const dev = `${r}-device`;
    const send = async (ep, body, key = px.keys.web) => {
      const res = await px.collect(ep, body, key);
      assert.equal(res.status, 200, `${ep} ${JSON.stringify(body)} → ${res.text}`);
    };
    // Shared device, with the second user's event carrying an EARLIER timestamp than the first's.
    await send('/v1/identify', { anonymousId: dev, userId: `${r}-u1`, traits: { name: 'One' }, timestamp: ts(30) });
    await send('/v1/identify', { anonymousId: dev, userId: `${r}-u2`, traits: { name: 'Two' }, timestamp: ts(10) });
    // A merge via e-mail and an alias, events out of time order.
    await send('/v1/track', { anonymousId: `${r}-a1`, event: 'Browse', timestamp: ts(50) });
    await send('/v1/identify', { userId: `${r}-u3`, traits: { email: `${r}@x.example`, plan: 'free' }, timestamp: ts(5) });
    await send('/v1/identify', { anonymousId: `${r}-a1`, traits: { email: `${r}@x.example` }, timestamp: ts(20) });
    await send('/v1/identify', { userId: `${r}-u3`, traits: { plan: 'gold' }, timestamp: ts(1) }, px.keys.crm);
    await send('/v1/page', { anonymousId: `${r}-a2`, name: 'Landing', timestamp: ts(2) });
    await send('/v1/alias', { previousId: `${r}-a2`, userId: `${r}-u3`, timestamp: ts(40) });
    // A refused merge (two user ids) and a loyalty card over its maximum.
    await send('/v1/track', { userId: `${r}-u1`, event: 'Claim', context: { traits: { email: `${r}@x.example` } }, timestamp: ts(45) });
    await send('/v1/identify', { userId: `${r}-u4`, traits: { loyalty_card: `${r}-card1` }, timestamp: ts(3) });
    await send('/v1/identify', { userId: `${r}-u4`, traits: { loyalty_card: `${r}-card2` }, timestamp: ts(4) });
    // Groups, duplicates, and a batch with a rejected item.
    await send('/v1/group', { userId: `${r}-u3`, groupId: `${r}-g`, traits: { name: 'G', seats: 3 }, timestamp: ts(6) });
    await send('/v1/track', { userId: `${r}-u3`, event: 'Dup', messageId: `${r}-dup`, timestamp: ts(7) });
    await send('/v1/track', { userId: `${r}-u3`, event: 'Dup', messageId: `${r}-dup`, timestamp: ts(7) });
    const b = await px.collect('/v1/batch', {
      batch: [
        { type: 'track', userId: `${r}-u5`, event: 'Ok', timestamp: ts(8) },
        { type: 'track', userId: `${r}-u5`, timestamp: ts(9) },
        { type: 'identify', userId: `${r}-u5`, traits: { phone: '(212) 555-0199' }, timestamp: ts(11) },
      ],
    });
    assert.equal(b.status, 200, b.text);
    assert.equal(b.json.accepted, 2);

    for (const k of ['u1', 'u2', 'u3', 'u4', 'u5']) refs.push(`user_id:${r}-${k}`);
    refs.push(`anonymous_id:${dev}`, `anonymous_id:${r}-a1`, `anonymous_id:${r}-a2`, `email:${r}@x.example`, `loyalty_card:${r}-card1`);

    async function snapshot() {
      const out = {};
      for (const ref of refs) {
        const p = await px.read(profilePath(ref));
        const ev = await px.read(profilePath(ref, '/events') + '?limit=1000');
        const mg = await px.read(profilePath(ref, '/merges'));
        out[ref] = { status: p.status, profile: p.json, events: ev.json, merges: mg.json };
      }
      return out;
    }
    const live = await snapshot();
    for (const ref of refs) assert.equal(live[ref].status, 200, `${ref} exists`);
    await px.stop();

    const before1 = (await runCliOk(['export', 'profiles', '--data', px.dir])).stdout;
    await runCliOk(['rebuild', '--data', px.dir], { timeoutMs: 45000 });
    const after1 = (await runCliOk(['export', 'profiles', '--data', px.dir])).stdout;
    assert.equal(after1, before1, 'export identical after rebuild');

    await runCliOk(['rebuild', '--data', px.dir], { timeoutMs: 45000 });
    const after2 = (await runCliOk(['export', 'profiles', '--data', px.dir])).stdout;
    assert.equal(after2, before1, 'a second rebuild changes nothing either');

    px.server = await startServer(px.dir);
    const rebuilt = await snapshot();
    for (const ref of refs) assert.deepEqual(rebuilt[ref], live[ref], `${ref} identical after rebuild`);

    // And the contested shared-device outcome is the arrival-order one.
    const u1 = await getProfile(px, `user_id:${r}-u1`);
    const devp = await getProfile(px, `anonymous_id:${dev}`);
    assert.equal(devp.id, u1.id, 'the device stays with the user who claimed it first');
  });
});
