// Helpers of the browser tests: the real server on ephemeral ports, HTTPS calls with a
// key, token or cookie from Node, the CLIs, ssh-keygen, and the secrets log the log
// check reads.

import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const BINARY = process.env.GATEHOUSE_BIN ?? path.join(ROOT, 'target', 'debug', 'gatehouse');
export const ARTIFACTS = process.env.GATEHOUSE_TEST_ARTIFACTS ?? path.join(ROOT, 'test-artifacts');
export const LOG_DIR = path.join(ARTIFACTS, 'logs');
export const SHOTS = path.join(ARTIFACTS, 'screenshots');
export const SECRETS = path.join(ARTIFACTS, 'secrets.txt');
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const COOKIE = 'cloud.sso';
export const TIMEOUT = 20_000;

// Each tab's slug, its label in the nav and its panel's heading.
export const TABS = [
  ['api-keys', 'API Keys', 'API Keys'],
  ['tokens', 'Tokens', 'Tokens'],
  ['ssh-keys', 'SSH Keys', 'SSH Keys'],
  ['ssh-private-keys', 'SSH Private Keys', 'SSH Private Keys'],
  ['2-step-verification', '2-Step Verification', 'Manage MFA Settings'],
];

const recorded = new Set();
export function recordSecret(value) {
  assert.ok(value && !/[\r\n]/.test(value), 'a secret must be a non-empty single line');
  if (recorded.has(value)) return value;
  recorded.add(value);
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  fs.appendFileSync(SECRETS, value + '\n');
  return value;
}

// Start `gatehouse serve` on ephemeral ports with a fresh data dir; resolve once
// the startup lines (including the bootstrap password) have been printed.
export function startServer(name) {
  fs.mkdirSync(LOG_DIR, { recursive: true });
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'gatehouse-browser-'));
  const dataDir = path.join(tmp, 'data');
  // The SSH Private Keys tab tests a connection to an sshd on this machine's loopback,
  // which the default configuration refuses to dial.
  const config = path.join(tmp, 'gatehouse.toml');
  fs.writeFileSync(config, '[ssh_private_keys]\ntest_denied_networks = []\n', { mode: 0o600 });
  const stdoutLog = fs.createWriteStream(path.join(LOG_DIR, `${name}.stdout.log`), { flags: 'a' });
  const stderrLog = fs.createWriteStream(path.join(LOG_DIR, `${name}.stderr.log`), { flags: 'a' });
  const child = spawn(
    BINARY,
    ['--config', config, 'serve', '--listen', '127.0.0.1:0', '--http-listen', '127.0.0.1:0', '--data-dir', dataDir],
    { cwd: tmp, stdio: ['ignore', 'pipe', 'pipe'], env: { RUST_LOG: 'debug', ...process.env } },
  );
  child.stderr.pipe(stderrLog);
  const info = { child, tmp, dataDir, lines: [], exited: null };
  const exited = once(child, 'exit').then(([code, signal]) => {
    info.exited = { code, signal };
    return info.exited;
  });
  info.exitPromise = exited;

  const ready = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`startup timed out; stdout: ${JSON.stringify(info.lines)}`)), 60_000);
    exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`gatehouse exited during startup (code ${code}, signal ${signal}); stdout: ${JSON.stringify(info.lines)}`));
    });
    readline.createInterface({ input: child.stdout }).on('line', (line) => {
      info.lines.push(line);
      let logged = line;
      let m;
      if ((m = line.match(/^Gatehouse listening on (https:\/\/127\.0\.0\.1:(\d+))$/))) info.base = m[1];
      else if ((m = line.match(/^TLS certificate SHA-256 fingerprint: (SHA256:[0-9a-f]{64})$/))) info.fingerprint = m[1];
      else if ((m = line.match(/^Plain HTTP listener \(never authenticates\): (http:\/\/127\.0\.0\.1:\d+)$/))) info.httpBase = m[1];
      else if ((m = line.match(/^(Bootstrap account created: username=(\S+) password=)(\S+)$/))) {
        // Shown to the operator on stdout by design; keep it out of the captured
        // copy so the log check still catches it anywhere else.
        info.username = m[2];
        info.password = recordSecret(m[3]);
        logged = m[1] + '<redacted-by-test-harness>';
      }
      stdoutLog.write(logged + '\n');
      if (info.base && info.fingerprint && info.httpBase && info.password) {
        clearTimeout(timer);
        resolve(info);
      }
    });
  });
  info.stop = async () => {
    if (info.exited) return info.exited;
    child.kill('SIGTERM');
    const t = setTimeout(() => child.kill('SIGKILL'), 60_000);
    const result = await exited;
    clearTimeout(t);
    await new Promise((r) => stdoutLog.end(r));
    return result;
  };
  return ready;
}

