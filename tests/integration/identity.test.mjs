// Identity resolution: normalization, merges, refused merges, the shared-device
// case, junk and blocked values, alias, group, and a configured identifier kind.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startPickaxe, uniq, eventually, getProfile, identifierSet, profilePath,
} from './lib/server.mjs';

const T = { timeout: 30000 };

async function send(px, endpoint, body) {
  const r = await px.collect(endpoint, body);
  assert.equal(r.status, 200, `${endpoint} ${JSON.stringify(body)} → ${r.status} ${r.text}`);
  assert.equal(r.json.accepted, 1, r.text);
  return r;
}

async function idOf(px, ref) {
  return eventually(async () => (await getProfile(px, ref)).id);
}

async function status(px, ref) {
  return (await px.read(profilePath(ref))).status;
}

async function mergesOf(px, ref) {
  const r = await px.read(profilePath(ref, '/merges'));
  assert.equal(r.status, 200, r.text);
  assert.ok(Array.isArray(r.json.merges), r.text);
  return r.json.merges;
}

describe('identity with the default configuration', { timeout: 120000 }, () => {
  let px;
  before(async () => { px = await startPickaxe(); });
  after(async () => { await px?.cleanup(); });

  describe('normalization', () => {
    it('trims and lower-cases e-mail addresses', T, async () => {
      const u = uniq('norm');
      await send(px, '/v1/identify', { userId: u, traits: { email: '  Ann.Smith@Example.COM \t' } });
      const p = await eventually(() => getProfile(px, 'email:ann.smith@example.com'));
      assert.equal(p.id, await idOf(px, `user_id:${u}`));
      assert.ok(identifierSet(p).includes('email:ann.smith@example.com'), JSON.stringify(p.identifiers));
      assert.ok(!identifierSet(p).some((s) => s.includes('Example.COM')), 'raw e-mail not stored as an identifier');
    });

    it('reduces phone numbers to digits with a leading + and country code 1 by default', T, async () => {
      const u = uniq('phone');
      await send(px, '/v1/identify', { userId: u, traits: { phone: '(415) 555-0100' } });
      const p = await eventually(() => getProfile(px, 'phone:+14155550100'));
      assert.equal(p.id, await idOf(px, `user_id:${u}`));
      assert.ok(identifierSet(p).includes('phone:+14155550100'), JSON.stringify(p.identifiers));
    });

    it('keeps an explicit international prefix', T, async () => {
      const u = uniq('phone44');
      await send(px, '/v1/identify', { userId: u, traits: { phone: '+44 20 7946 0958' } });
      const p = await eventually(() => getProfile(px, 'phone:+442079460958'));
      assert.equal(p.id, await idOf(px, `user_id:${u}`));
    });

    it('takes identifiers from context.traits on any event', T, async () => {
      const anon = uniq('ctxanon');
      const email = `${uniq('ctx')}@example.com`;
      await send(px, '/v1/track', { anonymousId: anon, event: 'Clicked', context: { traits: { email } } });
      assert.equal(await idOf(px, `email:${email}`), await idOf(px, `anonymous_id:${anon}`));
    });

    it('looks profiles up by profile id as well as kind:value', T, async () => {
      const u = uniq('byid');
      await send(px, '/v1/identify', { userId: u });
      const id = await idOf(px, `user_id:${u}`);
      const p = await getProfile(px, id);
      assert.equal(p.id, id);
      assert.ok(identifierSet(p).includes(`user_id:${u}`));
    });

    it('404 for an unknown reference', T, async () => {
      assert.equal(await status(px, `user_id:${uniq('nobody')}`), 404);
      assert.equal(await status(px, 'email:nobody-at-all@example.com'), 404);
    });
  });

  describe('merging', () => {
    it('merges two profiles when one event carries identifiers of both; the oldest survives', T, async () => {
      const anon = uniq('anon');
      const u = uniq('user');
      const email = `${u}@example.com`;
      await send(px, '/v1/track', { anonymousId: anon, event: 'Browsed' });
      const older = await idOf(px, `anonymous_id:${anon}`);
      await send(px, '/v1/identify', { userId: u, traits: { email } });
      const younger = await idOf(px, `user_id:${u}`);
      assert.notEqual(older, younger, 'separate profiles before the linking event');

      await send(px, '/v1/identify', { userId: u, anonymousId: anon });
      await eventually(async () => {
        assert.equal(await idOf(px, `user_id:${u}`), older);
        assert.equal(await idOf(px, `anonymous_id:${anon}`), older);
        assert.equal(await idOf(px, `email:${email}`), older);
      });
      // The merged-away id still resolves, to the survivor.
      const viaLoser = await getProfile(px, younger);
      assert.equal(viaLoser.id, older);
      const ids = identifierSet(viaLoser);
      for (const want of [`user_id:${u}`, `anonymous_id:${anon}`, `email:${email}`]) {
        assert.ok(ids.includes(want), `${want} in ${ids}`);
      }
      const merges = await mergesOf(px, older);
      const m = merges.find((x) => x.status === 'merged');
      assert.ok(m, JSON.stringify(merges));
      assert.equal(m.survivor, older);
      assert.equal(m.loser, younger);
    });

    it('merges three profiles linked by one event into the oldest', T, async () => {
      const a = uniq('a3');
      const b = uniq('b3');
      const email = `${uniq('c3')}@example.com`;
      await send(px, '/v1/track', { anonymousId: a, event: 'One' });
      const first = await idOf(px, `anonymous_id:${a}`);
      await send(px, '/v1/track', { anonymousId: b, event: 'Two' });
      await send(px, '/v1/identify', { anonymousId: uniq('x3'), traits: { email } });
      const u = uniq('u3');
      await send(px, '/v1/identify', { userId: u, anonymousId: a, traits: { email } });
      await send(px, '/v1/track', { userId: u, anonymousId: b, event: 'Three' });
      await eventually(async () => {
        for (const ref of [`anonymous_id:${a}`, `anonymous_id:${b}`, `email:${email}`, `user_id:${u}`]) {
          assert.equal(await idOf(px, ref), first, ref);
        }
      });
    });

    it('merged-away ids resolve transitively to the final survivor', T, async () => {
      const a = uniq('ch-a');
      const b = uniq('ch-b');
      const c = uniq('ch-c');
      await send(px, '/v1/track', { anonymousId: a, event: 'A' });
      const pa = await idOf(px, `anonymous_id:${a}`);
      await send(px, '/v1/track', { anonymousId: b, event: 'B' });
      const pb = await idOf(px, `anonymous_id:${b}`);
      await send(px, '/v1/track', { anonymousId: c, event: 'C' });
      const pc = await idOf(px, `anonymous_id:${c}`);
      // c merges into b (b is older), then b merges into a.
      await send(px, '/v1/track', { anonymousId: c, event: 'BC', context: { traits: { email: `${b}@example.com` } } });
      await send(px, '/v1/track', { anonymousId: b, event: 'B2', context: { traits: { email: `${b}@example.com` } } });
      assert.equal(await idOf(px, `anonymous_id:${c}`), pb, 'c merged into b');
      await send(px, '/v1/identify', { anonymousId: a, traits: { email: `${b}@example.com` } });
      await eventually(async () => {
        for (const id of [pa, pb, pc]) assert.equal((await getProfile(px, id)).id, pa, `${id} → ${pa}`);
      });
      assert.equal((await getProfile(px, pc)).counts.events, 6);
    });

    it('a merge carries the loser\'s accounts and combines trait history', T, async () => {
      const anon = uniq('acc-anon');
      const u = uniq('acc-user');
      const g1 = uniq('acc-g1');
      const g2 = uniq('acc-g2');
      const ts = (d) => `2024-03-0${d}T00:00:00.000Z`;
      await send(px, '/v1/identify', { anonymousId: anon, traits: { color: 'red' }, timestamp: ts(1) });
      await send(px, '/v1/group', { anonymousId: anon, groupId: g1, traits: { name: 'G1' }, timestamp: ts(2) });
      await send(px, '/v1/identify', { userId: u, traits: { color: 'red' }, timestamp: ts(3) });
      await send(px, '/v1/group', { userId: u, groupId: g2, traits: { name: 'G2' }, timestamp: ts(4) });
      await send(px, '/v1/identify', { userId: u, anonymousId: anon, timestamp: ts(5) });
      const p = await eventually(async () => {
        const prof = await getProfile(px, `user_id:${u}`);
        assert.equal(prof.id, await idOf(px, `anonymous_id:${anon}`));
        return prof;
      });
      assert.deepEqual(p.accounts.map((a) => a.group_id).sort(), [g1, g2].sort(), JSON.stringify(p.accounts));
      const red = p.trait_history.color.filter((e) => e.value === 'red');
      assert.equal(red.length, 1, `one entry per value and source: ${JSON.stringify(p.trait_history.color)}`);
      assert.equal(red[0].count, 2);
      assert.equal(Date.parse(red[0].first_observed), Date.parse(ts(1)));
      assert.equal(Date.parse(red[0].last_observed), Date.parse(ts(3)));
    });

    it('refuses a merge that would give a profile two user ids (user_id max 1)', T, async () => {
      const a = uniq('ua');
      const b = uniq('ub');
      const emailA = `${a}@example.com`;
      await send(px, '/v1/identify', { userId: a, traits: { email: emailA } });
      const pa = await idOf(px, `user_id:${a}`);
      await send(px, '/v1/identify', { userId: b });
      const pb = await idOf(px, `user_id:${b}`);
      assert.notEqual(pa, pb);

      // b's event claims a's e-mail: merging would put a and b on one profile.
      await send(px, '/v1/track', { userId: b, event: 'Conflict', context: { traits: { email: emailA } } });
      await eventually(async () => {
        const merges = await mergesOf(px, `user_id:${b}`);
        assert.ok(merges.some((m) => m.status === 'refused'), JSON.stringify(merges));
      });
      assert.equal(await idOf(px, `user_id:${a}`), pa, 'a keeps its profile');
      assert.equal(await idOf(px, `user_id:${b}`), pb, 'b keeps its profile');
      assert.equal(await idOf(px, `email:${emailA}`), pa, 'the e-mail stays with a');
      // The event lands on the profile of its highest-priority identifier: user_id b.
      assert.equal((await getProfile(px, pb)).counts.events, 2);
      assert.equal((await getProfile(px, pa)).counts.events, 1);
      const refused = (await mergesOf(px, pb)).find((m) => m.status === 'refused');
      assert.ok(refused.id !== undefined && refused.time !== undefined, JSON.stringify(refused));
      assert.equal(typeof refused.cause, 'string');
    });

    it('shared device: a second user logging in on the same device gets a profile of its own', T, async () => {
      const device = uniq('device');
      const u1 = uniq('alice');
      const u2 = uniq('bob');
      await send(px, '/v1/track', { anonymousId: device, event: 'Opened App' });
      await send(px, '/v1/identify', { anonymousId: device, userId: u1, traits: { name: 'Alice' } });
      const p1 = await idOf(px, `user_id:${u1}`);
      assert.equal(await idOf(px, `anonymous_id:${device}`), p1);

      await send(px, '/v1/identify', { anonymousId: device, userId: u2, traits: { name: 'Bob' } });
      const p2 = await idOf(px, `user_id:${u2}`);
      assert.notEqual(p2, p1, 'user 2 must not be merged into user 1');
      const prof1 = await getProfile(px, p1);
      const prof2 = await getProfile(px, p2);
      assert.ok(!identifierSet(prof1).includes(`user_id:${u2}`), JSON.stringify(prof1.identifiers));
      assert.ok(!identifierSet(prof2).includes(`user_id:${u1}`), JSON.stringify(prof2.identifiers));
      assert.equal(prof1.traits.name, 'Alice', "user 2's traits do not land on user 1");
      assert.equal(prof2.traits.name, 'Bob');
      assert.equal(prof1.counts.events, 2);
      assert.equal(prof2.counts.events, 1);
    });

    it('keeps at most 5 e-mail addresses on one profile', T, async () => {
      const u = uniq('many');
      const emails = Array.from({ length: 6 }, (_, i) => `${u}-${i}@example.com`);
      for (const email of emails) await send(px, '/v1/identify', { userId: u, traits: { email } });
      const p = await eventually(async () => {
        const prof = await getProfile(px, `user_id:${u}`);
        assert.equal(prof.counts.events, 6);
        return prof;
      });
      const got = identifierSet(p).filter((s) => s.startsWith('email:'));
      assert.equal(got.length, 5, JSON.stringify(got));
      for (const email of emails.slice(0, 5)) assert.ok(got.includes(`email:${email}`), `${email} kept`);
    });
  });

  describe('junk values', () => {
    const junk = ['', 'null', 'undefined', 'nil', 'none', '-1', '0', 'anonymous', 'unknown', '00000000', '----'];
    for (const v of junk) {
      it(`userId ${JSON.stringify(v)} never links profiles`, T, async () => {
        const a1 = uniq('j1');
        const a2 = uniq('j2');
        await send(px, '/v1/identify', { anonymousId: a1, userId: v, traits: { n: 1 } });
        await send(px, '/v1/identify', { anonymousId: a2, userId: v, traits: { n: 2 } });
        const p1 = await idOf(px, `anonymous_id:${a1}`);
        const p2 = await idOf(px, `anonymous_id:${a2}`);
        assert.notEqual(p1, p2);
        assert.ok(!identifierSet(await getProfile(px, p1)).includes(`user_id:${v}`));
        if (v !== '') assert.equal(await status(px, `user_id:${v}`), 404);
      });
    }

    it('junk e-mail and phone values never link profiles', T, async () => {
      const a1 = uniq('jp1');
      const a2 = uniq('jp2');
      await send(px, '/v1/identify', { anonymousId: a1, traits: { phone: '000-000-0000', email: 'null' } });
      await send(px, '/v1/identify', { anonymousId: a2, traits: { phone: '000-000-0000', email: 'null' } });
      assert.notEqual(await idOf(px, `anonymous_id:${a1}`), await idOf(px, `anonymous_id:${a2}`));
    });
  });

  describe('alias', () => {
    it('alias previousId → userId merges the anonymous profile into the user', T, async () => {
      const anon = uniq('al-anon');
      const u = uniq('al-user');
      await send(px, '/v1/track', { anonymousId: anon, event: 'Visited' });
      await send(px, '/v1/identify', { userId: u, traits: { name: 'Aliased' } });
      const pa = await idOf(px, `anonymous_id:${anon}`);
      assert.notEqual(pa, await idOf(px, `user_id:${u}`));
      await send(px, '/v1/alias', { previousId: anon, userId: u });
      await eventually(async () => {
        assert.equal(await idOf(px, `user_id:${u}`), await idOf(px, `anonymous_id:${anon}`));
      });
      const p = await getProfile(px, `user_id:${u}`);
      assert.equal(p.id, pa, 'the older (anonymous) profile survives');
      assert.equal(p.traits.name, 'Aliased');
      assert.ok((await mergesOf(px, p.id)).some((m) => m.status === 'merged'));
    });

    it('alias to a new userId attaches it to the previous profile', T, async () => {
      const anon = uniq('al2-anon');
      const u = uniq('al2-user');
      await send(px, '/v1/page', { anonymousId: anon, name: 'Landing' });
      const pa = await idOf(px, `anonymous_id:${anon}`);
      await send(px, '/v1/alias', { previousId: anon, userId: u });
      assert.equal(await idOf(px, `user_id:${u}`), pa);
    });
  });

  describe('group', () => {
    it('links the profile to an account with group traits, without touching user traits', T, async () => {
      const u = uniq('gu');
      const g = uniq('acct');
      await send(px, '/v1/identify', { userId: u, traits: { name: 'Member', plan: 'starter' } });
      await send(px, '/v1/group', {
        userId: u, groupId: g,
        traits: { name: 'Acme Corp', plan: 'enterprise', email: `billing-${g}@acme.example` },
      });
      const p = await eventually(async () => {
        const prof = await getProfile(px, `user_id:${u}`);
        assert.ok(Array.isArray(prof.accounts) && prof.accounts.length === 1, JSON.stringify(prof.accounts));
        return prof;
      });
      assert.equal(p.accounts[0].group_id, g);
      assert.equal(p.accounts[0].traits.name, 'Acme Corp');
      assert.equal(p.accounts[0].traits.plan, 'enterprise');
      assert.equal(p.traits.name, 'Member', 'group traits are not user traits');
      assert.equal(p.traits.plan, 'starter');
      assert.equal(await status(px, `email:billing-${g}@acme.example`), 404, "a group's e-mail is not the user's identifier");
    });

    it('a later group call updates the account traits; a second group adds an account', T, async () => {
      const u = uniq('gu2');
      const g1 = uniq('acct1');
      const g2 = uniq('acct2');
      await send(px, '/v1/group', { userId: u, groupId: g1, traits: { name: 'One', tier: 1 } });
      await send(px, '/v1/group', { userId: u, groupId: g1, traits: { tier: 2 } });
      await send(px, '/v1/group', { userId: u, groupId: g2, traits: { name: 'Two' } });
      const p = await eventually(async () => {
        const prof = await getProfile(px, `user_id:${u}`);
        assert.equal(prof.accounts?.length, 2, JSON.stringify(prof.accounts));
        return prof;
      });
      const a1 = p.accounts.find((a) => a.group_id === g1);
      const a2 = p.accounts.find((a) => a.group_id === g2);
      assert.equal(a1.traits.tier, 2);
      assert.equal(a2.traits.name, 'Two');
    });
  });
});

