// Helpers for black-box tests of the pickaxe binary: temp data dirs, CLI runs,
// starting/stopping `pickaxe serve`, and a small HTTP client.
//
// Every child process and temp dir made here is tracked and cleaned up when the
// test process exits, and every wait has a time limit, so a broken server makes
// tests fail instead of hang.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = path.resolve(here, '../../..');
/** The shared real data sets (../shared/data next to the repository, else $PX_SHARED_DATA or /work/shared/data). */
export const SHARED_DATA = [process.env.PX_SHARED_DATA, path.resolve(REPO_ROOT, '..', 'shared', 'data'),
  '/work/shared/data'].find((d) => d && fs.existsSync(d)) ?? path.resolve(REPO_ROOT, '..', 'shared', 'data');
export const BIN = process.env.PICKAXE_BIN
  ? path.resolve(process.env.PICKAXE_BIN)
  : path.join(REPO_ROOT, 'build', 'pickaxe');

const liveProcs = new Set();
const liveDirs = new Set();

process.on('exit', () => {
  for (const p of liveProcs) {
    try { p.kill('SIGKILL'); } catch { /* already gone */ }
  }
  for (const d of liveDirs) {
    try { fs.rmSync(d, { recursive: true, force: true }); } catch { /* ignore */ }
  }
});

export function assertBinary() {
  if (!fs.existsSync(BIN)) {
    throw new Error(`pickaxe binary not found at ${BIN} (build it, or set PICKAXE_BIN)`);
  }
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

let uniqCounter = 0;
/** A short unique string, handy for ids that must not collide across tests. */
export function uniq(prefix = 'x') {
  uniqCounter += 1;
  return `${prefix}-${process.pid}-${Date.now().toString(36)}-${uniqCounter}`;
}

/** Makes a fresh temp dir (removed by cleanupDir or at process exit). */
export async function makeTempDir(prefix = 'pickaxe-test-') {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), prefix));
  liveDirs.add(dir);
  return dir;
}

export async function cleanupDir(dir) {
  if (!dir) return;
  await fsp.rm(dir, { recursive: true, force: true });
  liveDirs.delete(dir);
}

/**
 * Runs the pickaxe CLI. Resolves with {code, signal, stdout, stderr}; never
 * rejects on a non-zero exit (tests assert on it). Kills the child and rejects
 * when it runs past timeoutMs.
 */
export function runCli(args, { input, timeoutMs = 30000, env } = {}) {
  assertBinary();
  return new Promise((resolve, reject) => {
    const child = spawn(BIN, args, {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, ...env },
    });
    liveProcs.add(child);
    const out = [];
    const err = [];
    child.stdout.on('data', (c) => out.push(c));
    child.stderr.on('data', (c) => err.push(c));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`pickaxe ${args.join(' ')} timed out after ${timeoutMs} ms\nstderr: ${Buffer.concat(err).toString()}`));
    }, timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      liveProcs.delete(child);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      liveProcs.delete(child);
      resolve({
        code,
        signal,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
      });
    });
    child.stdin.on('error', () => {});
    if (input !== undefined) child.stdin.end(input);
    else child.stdin.end();
  });
}