export function httpsGet(url) {
  return new Promise((resolve, reject) => {
    https
      .get(url, { rejectUnauthorized: false }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode));
      })
      .on('error', reject);
  });
}

// GET a path with an API key as HTTP Basic (key as the username, empty password).
export function keyStatus(base, key, pathname = '/api/auth/session') {
  recordSecret(key);
  const auth = 'Basic ' + Buffer.from(key + ':').toString('base64');
  recordSecret(auth);
  return new Promise((resolve, reject) => {
    https
      .get(base + pathname, { rejectUnauthorized: false, headers: { Authorization: auth } }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode));
      })
      .on('error', reject);
  });
}

// GET a path with a bearer token; resolves to { status, body } (body parsed as JSON when it is).
export function bearerGet(base, token, pathname = '/api/auth/session') {
  recordSecret(token);
  const auth = recordSecret('Bearer ' + token);
  return new Promise((resolve, reject) => {
    https
      .get(base + pathname, { rejectUnauthorized: false, headers: { Authorization: auth } }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c) => (text += c));
        res.on('end', () => {
          let body = null;
          try { body = JSON.parse(text); } catch {}
          resolve({ status: res.statusCode, body });
        });
      })
      .on('error', reject);
  });
}

// Run the real CLI with a private config folder and nothing inherited that could pick
// another credential; its output goes to the logs the log check reads.
export function runCli(configHome, args, input) {
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !k.startsWith('GATEHOUSE_') && k !== 'XDG_CONFIG_HOME'),
  );
  env.XDG_CONFIG_HOME = configHome;
  env.NO_COLOR = '1';
  const r = spawnSync(BINARY, args, { env, input: input ?? '', encoding: 'utf8', timeout: 60_000 });
  if (r.error) throw r.error;
  fs.mkdirSync(LOG_DIR, { recursive: true });
  fs.appendFileSync(
    path.join(LOG_DIR, 'browser-cli.stdout.log'),
    `$ gatehouse ${args.join(' ')}\n${r.stdout}`,
  );
  fs.appendFileSync(path.join(LOG_DIR, 'browser-cli.stderr.log'), r.stderr);
  return r;
}

// `gatehouse admin --data-dir <server's data dir> <args…>` against a running server's store.
export function runAdmin(server, args) {
  const r = spawnSync(BINARY, ['admin', '--data-dir', server.dataDir, ...args], {
    cwd: server.tmp, input: '', encoding: 'utf8', timeout: 120_000,
  });
  if (r.error) throw r.error;
  fs.mkdirSync(LOG_DIR, { recursive: true });
  fs.appendFileSync(path.join(LOG_DIR, 'browser-admin-cli.log'),
    `$ gatehouse admin ${args.join(' ')}  (exit ${r.status})\n${r.stdout}${r.stderr}\n`);
  assert.equal(r.status, 0, `gatehouse admin ${args.join(' ')} failed: ${r.stderr}`);
  return r;
}

// A fresh key pair made by the real ssh-keygen: { priv, pub, line, fingerprint, dir }.
// `line` is the .pub file's single line; `fingerprint` is field 2 of `ssh-keygen -lf`.
// The private key's body lines are recorded as secrets (it is pasted once, by mistake).
export function sshKeygen(dir, name, args, comment) {
  const priv = path.join(dir, name);
  const r = spawnSync('ssh-keygen', ['-q', ...args, '-N', '', '-C', comment, '-f', priv], {
    encoding: 'utf8', timeout: 60_000,
  });
  if (r.error) throw r.error;
  assert.equal(r.status, 0, `ssh-keygen ${args.join(' ')} failed: ${r.stderr}`);
  const pub = fs.readFileSync(priv + '.pub', 'utf8');
  const lf = spawnSync('ssh-keygen', ['-lf', priv + '.pub'], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(lf.status, 0, `ssh-keygen -lf failed: ${lf.stderr}`);
  const fingerprint = lf.stdout.trim().split(/\s+/)[1];
  assert.match(fingerprint, /^SHA256:[A-Za-z0-9+/]{43}$/);
  const privText = fs.readFileSync(priv, 'utf8');
  for (const l of privText.split('\n')) {
    if (l && !l.startsWith('-----') && !pub.includes(l)) recordSecret(l);
  }
  return { priv: privText, pub, line: pub.trim(), fingerprint };
}

// GET a path with the browser's session cookie from Node; resolves to { status, body }.
export function cookieGet(base, cookieValue, pathname) {
  recordSecret(cookieValue);
  const cookie = recordSecret(`${COOKIE}=${cookieValue}`);
  return new Promise((resolve, reject) => {
    https
      .get(base + pathname, { rejectUnauthorized: false, headers: { Cookie: cookie } }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c) => (text += c));
        res.on('end', () => {
          let body = null;
          try { body = JSON.parse(text); } catch {}
          resolve({ status: res.statusCode, body });
        });
      })
      .on('error', reject);
  });
}