describe('identity with a custom configuration', { timeout: 60000 }, () => {
  let px;
  before(async () => {
    px = await startPickaxe({
      config: {
        identity: {
          kinds: [{ kind: 'loyalty_card', max_per_profile: 1 }],
          blocked_values: ['', 'null', 'undefined', 'blocked@example.com'],
          default_country_code: '44',
        },
      },
    });
  });
  after(async () => { await px?.cleanup(); });

  it('reads a configured kind (loyalty_card) from traits and links on it', T, async () => {
    const a1 = uniq('lc1');
    const a2 = uniq('lc2');
    const card = uniq('LC');
    await send(px, '/v1/identify', { anonymousId: a1, traits: { loyalty_card: card } });
    const p = await eventually(() => getProfile(px, `loyalty_card:${card}`));
    assert.equal(p.id, await idOf(px, `anonymous_id:${a1}`));
    assert.ok(identifierSet(p).includes(`loyalty_card:${card}`), JSON.stringify(p.identifiers));
    await send(px, '/v1/identify', { anonymousId: a2, traits: { loyalty_card: card } });
    assert.equal(await idOf(px, `anonymous_id:${a2}`), p.id, 'same card → same profile');
  });

  it('enforces max_per_profile 1 for the configured kind', T, async () => {
    const a = uniq('lcm');
    const card1 = uniq('LC1');
    const card2 = uniq('LC2');
    await send(px, '/v1/identify', { anonymousId: a, traits: { loyalty_card: card1 } });
    const p = await idOf(px, `loyalty_card:${card1}`);
    await send(px, '/v1/identify', { anonymousId: a, traits: { loyalty_card: card2 } });
    await eventually(async () => {
      const prof = await getProfile(px, p);
      assert.ok(!identifierSet(prof).includes(`loyalty_card:${card2}`), JSON.stringify(prof.identifiers));
    });
    const r = await px.read(profilePath(`loyalty_card:${card2}`));
    if (r.status === 200) assert.notEqual(r.json.id, p, 'second card is not on the first profile');
    else assert.equal(r.status, 404);
  });

  it('configured blocked values never link', T, async () => {
    const a1 = uniq('bl1');
    const a2 = uniq('bl2');
    await send(px, '/v1/identify', { anonymousId: a1, traits: { email: 'Blocked@Example.com' } });
    await send(px, '/v1/identify', { anonymousId: a2, traits: { email: 'blocked@example.com ' } });
    assert.notEqual(await idOf(px, `anonymous_id:${a1}`), await idOf(px, `anonymous_id:${a2}`));
    assert.equal(await status(px, 'email:blocked@example.com'), 404);
  });

  it('applies the configured default country code to phone numbers', T, async () => {
    const a = uniq('cc');
    await send(px, '/v1/identify', { anonymousId: a, traits: { phone: '20 7946 0018' } });
    assert.equal(await idOf(px, 'phone:+442079460018'), await idOf(px, `anonymous_id:${a}`));
  });
});
