// px-gen-people, the generator of person records with corruptions used by
// bench/run-resolve.sh: same seed, same bytes; exactly the records asked for;
// Febrl-style rec_id ground truth; valid CSV; and every duplicate differs
// from its original by exactly the corruptions its --log line declares, at
// about the rates bench/README.md documents.
//
// The tool is built next to the pickaxe binary, in the build tree's bench/
// folder ($PX_GEN_PEOPLE overrides).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { BIN, makeTempDir, cleanupDir } from './lib/server.mjs';

const GEN = process.env.PX_GEN_PEOPLE
  ? path.resolve(process.env.PX_GEN_PEOPLE)
  : path.join(path.dirname(BIN), 'bench', 'px-gen-people');

const COLUMNS = ['rec_id', 'given_name', 'surname', 'street_number', 'address_1', 'address_2', 'suburb',
  'postcode', 'state', 'date_of_birth', 'soc_sec_id', 'phone', 'email'];

// Shares of all corruptions (percent) at the default settings, as bench/README.md states them.
const KIND_SHARE = {
  typo: 20.4, insert: 6.7, delete: 6.8, transpose: 10.2, nickname: 4.6, missing: 17.6,
  swap: 3.8, moved: 6.1, digits: 11.1, day_month: 1.8, abbrev: 7.6, format: 3.2,
};
const EDITS_SHARE = [40, 35, 18, 7]; // 1, 2, 3, 4 corruptions per duplicate

const POSTCODES = {
  nsw: [[2000, 2599], [2619, 2899]], act: [[2600, 2618], [2900, 2920]], vic: [[3000, 3999]],
  qld: [[4000, 4999]], sa: [[5000, 5799]], wa: [[6000, 6797]], tas: [[7000, 7799]], nt: [[800, 899]],
};

const ABBREV = {
  street: 'st', road: 'rd', avenue: 'ave', drive: 'dr', court: 'ct', place: 'pl', crescent: 'cres',
  close: 'cl', lane: 'ln', parade: 'pde', way: 'wy', circuit: 'cct', terrace: 'tce', grove: 'gr',
  boulevard: 'bvd', highway: 'hwy', mount: 'mt', north: 'nth', south: 'sth', heights: 'hts', point: 'pt',
};

// Some of the generator's nickname table (the test checks these exactly).
const NICKNAMES = {
  robert: ['bob', 'rob', 'bobby', 'robbie'], william: ['bill', 'will', 'billy', 'liam'],
  elizabeth: ['liz', 'beth', 'lizzie', 'betty'], margaret: ['maggie', 'peggy', 'meg'],
  john: ['johnny', 'jack'], edward: ['ed', 'eddie', 'ted'], richard: ['rick', 'dick', 'richie'],
};

function run(args, timeoutMs = 60000) {
  if (!fs.existsSync(GEN)) throw new Error(`px-gen-people not found at ${GEN} (build the px-gen-people target, or set PX_GEN_PEOPLE)`);
  return new Promise((resolve, reject) => {
    const child = spawn(GEN, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const out = [];
    const err = [];
    child.stdout.on('data', (c) => out.push(c));
    child.stderr.on('data', (c) => err.push(c));
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`px-gen-people ${args.join(' ')} timed out`)); }, timeoutMs);
    child.on('error', (e) => { clearTimeout(timer); reject(e); });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout: Buffer.concat(out), stderr: Buffer.concat(err).toString() });
    });
  });
}

