// pickaxe clv fit, predict and validate on the CDNOW sample
// (../shared/data/cdnow): the BG/NBD and Gamma-Gamma parameters published for
// it (../shared/data/README.md), from the raw whitespace file and from the
// same purchases as a CSV with a header and ISO dates; the per-customer
// predictions against the published summary, expectations and spends and
// against the model's formulas evaluated here; the calibration/holdout
// tables and their SVG chart; then usage errors and bad records.
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

// 300 customers drawn from a buy-till-you-die process (a fixed-seed
// generator: exponential gaps, a lifetime after which nothing is bought),
// days from 2023-01-01 up to 400, as CSV lines with a header.
function simulatedRows() {
  const rows = ['id,day,amount'];
  let seed = 7;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) + 0.5) / 2147483648;
  const day0 = Date.UTC(2023, 0, 1);
  const iso = (d) => new Date(day0 + d * 86400000).toISOString().slice(0, 10);
  for (let c = 0; c < 300; c++) {
    const start = Math.floor(rnd() * 200), life = -Math.log(rnd()) * 150, gap = 5 + rnd() * 60;
    for (let d = start; d <= Math.min(start + life, 400); d += Math.max(1, -Math.log(rnd()) * gap))
      rows.push(`c${c},${iso(Math.floor(d))},${(10 + rnd() * 40).toFixed(2)}`);
  }
  return rows;
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
      [['clv', 'forecast'], /unknown command forecast/],
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
    const rows = simulatedRows(); // then two bad lines
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

// ---- predict and validate ----

const CDNOW_ARGS = ['--csv', SAMPLE, '--delimiter', 'whitespace', '--no-header', '--customer', '2', '--date', '3',
  '--amount', '5', '--calibration-end', '1997-09-30', '--unit', 'week'];

// CSV text to rows of fields (quoted fields with doubled quotes, no line
// ends inside them).
function parseCsv(text) {
  const rows = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    const f = [];
    for (let i = 0; i <= line.length;) {
      if (line[i] === '"') {
        let v = '';
        for (i++; i < line.length; i++) {
          if (line[i] === '"' && line[i + 1] === '"') v += '"', i++;
          else if (line[i] === '"') break;
          else v += line[i];
        }
        f.push(v);
        i += 2; // the closing quote and the comma
      } else {
        const j = line.indexOf(',', i);
        f.push(line.slice(i, j < 0 ? line.length : j));
        i = j < 0 ? line.length + 1 : j + 1;
      }
    }
    rows.push(f);
  }
  return rows;
}

const PREDICT_HEADER = ['customer', 'frequency', 'recency', 'T', 'monetary_value', 'p_alive', 'expected_purchases',
  'expected_spend', 'clv'];

function predictions(text) {
  const [head, ...rows] = parseCsv(text);
  assert.deepEqual(head, PREDICT_HEADER);
  return rows.map((f) => ({ id: f[0], x: +f[1], tx: +f[2], T: +f[3], m: +f[4], pAlive: +f[5], expected: +f[6],
    spend: f[7] === '' ? null : +f[7], clv: f[8] === '' ? null : +f[8] }));
}

// The BG/NBD formulas (Fader, Hardie & Lee 2005), evaluated here by the
// hypergeometric series (positive terms for these parameters).
function hyp2f1(a, b, c, z) {
  let term = 1, sum = 1;
  for (let k = 0; k < 100000 && term > 1e-17 * sum; k++) {
    term *= ((a + k) * (b + k)) / ((c + k) * (k + 1)) * z;
    sum += term;
  }
  return sum;
}
function pAlive({ r, alpha, a, b }, x, tx, T) {
  return x === 0 ? 1 : 1 / (1 + (a / (b + x - 1)) * ((alpha + T) / (alpha + tx)) ** (r + x));
}
function expected(m, x, tx, T, t) {
  const { r, alpha, a, b } = m;
  const z = t / (alpha + T + t);
  const bracket = 1 - ((alpha + T) / (alpha + T + t)) ** (r + x) * hyp2f1(r + x, b + x, a + b + x - 1, z);
  return ((a + b + x - 1) / (a - 1)) * bracket * pAlive(m, x, tx, T);
}

