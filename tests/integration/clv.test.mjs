// pickaxe clv fit on the CDNOW sample (../shared/data/cdnow): the BG/NBD and
// Gamma-Gamma parameters published for it (../shared/data/README.md), from
// the raw whitespace file and from the same purchases as a CSV with a header
// and ISO dates; then usage errors and bad records.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { runCli, makeTempDir, cleanupDir, SHARED_DATA } from './lib/server.mjs';

const T = { timeout: 60000 };
const SAMPLE = path.join(SHARED_DATA, 'cdnow', 'CDNOW_sample.txt');
const haveCdnow = fs.existsSync(SAMPLE);
const skip = !haveCdnow && 'no ../shared/data/cdnow';

// Published: Fader, Hardie & Lee (2005), as the data README gives them.
function assertPublished(fit) {
  assert.equal(fit.customers, 2357);
  assert.equal(fit.bgnbd.r.toFixed(3), '0.243');
  assert.equal(fit.bgnbd.alpha.toFixed(3), '4.414');
  assert.equal(fit.bgnbd.a.toFixed(3), '0.793');
  assert.equal(fit.bgnbd.b.toFixed(3), '2.426');
  assert.equal(fit.bgnbd.loglik.toFixed(1), '-9582.4');
  assert.equal(fit.gamma_gamma.p.toFixed(2), '6.25');
  assert.equal(fit.gamma_gamma.q.toFixed(2), '3.74');
  assert.equal(fit.gamma_gamma.gamma.toFixed(2), '15.44');
}

