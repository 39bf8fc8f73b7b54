// Browser end-to-end test of the Gatehouse web UI: the real binary, driven
// through Debian's headless Chromium with playwright-core.
//
//   node --test tests/browser/ui.test.mjs
//
// Environment: GATEHOUSE_BIN (default target/debug/gatehouse),
// GATEHOUSE_TEST_ARTIFACTS (default <repo>/test-artifacts),
// CHROMIUM_PATH (default /usr/bin/chromium).

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const BINARY = process.env.GATEHOUSE_BIN ?? path.join(ROOT, 'target', 'debug', 'gatehouse');
const ARTIFACTS = process.env.GATEHOUSE_TEST_ARTIFACTS ?? path.join(ROOT, 'test-artifacts');
const LOG_DIR = path.join(ARTIFACTS, 'logs');
const SHOTS = path.join(ARTIFACTS, 'screenshots');
const SECRETS = path.join(ARTIFACTS, 'secrets.txt');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const COOKIE = 'cloud.sso';
const TIMEOUT = 20_000;

const TABS = [
  ['api-keys', 'API Keys'],
  ['tokens', 'Tokens'],
  ['ssh-keys', 'SSH Keys'],
  ['ssh-private-keys', 'SSH Private Keys'],
  ['2-step-verification', '2-Step Verification'],
];

const recorded = new Set();
function recordSecret(value) {
  assert.ok(value && !/[\r\n]/.test(value), 'a secret must be a non-empty single line');
  if (recorded.has(value)) return value;
  recorded.add(value);
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  fs.appendFileSync(SECRETS, value + '\n');
  return value;
}