const near = (got, want, rel, what) =>
  assert.ok(Math.abs(got - want) <= rel * Math.abs(want), `${what}: got ${got}, want ${want} (rel ${rel})`);

describe('pickaxe clv predict', () => {
  let dir, fit;
  before(async () => {
    dir = await makeTempDir('pickaxe-clv-predict-');
    if (!haveCdnow) return;
    const r = await runCli(['clv', 'fit', ...CDNOW_ARGS, '--json']);
    assert.equal(r.code, 0, r.stderr);
    fit = JSON.parse(r.stdout);
  });
  after(() => cleanupDir(dir));

  it('rebuilds the published CDNOW summary and expectations, per customer', { ...T, skip }, async () => {
    // 39 weeks = 273 days: the published conditional expectation's horizon.
    const r = await runCli(['clv', 'predict', ...CDNOW_ARGS, '--horizon', '273']);
    assert.equal(r.code, 0, r.stderr);
    const rows = predictions(r.stdout);
    assert.equal(rows.length, 2357);
    assert.equal(rows[0].id, '0001'); // in order of first appearance
    const published = new Map();
    for (const l of fs.readFileSync(path.join(SHARED_DATA, 'cdnow', 'cdnow_customers_summary.csv'), 'utf8')
      .split(/\r?\n/).slice(1)) {
      if (!l) continue;
      const [id, x, tx, T] = l.split(',').map(Number);
      published.set(id, { x, tx, T });
    }
    assert.equal(published.size, 2357);
    for (const c of rows) {
      const p = published.get(Number(c.id));
      assert.ok(p, `customer ${c.id} is not in the summary`);
      for (const [got, want] of [[c.x, p.x], [c.tx, p.tx], [c.T, p.T]])
        assert.ok(Math.abs(got - want) <= 0.005, `customer ${c.id}: ${got} vs ${want}`);
    }
    // Customer 1: x = 2, t_x = 30.43, T = 38.86 expects 1.226 purchases in
    // 39 weeks (published); every customer's p_alive and expectation are
    // the formulas' at the fitted parameters.
    assert.equal(rows[0].x, 2);
    assert.equal(rows[0].expected.toFixed(3), '1.226');
    for (const c of rows) {
      near(c.pAlive, pAlive(fit.bgnbd, c.x, c.tx, c.T), 1e-7, `p_alive of ${c.id}`);
      near(c.expected, expected(fit.bgnbd, c.x, c.tx, c.T, 39), 1e-7, `expected of ${c.id}`);
    }
    // The conditional expected spends published for the first ten
    // customers (at the published parameters; ours are fitted from exact
    // means, see docs/internals/clv.md, and agree to the printed cents).
    assert.deepEqual(rows.slice(0, 10).map((c) => c.spend.toFixed(2)),
      ['24.65', '18.91', '35.17', '35.17', '35.17', '71.46', '18.91', '35.17', '27.28', '35.17']);
    const { p, q, gamma } = fit.gamma_gamma;
    for (const c of rows) near(c.spend, (p * (gamma + c.m * c.x)) / (p * c.x + q - 1), 1e-7, `spend of ${c.id}`);
  });

  it('values each customer over the horizon, discounted, into --output', { ...T, skip }, async () => {
    const flat = path.join(dir, 'flat.csv'), year = path.join(dir, 'year.csv');
    const a = await runCli(['clv', 'predict', ...CDNOW_ARGS, '--discount', '0', '--output', flat]);
    assert.equal(a.code, 0, a.stderr);
    assert.equal(a.stdout, '');
    const b = await runCli(['clv', 'predict', ...CDNOW_ARGS, '--output', year]); // 365 days, 10% a year
    assert.equal(b.code, 0, b.stderr);
    const undiscounted = predictions(fs.readFileSync(flat, 'utf8'));
    const discounted = predictions(fs.readFileSync(year, 'utf8'));
    assert.equal(discounted.length, 2357);
    let total = 0;
    undiscounted.forEach((c, i) => {
      const d = discounted[i];
      // Without a discount: spend times the purchases expected in 365 days.
      near(c.expected, expected(fit.bgnbd, c.x, c.tx, c.T, 365 / 7), 1e-7, `expected of ${c.id}`);
      near(c.clv, c.spend * c.expected, 1e-7, `undiscounted clv of ${c.id}`);
      // Discounted monthly at 10% a year: between the year-end factor and 1.
      assert.ok(d.clv < c.clv && d.clv > c.clv / 1.1, `clv of ${c.id}: ${d.clv} vs ${c.clv}`);
      total += d.clv;
    });
    assert.ok(total > 0 && Number.isFinite(total));
  });

  it('quotes ids, and leaves spend and value empty without a spend model', { ...T, skip }, async () => {
    // The CDNOW purchases as CSV, the first two customers renamed.
    const names = { '0001': '"a,b"', '0002': '"say ""hi"""' };
    const rows = ['id,day,amount'];
    for (const l of fs.readFileSync(SAMPLE, 'utf8').split('\n')) {
      const f = l.trim().split(/\s+/);
      if (f.length === 5) rows.push(`${names[f[1]] ?? f[1]},${f[2]},${f[4]}`);
    }
    const csv = path.join(dir, 'quoted.csv');
    fs.writeFileSync(csv, rows.join('\n') + '\n');
    const args = ['clv', 'predict', '--csv', csv, '--customer', 'id', '--date', 'day', '--amount', 'amount',
      '--calibration-end', '1997-09-30', '--unit', 'week'];
    const r = await runCli(args);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /\n"a,b",2,30\.4285714,38\.8571429,22\.345,/);
    assert.match(r.stdout, /\n"say ""hi""",1,/);
    const out = predictions(r.stdout);
    assert.equal(out.length, 2357);
    assert.deepEqual(out.slice(0, 3).map((c) => c.id), ['a,b', 'say "hi"', '0003']);
    for (const c of out) assert.ok(c.spend > 0 && c.clv > 0 && c.pAlive > 0 && c.pAlive <= 1, JSON.stringify(c));
    // A refund makes one mean repeat spend negative: no Gamma-Gamma fit.
    rows.push('0003,19970301,-500');
    fs.writeFileSync(csv, rows.join('\n') + '\n');
    const n = await runCli(args);
    assert.equal(n.code, 0, n.stderr);
    assert.match(n.stderr, /no Gamma-Gamma fit .*expected_spend and clv are left empty/);
    for (const c of predictions(n.stdout)) {
      assert.equal(c.spend, null);
      assert.equal(c.clv, null);
      assert.ok(c.expected > 0);
    }
  });

  it('says what is wrong with its arguments', T, async () => {
    const csv = path.join(dir, 'small.csv');
    fs.writeFileSync(csv, 'id,day,amount\na,2024-01-01,10\na,2024-01-05,12\nb,2024-01-02,5\n');
    const base = ['clv', 'predict', '--csv', csv, '--customer', 'id', '--date', 'day', '--amount', 'amount'];
    const full = [...base, '--calibration-end', '2024-02-01'];
    const usage = [
      [base, /clv predict: --csv, --customer, --date, --amount and --calibration-end are required/],
      [[...full, '--horizon', '0'], /--horizon is a number of days above 0, up to 36525, not 0/],
      [[...full, '--horizon', '-30'], /--horizon is a number of days/],
      [[...full, '--horizon', '90d'], /--horizon is a number of days .*not 90d/],
      [[...full, '--horizon', '40000'], /--horizon is a number of days/],
      [[...full, '--discount', '-0.1'], /--discount is an annual rate from 0 \(0.1 for 10% a year\), not -0.1/],
      [[...full, '--discount', '10%'], /--discount is an annual rate/],
      [[...full, '--discount', 'nan'], /--discount is an annual rate/],
      [[...full, '--json'], /clv predict: unknown argument --json/],
      [[...full, '--unit', 'month'], /clv predict: --unit is day or week, not month/],
      [[...full, '--horizon'], /--horizon needs a value/],
    ];
    for (const [args, want] of usage) {
      const r = await runCli(args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, want);
      assert.equal(r.stdout, '');
    }
    const sim = path.join(dir, 'sim.csv'); // enough customers to fit
    fs.writeFileSync(sim, simulatedRows().join('\n') + '\n');
    const fits = ['clv', 'predict', '--csv', sim, '--customer', 'id', '--date', 'day', '--amount', 'amount',
      '--calibration-end', '2024-02-05'];
    const fails = [
      [[...fits, '--output', path.join(dir, 'no', 'such', 'dir.csv')], /clv predict: cannot write .*dir\.csv/],
      [[...base, '--calibration-end', '2024-02-01', '--csv', path.join(dir, 'missing.csv')], /cannot open/],
      [[...base, '--calibration-end', '2023-01-01'], /clv predict: .*no purchase up to the calibration end/],
    ];
    for (const [args, want] of fails) {
      const r = await runCli(args);
      assert.equal(r.code, 1, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, want);
    }
  });
});

