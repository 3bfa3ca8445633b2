// pickaxe resolve: probabilistic record linkage of CSV files. Quality on the
// Febrl data set with the inferred configuration, the --out file, two-file
// linking, explanations, a configuration printed and reused, and usage errors.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { runCli, runCliOk, makeTempDir, cleanupDir, SHARED_DATA } from './lib/server.mjs';

const T = { timeout: 60000 };
const FEBRL = path.join(SHARED_DATA, 'febrl');
const febrl1 = path.join(FEBRL, 'dataset1.csv');
const haveFebrl = fs.existsSync(febrl1);

// Four people; rows 2 and 5 are Ann (a typo, another date format), 3 and 6 Bob (names swapped).
const PEOPLE = `id,first_name,surname,dob,person
a1,Ann,Walker,1980-01-02,p1
a2,Bob,Smith,1975-05-05,p2
a3,Cy,Young,1975-05-05,p3
a4,Anne,Walker,02/01/1980,p1
a5,smith,bob,1975-05-05,p2
a6,Dee,Okafor,1990-10-10,p4
`;

// Fixed m and u, so the outcome does not depend on learning from six rows.
const CONFIG = {
  fields: [
    { name: 'first_name', type: 'name', swap_with: 'surname', term_frequency: false },
    { name: 'surname', type: 'name', swap_with: 'first_name', term_frequency: false },
    { name: 'dob', type: 'date' },
  ],
  blocking: [['dob'], ['surname']],
  threshold: 0.9,
  model: {
    lambda: 0.05,
    fields: [
      { m: [0.8, 0.1, 0.04, 0.02, 0.03, 0.01], u: [0.02, 0.02, 0.05, 0.1, 0.001, 0.809] },
      { m: [0.8, 0.1, 0.04, 0.02, 0.03, 0.01], u: [0.02, 0.02, 0.05, 0.1, 0.001, 0.809] },
      { m: [0.9, 0.05, 0.03, 0.02], u: [0.01, 0.02, 0.07, 0.9] },
    ],
  },
};

function parseCsv(text) {
  return text.trim().split('\n').map((l) => l.split(','));
}