// Start `gatehouse serve` on ephemeral ports with a fresh data dir; resolve once
// the startup lines (including the bootstrap password) have been printed.
function startServer(name) {
  fs.mkdirSync(LOG_DIR, { recursive: true });
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'gatehouse-browser-'));
  const dataDir = path.join(tmp, 'data');
  const stdoutLog = fs.createWriteStream(path.join(LOG_DIR, `${name}.stdout.log`), { flags: 'a' });
  const stderrLog = fs.createWriteStream(path.join(LOG_DIR, `${name}.stderr.log`), { flags: 'a' });
  const child = spawn(
    BINARY,
    ['serve', '--listen', '127.0.0.1:0', '--http-listen', '127.0.0.1:0', '--data-dir', dataDir],
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

function httpsGet(url) {
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
function keyStatus(base, key, pathname = '/api/auth/session') {
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
function bearerGet(base, token, pathname = '/api/auth/session') {
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
function runCli(configHome, args, input) {
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
function runAdmin(server, args) {
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
function sshKeygen(dir, name, args, comment) {
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
function cookieGet(base, cookieValue, pathname) {
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

async function waitHealthy(base) {
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

describe('Gatehouse web UI', { concurrency: false }, () => {
  let server;
  let browser;
  let context;
  let page;

  before(async () => {
    fs.mkdirSync(SHOTS, { recursive: true });
    server = await startServer('browser-ui');
    await waitHealthy(server.base);
    browser = await chromium.launch({
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
    context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1280, height: 800 } });
    context.setDefaultTimeout(TIMEOUT);
    page = await context.newPage();
    // Record every credential the page sends or receives, for the log check.
    page.on('request', async (req) => {
      try {
        const h = await req.allHeaders();
        if (h['x-csrf-token']) recordSecret(h['x-csrf-token']);
        if (h['authorization']) recordSecret(h['authorization']);
      } catch {}
    });
    page.on('response', async (res) => {
      try {
        if (new URL(res.url()).pathname === '/api/auth/login' && res.status() === 200) {
          const body = await res.json();
          if (body.csrf_token) recordSecret(body.csrf_token);
        }
      } catch {}
    });
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
    if (server?.tmp) fs.rmSync(server.tmp, { recursive: true, force: true });
    if (server?.sshDir) fs.rmSync(server.sshDir, { recursive: true, force: true });
  });

  test('login page renders', async () => {
    const res = await page.goto(server.base + '/login');
    assert.equal(res.status(), 200);
    await page.locator('form#login-form').waitFor();
    await page.locator('input#username').waitFor();
    assert.equal(await page.locator('input#password').getAttribute('type'), 'password');
    await page.locator('button#login-submit').waitFor();
    await page.screenshot({ path: path.join(SHOTS, 'login.png'), fullPage: true });
  });

  test('a wrong password shows an error and stays on /login', async () => {
    await page.goto(server.base + '/login');
    const wrong = recordSecret('wrong-' + Math.random().toString(36).slice(2) + Date.now().toString(36));
    await page.fill('input#username', 'admin');
    await page.fill('input#password', wrong);
    await page.click('button#login-submit');
    const error = page.locator('#login-error');
    await error.waitFor({ state: 'visible' });
    await page.waitForFunction(() => (document.querySelector('#login-error')?.textContent ?? '').trim().length > 0);
    assert.ok((await error.textContent()).trim().length > 0);
    assert.equal(new URL(page.url()).pathname, '/login');
    const cookies = await context.cookies(server.base);
    assert.ok(!cookies.some((c) => c.name === COOKIE), 'a failed login set a session cookie');
    await page.screenshot({ path: path.join(SHOTS, 'login-error.png'), fullPage: true });
  });

  test('sign in lands on the API Keys tab with a secure session cookie', async () => {
    await page.goto(server.base + '/login');
    await page.fill('input#username', 'admin');
    await page.fill('input#password', server.password);
    await Promise.all([
      page.waitForURL((u) => u.pathname === '/account/authentication/api-keys'),
      page.click('button#login-submit'),
    ]);
    assert.equal(await page.locator('h2#tab-title').textContent().then((t) => t.trim()), 'API Keys');
    assert.equal(await page.locator('a[data-tab="api-keys"]').getAttribute('aria-current'), 'page');
    assert.equal(await page.locator('#current-user').textContent().then((t) => t.trim()), 'admin');

    const cookie = (await context.cookies(server.base)).find((c) => c.name === COOKIE);
    assert.ok(cookie, `no ${COOKIE} cookie after sign-in`);
    recordSecret(cookie.value);
    assert.equal(cookie.secure, true);
    assert.equal(cookie.httpOnly, true);
    assert.equal(cookie.sameSite, 'Lax');
    assert.equal(cookie.path, '/');
    assert.equal(cookie.domain, '127.0.0.1');
    assert.equal(await page.evaluate(() => document.cookie.includes('cloud.sso')), false,
      'the session cookie is readable from JavaScript');
  });

  test('/account redirects to the API Keys tab', async () => {
    await page.goto(server.base + '/account');
    assert.equal(new URL(page.url()).pathname, '/account/authentication/api-keys');
  });

  test('every tab is reachable through the tab nav', async () => {
    for (const [tab, title] of TABS) {
      await Promise.all([
        page.waitForURL((u) => u.pathname === `/account/authentication/${tab}`),
        page.click(`a[data-tab="${tab}"]`),
      ]);
      await page.locator('h2#tab-title').waitFor();
      assert.equal((await page.locator('h2#tab-title').textContent()).trim(), title, `title of ${tab}`);
      for (const [other] of TABS) {
        const current = await page.locator(`a[data-tab="${other}"]`).getAttribute('aria-current');
        assert.equal(current, other === tab ? 'page' : null, `aria-current of ${other} on the ${tab} tab`);
      }
      assert.equal((await page.locator('#current-user').textContent()).trim(), 'admin');
      await page.screenshot({ path: path.join(SHOTS, `${tab}.png`), fullPage: true });
    }
  });

  test('API keys: add a key, see it once, copy it, and use it', async () => {
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: server.base });
    await page.goto(server.base + '/account/authentication/api-keys');
    const options = await page.locator('#api-key-expiration option').evaluateAll((os) => os.map((o) => o.value));
    assert.deepEqual(options, ['none', '7', '30', '60', '90'], 'the default policy offers every expiration');
    await page.fill('#api-key-name', 'browser-key');
    await page.selectOption('#api-key-expiration', '7');
    await page.check('input[name="permission"][value="api_keys:read"]');
    await page.click('#api-key-create');
    await page.locator('#api-key-created').waitFor({ state: 'visible' });
    const key = (await page.locator('#api-key-secret').textContent()).trim();
    recordSecret(key);
    assert.match(key, /^gwk_[0-9A-Za-z]{38}$/);
    assert.match(await page.locator('#api-key-created').textContent(), /cannot be seen again/);
    await page.click('#api-key-copy');
    await page.waitForFunction(() => document.querySelector('#api-key-copy-status').textContent.includes('Copied'));
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), key, 'the copy button copies the key');
    await page.screenshot({ path: path.join(SHOTS, 'api-key-created.png'), fullPage: true });
    assert.equal(await keyStatus(server.base, key), 200, 'the new key authenticates');

    await page.click('#api-key-done');
    await page.locator('#api-keys-table').waitFor();
    assert.ok(!(await page.content()).includes(key), 'the key is not shown again');
    const row = page.locator('tr[data-key-name="browser-key"]');
    assert.match(await row.textContent(), /gwk_/);
    assert.match(await row.locator('.key-status').textContent(), /Enabled/);
    await row.locator('details.key-permissions summary').click();
    assert.match(await row.locator('details.key-permissions').textContent(), /api_keys:read/);
    await page.screenshot({ path: path.join(SHOTS, 'api-keys-table.png'), fullPage: true });
    server.browserKey = key;
  });

  test('API keys: disable, enable and duplicate from the table', async () => {
    const key = server.browserKey;
    assert.ok(key, 'the previous test made a key');
    let row = page.locator('tr[data-key-name="browser-key"]');
    await Promise.all([page.waitForEvent('load'), row.locator('button.key-disable').click()]);
    row = page.locator('tr[data-key-name="browser-key"]');
    assert.match(await row.locator('.key-status').textContent(), /Disabled/);
    assert.equal(await keyStatus(server.base, key), 401, 'a disabled key is refused at once');
    await Promise.all([page.waitForEvent('load'), row.locator('button.key-enable').click()]);
    row = page.locator('tr[data-key-name="browser-key"]');
    assert.match(await row.locator('.key-status').textContent(), /Enabled/);
    assert.equal(await keyStatus(server.base, key), 200);

    await row.locator('button.key-duplicate').click();
    await page.locator('#api-key-created').waitFor({ state: 'visible' });
    const copy = (await page.locator('#api-key-secret').textContent()).trim();
    recordSecret(copy);
    assert.notEqual(copy, key, 'a duplicate has a new secret');
    assert.equal(await keyStatus(server.base, copy), 200);
    await page.click('#api-key-done');
    await page.locator('tr[data-key-name="browser-key (copy)"]').waitFor();
  });

  test('API keys: the delete icon asks for confirmation, then the key stops working', async () => {
    const key = server.browserKey;
    const row = page.locator('tr[data-key-name="browser-key"]');
    await row.locator('button.key-delete').click();
    const dialog = page.locator('dialog#delete-key-dialog');
    await dialog.waitFor({ state: 'visible' });
    assert.match(await dialog.textContent(), /browser-key/);
    await page.screenshot({ path: path.join(SHOTS, 'api-key-delete-dialog.png'), fullPage: true });
    await page.click('#delete-key-cancel');
    await dialog.waitFor({ state: 'hidden' });
    assert.equal(await keyStatus(server.base, key), 200, 'cancel keeps the key');

    await row.locator('button.key-delete').click();
    await dialog.waitFor({ state: 'visible' });
    assert.equal((await page.locator('#delete-key-confirm').textContent()).trim(), 'Delete API Key');
    await Promise.all([page.waitForEvent('load'), page.click('#delete-key-confirm')]);
    await page.locator('h2#tab-title').waitFor();
    assert.equal(await page.locator('tr[data-key-name="browser-key"]').count(), 0);
    assert.equal(await keyStatus(server.base, key), 401, 'a deleted key is refused');
  });

  test('tokens: the tab offers 1 to 24 hours and generates a token shown once', async () => {
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: server.base });
    await page.goto(server.base + '/account/authentication/tokens');
    assert.equal((await page.locator('h2#tab-title').textContent()).trim(), 'Tokens');
    assert.equal(await page.locator('#tab-placeholder').count(), 0, 'the placeholder is gone');
    await page.locator('#tokens-empty').waitFor();
    assert.match(await page.locator('#tokens-empty').textContent(), /no live tokens/);
    assert.match(await page.locator('#tokens-intro').textContent(), /last\s+from 1 to 24 hours/);

    const select = page.locator('#token-expiration');
    assert.equal(await select.isEnabled(), true, 'the default policy lets the user choose');
    const options = await select.locator('option').evaluateAll((os) => os.map((o) => [o.value, o.textContent.trim()]));
    assert.deepEqual(options.map(([v]) => v), Array.from({ length: 24 }, (_, i) => String(i + 1)),
      'exactly 1..24 hours in 1-hour steps');
    assert.equal(options[0][1], '1 hour');
    assert.equal(options[23][1], '24 hours');
    assert.equal(await select.inputValue(), '8', 'the policy default is preselected');
    // The same choices as the API offers.
    const apiOptions = await page.evaluate(async () => (await fetch('/api/tokens/options')).json());
    assert.deepEqual(apiOptions.hours.map(String), options.map(([v]) => v));
    assert.equal(String(apiOptions.default_hours), '8');
    // Labelled controls.
    assert.equal(await page.locator('label[for="token-name"]').count(), 1);
    assert.equal(await page.locator('label[for="token-expiration"]').count(), 1);
    await page.screenshot({ path: path.join(SHOTS, 'tokens-tab.png'), fullPage: true });

    await page.fill('#token-name', 'cli');
    await page.selectOption('#token-expiration', '2');
    const before = Date.now();
    await page.click('#token-create');
    const panel = page.locator('#token-created');
    await panel.waitFor({ state: 'visible' });
    assert.equal(await page.locator('#token-form').isVisible(), false, 'the form is hidden while the token is shown');
    const field = page.locator('#token-secret');
    const token = recordSecret(await field.inputValue());
    assert.match(token, /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/, 'a JWT: three base64url parts');
    assert.equal(await field.getAttribute('readonly'), '', 'the token field is read-only');
    assert.match(await field.evaluate((el) => getComputedStyle(el).fontFamily), /mono/i);
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'token-secret', 'focus moves to the token');
    const text = await panel.textContent();
    assert.match(text, /will not be shown again/);
    assert.match(text, new RegExp(`gatehouse login --server ${server.base.replace(/[.]/g, '\\.')}`));
    assert.ok(text.includes(`curl -H "Authorization: Bearer $TOKEN" ${server.base}/api/auth/session`), 'the curl hint');
    const expiresAt = Date.parse(await page.locator('#token-expires').getAttribute('datetime'));
    const twoHours = 2 * 3600_000;
    assert.ok(expiresAt >= before + twoHours - 120_000 && expiresAt <= Date.now() + twoHours + 120_000,
      `expires about 2 hours from now, got ${new Date(expiresAt).toISOString()}`);
    assert.match(await page.locator('#token-expires').textContent(), /^\d{4}-\d\d-\d\d \d\d:\d\d UTC$/);

    await page.click('#token-copy');
    await page.waitForFunction(() => document.querySelector('#token-copy-status').textContent.includes('Copied'));
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), token, 'the copy button copies the token');
    await page.screenshot({ path: path.join(SHOTS, 'token-created.png'), fullPage: true });

    await Promise.all([page.waitForEvent('load'), page.click('#token-done')]);
    await page.locator('#tokens-table').waitFor();
    assert.ok(!(await page.content()).includes(token), 'the token is not in the page after reload');
    assert.equal(await page.locator('#token-created').isVisible(), false);
    assert.equal(await page.locator('#token-secret').inputValue(), '');
    await page.reload();
    await page.locator('#tokens-table').waitFor();
    assert.ok(!(await page.content()).includes(token), 'the token is not shown again');
    const row = page.locator('tr[data-token-name="cli"]');
    assert.equal(await row.count(), 1, 'the new token is listed');
    assert.match(await row.locator('.token-expires').textContent(), /^\d{4}-\d\d-\d\d \d\d:\d\d UTC$/);
    await row.locator('details.token-scopes summary').click();
    assert.match(await row.locator('details.token-scopes').textContent(), /tokens:write/);
    assert.equal(await page.locator('#tokens-empty').count(), 0);
    await page.screenshot({ path: path.join(SHOTS, 'tokens-table.png'), fullPage: true });
    server.webToken = token;
  });

  test('tokens: the web token authenticates as a bearer token', async () => {
    const token = server.webToken;
    assert.ok(token, 'the previous test made a token');
    const { status, body } = await bearerGet(server.base, token);
    assert.equal(status, 200);
    assert.equal(body.auth_method, 'bearer');
    assert.equal(body.user.username, server.username);
    const id = await page.locator('tr[data-token-name="cli"]').getAttribute('data-token-id');
    assert.equal(body.token.id, id, 'the session names the listed token');
  });

  test('tokens: the CLI logs in with the token made in the web UI', async () => {
    const token = server.webToken;
    const configHome = fs.mkdtempSync(path.join(os.tmpdir(), 'gatehouse-cli-'));
    try {
      const login = runCli(configHome, ['login', '--server', server.base, '--fingerprint', server.fingerprint], token + '\n');
      assert.equal(login.status, 0, `gatehouse login failed: ${login.stderr}`);
      assert.match(login.stdout, /as admin \(bearer\)/);
      const creds = path.join(configHome, 'gatehouse', 'credentials.toml');
      assert.ok(fs.existsSync(creds), 'login stored the credentials');
      assert.equal(fs.statSync(creds).mode & 0o777, 0o600, 'the credentials file is private');

      const who = runCli(configHome, ['auth', 'session']);
      assert.equal(who.status, 0, `gatehouse auth session failed: ${who.stderr}`);
      assert.match(who.stdout, new RegExp(`^user:\\s+${server.username} `, 'm'));
      assert.match(who.stdout, /^auth method:\s+bearer$/m);
      assert.ok(!who.stdout.includes(token) && !login.stdout.includes(token), 'the CLI never prints the token');

      const out = runCli(configHome, ['logout']);
      assert.equal(out.status, 0, `gatehouse logout failed: ${out.stderr}`);
      assert.equal(fs.existsSync(creds), false, 'logout removed the credentials file');
    } finally {
      fs.rmSync(configHome, { recursive: true, force: true });
    }
    assert.equal((await bearerGet(server.base, token)).status, 200, 'logout does not revoke the token');
  });

  test('tokens: revoke asks for confirmation, then the token stops working', async () => {
    const token = server.webToken;
    await page.goto(server.base + '/account/authentication/tokens');
    const row = page.locator('tr[data-token-name="cli"]');
    const revoke = row.locator('button.token-revoke');
    assert.match(await revoke.getAttribute('aria-label'), /^Revoke token cli /);
    await revoke.click();
    const dialog = page.locator('dialog#revoke-token-dialog');
    await dialog.waitFor({ state: 'visible' });
    assert.match(await dialog.textContent(), /cli/);
    assert.match(await dialog.textContent(), /stops working immediately/);
    await page.screenshot({ path: path.join(SHOTS, 'token-revoke-dialog.png'), fullPage: true });
    await page.click('#revoke-token-cancel');
    await dialog.waitFor({ state: 'hidden' });
    assert.equal(await row.count(), 1, 'cancel keeps the row');
    assert.equal((await bearerGet(server.base, token)).status, 200, 'cancel keeps the token');

    await revoke.click();
    await dialog.waitFor({ state: 'visible' });
    assert.equal((await page.locator('#revoke-token-confirm').textContent()).trim(), 'Revoke Token');
    await Promise.all([page.waitForEvent('load'), page.click('#revoke-token-confirm')]);
    await page.locator('h2#tab-title').waitFor();
    assert.equal(await page.locator('tr[data-token-name="cli"]').count(), 0, 'the row is gone');
    await page.locator('#tokens-empty').waitFor();
    assert.equal((await bearerGet(server.base, token)).status, 401, 'a revoked token is refused at once');
  });

  test('tokens: the organisation policy limits the lifetimes offered', async () => {
    const hoursOffered = () => page.locator('#token-expiration option').evaluateAll((os) => os.map((o) => o.value));
    try {
      runAdmin(server, ['policy', '--token-max-hours', '12', '--token-default-hours', '4']);
      await page.goto(server.base + '/account/authentication/tokens');
      assert.deepEqual(await hoursOffered(), Array.from({ length: 12 }, (_, i) => String(i + 1)));
      assert.equal(await page.locator('#token-expiration').inputValue(), '4');
      assert.equal(await page.locator('#token-expiration').isEnabled(), true);

      // The policy tightens while the page is open: the server's message is shown.
      await page.selectOption('#token-expiration', '12');
      runAdmin(server, ['policy', '--token-max-hours', '3', '--token-default-hours', '2']);
      await page.click('#token-create');
      await page.waitForFunction(() => (document.querySelector('#tokens-error')?.textContent ?? '').trim().length > 0);
      assert.match(await page.locator('#tokens-error').textContent(), /3/, 'the message names the limit');
      assert.equal(await page.locator('#token-created').isVisible(), false);
      assert.equal(await page.locator('#token-create').isEnabled(), true, 'the button is usable again');

      // One imposed lifetime: shown, but not choosable.
      runAdmin(server, ['policy', '--token-user-choice', 'false', '--token-default-hours', '3']);
      await page.goto(server.base + '/account/authentication/tokens');
      assert.deepEqual(await hoursOffered(), ['3']);
      assert.equal(await page.locator('#token-expiration').isDisabled(), true);
      assert.match(await page.locator('#token-expiration-note').textContent(), /organisation sets/);
      assert.match(await page.locator('#tokens-intro').textContent(), /last\s+3 hours and/);
      await page.screenshot({ path: path.join(SHOTS, 'tokens-policy-fixed.png'), fullPage: true });
      const before = Date.now();
      await page.click('#token-create');
      await page.locator('#token-created').waitFor({ state: 'visible' });
      const token = recordSecret(await page.locator('#token-secret').inputValue());
      const expiresAt = Date.parse(await page.locator('#token-expires').getAttribute('datetime'));
      assert.ok(Math.abs(expiresAt - (before + 3 * 3600_000)) < 120_000, 'the imposed 3 hours apply');
      // Leaving and coming back (back/forward cache or not) does not bring it back.
      await Promise.all([
        page.waitForURL((u) => u.pathname === '/account/authentication/ssh-keys'),
        page.click('a[data-tab="ssh-keys"]'),
      ]);
      await page.goBack();
      await page.locator('#token-form').waitFor({ state: 'visible' });
      assert.equal(await page.locator('#token-secret').inputValue(), '', 'the token is gone after Back');
      assert.ok(!(await page.content()).includes(token));
      await page.reload();
      const row = page.locator('tr[data-token-name="token"]');
      assert.equal(await row.count(), 1, 'an unnamed token is listed as "token"');
      assert.equal((await bearerGet(server.base, token)).status, 200);
    } finally {
      runAdmin(server, ['policy', '--token-user-choice', 'true', '--token-max-hours', '24', '--token-default-hours', '8']);
    }
  });

  test('SSH keys: add real ssh-keygen keys through the form; the table shows their fingerprints', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gatehouse-ssh-'));
    server.sshDir = dir;
    const ed = sshKeygen(dir, 'id_ed25519', ['-t', 'ed25519'], 'alice@laptop');
    const ec = sshKeygen(dir, 'id_ecdsa', ['-t', 'ecdsa', '-b', '256'], 'alice@desktop');
    server.ssh = { ed, ec };

    await page.goto(server.base + '/account/authentication/ssh-keys');
    assert.equal((await page.locator('h2#tab-title').textContent()).trim(), 'SSH Keys');
    assert.equal(await page.locator('#tab-placeholder').count(), 0, 'the placeholder is gone');
    await page.locator('#ssh-keys-empty').waitFor();
    assert.match(await page.locator('#ssh-keys-empty').textContent(), /no SSH keys/);
    assert.equal(await page.locator('#ssh-keys-table').count(), 0);
    // The form: labelled, a monospace key field with the supported types, and how to get a key.
    assert.equal(await page.locator('label[for="ssh-key-name"]').count(), 1);
    assert.equal(await page.locator('label[for="ssh-key-text"]').count(), 1);
    const textarea = page.locator('textarea#ssh-key-text');
    assert.equal(await textarea.getAttribute('placeholder'),
      'Begins with ssh-ed25519, ecdsa-sha2-nistp256, ssh-rsa, sk-ssh-ed25519@openssh.com…');
    assert.match(await textarea.evaluate((el) => getComputedStyle(el).fontFamily), /mono/i);
    const hint = await page.locator('#ssh-key-hint').textContent();
    assert.match(hint, /ssh-keygen -t ed25519/);
    assert.match(hint, /~\/\.ssh\/id_ed25519\.pub/);
    // How to use it, with the real username.
    assert.equal((await page.locator('#ssh-keys-usage-command').textContent()).trim(),
      `ssh -i ~/.ssh/id_ed25519 ${server.username}@<cluster>`);
    assert.match(await page.locator('#ssh-keys-usage').textContent(), /Log in to clusters with/);
    await page.screenshot({ path: path.join(SHOTS, 'ssh-keys-empty.png'), fullPage: true });

    const before = Date.now();
    for (const [name, key] of [['laptop', ed], ['desktop', ec]]) {
      await page.fill('#ssh-key-name', name);
      await page.fill('#ssh-key-text', key.pub); // the whole file, trailing newline included
      const [res] = await Promise.all([
        page.waitForResponse((r) => new URL(r.url()).pathname === '/api/ssh-keys' && r.request().method() === 'POST'),
        page.waitForEvent('load'),
        page.click('#ssh-key-add'),
      ]);
      assert.equal(res.status(), 201, `adding ${name}`);
      await page.locator(`tr[data-ssh-key-name="${name}"]`).waitFor();
    }
    assert.equal(await page.locator('#ssh-keys-empty').count(), 0);
    assert.equal(await page.locator('#ssh-keys-table tbody tr').count(), 2);

    const listed = await page.evaluate(async () => (await fetch('/api/ssh-keys')).json());
    assert.equal(listed.length, 2);
    for (const [name, key, type] of [['laptop', ed, 'ssh-ed25519'], ['desktop', ec, 'ecdsa-sha2-nistp256']]) {
      const row = page.locator(`tr[data-ssh-key-name="${name}"]`);
      assert.equal((await row.locator('.ssh-key-label').textContent()).trim(), name);
      assert.equal((await row.locator('.ssh-key-comment').textContent()).trim(), key.line.split(' ')[2]);
      const typeCell = (await row.locator('.ssh-key-type').textContent()).trim().replace(/\s+/g, ' ');
      assert.equal(typeCell, `${type} 256 bits`);
      const fp = row.locator('.ssh-key-fingerprint code');
      assert.equal((await fp.textContent()).trim(), key.fingerprint, `${name}: the fingerprint ssh-keygen -lf prints`);
      assert.match(await fp.evaluate((el) => getComputedStyle(el).fontFamily), /mono/i);
      // The date added: the API's created_at, to the minute, and just now.
      const api = listed.find((k) => k.name === name);
      assert.ok(api, `${name} is listed by the API`);
      assert.equal(api.fingerprint, key.fingerprint);
      const created = Date.parse(api.created_at);
      assert.ok(created >= before - 120_000 && created <= Date.now() + 120_000, `${name} was added just now`);
      const shown = (await row.locator('.ssh-key-added').textContent()).trim();
      assert.equal(shown, new Date(created).toISOString().slice(0, 16).replace('T', ' ') + ' UTC');
      assert.equal(await row.getAttribute('data-ssh-key-id'), api.id);
      assert.equal(await row.locator('button.ssh-key-copy').getAttribute('aria-label'), `Copy the public key ${name}`);
      assert.equal(await row.locator('button.ssh-key-delete').getAttribute('aria-label'), `Delete SSH key ${name}`);
    }
    assert.equal(await page.locator('#ssh-keys-error').textContent(), '');
    await page.screenshot({ path: path.join(SHOTS, 'ssh-keys-table.png'), fullPage: true });
  });

  test('SSH keys: the clipboard button copies the public key line', async () => {
    const { ed, ec } = server.ssh;
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: server.base });
    for (const [name, key] of [['laptop', ed], ['desktop', ec]]) {
      const row = page.locator(`tr[data-ssh-key-name="${name}"]`);
      await page.evaluate(() => navigator.clipboard.writeText('-'));
      await row.locator('button.ssh-key-copy').click();
      await row.locator('.ssh-key-copy-status', { hasText: 'Copied' }).waitFor();
      const copied = await page.evaluate(() => navigator.clipboard.readText());
      assert.deepEqual(copied.split(' ').slice(0, 2), key.line.split(' ').slice(0, 2), `${name}: type and key`);
      assert.equal(copied, key.line, `${name}: the whole .pub line, comment included`);
      assert.ok(!/[\r\n]/.test(copied), 'a single line');
      const id = await row.getAttribute('data-ssh-key-id');
      const one = await page.evaluate(async (id) => (await fetch('/api/ssh-keys/' + id)).json(), id);
      assert.equal(copied, one.public_key, 'the line GET /api/ssh-keys/{id} gives');
    }
  });

  test('SSH keys: refused keys show the server\'s message and add nothing', async () => {
    const { ed } = server.ssh;
    const fresh = sshKeygen(server.sshDir, 'id_ed25519_2', ['-t', 'ed25519'], 'alice@spare');
    const cases = [
      ['a private key', 'private', ed.priv, 422, 'this is a private key; paste the contents of the .pub file'],
      ['the same key again', 'laptop again', ed.pub, 409, 'this SSH key is already on your account'],
      ['a name already used', 'laptop', fresh.pub, 409, 'you already have an SSH key with that name'],
      ['authorized_keys options', 'forced', `command="echo hi" ${fresh.line}`, 422,
        'authorized_keys options such as command="...", from="..." or no-pty are not allowed'],
    ];
    for (const [what, name, text, status, message] of cases) {
      await page.fill('#ssh-key-name', name);
      await page.fill('#ssh-key-text', text);
      const [res] = await Promise.all([
        page.waitForResponse((r) => new URL(r.url()).pathname === '/api/ssh-keys' && r.request().method() === 'POST'),
        page.click('#ssh-key-add'),
      ]);
      assert.equal(res.status(), status, what);
      await page.waitForFunction((m) => document.querySelector('#ssh-keys-error').textContent.includes(m), message);
      const shown = (await page.locator('#ssh-keys-error').textContent()).trim();
      assert.ok(shown.startsWith(message), `${what}: ${shown}`);
      assert.equal(await page.locator('#ssh-key-add').isEnabled(), true);
      assert.equal(await page.locator('#ssh-key-text').inputValue(), text, 'the paste stays to be fixed');
      const invalid = /name/.test(message) ? '#ssh-key-name' : '#ssh-key-text';
      assert.equal(await page.locator(invalid).getAttribute('aria-invalid'), 'true', `${what}: the field is marked`);
      if (what === 'authorized_keys options') {
        // (Not the private-key case: no private key material in the artifacts.)
        await page.screenshot({ path: path.join(SHOTS, 'ssh-key-error.png'), fullPage: true });
      }
      assert.equal(await page.locator('#ssh-keys-table tbody tr').count(), 2, `${what}: no row added`);
      const listed = await page.evaluate(async () => (await fetch('/api/ssh-keys')).json());
      assert.deepEqual(listed.map((k) => k.name).sort(), ['desktop', 'laptop'], `${what}: nothing added`);
    }
    assert.ok(!(await page.content()).includes(ed.priv.split('\n')[2]), 'the private key is not echoed');
    await page.reload();
    assert.equal(await page.locator('#ssh-keys-table tbody tr').count(), 2);
    assert.equal(await page.locator('#ssh-keys-error').textContent(), '');
  });

  test('SSH keys: the delete icon asks for confirmation, then the key is gone', async () => {
    const { ec } = server.ssh;
    const cookie = (await context.cookies(server.base)).find((c) => c.name === COOKIE);
    assert.ok(cookie, 'signed in');
    const names = async () => {
      const { status, body } = await cookieGet(server.base, cookie.value, '/api/ssh-keys');
      assert.equal(status, 200);
      return body.map((k) => k.name).sort();
    };
    assert.deepEqual(await names(), ['desktop', 'laptop']);

    const row = page.locator('tr[data-ssh-key-name="desktop"]');
    const del = page.getByRole('button', { name: 'Delete SSH key desktop' });
    await del.click();
    const dialog = page.locator('dialog#delete-ssh-key-dialog');
    await dialog.waitFor({ state: 'visible' });
    const text = await dialog.textContent();
    assert.match(text, /desktop/);
    assert.ok(text.includes(ec.fingerprint), 'the dialog names the fingerprint');
    await page.screenshot({ path: path.join(SHOTS, 'ssh-key-delete-dialog.png'), fullPage: true });
    await page.click('#delete-ssh-key-cancel');
    await dialog.waitFor({ state: 'hidden' });
    assert.equal(await row.count(), 1, 'cancel keeps the row');
    assert.deepEqual(await names(), ['desktop', 'laptop'], 'cancel keeps the key');

    await del.click();
    await dialog.waitFor({ state: 'visible' });
    assert.equal((await page.locator('#delete-ssh-key-confirm').textContent()).trim(), 'Delete SSH Key');
    await Promise.all([page.waitForEvent('load'), page.click('#delete-ssh-key-confirm')]);
    await page.locator('h2#tab-title').waitFor();
    assert.equal(await page.locator('tr[data-ssh-key-name="desktop"]').count(), 0, 'the row is gone');
    assert.equal(await page.locator('tr[data-ssh-key-name="laptop"]').count(), 1, 'the other key stays');
    assert.deepEqual(await names(), ['laptop'], 'GET /api/ssh-keys no longer lists it');

    // The last one: the empty state comes back.
    await page.getByRole('button', { name: 'Delete SSH key laptop' }).click();
    await dialog.waitFor({ state: 'visible' });
    await Promise.all([page.waitForEvent('load'), page.click('#delete-ssh-key-confirm')]);
    await page.locator('#ssh-keys-empty').waitFor();
    assert.equal(await page.locator('#ssh-keys-table').count(), 0);
    assert.deepEqual(await names(), []);
    fs.rmSync(server.sshDir, { recursive: true, force: true });
  });

  test('sign out lands on /login and the account pages are closed again', async () => {
    const before = (await context.cookies(server.base)).find((c) => c.name === COOKIE);
    assert.ok(before, 'not signed in');
    await Promise.all([
      page.waitForURL((u) => u.pathname === '/login'),
      page.click('button#sign-out'),
    ]);
    await page.locator('form#login-form').waitFor();
    await page.goto(server.base + '/account/authentication/api-keys');
    assert.equal(new URL(page.url()).pathname, '/login');

    // The old cookie value is dead on the server, not just deleted in the browser.
    const replay = await browser.newContext({ ignoreHTTPSErrors: true });
    try {
      await replay.addCookies([{ ...before, expires: -1 }]);
      const res = await replay.request.get(server.base + '/api/auth/session', { maxRedirects: 0 });
      assert.equal(res.status(), 401, 'the session survived sign-out');
    } finally {
      await replay.close();
    }
  });

  test('the server exits 0 on SIGTERM', async () => {
    await browser.close();
    browser = null;
    const { code, signal } = await server.stop();
    assert.equal(signal, null);
    assert.equal(code, 0);
  });
});