/** Runs the CLI and throws (with stderr) unless it exits 0. */
export async function runCliOk(args, opts) {
  const r = await runCli(args, opts);
  if (r.code !== 0) {
    throw new Error(`pickaxe ${args.join(' ')} exited ${r.code} (signal ${r.signal})\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  }
  return r;
}

/** `pickaxe source add NAME` → the write key (the only line on stdout). */
export async function createSource(dataDir, name, { priority } = {}) {
  const args = ['source', 'add', name];
  if (priority !== undefined) args.push('--priority', String(priority));
  args.push('--data', dataDir);
  const r = await runCliOk(args);
  const lines = r.stdout.split('\n').filter((l) => l.trim() !== '');
  if (lines.length !== 1) {
    throw new Error(`source add printed ${lines.length} lines on stdout, expected exactly the key: ${JSON.stringify(r.stdout)}`);
  }
  return lines[0].trim();
}

/** `pickaxe token create` → the admin token (the only line on stdout). */
export async function createToken(dataDir) {
  const r = await runCliOk(['token', 'create', '--data', dataDir]);
  const lines = r.stdout.split('\n').filter((l) => l.trim() !== '');
  if (lines.length !== 1) {
    throw new Error(`token create printed ${lines.length} lines on stdout, expected exactly the token: ${JSON.stringify(r.stdout)}`);
  }
  return lines[0].trim();
}

/** Writes obj to a temp file and runs `pickaxe config set FILE`. */
export async function setConfig(dataDir, obj) {
  const file = path.join(dataDir, '..', `${path.basename(dataDir)}-config-${uniqCounter++}.json`);
  await fsp.writeFile(file, typeof obj === 'string' ? obj : JSON.stringify(obj));
  try {
    return await runCliOk(['config', 'set', file, '--data', dataDir]);
  } finally {
    await fsp.rm(file, { force: true });
  }
}

function basicAuth(key) {
  return 'Basic ' + Buffer.from(`${key}:`).toString('base64');
}

/**
 * A running `pickaxe serve`; startServer() makes one.
 *  - url:  http://127.0.0.1:PORT
 *  - api(method, path, {body, auth, headers, timeoutMs}) → {status, headers, text, json}
 *    body: object (sent as JSON), string or Buffer (sent as is).
 *    auth: {basic: writeKey} | {bearer: token} | null (no Authorization header).
 *  - stop(): SIGTERM and wait for exit → {code, signal}
 *  - kill(): SIGKILL and wait for exit
 */
export class Server {
  constructor(child, url, dataDir) {
    this.child = child;
    this.url = url;
    this.port = Number(new URL(url).port);
    this.dataDir = dataDir;
    this.exited = new Promise((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) {
        resolve({ code: child.exitCode, signal: child.signalCode });
      } else {
        child.once('exit', (code, signal) => resolve({ code, signal }));
      }
    });
    this.stderrText = '';
    this.expectExit = false;
    this.exited.then(({ code, signal }) => {
      liveProcs.delete(child);
      if (!this.expectExit) {
        // A crash (e.g. a sanitizer abort) would otherwise only show up as refused connections.
        process.stderr.write(`\n[pickaxe serve ${this.url} exited unexpectedly: code ${code}, signal ${signal}]\n${this.stderrText.slice(-8000)}\n`);
      }
    });
  }

  get running() {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  async waitExit(timeoutMs) {
    let timer;
    const to = new Promise((resolve) => { timer = setTimeout(() => resolve(null), timeoutMs); });
    const r = await Promise.race([this.exited, to]);
    clearTimeout(timer);
    return r;
  }

  /** Graceful stop. Falls back to SIGKILL after timeoutMs and throws. */
  async stop({ timeoutMs = 15000 } = {}) {
    if (!this.running) return this.exited;
    this.expectExit = true;
    this.child.kill('SIGTERM');
    const r = await this.waitExit(timeoutMs);
    if (r === null) {
      this.child.kill('SIGKILL');
      await this.exited;
      throw new Error(`pickaxe serve did not exit within ${timeoutMs} ms of SIGTERM`);
    }
    return r;
  }

  async kill() {
    if (!this.running) return this.exited;
    this.expectExit = true;
    this.child.kill('SIGKILL');
    const r = await this.waitExit(10000);
    if (r === null) throw new Error('pickaxe serve did not die on SIGKILL');
    return r;
  }

  async api(method, urlPath, { body, auth = null, headers = {}, timeoutMs = 15000 } = {}) {
    const h = { ...headers };
    if (auth && auth.basic !== undefined) h.authorization = basicAuth(auth.basic);
    else if (auth && auth.bearer !== undefined) h.authorization = `Bearer ${auth.bearer}`;
    let payload;
    if (body !== undefined) {
      if (typeof body === 'string' || Buffer.isBuffer(body) || body instanceof Uint8Array) {
        payload = body;
      } else {
        payload = JSON.stringify(body);
      }
      if (!Object.keys(h).some((k) => k.toLowerCase() === 'content-type')) {
        h['content-type'] = 'application/json';
      }
    }
    const res = await fetch(this.url + urlPath, {
      method,
      headers: h,
      body: payload,
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await res.text();
    let json;
    try { json = text === '' ? undefined : JSON.parse(text); } catch { json = undefined; }
    return { status: res.status, headers: res.headers, text, json };
  }
}

/**
 * Starts `pickaxe serve --data DIR --listen 127.0.0.1:0` and waits for the
 * "pickaxe listening on http://..." line on stdout.
 */
export function startServer(dataDir, { extraArgs = [], timeoutMs = 15000, env } = {}) {
  assertBinary();
  return new Promise((resolve, reject) => {
    const child = spawn(BIN, ['serve', '--data', dataDir, '--listen', '127.0.0.1:0', ...extraArgs], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...env },
    });
    liveProcs.add(child);
    let stdout = '';
    let stderr = '';
    let done = false;
    let server = null;
    const finish = (err, val) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (err) {
        child.kill('SIGKILL');
        reject(err);
      } else {
        resolve(val);
      }
    };
    const timer = setTimeout(() => {
      finish(new Error(`pickaxe serve did not print its listening line within ${timeoutMs} ms\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, timeoutMs);
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stdout.on('data', (c) => {
      if (stdout.length < 65536) stdout += c;
      const m = /pickaxe listening on (http:\/\/[^\s]+)/.exec(stdout);
      if (m && !done) {
        server = new Server(child, m[1].replace(/\/$/, ''), dataDir);
        server.stderrText = stderr;
        finish(null, server);
      }
    });
    child.stderr.on('data', (c) => {
      // Keep the tail of stderr for diagnostics.
      stderr = (stderr + c).slice(-65536);
      if (server) server.stderrText = stderr;
    });
    child.on('error', (e) => finish(e));
    child.on('exit', (code, signal) => {
      liveProcs.delete(child);
      finish(new Error(`pickaxe serve exited (code ${code}, signal ${signal}) before listening\nstdout: ${stdout}\nstderr: ${stderr}`));
    });
  });
}