// Whether text is well-formed XML as far as an SVG writer can get it wrong:
// tags nest and close, attributes are quoted, & starts an entity, no stray <.
function assertWellFormedXml(text) {
  const stack = [];
  const tag = /<(\/?)([A-Za-z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>/y;
  let at = 0;
  while (at < text.length) {
    const lt = text.indexOf('<', at);
    const chunk = text.slice(at, lt < 0 ? text.length : lt);
    assert.ok(!/&(?!(amp|lt|gt|quot|apos|#\d+);)/.test(chunk), `stray & in ${chunk}`);
    assert.ok(!chunk.includes('>'), `stray > in ${chunk}`);
    if (lt < 0) break;
    tag.lastIndex = lt;
    const m = tag.exec(text);
    assert.ok(m, `malformed tag at ${lt}: ${text.slice(lt, lt + 80)}`);
    assert.ok(!/&(?!(amp|lt|gt|quot|apos|#\d+);)/.test(m[3]), `stray & in ${m[0]}`);
    if (m[1]) assert.equal(stack.pop(), m[2], `</${m[2]}> closes the wrong element`);
    else if (!m[4]) stack.push(m[2]);
    assert.ok(stack.length > 0 || text.slice(tag.lastIndex).trim() === '', 'content after the root element');
    at = tag.lastIndex;
  }
  assert.deepEqual(stack, [], 'unclosed elements');
}

describe('pickaxe clv validate', () => {
  let dir;
  before(async () => {
    dir = await makeTempDir('pickaxe-clv-validate-');
  });
  after(() => cleanupDir(dir));

  it('compares the calibration fit with the CDNOW holdout', { ...T, skip }, async () => {
    const chart = path.join(dir, 'cdnow.svg');
    const r = await runCli(['clv', 'validate', ...CDNOW_ARGS, '--holdout-end', '1998-06-30', '--json',
      '--chart', chart]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, '');
    const v = JSON.parse(r.stdout);
    assert.equal(v.customers, 2357);
    assert.equal(v.start, '1997-01-01');
    assert.equal(v.calibration_end, '1997-09-30');
    assert.equal(v.holdout_end, '1998-06-30');
    assert.equal(v.calibration_length, 39);
    assert.equal(v.holdout_length, 39);
    assert.equal(v.bgnbd.r.toFixed(3), '0.243');

    // (a) By calibration frequency: the 1,411 customers without repeats
    // (2,357 less the 946 the published Gamma-Gamma fit used), means that
    // rise with the frequency, and the model's conditional expectations.
    assert.deepEqual(v.by_frequency.map((b) => b.frequency), ['0', '1', '2', '3', '4', '5', '6', '7+']);
    assert.equal(v.by_frequency.reduce((s, b) => s + b.customers, 0), 2357);
    assert.equal(v.by_frequency[0].customers, 1411);
    for (let i = 1; i < 8; i++) {
      assert.ok(v.by_frequency[i].actual > v.by_frequency[i - 1].actual, `actual at ${i}`);
      assert.ok(v.by_frequency[i].predicted > v.by_frequency[i - 1].predicted, `predicted at ${i}`);
    }
    const pred = await runCli(['clv', 'predict', ...CDNOW_ARGS, '--horizon', '273']);
    assert.equal(pred.code, 0, pred.stderr);
    const rows = predictions(pred.stdout);
    const sum = rows.reduce((s, c) => s + c.expected, 0);
    near(v.holdout.predicted, sum, 1e-8, 'predicted holdout total');
    const zeros = rows.filter((c) => c.x === 0);
    near(v.by_frequency[0].predicted, zeros.reduce((s, c) => s + c.expected, 0) / zeros.length, 1e-8, 'x = 0');
    // The holdout's repeat purchase days, counted from the raw file here.
    const days = new Map();
    for (const l of fs.readFileSync(SAMPLE, 'utf8').split('\n')) {
      const f = l.trim().split(/\s+/);
      if (f.length < 5) continue;
      if (!days.has(f[1])) days.set(f[1], new Set());
      days.get(f[1]).add(f[2]);
    }
    let inHoldout = 0, repeats = 0;
    for (const set of days.values()) {
      const sorted = [...set].sort();
      repeats += sorted.length - 1;
      inHoldout += sorted.filter((d) => d > '19970930' && d <= '19980630').length;
    }
    assert.equal(v.holdout.actual, inHoldout);
    assert.equal(inHoldout, 1882);
    // The model expects 12% fewer (1,653): it underpredicts the light
    // buyers (x = 1, 2) of this sample's holdout, as in the published
    // conditional-expectation figure.
    near(v.holdout.predicted, v.holdout.actual, 0.15, 'holdout total');

    // (b) Cumulative, by week: all repeat days by week 78, the calibration
    // period's (sum of x) by week 39; the model within 5% at both, and its
    // week-78 value the sum over customers of E[X(t)] from their first
    // purchase (E[X(78)] = 1.858 for a week-one customer; 1.8576 printed).
    assert.equal(v.cumulative.length, 78);
    assert.deepEqual(v.cumulative.slice(0, 3).map((p) => p.t), [1, 2, 3]);
    assert.equal(v.cumulative[77].actual, repeats);
    assert.equal(v.cumulative[38].actual, rows.reduce((s, c) => s + c.x, 0));
    near(v.cumulative[38].predicted, v.cumulative[38].actual, 0.05, 'week 39');
    near(v.cumulative[77].predicted, v.cumulative[77].actual, 0.05, 'week 78');
    const eNew = (t) => expected(v.bgnbd, 0, 0, 0, t);
    near(eNew(78), 1.858, 1e-3, 'E[X(78)]');
    const model78 = rows.reduce((s, c) => s + eNew(c.T + 39), 0); // T + 39 weeks: first purchase to 1998-06-30
    near(v.cumulative[77].predicted, model78, 1e-7, 'model at week 78');
    for (let i = 1; i < 78; i++) {
      assert.ok(v.cumulative[i].actual >= v.cumulative[i - 1].actual);
      assert.ok(v.cumulative[i].predicted > v.cumulative[i - 1].predicted);
    }

    // The chart: an SVG document with both panels, axes and legends.
    const svg = fs.readFileSync(chart, 'utf8');
    assert.ok(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"'), svg.slice(0, 80));
    assert.ok(svg.trimEnd().endsWith('</svg>'));
    assertWellFormedXml(svg);
    for (const want of ['<g id="by-frequency">', '<g id="cumulative">', 'calibration end', 'weeks since 1997-01-01',
      'predicted (BG/NBD)', '>7+<', 'CDNOW_sample.txt: BG/NBD calibration to 1997-09-30, holdout to 1998-06-30'])
      assert.ok(svg.includes(want), `the chart lacks ${want}`);
    assert.equal(svg.match(/<polyline /g).length, 2);
    assert.ok(!/NaN|nan|inf/.test(svg));

    // The same as text tables.
    const text = await runCli(['clv', 'validate', ...CDNOW_ARGS, '--holdout-end', '1998-06-30']);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /^customers: 2357\ncalibration: 1997-01-01 to 1997-09-30 \(39 weeks\); holdout: to 1998-06-30 \(39 weeks\)\n/);
    assert.match(text.stdout, /\n0 +1411 +0\.237 +0\.22\d\n/);
    assert.match(text.stdout, /\n7\+ +64 +\d\.\d{3} +\d\.\d{3}\n/);
    assert.match(text.stdout, /repeat purchases in the holdout: actual 1882, predicted 16\d\d\.\d \(-1\d\.\d%\)/);
    assert.match(text.stdout, /\n +78 +4339 +4\d{3}\.\d\n$/);
  });

  it('says when the data ends before the holdout does', { ...T, skip }, async () => {
    const r = await runCli(['clv', 'validate', ...CDNOW_ARGS, '--holdout-end', '1998-12-31', '--json']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /the last purchase is on 1998-06-30, before the holdout end \(1998-12-31\)/);
    assert.equal(JSON.parse(r.stdout).cumulative.length, 105); // 730 days: 104 weeks and 2 days
  });

  it('says what is wrong with its arguments and its data', T, async () => {
    const csv = path.join(dir, 'sim.csv');
    fs.writeFileSync(csv, simulatedRows().join('\n') + '\n');
    const old = path.join(dir, 'old.csv'); // one purchase a century early
    fs.writeFileSync(old, [...simulatedRows(), 'c0,1900-01-01,5'].join('\n') + '\n');
    const base = ['clv', 'validate', '--csv', csv, '--customer', 'id', '--date', 'day', '--amount', 'amount',
      '--calibration-end', '2023-10-01'];
    const ok = await runCli([...base, '--holdout-end', '2024-02-04', '--unit', 'day', '--json']);
    assert.equal(ok.code, 0, ok.stderr);
    const v = JSON.parse(ok.stdout);
    const span = (Date.parse('2024-02-04') - Date.parse(v.start)) / 86400000 + 1;
    assert.equal(v.cumulative.length, span); // a day each from the first purchase
    assert.equal(v.holdout_length, 126);
    const usage = [
      [base, /clv validate: --holdout-end is required/],
      [[...base, '--holdout-end', 'later'], /--holdout-end: not a date: later/],
      [[...base, '--holdout-end', '2023-10-01'], /--holdout-end \(2023-10-01\) must be after --calibration-end \(2023-10-01\)/],
      [[...base, '--holdout-end', '2024-01-01', '--horizon', '30'], /clv validate: unknown argument --horizon/],
      [[...base.slice(0, -2), '--holdout-end', '2024-01-01'], /--calibration-end are required/],
    ];
    for (const [args, want] of usage) {
      const r = await runCli(args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, want);
      assert.equal(r.stdout, '');
    }
    const fails = [
      [[...base, '--holdout-end', '2024-01-01', '--chart', path.join(dir, 'no', 'such.svg')], /cannot write .*such\.svg/],
      [[...base.map((a) => (a === csv ? old : a)), '--holdout-end', '2024-01-01'],
        /from the first purchase \(1900-01-01\) to the holdout end is more than 20000 days: is a date wrong\?/],
      [[...base.map((a) => (a === csv ? old : a)), '--holdout-end', '2024-01-01', '--unit', 'week'],
        /from the first purchase \(1900-01-01\) to the holdout end is more than 20000 days/],
    ];
    for (const [args, want] of fails) {
      const r = await runCli(args);
      assert.equal(r.code, 1, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, want);
    }
  });
});