describe('pickaxe resolve', { timeout: 300000 }, () => {
  let dir;
  let people;
  let config;
  before(async () => {
    dir = await makeTempDir();
    people = path.join(dir, 'people.csv');
    config = path.join(dir, 'match.json');
    await fsp.writeFile(people, PEOPLE);
    await fsp.writeFile(config, JSON.stringify(CONFIG));
  });
  after(async () => { await cleanupDir(dir); });

  it('finds >= 97% of the true pairs at >= 99% precision on Febrl dataset1 (inferred configuration)',
    { ...T, skip: !haveFebrl && 'no ../shared/data/febrl' }, async () => {
      const r = await runCliOk(['resolve', febrl1, '--truth', 'rec_id', '--truth-regex', 'rec-([0-9]+)', '--json']);
      const j = JSON.parse(r.stdout);
      for (const k of ['records', 'pairs_compared', 'clusters', 'precision', 'recall', 'f1', 'seconds']) {
        assert.equal(typeof j[k], 'number', `member ${k}: ${r.stdout}`);
      }
      assert.equal(j.records, 1000);
      assert.equal(j.true_pairs, 500);
      assert.ok(j.recall >= 0.97, `recall ${j.recall}`);
      assert.ok(j.precision >= 0.99, `precision ${j.precision}`);
      assert.ok(j.pairs_compared < 1000 * 999 / 2 / 20, `blocking compares ${j.pairs_compared} pairs`);
      assert.ok(Math.abs(j.f1 - 2 * j.precision * j.recall / (j.precision + j.recall)) < 1e-5);
    });

  it('prints a configuration that, given back, gives the same clusters',
    { ...T, skip: !haveFebrl && 'no ../shared/data/febrl' }, async () => {
      const printed = await runCliOk(['resolve', febrl1, '--truth', 'rec_id', '--print-config']);
      const cfg = JSON.parse(printed.stdout);
      assert.ok(cfg.fields.some((f) => f.name === 'date_of_birth' && f.type === 'date'));
      assert.ok(!cfg.fields.some((f) => f.name === 'rec_id'), 'the truth column is left out');
      assert.ok(cfg.blocking.length >= 3);
      assert.ok(cfg.model && cfg.model.lambda > 0);
      const file = path.join(dir, 'febrl.json');
      await fsp.writeFile(file, printed.stdout);
      const a = path.join(dir, 'a.csv');
      const b = path.join(dir, 'b.csv');
      await runCliOk(['resolve', febrl1, '--truth', 'rec_id', '--out', a]);
      await runCliOk(['resolve', febrl1, '--config', file, '--truth', 'rec_id', '--out', b]);
      assert.equal(await fsp.readFile(b, 'utf8'), await fsp.readFile(a, 'utf8'));
    });

  it('writes each record\'s cluster to --out', T, async () => {
    const out = path.join(dir, 'clusters.csv');
    const r = await runCliOk(['resolve', people, '--config', config, '--out', out, '--truth', 'person', '--key', 'id', '--json']);
    const j = JSON.parse(r.stdout);
    assert.equal(j.records, 6);
    assert.equal(j.clusters, 4);
    assert.equal(j.precision, 1);
    assert.equal(j.recall, 1);
    const rows = parseCsv(await fsp.readFile(out, 'utf8'));
    assert.deepEqual(rows[0], ['file', 'line', 'key', 'cluster']);
    assert.equal(rows.length, 7);
    const byKey = Object.fromEntries(rows.slice(1).map(([file, line, key, cluster]) => {
      assert.equal(file, people);
      return [key, { line: Number(line), cluster }];
    }));
    assert.equal(byKey.a1.line, 2);
    assert.equal(byKey.a6.line, 7);
    assert.equal(byKey.a1.cluster, byKey.a4.cluster);
    assert.equal(byKey.a2.cluster, byKey.a5.cluster);
    const distinct = new Set(['a1', 'a2', 'a3', 'a6'].map((k) => byKey[k].cluster));
    assert.equal(distinct.size, 4);
  });

  it('explains the strongest matches field by field', T, async () => {
    const r = await runCliOk(['resolve', people, '--config', config, '--explain', '5', '--json']);
    const j = JSON.parse(r.stdout);
    assert.equal(j.matched_pairs, 2);
    assert.equal(j.explanations.length, 2);
    const swapped = j.explanations.find((e) => e.fields[0].level === 'swapped');
    assert.ok(swapped, JSON.stringify(j.explanations));
    assert.deepEqual(swapped.fields.map((f) => f.field), ['first_name', 'surname', 'dob']);
    assert.equal(swapped.fields[2].level, 'exact');
    const sum = swapped.fields.reduce((s, f) => s + f.weight, 0);
    assert.ok(Math.abs(sum - swapped.weight) < 1e-9, `${sum} vs ${swapped.weight}`);
    const text = await runCliOk(['resolve', people, '--config', config, '--explain', '1']);
    assert.match(text.stdout, /people\.csv:\d+ ~ .*people\.csv:\d+ +weight/);
    assert.match(text.stdout, /dob +exact/);
  });

  it('links two files and deduplicates each (columns matched by name)', T, async () => {
    const left = path.join(dir, 'left.csv');
    const right = path.join(dir, 'right.csv');
    await fsp.writeFile(left, 'id,first_name,surname,dob,person\nl1,Ann,Walker,1980-01-02,p1\nl2,Bob,Smith,1975-05-05,p2\nl3,Bob,Smith,05/05/1975,p2\n');
    // Other column order, an extra column, the ", " separator.
    await fsp.writeFile(right, 'dob, surname, first_name, id, person, note\n1980-01-02, Walker, Anne, r1, p1, x\n1990-10-10, Okafor, Dee, r2, p4, y\n');
    const out = path.join(dir, 'two.csv');
    const r = await runCliOk(['resolve', left, right, '--config', config, '--out', out, '--truth', 'person', '--key', 'id', '--json']);
    const j = JSON.parse(r.stdout);
    assert.equal(j.records, 5);
    assert.equal(j.clusters, 3);
    assert.equal(j.recall, 1);
    assert.equal(j.precision, 1);
    const rows = parseCsv(await fsp.readFile(out, 'utf8')).slice(1);
    const c = Object.fromEntries(rows.map(([file, , key, cluster]) => [key, { file, cluster }]));
    assert.equal(c.l1.cluster, c.r1.cluster);
    assert.equal(c.r1.file, right);
    assert.equal(c.l2.cluster, c.l3.cluster);
  });

  it('prints a readable summary by default', T, async () => {
    const r = await runCliOk(['resolve', people, '--config', config, '--truth', 'person']);
    assert.match(r.stdout, /^records +6/m);
    assert.match(r.stdout, /^precision +1\.0000/m);
    assert.match(r.stdout, /^clusters +4/m);
  });

  describe('errors', () => {
    const cases = [
      ['no file', [], 2, /FILE is required/],
      ['an unknown option', ['@PEOPLE', '--frobnicate'], 2, /unknown option/],
      ['three files', ['@PEOPLE', '@PEOPLE', '@PEOPLE'], 2, /at most two files/],
      ['a missing file', ['/nonexistent/people.csv'], 1, /cannot open/],
      ['a missing config file', ['@PEOPLE', '--config', '/nonexistent/match.json'], 1, /cannot open/],
      ['--truth-regex without --truth', ['@PEOPLE', '--truth-regex', '(a)'], 2, /goes with --truth/],
      ['a regex without a group', ['@PEOPLE', '--truth', 'person', '--truth-regex', 'p[0-9]'], 2, /needs a group/],
      ['a bad regex', ['@PEOPLE', '--truth', 'person', '--truth-regex', '(p'], 2, /truth-regex/],
      ['an unknown truth column', ['@PEOPLE', '--truth', 'nope'], 2, /no column nope/],
      ['--explain without a number', ['@PEOPLE', '--explain', 'lots'], 2, /--explain needs/],
      ['--out without a value', ['@PEOPLE', '--out'], 2, /--out needs a value/],
      ['a config naming a missing column', ['@PEOPLE', '--config', '@BADCOL'], 2, /no column postcode/],
      ['an invalid config', ['@PEOPLE', '--config', '@BADCFG'], 2, /fields\[0\]\.type: must be/],
    ];
    for (const [what, args, code, re] of cases) {
      it(`exits ${code} on ${what}`, T, async () => {
        const badcol = path.join(dir, 'badcol.json');
        const badcfg = path.join(dir, 'badcfg.json');
        await fsp.writeFile(badcol, JSON.stringify({ fields: [{ name: 'postcode', type: 'postcode' }], blocking: [['postcode']] }));
        await fsp.writeFile(badcfg, JSON.stringify({ fields: [{ name: 'a', type: 'colour' }] }));
        const real = args.map((a) => (a === '@PEOPLE' ? people : a === '@BADCOL' ? badcol : a === '@BADCFG' ? badcfg : a));
        const r = await runCli(['resolve', ...real]);
        assert.equal(r.code, code, `stdout: ${r.stdout}\nstderr: ${r.stderr}`);
        assert.match(r.stderr, re);
      });
    }

    it('--help exits 0', T, async () => {
      const r = await runCli(['resolve', '--help']);
      assert.equal(r.code, 0);
      assert.match(r.stdout, /usage: pickaxe resolve FILE/);
    });
  });
});