/**
 * One-call setup: temp data dir, sources, admin token, optional config, and a
 * running server. Returns a context object:
 *   {dir, server, token, keys: {name: writeKey}, key (first source's key),
 *    collect(path, body, key?), read(path, token?), stop(), restart(), cleanup()}
 */
export async function startPickaxe({ sources = [{ name: 'web' }], config, serve = true } = {}) {
  const dir = await makeTempDir();
  const keys = {};
  for (const s of sources) keys[s.name] = await createSource(dir, s.name, { priority: s.priority });
  const token = await createToken(dir);
  if (config !== undefined) await setConfig(dir, config);
  const ctx = {
    dir,
    keys,
    key: keys[sources[0]?.name],
    token,
    server: null,
    async start() {
      ctx.server = await startServer(dir);
      return ctx.server;
    },
    /** POST to a collection endpoint with Basic auth (default: first source). */
    collect(urlPath, body, key = ctx.key) {
      return ctx.server.api('POST', urlPath, { body, auth: { basic: key } });
    },
    /** GET a read endpoint with the admin token. */
    read(urlPath, tok = ctx.token) {
      return ctx.server.api('GET', urlPath, { auth: { bearer: tok } });
    },
    async stop() {
      if (ctx.server) await ctx.server.stop();
    },
    async restart() {
      if (ctx.server && ctx.server.running) await ctx.server.stop();
      return ctx.start();
    },
    async cleanup() {
      try {
        if (ctx.server && ctx.server.running) await ctx.server.stop().catch(() => ctx.server.kill());
      } finally {
        await cleanupDir(dir);
      }
    },
  };
  if (serve) await ctx.start();
  return ctx;
}

/** URL path for a profile reference such as `email:ann@example.com` or a profile id. */
export function profilePath(ref, suffix = '') {
  return `/v1/profiles/${encodeURIComponent(ref)}${suffix}`;
}

/**
 * Retries fn until it stops throwing or timeoutMs passes, then rethrows the
 * last error. For reads that may trail a write by a moment.
 */
export async function eventually(fn, { timeoutMs = 2000, intervalMs = 50 } = {}) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await fn();
    } catch (e) {
      if (Date.now() >= deadline) throw e;
      await sleep(intervalMs);
    }
  }
}

/** Fetches a profile by ref with the admin token; throws unless 200. */
export async function getProfile(ctx, ref) {
  const r = await ctx.read(profilePath(ref));
  if (r.status !== 200) {
    const err = new Error(`GET ${profilePath(ref)} → ${r.status} ${r.text}`);
    err.status = r.status;
    throw err;
  }
  return r.json;
}

/** Fetches every event of a profile by following next_cursor. */
export async function getAllEvents(ctx, ref, { limit = 100, maxPages = 1000 } = {}) {
  const events = [];
  let cursor = null;
  for (let page = 0; page < maxPages; page++) {
    let q = `?limit=${limit}`;
    if (cursor !== null && cursor !== undefined) q += `&cursor=${encodeURIComponent(cursor)}`;
    const r = await ctx.read(profilePath(ref, '/events') + q);
    if (r.status !== 200) throw new Error(`GET events of ${ref} → ${r.status} ${r.text}`);
    events.push(...r.json.events);
    cursor = r.json.next_cursor;
    if (cursor === null || cursor === undefined || cursor === '' || r.json.events.length === 0) return events;
  }
  throw new Error(`events of ${ref}: more than ${maxPages} pages`);
}

/** Identifiers of a profile as a sorted list of "kind:value" strings. */
export function identifierSet(profile) {
  return (profile.identifiers || []).map((i) => `${i.kind}:${i.value}`).sort();
}

/** ISO timestamp `ms` milliseconds from now (negative for the past). */
export function isoFromNow(ms) {
  return new Date(Date.now() + ms).toISOString();
}
