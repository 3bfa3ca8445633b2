#!/usr/bin/env node
// The one step of the online-retail recipe that a mapping cannot do: it
// reads the UCI "Online Retail" export (online_retail.csv.gz, or a plain
// CSV, or "-" for plain CSV on stdin) and writes the same CSV on stdout,
// each line as it was, with three columns appended:
//
//   Event      "Order Line", or "Order Line Cancelled" when InvoiceNo starts with "C"
//   Revenue    Quantity × UnitPrice, exact in decimal ("6" × "2.55" → "15.3";
//              negative on cancelled lines, whose quantities are negative)
//   MessageId  "online-retail-N", N the line's number in the source file
//              (the header is line 1), so that the file's identical lines
//              stay separate invoice lines and importing again stores nothing twice
//
// Lines without a CustomerID (guest sales: no one to attribute them to)
// are left out; the counts go to stderr. Standard library only.
//
//   node prepare.mjs online_retail.csv.gz > order-lines.csv
import fs from 'node:fs';
import readline from 'node:readline';
import zlib from 'node:zlib';

const HEADER = 'InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country';

/** The fields of one CSV record on one line (RFC 4180 quoting); throws on a broken quote. */
function fields(line, lineno) {
  const out = [];
  let i = 0;
  for (;;) {
    let f = '';
    if (line[i] === '"') {
      i++;
      for (;;) {
        const j = line.indexOf('"', i);
        if (j < 0) throw new Error(`line ${lineno}: unterminated quoted field`);
        f += line.slice(i, j);
        i = j + 1;
        if (line[i] !== '"') break;
        f += '"';
        i++;
      }
    } else {
      let j = line.indexOf(',', i);
      if (j < 0) j = line.length;
      f = line.slice(i, j);
      i = j;
    }
    out.push(f);
    if (i === line.length) return out;
    if (line[i] !== ',') throw new Error(`line ${lineno}: text after a quoted field`);
    i++;
  }
}

/** A decimal string as an integer count of 1/1000 (UnitPrice has at most 3 decimals). */
function thousandths(s, lineno) {
  const m = /^(-?)(\d+)(?:\.(\d{1,3}))?$/.exec(s);
  if (!m) throw new Error(`line ${lineno}: not a price: ${s}`);
  const v = Number(m[2]) * 1000 + Number((m[3] || '').padEnd(3, '0'));
  return m[1] ? -v : v;
}

/** An integer count of 1/1000 as the shortest decimal ("15300" → "15.3"). */
function decimal(v) {
  const sign = v < 0 ? '-' : '';
  const a = Math.abs(v);
  const frac = String(a % 1000).padStart(3, '0').replace(/0+$/, '');
  return `${sign}${Math.floor(a / 1000)}${frac ? `.${frac}` : ''}`;
}

const src = process.argv[2];
if (!src || process.argv.length > 3) {
  process.stderr.write('usage: node prepare.mjs online_retail.csv.gz|FILE.csv|- > order-lines.csv\n');
  process.exit(2);
}
let input = src === '-' ? process.stdin : fs.createReadStream(src);
if (src.endsWith('.gz')) input = input.pipe(zlib.createGunzip());

const out = [];
let lineno = 0, kept = 0, skipped = 0, cancelled = 0;
const flush = () => new Promise((resolve) => {
  if (process.stdout.write(out.join(''))) resolve();
  else process.stdout.once('drain', resolve);
  out.length = 0;
});
for await (const line of readline.createInterface({ input, crlfDelay: Infinity })) {
  lineno++;
  if (lineno === 1) {
    if (line !== HEADER) throw new Error(`line 1: expected the header ${HEADER}`);
    out.push(`${line},Event,Revenue,MessageId\n`);
    continue;
  }
  if (line === '') continue;
  const f = fields(line, lineno);
  if (f.length !== 8) throw new Error(`line ${lineno}: ${f.length} fields, expected 8`);
  const [invoice, , , quantity, , price, customer] = f;
  if (customer === '') {
    skipped++;
    continue;
  }
  if (!/^-?\d+$/.test(quantity)) throw new Error(`line ${lineno}: not a whole quantity: ${quantity}`);
  const isCancel = invoice.startsWith('C');
  cancelled += isCancel;
  kept++;
  const revenue = decimal(Number(quantity) * thousandths(price, lineno));
  out.push(`${line},${isCancel ? 'Order Line Cancelled' : 'Order Line'},${revenue},online-retail-${lineno}\n`);
  if (out.length >= 4096) await flush();
}
await flush();
process.stderr.write(`prepare: ${lineno - 1} lines read, ${kept} written (${cancelled} cancelled), `
  + `${skipped} without a CustomerID left out\n`);
