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
import { spawn } from 'node:child_process';
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
  const info = { child, tmp, lines: [], exited: null };
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