describe('pickaxe clv fit', () => {
  let dir;
  before(async () => {
    dir = await makeTempDir('pickaxe-clv-');
  });
  after(() => cleanupDir(dir));

  it('reproduces the published CDNOW fits from the raw file', { ...T, skip }, async () => {
    const r = await runCli(['clv', 'fit', '--csv', SAMPLE, '--delimiter', 'whitespace', '--no-header',
      '--customer', '2', '--date', '3', '--amount', '5', '--calibration-end', '1997-09-30', '--unit', 'week', '--json']);
    assert.equal(r.code, 0, r.stderr);
    assertPublished(JSON.parse(r.stdout));
  });

  it('reads a CSV with a header and ISO dates the same way', { ...T, skip }, async () => {
    const lines = ['customer,when,cds,dollars'];
    for (const l of fs.readFileSync(SAMPLE, 'utf8').split('\n')) {
      const f = l.trim().split(/\s+/);
      if (f.length < 5) continue;
      lines.push(`c${f[1]},${f[2].slice(0, 4)}-${f[2].slice(4, 6)}-${f[2].slice(6, 8)}T12:00:00Z,${f[3]},${f[4]}`);
    }
    const csv = path.join(dir, 'cdnow.csv');
    fs.writeFileSync(csv, lines.join('\n') + '\n');
    const r = await runCli(['clv', 'fit', '--csv', csv, '--customer', 'customer', '--date', 'when',
      '--amount', 'dollars', '--calibration-end', '19970930', '--unit', 'week', '--json']);
    assert.equal(r.code, 0, r.stderr);
    assertPublished(JSON.parse(r.stdout));
    const text = await runCli(['clv', 'fit', '--csv', csv, '--customer', 'customer', '--date', 'when',
      '--amount', 'dollars', '--calibration-end', '1997-09-30', '--unit', 'week']);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /^customers: 2357\nBG\/NBD: r 0\.2425\d\d, alpha 4\.41\d+, a 0\.79\d+, b 2\.42\d+; log-likelihood -9582\.4/);
  });

  it('says what is wrong with its arguments, and exits 2', T, async () => {
    const csv = path.join(dir, 'small.csv');
    fs.writeFileSync(csv, 'id,day,amount\na,2024-01-01,10\na,2024-01-05,12\nb,2024-01-02,5\n');
    const base = ['clv', 'fit', '--csv', csv, '--customer', 'id', '--date', 'day', '--amount', 'amount'];
    const cases = [
      [base, /--calibration-end are required/],
      [[...base, '--calibration-end', 'soon'], /--calibration-end: not a date: soon/],
      [[...base, '--calibration-end', '2024-02-01', '--unit', 'month'], /--unit is day or week, not month/],
      [[...base.slice(0, 5), 'nope', ...base.slice(6), '--calibration-end', '2024-02-01'], /no such column among --customer nope/],
      [[...base, '--calibration-end', '2024-02-01', '--delimiter', ';;'], /--delimiter is one character or whitespace/],
      [['clv', 'predict'], /unknown command predict/],
    ];
    for (const [args, want] of cases) {
      const r = await runCli(args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, want);
    }
  });

  it('says why there is nothing to fit, and exits 1', T, async () => {
    const once = path.join(dir, 'once.csv'); // nobody bought twice
    fs.writeFileSync(once, 'id,day,amount\na,2024-01-01,10\nb,2024-01-02,5\nc,2024-01-03,7\n');
    const alike = path.join(dir, 'alike.csv'); // everyone bought on the same two days
    const rows = ['id,day,amount'];
    for (let c = 0; c < 50; c++) rows.push(`c${c},2024-01-01,10`, `c${c},2024-01-20,10`);
    fs.writeFileSync(alike, rows.join('\n') + '\n');
    const args = (f, end) => ['clv', 'fit', '--csv', f, '--customer', 'id', '--date', 'day', '--amount', 'amount',
      '--calibration-end', end];
    const cases = [
      [args(once, '2024-02-01'), /no customer with a repeat purchase up to the calibration end/],
      [args(once, '2023-12-01'), /no purchase up to the calibration end/],
      [args(alike, '2024-01-20'), /the BG\/NBD fit did not converge/],
    ];
    for (const [a, want] of cases) {
      const r = await runCli(a);
      assert.equal(r.code, 1, `${a.join(' ')}: ${r.stdout} ${r.stderr}`);
      assert.match(r.stderr, want);
      assert.equal(r.stdout, '');
    }
  });

  it('skips a bad record with its line and fits the rest', T, async () => {
    const csv = path.join(dir, 'bad.csv');
    const rows = ['id,day,amount'];
    // 300 customers drawn from a buy-till-you-die process (a fixed-seed
    // generator: exponential gaps, a lifetime after which nothing is bought),
    // then two bad lines.
    let seed = 7;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) + 0.5) / 2147483648;
    const day0 = Date.UTC(2023, 0, 1);
    const iso = (d) => new Date(day0 + d * 86400000).toISOString().slice(0, 10);
    for (let c = 0; c < 300; c++) {
      const start = Math.floor(rnd() * 200), life = -Math.log(rnd()) * 150, gap = 5 + rnd() * 60;
      for (let d = start; d <= Math.min(start + life, 400); d += Math.max(1, -Math.log(rnd()) * gap))
        rows.push(`c${c},${iso(Math.floor(d))},${(10 + rnd() * 40).toFixed(2)}`);
    }
    rows.push('c99,yesterday,10', 'c98,2023-01-03,ten');
    fs.writeFileSync(csv, rows.join('\n') + '\n');
    const r = await runCli(['clv', 'fit', '--csv', csv, '--customer', 'id', '--date', 'day', '--amount', 'amount',
      '--calibration-end', '2024-02-05', '--json']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, new RegExp(`bad.csv:${rows.length - 1}: needs a customer, a date and a number; skipped`));
    assert.match(r.stderr, new RegExp(`bad.csv:${rows.length}: needs a customer, a date and a number; skipped`));
    assert.match(r.stderr, /2 records skipped/);
    const fit = JSON.parse(r.stdout);
    assert.equal(fit.customers, 300);
    for (const v of [fit.bgnbd.r, fit.bgnbd.alpha, fit.bgnbd.a, fit.bgnbd.b]) assert.ok(v > 0 && Number.isFinite(v));
  });
});
