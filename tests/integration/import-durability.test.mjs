// Crash durability of `pickaxe import` (three threads: parse, log, derive):
// the import is SIGKILLed mid-load; the next command catches the state up
// with the log, the same file imported again stores exactly what was
// missing (the rest are duplicates), every event is counted once, and the
// profile export survives a full rebuild unchanged.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { BIN, makeTempDir, cleanupDir, createSource, runCliOk, sleep } from './lib/server.mjs';

const EVENTS = 200000;
const USERS = 2000;

function writeEvents(file) {
  const lines = [];
  for (let i = 0; i < EVENTS; i++) {
    const u = `u${i % USERS}`;
    const base = { messageId: `imp-${i}`, userId: u, timestamp: new Date(Date.UTC(2024, 0, 1) + i * 1000).toISOString() };
    if (i % 10 === 0) lines.push(JSON.stringify({ ...base, type: 'identify', traits: { plan: `p${i % 3}`, email: `${u}@example.com` } }));
    else if (i % 3 === 0) lines.push(JSON.stringify({ ...base, type: 'page', name: `Page ${i % 7}` }));
    else lines.push(JSON.stringify({ ...base, type: 'track', event: `Event ${i % 5}`, properties: { n: i } }));
  }
  fs.writeFileSync(file, `${lines.join('\n')}\n`);
}

/** Sum of every exported profile's event count, and the export text. */
async function exported(dir) {
  const text = (await runCliOk(['export', 'profiles', '--data', dir], { timeoutMs: 60000 })).stdout;
  const rows = text.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l));
  return { text, events: rows.reduce((n, p) => n + p.counts.events, 0), profiles: rows.length };
}

describe('import under SIGKILL', { timeout: 120000 }, () => {
  let dir;
  let data;
  let file;
  before(async () => {
    dir = await makeTempDir();
    data = path.join(dir, 'data');
    file = path.join(dir, 'events.jsonl');
    writeEvents(file);
    await createSource(data, 'crm');
  });
  after(async () => {
    await cleanupDir(dir);
  });

  it('killed mid-load, then imported again: every event stored once', async () => {
    // Killed at a random moment; should the import win the race (a fast
    // machine), again on a fresh data directory with less time.
    for (let attempt = 0, wait = 300; ; attempt++, wait = Math.floor(wait / 2)) {
      if (attempt) {
        data = path.join(dir, `data${attempt}`);
        await createSource(data, 'crm');
      }
      const child = spawn(BIN, ['import', file, '--source', 'crm', '--data', data, '--json'], { stdio: 'ignore' });
      const exited = new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal })));
      await sleep(Math.floor(wait / 2 + Math.random() * wait / 2));
      child.kill('SIGKILL');
      const first = await exited;
      if (first.signal === 'SIGKILL') break;
      assert.equal(first.code, 0, 'an import that was not killed succeeded');
      assert.ok(attempt < 5, 'the import could not be caught running');
    }

    const partial = await exported(data); // opening catches the state up
    assert.ok(partial.events <= EVENTS, `${partial.events} of ${EVENTS} stored before the kill`);

    const again = JSON.parse((await runCliOk(
      ['import', file, '--source', 'crm', '--data', data, '--json'], { timeoutMs: 60000 },
    )).stdout);
    assert.equal(again.accepted + again.duplicates, EVENTS);
    assert.equal(again.duplicates, partial.events, 'what was stored before the kill is found again');

    const full = await exported(data);
    assert.equal(full.events, EVENTS, 'each event counted exactly once');
    assert.equal(full.profiles, USERS);

    await runCliOk(['rebuild', '--data', data], { timeoutMs: 60000 });
    assert.equal((await exported(data)).text, full.text, 'a rebuild gives the same profiles');
  });
});
