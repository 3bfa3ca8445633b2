// The CLI: --help everywhere, bad usage, source/token output, import summary,
// profile get, export, rebuild, and serve's lifecycle.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fsp from 'node:fs/promises';
import path from 'node:path';
import {
  runCli, runCliOk, makeTempDir, cleanupDir, createSource, createToken, startServer,
  profilePath, eventually, uniq,
} from './lib/server.mjs';

const T = { timeout: 30000 };

describe('CLI', { timeout: 120000 }, () => {
  let dir;
  before(async () => { dir = await makeTempDir(); });
  after(async () => { await cleanupDir(dir); });

  describe('--help and bad usage', () => {
    const commands = [
      [], ['source', 'add'], ['source', 'list'], ['token', 'create'], ['serve'], ['import'],
      ['profile', 'get'], ['export', 'profiles'], ['rebuild'], ['config', 'set'],
    ];
    for (const cmd of commands) {
      it(`pickaxe ${[...cmd, '--help'].join(' ')} exits 0 and prints usage`, T, async () => {
        const r = await runCli([...cmd, '--help']);
        assert.equal(r.code, 0, `exit ${r.code}, stderr: ${r.stderr}`);
        assert.ok((r.stdout + r.stderr).trim().length > 0, 'prints something');
      });
    }

    const bad = [
      ['an unknown command', ['frobnicate', '--data', '@DIR']],
      ['source add without a name', ['source', 'add', '--data', '@DIR']],
      ['an unknown option', ['source', 'list', '--data', '@DIR', '--no-such-option']],
      ['import of a missing file', ['import', '/nonexistent/events.jsonl', '--source', 'cli', '--data', '@DIR']],
      ['import into an unknown source', ['import', '@FILE', '--source', 'no-such-source', '--data', '@DIR']],
      ['profile get without a ref', ['profile', 'get', '--data', '@DIR']],
      ['profile get of an unknown ref', ['profile', 'get', 'user_id:nobody-here', '--data', '@DIR']],
      ['config set with invalid JSON', ['config', 'set', '@BADJSON', '--data', '@DIR']],
      ['config set with an unknown trait rule', ['config', 'set', '@BADRULE', '--data', '@DIR']],
      ['serve with a bad --listen', ['serve', '--data', '@DIR', '--listen', 'not-an-address']],
    ];
    for (const [what, args] of bad) {
      it(`${what} exits non-zero with a message on stderr`, T, async () => {
        const file = path.join(dir, '..', `${path.basename(dir)}-ev.jsonl`);
        const badJson = path.join(dir, '..', `${path.basename(dir)}-bad.json`);
        const badRule = path.join(dir, '..', `${path.basename(dir)}-rule.json`);
        await fsp.writeFile(file, '{"type":"track","userId":"x","event":"y"}\n');
        await fsp.writeFile(badJson, '{"identity": ');
        await fsp.writeFile(badRule, JSON.stringify({ traits: { rules: { plan: 'loudest_wins' } } }));
        const real = args.map((a) => ({ '@DIR': dir, '@FILE': file, '@BADJSON': badJson, '@BADRULE': badRule }[a] ?? a));
        try {
          const r = await runCli(real, { timeoutMs: 10000 });
          assert.notEqual(r.code, 0, `exit code for: pickaxe ${real.join(' ')}\nstdout: ${r.stdout}`);
          assert.ok(r.stderr.trim().length > 0, 'explains on stderr');
        } finally {
          await Promise.all([file, badJson, badRule].map((f) => fsp.rm(f, { force: true })));
        }
      });
    }
  });

  describe('sources and tokens', () => {
    it('source add prints only the write key, and keys differ', T, async () => {
      const k1 = await createSource(dir, 'alpha');
      const k2 = await createSource(dir, 'beta', { priority: 5 });
      assert.match(k1, /^\S{16,}$/, 'a key of at least 16 non-space characters');
      assert.notEqual(k1, k2);
      const list = await runCliOk(['source', 'list', '--data', dir]);
      assert.ok(list.stdout.includes('alpha') && list.stdout.includes('beta'), list.stdout);
    });

    it('adding a source twice under one name fails', T, async () => {
      await createSource(dir, 'gamma');
      const r = await runCli(['source', 'add', 'gamma', '--data', dir]);
      assert.notEqual(r.code, 0, r.stdout);
    });

    it('token create prints only the token, and tokens differ', T, async () => {
      const a = await createToken(dir);
      const b = await createToken(dir);
      assert.match(a, /^\S{16,}$/);
      assert.notEqual(a, b);
    });
  });

  describe('import, profile get, export, rebuild', () => {
    let idir;
    let file;
    let summary;
    const lines = [
      { type: 'identify', userId: 'imp-1', traits: { email: 'Imp.One@Example.com', plan: 'pro' }, messageId: 'imp-m1', timestamp: '2024-02-01T00:00:00Z' },
      { type: 'track', userId: 'imp-1', event: 'Imported', messageId: 'imp-m2', timestamp: '2024-02-02T00:00:00Z' },
      { type: 'track', userId: 'imp-2' }, // line 3: no event
      'this is not json', // line 4
      { type: 'track', userId: 'imp-1', event: 'Imported', messageId: 'imp-m2', timestamp: '2024-02-02T00:00:00Z' }, // line 5: duplicate
      { type: 'page', anonymousId: 'imp-anon', name: 'Home', messageId: 'imp-m3', timestamp: '2024-02-03T00:00:00Z' },
      { type: 'alias', userId: 'imp-1', previousId: 'imp-anon', messageId: 'imp-m4', timestamp: '2024-02-04T00:00:00Z' },
    ];

    before(async () => {
      idir = await makeTempDir();
      await createSource(idir, 'legacy');
      file = path.join(idir, '..', `${path.basename(idir)}-import.jsonl`);
      await fsp.writeFile(file, lines.map((l) => (typeof l === 'string' ? l : JSON.stringify(l))).join('\n') + '\n');
    });
    after(async () => {
      if (file) await fsp.rm(file, { force: true });
      await cleanupDir(idir);
    });

    // `pickaxe import --help`: exit status 0 when every line landed, 4 when some were rejected.
    it('import --json prints an exact summary with per-line errors', T, async () => {
      const r = await runCli(['import', file, '--source', 'legacy', '--data', idir, '--json']);
      assert.equal(r.code, 4, `exit 4 when lines were rejected; stderr: ${r.stderr}`);
      summary = JSON.parse(r.stdout);
      assert.equal(summary.accepted, 4, r.stdout);
      assert.equal(summary.rejected, 2, r.stdout);
      assert.equal(summary.duplicates, 1, r.stdout);
      assert.ok(Array.isArray(summary.errors), r.stdout);
      const byLine = Object.fromEntries(summary.errors.map((e) => [e.line, e]));
      assert.deepEqual(Object.keys(byLine).map(Number).sort(), [3, 4], r.stdout);
      assert.equal(byLine[3].field, 'event');
      assert.equal(typeof byLine[4].reason, 'string');
    });

    it('re-importing the same file only finds duplicates', T, async () => {
      const r = await runCli(['import', file, '--source', 'legacy', '--data', idir, '--json']);
      assert.equal(r.code, 4, r.stderr);
      const s = JSON.parse(r.stdout);
      assert.equal(s.accepted, 0, r.stdout);
      assert.equal(s.duplicates, 5, r.stdout);
      assert.equal(s.rejected, 2, r.stdout);
    });

    it('a clean import exits 0; "-" reads stdin', T, async () => {
      const input = [
        { type: 'identify', userId: 'imp-3', traits: { plan: 'basic' }, messageId: 'imp3-m1', timestamp: '2024-02-05T00:00:00Z' },
        { type: 'track', userId: 'imp-3', event: 'Stdin', messageId: 'imp3-m2', timestamp: '2024-02-06T00:00:00Z' },
      ].map((l) => JSON.stringify(l)).join('\n') + '\n';
      const r = await runCli(['import', '-', '--source', 'legacy', '--data', idir, '--json'], { input });
      assert.equal(r.code, 0, r.stderr);
      const s = JSON.parse(r.stdout);
      assert.equal(s.accepted, 2);
      assert.equal(s.rejected, 0);
      assert.deepEqual(s.errors, []);
      const p = JSON.parse((await runCliOk(['profile', 'get', 'user_id:imp-3', '--data', idir])).stdout);
      assert.equal(p.counts.events, 2);
      assert.equal(p.traits.plan, 'basic');
    });

    it('profile get prints the profile JSON, by identifier or id', T, async () => {
      const r = await runCliOk(['profile', 'get', 'email:imp.one@example.com', '--data', idir]);
      const p = JSON.parse(r.stdout);
      assert.equal(p.traits.plan, 'pro');
      assert.equal(p.counts.events, 4, 'identify, track, page (aliased anon) and alias');
      const ids = p.identifiers.map((i) => `${i.kind}:${i.value}`);
      assert.ok(ids.includes('user_id:imp-1') && ids.includes('anonymous_id:imp-anon'), ids.join(' '));
      const again = JSON.parse((await runCliOk(['profile', 'get', p.id, '--data', idir])).stdout);
      assert.deepEqual(again, p);
    });

    it('export profiles prints canonical JSON lines, the same every time', T, async () => {
      const a = await runCliOk(['export', 'profiles', '--data', idir]);
      const b = await runCliOk(['export', 'profiles', '--data', idir]);
      assert.equal(a.stdout, b.stdout);
      const rows = a.stdout.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l));
      assert.equal(rows.length, 2, 'imp-1 and imp-anon were aliased into one profile; imp-3 is the other');
      rows.sort((a, b) => (a.traits.plan < b.traits.plan ? -1 : 1));
      assert.deepEqual(rows.map((r) => r.traits.plan), ['basic', 'pro']);
    });

    it('rebuild replays the log into an identical export', T, async () => {
      const before1 = (await runCliOk(['export', 'profiles', '--data', idir])).stdout;
      await runCliOk(['rebuild', '--data', idir], { timeoutMs: 30000 });
      const after1 = (await runCliOk(['export', 'profiles', '--data', idir])).stdout;
      assert.equal(after1, before1);
    });

    it('after a machine restart (another boot id) the state is rebuilt from the log, identically', T, async () => {
      const before1 = (await runCliOk(['export', 'profiles', '--data', idir])).stdout;
      await fsp.writeFile(path.join(idir, 'state', 'boot_id'), 'a-previous-boot\n');
      const after1 = (await runCliOk(['export', 'profiles', '--data', idir])).stdout;
      assert.equal(after1, before1);
      const boot = (await fsp.readFile(path.join(idir, 'state', 'boot_id'), 'utf8'));
      assert.notEqual(boot, 'a-previous-boot\n', 'the current boot is recorded');
    });

    it('rebuild applies each event under the configuration it was logged under', T, async () => {
      const dir = await makeTempDir();
      const f = path.join(dir, '..', `${path.basename(dir)}-cfg.jsonl`);
      const cfgFile = path.join(dir, '..', `${path.basename(dir)}-cfg.json`);
      try {
        await createSource(dir, 'crm');
        // Under the default rules (email max 5) these two users' profiles stay apart
        // (user_id max 1) but both e-mails land on u1.
        await fsp.writeFile(f, [
          { type: 'identify', userId: 'c1', traits: { email: 'one@x.io' } },
          { type: 'identify', userId: 'c1', traits: { email: 'two@x.io' } },
        ].map((l) => JSON.stringify(l)).join('\n') + '\n');
        await runCliOk(['import', f, '--source', 'crm', '--data', dir]);
        // From now on a profile may hold one e-mail: the next event's e-mail is refused.
        await fsp.writeFile(cfgFile, JSON.stringify({ identity: { kinds: [{ kind: 'email', max_per_profile: 1 }] } }));
        await runCliOk(['config', 'set', cfgFile, '--data', dir]);
        await fsp.writeFile(f, JSON.stringify({ type: 'identify', userId: 'c2', traits: { email: 'three@x.io' }, context: { traits: { email: 'four@x.io' } } }) + '\n');
        await runCliOk(['import', f, '--source', 'crm', '--data', dir]);
        const before1 = (await runCliOk(['export', 'profiles', '--data', dir])).stdout;
        const c1 = JSON.parse((await runCliOk(['profile', 'get', 'user_id:c1', '--data', dir])).stdout);
        assert.equal(c1.identifiers.filter((i) => i.kind === 'email').length, 2, 'the old rules applied to c1');
        await runCliOk(['rebuild', '--data', dir], { timeoutMs: 30000 });
        const after1 = (await runCliOk(['export', 'profiles', '--data', dir])).stdout;
        assert.equal(after1, before1);
      } finally {
        await fsp.rm(f, { force: true });
        await fsp.rm(cfgFile, { force: true });
        await cleanupDir(dir);
      }
    });

    it('import rejects lines that are not valid UTF-8 or hold a NUL byte, and keeps the rest', T, async () => {
      const f = path.join(idir, '..', `${path.basename(idir)}-bad-utf8.jsonl`);
      const good = JSON.stringify({ type: 'track', userId: 'utf8-ok', event: 'Fine' });
      const bad = Buffer.from('{"type":"track","userId":"utf8-bad","event":"\xff\xfe"}', 'latin1');
      const nul = Buffer.from('{"type":"track","userId":"nul\u0000x","event":"E"}', 'latin1');
      await fsp.writeFile(f, Buffer.concat([Buffer.from(good + '\n'), bad, Buffer.from('\n'), nul, Buffer.from('\n')]));
      try {
        const r = await runCli(['import', f, '--source', 'legacy', '--data', idir, '--json']);
        assert.equal(r.code, 4, r.stderr);
        const out = JSON.parse(r.stdout);
        assert.equal(out.accepted, 1);
        assert.equal(out.rejected, 2);
        assert.deepEqual(out.errors.map((x) => x.line), [2, 3]);
      } finally {
        await fsp.rm(f, { force: true });
      }
    });

    it('the HTTP API serves the same profile as profile get', T, async () => {
      const cli = JSON.parse((await runCliOk(['profile', 'get', 'user_id:imp-1', '--data', idir])).stdout);
      const token = await createToken(idir);
      const srv = await startServer(idir);
      try {
        const r = await srv.api('GET', profilePath('user_id:imp-1'), { auth: { bearer: token } });
        assert.equal(r.status, 200, r.text);
        assert.deepEqual([r.json.segments, r.json.computed], [[], {}]); // none defined here
        assert.deepEqual(r.json, cli);
      } finally {
        await srv.stop();
      }
    });
  });

  describe('serve lifecycle', () => {
    it('prints its listening line, stops with exit 0 on SIGTERM, and keeps data across restarts', T, async () => {
      const sdir = await makeTempDir();
      try {
        const key = await createSource(sdir, 'web');
        const token = await createToken(sdir);
        let srv = await startServer(sdir);
        assert.match(srv.url, /^http:\/\/127\.0\.0\.1:\d+$/);
        assert.ok(srv.port > 0);
        const u = uniq('life');
        const w = await srv.api('POST', '/v1/identify', { body: { userId: u, traits: { k: 'v' } }, auth: { basic: key } });
        assert.equal(w.status, 200, w.text);
        const exit = await srv.stop();
        assert.equal(exit.code, 0, `graceful exit code (signal ${exit.signal})`);

        srv = await startServer(sdir);
        try {
          await eventually(async () => {
            const r = await srv.api('GET', profilePath(`user_id:${u}`), { auth: { bearer: token } });
            assert.equal(r.status, 200, r.text);
            assert.equal(r.json.traits.k, 'v');
          });
        } finally {
          await srv.stop();
        }
      } finally {
        await cleanupDir(sdir);
      }
    });

    it('CLI import and profile get work while the server runs, sharing messageId de-duplication', T, async () => {
      const sdir = await makeTempDir();
      const file = path.join(sdir, '..', `${path.basename(sdir)}-live.jsonl`);
      try {
        const key = await createSource(sdir, 'web');
        const token = await createToken(sdir);
        const srv = await startServer(sdir);
        try {
          const u = uniq('live');
          const w = await srv.api('POST', '/v1/track', { body: { userId: u, event: 'Http', messageId: `${u}-1` }, auth: { basic: key } });
          assert.equal(w.status, 200, w.text);
          await fsp.writeFile(file, [
            { type: 'track', userId: u, event: 'Http', messageId: `${u}-1` }, // already sent over HTTP
            { type: 'track', userId: u, event: 'File', messageId: `${u}-2` },
          ].map((l) => JSON.stringify(l)).join('\n') + '\n');
          const imp = await runCliOk(['import', file, '--source', 'web', '--data', sdir, '--json']);
          const sum = JSON.parse(imp.stdout);
          assert.equal(sum.accepted, 1, imp.stdout);
          assert.equal(sum.duplicates, 1, imp.stdout);
          // The running server sees the imported event; the CLI sees the HTTP one.
          await eventually(async () => {
            const r = await srv.api('GET', profilePath(`user_id:${u}`), { auth: { bearer: token } });
            assert.equal(r.status, 200, r.text);
            assert.equal(r.json.counts.events, 2);
          });
          const cli = JSON.parse((await runCliOk(['profile', 'get', `user_id:${u}`, '--data', sdir])).stdout);
          assert.deepEqual(cli.counts.by_event, { Http: 1, File: 1 });
          // And HTTP de-duplicates against what the CLI imported.
          const again = await srv.api('POST', '/v1/track', { body: { userId: u, event: 'File', messageId: `${u}-2` }, auth: { basic: key } });
          assert.equal(again.status, 200, again.text);
          assert.equal(again.json.duplicates, 1, again.text);
        } finally {
          await srv.stop();
        }
      } finally {
        await fsp.rm(file, { force: true });
        await cleanupDir(sdir);
      }
    });

    it('two servers on one data dir: the second refuses to start or both work', T, async () => {
      const sdir = await makeTempDir();
      try {
        await createSource(sdir, 'web');
        const first = await startServer(sdir);
        try {
          let second = null;
          try {
            second = await startServer(sdir, { timeoutMs: 5000 });
          } catch {
            // Refusing to start is fine.
          }
          if (second) {
            const h = await second.api('GET', '/healthz');
            assert.equal(h.status, 200);
            await second.stop();
          }
          const h = await first.api('GET', '/healthz');
          assert.equal(h.status, 200, 'the first server is unharmed');
        } finally {
          await first.stop();
        }
      } finally {
        await cleanupDir(sdir);
      }
    });
  });
});
