// pickaxe discover: k-means over stored profiles' features. Synthetic
// customers in three well-separated groups (lapsed, loyal, regular) are
// imported with the clock pinned; discover must find the three groups
// (k chosen by silhouette), describe them, and save one as a segment whose
// members are exactly that group and which stays live as events arrive.
// Bad input fails with a clear message and a non-zero exit.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { makeTempDir, cleanupDir, createSource, runCli, runCliOk } from './lib/server.mjs';

const T = { timeout: 60000 };
const NOW = '2024-06-01T00:00:00Z';
const env = { PICKAXE_NOW: NOW };
const DAY = 86400000;

// Group: how many, and ranges for orders, total revenue and days since the last order.
const GROUPS = [
  { name: 'lapsed', n: 45, orders: [1, 2], revenue: [10, 40], days: [200, 300], age: [60, 70] },
  { name: 'loyal', n: 30, orders: [8, 12], revenue: [500, 900], days: [1, 10], age: [20, 30] },
  { name: 'regular', n: 25, orders: [3, 5], revenue: [100, 200], days: [40, 70], age: [40, 50] },
];
const NO_ORDERS = 5; // profiles with an identify only: no last order, no age

function lines() {
  let seed = 42;
  const rand = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
  const between = ([lo, hi]) => lo + rand() * (hi - lo);
  const base = Date.parse(NOW);
  const out = [];
  for (const g of GROUPS) {
    for (let i = 0; i < g.n; i++) {
      const user = `${g.name}-${i}`;
      const orders = g.orders[0] + Math.floor(rand() * (g.orders[1] - g.orders[0] + 1));
      const revenue = between(g.revenue);
      const last = base - between(g.days) * DAY;
      out.push({ type: 'identify', userId: user, messageId: `${user}-id`, timestamp: new Date(last).toISOString(),
        traits: { age: Math.round(between(g.age) * 10) / 10 } });
      for (let j = 0; j < orders; j++) {
        out.push({ type: 'track', userId: user, event: 'Order Completed', messageId: `${user}-${j}`,
          timestamp: new Date(last - j * 2 * DAY).toISOString(),
          properties: { order_id: `${user}-o${j}`, revenue: Math.round((revenue / orders) * 100) / 100 } });
      }
    }
  }
  for (let i = 0; i < NO_ORDERS; i++) {
    out.push({ type: 'identify', userId: `browser-${i}`, messageId: `browser-${i}`,
      timestamp: new Date(base - DAY).toISOString(), traits: { name: `B ${i}` } });
  }
  return out.map((e) => JSON.stringify(e)).join('\n') + '\n';
}

const DEFS = {
  computed_traits: [
    { name: 'orders', function: 'distinct', event: 'Order Completed', property: 'order_id' },
    { name: 'revenue', function: 'sum', event: 'Order Completed', property: 'revenue' },
    { name: 'last_order', function: 'last', event: 'Order Completed' },
  ],
};
const FEATURES = 'computed.orders, computed.revenue, computed.last_order';