async function runOk(args) {
  const r = await run(args);
  assert.equal(r.code, 0, `px-gen-people ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return r;
}

// RFC 4180: rows of fields; throws on a malformed quote.
function parseCsv(text) {
  const rows = [];
  let row = [];
  let field = '';
  let i = 0;
  let quoted = false;
  while (i < text.length) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') { field += '"'; i += 2; continue; }
      if (c === '"') {
        quoted = false;
        i += 1;
        if (i < text.length && text[i] !== ',' && text[i] !== '\n') throw new Error(`text after a closing quote at ${i}`);
        continue;
      }
      field += c;
      i += 1;
      continue;
    }
    if (c === '"') {
      if (field !== '') throw new Error(`quote inside an unquoted field at ${i}`);
      quoted = true;
    } else if (c === ',') {
      row.push(field);
      field = '';
    } else if (c === '\n') {
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
    } else if (c === '\r') {
      throw new Error(`bare CR at ${i}`);
    } else {
      field += c;
    }
    i += 1;
  }
  if (quoted) throw new Error('unterminated quote');
  if (field !== '' || row.length) throw new Error('last line has no newline');
  return rows;
}

function keyNeighbours(c) {
  const rows = ['1234567890', 'qwertyuiop', 'asdfghjkl', 'zxcvbnm'];
  for (let r = 0; r < rows.length; r++) {
    const col = rows[r].indexOf(c);
    if (col < 0) continue;
    const n = [rows[r][col - 1], rows[r][col + 1]];
    if (r > 1) n.push(rows[r - 1][col]);
    if (r > 0 && r < 3) n.push(rows[r + 1][col]);
    return n.filter(Boolean);
  }
  return [];
}

function diffPositions(a, b) {
  const d = [];
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) d.push(i);
  return d;
}

// True when b is a with one character removed.
function oneDeleted(a, b) {
  if (b.length !== a.length - 1) return false;
  for (let i = 0; i < a.length; i++) if (a.slice(0, i) + a.slice(i + 1) === b) return true;
  return false;
}

const local = (field, v) => (field === 'email' ? v.split('@')[0] : v);
const domain = (field, v) => (field === 'email' ? v.split('@')[1] : '');
const digitsOf = (phone) => phone.replace(/^\+61/, '0').replace(/\D/g, '');

function validDate(s) {
  if (!/^\d{8}$/.test(s)) return false;
  const y = Number(s.slice(0, 4));
  const m = Number(s.slice(4, 6));
  const d = Number(s.slice(6, 8));
  const dt = new Date(Date.UTC(y, m - 1, d));
  return dt.getUTCFullYear() === y && dt.getUTCMonth() === m - 1 && dt.getUTCDate() === d;
}

// Checks one corruption of kind on field (a column, or "name"/"address")
// between original o and duplicate d (objects by column); returns the
// columns it accounts for.
function checkEdit(field, kind, o, d, id) {
  const msg = `${id} ${field}:${kind} (${JSON.stringify(o[field])} -> ${JSON.stringify(d[field])})`;
  const a = local(field, o[field] ?? '');
  const b = local(field, d[field] ?? '');
  switch (kind) {
    case 'typo': {
      const p = diffPositions(a, b);
      assert.equal(a.length, b.length, msg);
      assert.equal(p.length, 1, msg);
      assert.ok(keyNeighbours(a[p[0]]).includes(b[p[0]]), `${msg}: not a keyboard neighbour`);
      break;
    }
    case 'insert': assert.ok(oneDeleted(b, a), msg); break;
    case 'delete': assert.ok(oneDeleted(a, b), msg); break;
    case 'transpose': {
      const p = diffPositions(a, b);
      assert.equal(a.length, b.length, msg);
      assert.deepEqual(p.length, 2, msg);
      assert.equal(p[1], p[0] + 1, msg);
      assert.equal(a[p[0]], b[p[1]], msg);
      assert.equal(a[p[1]], b[p[0]], msg);
      break;
    }
    case 'nickname':
      assert.equal(field, 'given_name', msg);
      assert.match(b, /^[a-z]+$/, msg);
      assert.notEqual(b, a, msg);
      if (NICKNAMES[a]) assert.ok(NICKNAMES[a].includes(b), `${msg}: not a nickname of ${a}`);
      break;
    case 'missing':
      assert.ok(o[field] !== '' && d[field] === '', msg);
      return [field];
    case 'swap':
      assert.equal(d.given_name, o.surname, msg);
      assert.equal(d.surname, o.given_name, msg);
      return ['given_name', 'surname'];
    case 'moved':
      assert.ok(d.address_1 !== o.address_1 && d.suburb !== o.suburb, `${id}: moved but same street or suburb`);
      return ['street_number', 'address_1', 'address_2', 'suburb', 'postcode', 'state'];
    case 'digits': {
      const p = diffPositions(a, b);
      assert.ok(['date_of_birth', 'soc_sec_id', 'phone'].includes(field), msg);
      assert.equal(p.length, 2, msg);
      assert.equal(p[1], p[0] + 1, msg);
      assert.match(a[p[0]] + a[p[1]], /^\d\d$/, msg);
      assert.equal(a[p[0]], b[p[1]], msg);
      if (field === 'date_of_birth') assert.ok(validDate(b), `${msg}: not a date`);
      break;
    }
    case 'day_month':
      assert.equal(b, a.slice(0, 4) + a.slice(6, 8) + a.slice(4, 6), msg);
      assert.ok(validDate(b) && a !== b, msg);
      break;
    case 'abbrev': {
      const wa = a.split(' ');
      const wb = b.split(' ');
      assert.equal(wa.length, wb.length, msg);
      const p = diffPositions(wa, wb);
      assert.equal(p.length, 1, msg);
      assert.equal(ABBREV[wa[p[0]]], wb[p[0]], msg);
      break;
    }
    case 'format':
      assert.equal(field, 'phone', msg);
      assert.notEqual(a, b, msg);
      assert.equal(digitsOf(a), digitsOf(b), msg);
      break;
    default:
      assert.fail(`${id}: unknown corruption kind ${kind}`);
  }
  if (field === 'email') assert.equal(domain(field, d[field]), domain(field, o[field]), `${msg}: domain changed`);
  if (kind !== 'format' && kind !== 'digits' && field !== 'email' && field !== 'soc_sec_id') {
    assert.ok(b !== a, msg);
  }
  return [field];
}

describe('px-gen-people', { timeout: 120000 }, () => {
  let dir;
  const N = 20000;
  let rows; // [header, ...records]
  let log; // rec_id -> [[field, kind], ...]
  before(async () => {
    dir = await makeTempDir('px-gen-people-');
    const out = path.join(dir, 'people.csv');
    const logFile = path.join(dir, 'people.log');
    await runOk(['--records', String(N), '--seed', '3', '--out', out, '--log', logFile]);
    rows = parseCsv(fs.readFileSync(out, 'utf8'));
    log = new Map();
    for (const [id, edits] of parseCsv(fs.readFileSync(logFile, 'utf8')).slice(1)) {
      log.set(id, edits.split(';').map((e) => e.split(':')));
    }
  });
  after(async () => { await cleanupDir(dir); });

  it('is deterministic for a seed and differs across seeds', async () => {
    const args = ['--records', '5000', '--dup-rate', '0.3', '--max-dups', '3'];
    const a = await runOk([...args, '--seed', '11', '--out', '-']);
    const b = await runOk([...args, '--seed', '11']);
    const c = await runOk([...args, '--seed', '12']);
    assert.ok(a.stdout.length > 100000);
    assert.ok(a.stdout.equals(b.stdout), 'same seed, same bytes');
    assert.ok(!a.stdout.equals(c.stdout), 'another seed, other records');
    const file = path.join(dir, 'again.csv');
    await runOk([...args, '--seed', '11', '--out', file]);
    assert.ok(fs.readFileSync(file).equals(a.stdout), '--out FILE writes the same bytes as stdout');
  });

  it('writes exactly the records asked for, as valid CSV with the Febrl columns', async () => {
    assert.deepEqual(rows[0], COLUMNS);
    assert.equal(rows.length, N + 1);
    for (const r of rows) assert.equal(r.length, COLUMNS.length, `row ${r[0]} has ${r.length} fields`);
    for (const n of [1, 2, 7, 1000]) {
      const r = await runOk(['--records', String(n), '--seed', '5']);
      assert.equal(parseCsv(r.stdout.toString()).length, n + 1, `--records ${n}`);
    }
  });

  it('names records rec-N-org and rec-N-dup-K, at the requested duplicate rate', async () => {
    const ids = new Set();
    const dups = new Map(); // entity -> [k...]
    const orgs = new Set();
    for (const [id] of rows.slice(1)) {
      const m = /^rec-(\d+)-(?:org|dup-(\d+))$/.exec(id);
      assert.ok(m, `bad rec_id ${id}`);
      assert.ok(!ids.has(id), `rec_id ${id} twice`);
      ids.add(id);
      if (m[2] === undefined) orgs.add(m[1]);
      else dups.set(m[1], [...(dups.get(m[1]) ?? []), Number(m[2])]);
    }
    let ndup = 0;
    for (const [e, ks] of dups) {
      assert.ok(orgs.has(e), `duplicates of ${e} but no rec-${e}-org`);
      ks.sort((x, y) => x - y);
      assert.deepEqual(ks, ks.map((_, i) => i), `rec-${e}: duplicates numbered from 0 without gaps`);
      assert.ok(ks.length <= 5, `rec-${e}: ${ks.length} duplicates > --max-dups 5`);
      ndup += ks.length;
    }
    assert.ok(Math.abs(ndup / N - 0.4) < 0.02, `duplicate share ${ndup / N}, expected 0.4`);

    const r = await runOk(['--records', '10000', '--dup-rate', '0.15', '--max-dups', '2', '--seed', '9']);
    const counts = new Map();
    for (const [id] of parseCsv(r.stdout.toString()).slice(1)) {
      const m = /^rec-(\d+)-dup-\d+$/.exec(id);
      if (m) counts.set(m[1], (counts.get(m[1]) ?? 0) + 1);
    }
    const total = [...counts.values()].reduce((s, v) => s + v, 0);
    assert.ok(Math.abs(total / 10000 - 0.15) < 0.02, `duplicate share ${total / 10000}, expected 0.15`);
    assert.ok(Math.max(...counts.values()) <= 2, '--max-dups 2');
  });

  it('keeps postcodes in their state and ids, phones and e-mails unique per person', () => {
    const col = Object.fromEntries(COLUMNS.map((c, i) => [c, i]));
    const seen = { soc_sec_id: new Map(), phone: new Map(), email: new Map() };
    for (const r of rows.slice(1)) {
      const state = r[col.state];
      const pc = r[col.postcode];
      if (state && pc) {
        assert.match(pc, /^\d{4}$/);
        assert.ok(POSTCODES[state].some(([lo, hi]) => Number(pc) >= lo && Number(pc) <= hi), `${r[0]}: ${pc} not in ${state}`);
      }
      if (r[col.date_of_birth]) assert.ok(validDate(r[col.date_of_birth]), `${r[0]}: date ${r[col.date_of_birth]}`);
      if (!r[0].endsWith('-org')) continue;
      const entity = r[0].split('-')[1];
      for (const c of Object.keys(seen)) {
        const v = c === 'phone' ? digitsOf(r[col[c]]) : r[col[c]];
        if (!v) continue;
        assert.ok(!seen[c].has(v), `${c} ${v} of rec-${entity} also belongs to rec-${seen[c].get(v)}`);
        seen[c].set(v, entity);
      }
    }
  });

  it('changes duplicates only by the corruptions their log line declares', () => {
    const byId = new Map(rows.slice(1).map((r) => [r[0], Object.fromEntries(COLUMNS.map((c, i) => [c, r[i]]))]));
    const kinds = {};
    const perDup = [0, 0, 0, 0, 0];
    let ndup = 0;
    let nedits = 0;
    for (const [id, d] of byId) {
      if (id.endsWith('-org')) {
        assert.ok(!log.has(id), `${id} is in the log`);
        continue;
      }
      ndup += 1;
      const o = byId.get(id.replace(/-dup-\d+$/, '-org'));
      const edits = log.get(id);
      assert.ok(edits && edits.length >= 1 && edits.length <= 4, `${id}: ${edits?.length} corruptions`);
      perDup[edits.length] += 1;
      const touched = new Set();
      for (const [field, kind] of edits) {
        kinds[kind] = (kinds[kind] ?? 0) + 1;
        nedits += 1;
        for (const c of checkEdit(field, kind, o, d, id)) {
          assert.ok(!touched.has(c), `${id}: ${c} changed twice`);
          touched.add(c);
        }
      }
      for (const c of COLUMNS.slice(1)) {
        if (!touched.has(c)) assert.equal(d[c], o[c], `${id}: ${c} changed but the log says ${JSON.stringify(edits)}`);
      }
    }
    assert.equal(log.size, ndup, 'one log line per duplicate');
    for (const [kind, share] of Object.entries(KIND_SHARE)) {
      const got = (100 * (kinds[kind] ?? 0)) / nedits;
      assert.ok(Math.abs(got - share) < 2, `${kind}: ${got.toFixed(1)}% of corruptions, expected about ${share}%`);
    }
    for (let e = 1; e <= 4; e++) {
      const got = (100 * perDup[e]) / ndup;
      assert.ok(Math.abs(got - EDITS_SHARE[e - 1]) < 3, `${e} corruptions: ${got.toFixed(1)}% of duplicates, expected ${EDITS_SHARE[e - 1]}%`);
    }
  });

  it('refuses bad usage', async () => {
    for (const args of [['--records', '0'], ['--dup-rate', '1.5'], ['--max-dups', '0'], ['--bogus']]) {
      const r = await run(args);
      assert.equal(r.code, 2, `${args.join(' ')}: exit ${r.code}`);
      assert.ok(r.stderr.includes(args[0]), `names the flag: ${r.stderr}`);
    }
  });
});