export async function waitHealthy(base) {
  const deadline = Date.now() + 60_000;
  let last;
  while (Date.now() < deadline) {
    try {
      if ((await httpsGet(base + '/healthz')) === 200) return;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`/healthz never returned 200: ${last}`);
}


// Headless Debian Chromium, as every browser test uses it.
export async function launchBrowser(chromium) {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      '--disable-quic',
    ],
  });
}

// Any HTTPS request from Node: resolves to { status, headers, text, body } (body parsed
// as JSON when it is). Header values are recorded as secrets when they carry credentials.
export function httpsRequest(base, method, pathname, { headers = {}, json } = {}) {
  for (const [k, v] of Object.entries(headers)) {
    if (/^(cookie|authorization|x-csrf-token)$/i.test(k)) recordSecret(v);
  }
  const body = json === undefined ? undefined : JSON.stringify(json);
  const all = { ...headers, ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) };
  return new Promise((resolve, reject) => {
    const req = https.request(base + pathname, { method, rejectUnauthorized: false, headers: all }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (text += c));
      res.on('end', () => {
        let parsed = null;
        try { parsed = JSON.parse(text); } catch {}
        resolve({ status: res.statusCode, headers: res.headers, text, body: parsed });
      });
    });
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

// Runs `action` (a click that loads a new page) and waits until the new document has
// loaded at `pathname`. Unlike waitForURL, it never settles on the page the click
// started from, so it also serves a link that is sent back to the very same address.
export async function clickThrough(page, pathname, action) {
  const landed = page.waitForEvent('framenavigated', { predicate: (f) => f === page.mainFrame() });
  await action();
  await landed;
  await page.waitForLoadState('load');
  assert.equal(new URL(page.url()).pathname, pathname, 'the page the click led to');
}

// Signs in through the page (JavaScript on) and waits for the landing page.
export async function signIn(page, base, password, landing = '/account/authentication/api-keys') {
  await page.fill('input#username', 'admin');
  await page.fill('input#password', password);
  await Promise.all([page.waitForURL((u) => u.pathname === landing), page.click('button#login-submit')]);
}

// ---------------------------------------------------------------- TOTP (RFC 6238)
// The authenticator app of the tests: SHA-1, 30-second steps, 6 digits, computed here
// from the setup key the page shows (grouped base32).

export function base32Decode(text) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  const clean = text.replace(/[\s=-]/g, '').toUpperCase();
  let bits = 0;
  let value = 0;
  const out = [];
  for (const ch of clean) {
    const i = alphabet.indexOf(ch);
    assert.ok(i >= 0, `not base32: ${ch}`);
    value = (value << 5) | i;
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Buffer.from(out);
}

export const totpStep = (at = Date.now()) => Math.floor(at / 1000 / 30);

export function totp(secret, step = totpStep()) {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(step));
  const mac = crypto.createHmac('sha1', base32Decode(secret)).update(counter).digest();
  const offset = mac[mac.length - 1] & 0x0f;
  const n = (mac.readUInt32BE(offset) & 0x7fffffff) % 1_000_000;
  return String(n).padStart(6, '0');
}

// A code the server has not seen yet: a code works once, so when the current step was
// used already, wait for the next one. `app.used` is the last step sent; it is updated.
// The code is taken a second into its step, so it cannot age out on the way.
export async function freshCode(app) {
  for (;;) {
    const now = Date.now();
    const step = totpStep(now);
    const into = now / 1000 - step * 30;
    if (step > (app.used ?? -1) && into >= 1 && into < 27) {
      app.used = step;
      return totp(app.secret, step);
    }
    const wait = step > (app.used ?? -1) && into < 1 ? 1000 - (into * 1000) : (30 - into) * 1000 + 1100;
    await new Promise((r) => setTimeout(r, Math.max(50, wait)));
  }
}

// A 6-digit code that is not the current or the previous step's.
export function wrongCode(secret) {
  const taken = new Set([totp(secret), totp(secret, totpStep() - 1), totp(secret, totpStep() + 1)]);
  for (let n = 123456; ; n = (n + 7919) % 1_000_000) {
    const c = String(n).padStart(6, '0');
    if (!taken.has(c)) return c;
  }
}