describe('pickaxe discover', { timeout: 180000 }, () => {
  let dir;
  let data;
  const cli = (args, opts = {}) => runCli([...args, '--data', data], { env, ...opts });
  const discover = (...args) => cli(['discover', ...args]);
  const json = async (...args) => {
    const r = await discover(...args, '--json');
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout);
  };
  const members = async (segment) => {
    const r = await cli(['segment', 'members', segment, '--format', 'jsonl']);
    assert.equal(r.code, 0, r.stderr);
    return r.stdout.trim().split('\n').filter(Boolean)
      .map((l) => JSON.parse(l).identifiers.find((i) => i.kind === 'user_id').value).sort();
  };
  const group = (name) => Array.from({ length: GROUPS.find((g) => g.name === name).n }, (_, i) => `${name}-${i}`).sort();

  before(async () => {
    dir = await makeTempDir('pickaxe-discover-');
    data = path.join(dir, 'data');
    await createSource(data, 'shop');
    const file = path.join(dir, 'events.jsonl');
    fs.writeFileSync(file, lines());
    await runCliOk(['import', file, '--source', 'shop', '--data', data], { env });
    const defs = path.join(dir, 'defs.json');
    fs.writeFileSync(defs, JSON.stringify(DEFS));
    await runCliOk(['apply', defs, '--data', data], { env });
  });
  after(async () => { await cleanupDir(dir); });

  it('finds the three groups, k chosen by silhouette, and counts the profiles left out', T, async () => {
    const j = await json('--features', FEATURES, '--log', 'computed.revenue');
    assert.equal(j.now, '2024-06-01T00:00:00.000Z');
    assert.equal(j.profiles, 105);
    assert.equal(j.fitted, 100);
    assert.equal(j.left_out, NO_ORDERS);
    assert.deepEqual(j.features.map((f) => [f.ref, f.label, f.term, f.missing]), [
      ['computed.orders', 'orders', 'computed.orders', 0],
      ['computed.revenue', 'revenue', 'log1p(computed.revenue)', 0],
      ['computed.last_order', 'days since last order', 'days_since(computed.last_order)', NO_ORDERS],
    ]);
    assert.equal(j.model.chosen, true);
    assert.equal(j.model.k, 3);
    assert.deepEqual(j.model.tried.map((t) => t.k), [2, 3, 4, 5, 6, 7, 8]);
    const best = Math.max(...j.model.tried.map((t) => t.silhouette));
    assert.equal(j.model.tried.find((t) => t.k === 3).silhouette, best);
    assert.deepEqual(j.model.clusters.map((c) => c.size), [45, 30, 25]); // largest first
    const loyal = j.model.clusters[1];
    assert.ok(loyal.member_mean[0] >= 8 && loyal.member_mean[0] <= 12, JSON.stringify(loyal));
    assert.ok(loyal.member_mean[2] >= 1 && loyal.member_mean[2] <= 10, JSON.stringify(loyal));
    assert.match(loyal.description, /many orders/);
    assert.match(loyal.description, /last order recently/);
    assert.match(j.model.clusters[0].description, /last order long ago/);
  });

  it('prints sizes, shares, centroids and words as text', T, async () => {
    const r = await discover('--features', FEATURES, '--log', 'computed.revenue');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^105 profiles read at 2024-06-01T00:00:00.000Z, 100 with every feature$/m);
    assert.match(r.stdout, /^5 profiles without all features, left out: computed.last_order missing or not a number on 5$/m);
    assert.match(r.stdout, /^features: orders \(computed.orders\), revenue \(log1p\(computed.revenue\)\), days since last order \(days_since\(computed.last_order\)\)$/m);
    assert.match(r.stdout, /^k = 3, chosen by silhouette: k=2 [0-9.]+ k=3 [0-9.]+ \* k=4/m);
    assert.match(r.stdout, /^cluster 0: 45 customers \(45.0%\): .*last order long ago/m);
    assert.match(r.stdout, /^cluster 1: 30 customers \(30.0%\): .*many orders/m);
    assert.match(r.stdout, /^cluster 2: 25 customers \(25.0%\): /m);
    assert.match(r.stdout, /^ {2}centroid: orders [0-9.]+, revenue [0-9.]+, days since last order [0-9.]+$/m);
  });

  it('k given, traits and profile fields as features', T, async () => {
    const j = await json('--features', 'age, profile.events, last_seen', '--k', '3', '--seed', '7');
    assert.equal(j.model.chosen, false);
    assert.equal(j.model.k, 3);
    assert.equal(j.fitted, 100); // the browsers have no age
    assert.deepEqual(j.features.map((f) => f.label), ['age', 'events', 'days since last seen']);
    assert.deepEqual(j.model.clusters.map((c) => c.size), [45, 30, 25]);
    const two = await json('--features', 'trait.age', '--k', '2');
    assert.equal(two.model.k, 2);
    assert.equal(two.model.clusters.reduce((a, c) => a + c.size, 0), 100);
  });

  it('saves a cluster as a segment whose members are exactly that group, and prints its rule', T, async () => {
    const r = await discover('--features', FEATURES, '--log', 'computed.revenue', '--save-cluster', '1', '--as', 'loyal');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^saved cluster 1 as segment loyal \(version 1\): 30 members; the cluster has 30$/m);
    assert.doesNotMatch(r.stdout, /^note:/m);
    const rule = r.stdout.match(/^rule: (.*)$/m)[1];
    assert.match(rule, /computed\.orders/);
    assert.match(rule, /log1p\(computed\.revenue\)/);
    assert.match(rule, /days_since\(computed\.last_order\)/);
    assert.equal(rule.split(' and ').length, 2, 'k - 1 inequalities');
    assert.deepEqual(await members('loyal'), group('loyal'));
    // The rule is an ordinary rule: rule check prints it back unchanged.
    const check = await runCliOk(['rule', 'check', rule]);
    assert.match(check.stdout, new RegExp(rule.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
    // Another cluster, with JSON output.
    const j = await json('--features', FEATURES, '--log', 'computed.revenue', '--save-cluster', '2', '--as', 'regular');
    assert.equal(j.saved.segment, 'regular');
    assert.equal(j.saved.members, 25);
    assert.equal(j.saved.cluster_size, 25);
    assert.equal(j.saved.differ, 0);
    assert.deepEqual(await members('regular'), group('regular'));
    const list = await cli(['segment', 'list', '--json']);
    assert.deepEqual(JSON.parse(list.stdout).segments.map((s) => [s.name, s.count]), [['loyal', 30], ['regular', 25]]);
  });

  it('the saved segment stays live: a lapsed customer who starts buying a lot joins it', T, async () => {
    const base = Date.parse(NOW);
    const more = Array.from({ length: 10 }, (_, j) => JSON.stringify({
      type: 'track', userId: 'lapsed-0', event: 'Order Completed', messageId: `lapsed-0-more-${j}`,
      timestamp: new Date(base - (2 + j) * DAY).toISOString(), properties: { order_id: `more-${j}`, revenue: 70 },
    })).join('\n') + '\n';
    const file = path.join(dir, 'more.jsonl');
    fs.writeFileSync(file, more);
    await runCliOk(['import', file, '--source', 'shop', '--data', data], { env });
    assert.deepEqual(await members('loyal'), [...group('loyal'), 'lapsed-0'].sort());
    assert.ok(!(await members('regular')).includes('lapsed-0'));
  });

  it('refuses bad input with a clear message and a non-zero exit', T, async () => {
    const cases = [
      [['--features', 'computed.orders,profile.foo'], /--features: profile.foo: column 9: unknown profile field 'foo'/],
      [['--features', 'computed.orders,count(event)'], /--features: count\(event\): column 1: expected a trait, computed.NAME/],
      [['--features', 'computed.orders,,computed.revenue'], /--features: an empty feature/],
      [['--features', 'computed.orders,computed.orders'], /--features: computed.orders: listed twice/],
      [['--features', 'computed.nope'], /--features: computed.nope: no computed trait named "nope"/],
      [['--features', 'consent.email'], /consent is not a number/],
      [['--features', 'days_since(computed.orders)'], /days_since needs a time, and computed.orders is a number/],
      [['--features', 'computed.orders', '--k', '0'], /--k must be a whole number from 1 to 64, not 0/],
      [['--features', 'computed.orders', '--k', '65'], /--k must be a whole number from 1 to 64, not 65/],
      [['--features', 'computed.orders', '--kmax', '1'], /--kmax must be a whole number from 2 to 64, not 1/],
      [['--features', 'computed.orders', '--k', '2', '--kmax', '4'], /--k and --kmax do not go together/],
      [['--features', 'computed.orders', '--k', '3', '--save-cluster', '3', '--as', 'x'], /--save-cluster 3: there are 3 clusters \(0 to 2\)/],
      [['--features', 'computed.orders', '--save-cluster', 'x', '--as', 'x'], /--save-cluster must be a cluster number/],
      [['--features', 'computed.orders', '--as', 'x'], /--as NAME goes with --save-cluster I/],
      [['--features', 'computed.orders', '--save-cluster', '0'], /--save-cluster I needs --as NAME/],
      [['--features', 'computed.orders', '--save-cluster', '0', '--as', 'bad name'], /bad segment name "bad name"/],
      [['--features', FEATURES, '--k', '3', '--save-cluster', '1', '--as', 'loyal'], /a segment named loyal exists/],
      [['--features', 'computed.orders', '--log', 'computed.revenue'], /--log: computed.revenue is not one of the --features/],
      [['--features', 'trait.nothing'], /no profile has every feature \(105 profiles read\)/],
      [['--features', 'computed.orders', '--bogus'], /unexpected argument --bogus/],
      [[], /--features is required/],
    ];
    for (const [args, message] of cases) {
      const r = await discover(...args);
      assert.notEqual(r.code, 0, `${args.join(' ')}: exit 0\n${r.stdout}`);
      assert.match(r.stderr, message, args.join(' '));
      assert.equal(r.stdout, '', `${args.join(' ')}: nothing on stdout`);
    }
    // Nothing was saved by the failures.
    const list = await cli(['segment', 'list', '--json']);
    assert.deepEqual(JSON.parse(list.stdout).segments.map((s) => s.name), ['loyal', 'regular']);
    const help = await runCli(['discover', '--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /--save-cluster I --as NAME/);
  });
});
