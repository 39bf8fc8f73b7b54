// Browser end-to-end test of the Gatehouse web UI: the real binary, driven
// through Debian's headless Chromium with playwright-core, at 390 px (a phone) and
// 1280 px (a laptop). Every page and dialog is checked for sideways scrolling and
// unreachable buttons, and screenshotted into test-artifacts/screenshots/.
//
//   node --test tests/browser/ui.test.mjs
//
// Environment: GATEHOUSE_BIN (default target/debug/gatehouse),
// GATEHOUSE_TEST_ARTIFACTS (default <repo>/test-artifacts),
// CHROMIUM_PATH (default /usr/bin/chromium).
//
// The tabs' tests live in parts/ (one file per tab, as the UI has, and admin.mjs with
// admin-keys.mjs for the admin panel); this file starts the server and the browser and
// holds sign-in, session, 404 and password tests.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { chromium } from 'playwright-core';
import {
  COOKIE, SHOTS, TABS, TIMEOUT, httpsRequest, keyStatus, launchBrowser, recordSecret, signIn, startServer, waitHealthy,
} from './support.mjs';
import { WIDTHS, assertFits, shot } from './layout.mjs';
import { apiKeyTests } from './parts/api-keys.mjs';
import { tokenTests } from './parts/tokens.mjs';
import { sshKeyTests } from './parts/ssh-keys.mjs';
import { sshPrivateKeyTests } from './parts/ssh-private-keys.mjs';
import { twoStepTests } from './parts/two-step.mjs';
import { securityKeyTests } from './parts/security-keys.mjs';
import { adminTests } from './parts/admin.mjs';

describe('Gatehouse web UI', { concurrency: false }, () => {
  // Shared with the parts: filled in by before().
  const cx = {};

  before(async () => {
    // What the parts started (an sshd, temporary folders), undone after the last test
    // even when one failed.
    cx.cleanups = [];
    fs.mkdirSync(SHOTS, { recursive: true });
    cx.server = await startServer('browser-ui');
    await waitHealthy(cx.server.base);
    cx.browser = await launchBrowser(chromium);
    cx.context = await cx.browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1280, height: 800 } });
    cx.context.setDefaultTimeout(TIMEOUT);
    cx.page = await cx.context.newPage();
    cx.errors = [];
    cx.page.on('pageerror', (e) => cx.errors.push(e.message));
    // Record every credential the page sends or receives, for the log check.
    cx.page.on('request', async (req) => {
      try {
        const h = await req.allHeaders();
        if (h['x-csrf-token']) recordSecret(h['x-csrf-token']);
        if (h['authorization']) recordSecret(h['authorization']);
      } catch {}
    });
    cx.page.on('response', async (res) => {
      try {
        if (new URL(res.url()).pathname === '/api/auth/login' && res.status() === 200) {
          const body = await res.json();
          if (body.csrf_token) recordSecret(body.csrf_token);
        }
      } catch {}
    });
    // Each width in turn, then back to the laptop.
    cx.atWidths = async (fn) => {
      try {
        for (const w of WIDTHS) {
          await cx.page.setViewportSize({ width: w, height: w < 600 ? 844 : 800 });
          await fn(w);
        }
      } finally {
        await cx.page.setViewportSize({ width: 1280, height: 800 });
      }
    };
    cx.cookie = async () => (await cx.context.cookies(cx.server.base)).find((c) => c.name === COOKIE);
  });

  after(async () => {
    for (const undo of (cx.cleanups ?? []).reverse()) {
      try { await undo(); } catch (e) { console.error('cleanup failed:', e); }
    }
    await cx.browser?.close();
    await cx.server?.stop();
    if (cx.server?.tmp) fs.rmSync(cx.server.tmp, { recursive: true, force: true });
    if (cx.server?.sshDir) fs.rmSync(cx.server.sshDir, { recursive: true, force: true });
  });

  test('the sign-in page is a real form post and fits at every width', async () => {
    const { page, server } = cx;
    const res = await page.goto(server.base + '/login');
    assert.equal(res.status(), 200);
    const form = page.locator('form#login-form');
    assert.equal(await form.getAttribute('method'), 'post');
    assert.equal(await form.getAttribute('action'), '/api/auth/login');
    assert.equal(await page.locator('input#username').getAttribute('name'), 'username');
    assert.equal(await page.locator('input#password').getAttribute('name'), 'password');
    assert.equal(await page.locator('input#password').getAttribute('type'), 'password');
    assert.equal(await page.locator('input[type=hidden][name=next]').count(), 1);
    await cx.atWidths(async (w) => {
      await page.goto(server.base + '/login');
      await assertFits(page, 'the sign-in page');
      await shot(page, `login-${w}`);
    });
    await shot(page, 'login');
  });

  test('without JavaScript, signing in posts the form and returns to next', async () => {
    const { browser, server } = cx;
    const ctx = await browser.newContext({ ignoreHTTPSErrors: true, javaScriptEnabled: false, viewport: { width: 390, height: 844 } });
    try {
      const page = await ctx.newPage();
      await page.goto(server.base + '/login?next=/account/authentication/tokens');
      assert.equal(await page.locator('input[name=next]').inputValue(), '/account/authentication/tokens');
      const wrong = recordSecret('wrong-' + Math.random().toString(36).slice(2) + Date.now().toString(36));
      await page.fill('#username', 'admin');
      await page.fill('#password', wrong);
      await Promise.all([page.waitForURL((u) => u.pathname === '/login'), page.click('#login-submit')]);
      const url = new URL(page.url());
      assert.ok(url.searchParams.get('error'), 'the server says why in ?error=');
      assert.match(await page.locator('#login-error').textContent(), /username or password is incorrect/);
      await assertFits(page, 'the sign-in error page');
      await shot(page, 'login-error-390');
      assert.ok(!(await ctx.cookies(server.base)).some((c) => c.name === COOKIE), 'no cookie after a failure');

      await page.goto(server.base + '/login?next=/account/authentication/tokens');
      await page.fill('#username', 'admin');
      await page.fill('#password', server.password);
      await Promise.all([
        page.waitForURL((u) => u.pathname === '/account/authentication/tokens'),
        page.click('#login-submit'),
      ]);
      assert.equal((await page.locator('h2#tab-title').textContent()).trim(), 'Tokens');
      const cookie = (await ctx.cookies(server.base)).find((c) => c.name === COOKIE);
      assert.ok(cookie?.httpOnly && cookie.secure, 'a secure session cookie');
      recordSecret(cookie.value);
    } finally {
      await ctx.close();
    }
  });

  test('a wrong password shows an error and stays on /login', async () => {
    const { page, context } = cx;
    await page.goto(cx.server.base + '/login');
    const wrong = recordSecret('wrong-' + Math.random().toString(36).slice(2) + Date.now().toString(36));
    await page.fill('input#username', 'admin');
    await page.fill('input#password', wrong);
    await page.click('button#login-submit');
    await page.waitForFunction(() => (document.querySelector('#login-error')?.textContent ?? '').trim().length > 0);
    assert.match(await page.locator('#login-error').textContent(), /incorrect/);
    assert.equal(new URL(page.url()).pathname, '/login');
    assert.ok(!(await context.cookies(cx.server.base)).some((c) => c.name === COOKIE), 'a failed login set a cookie');
    await shot(page, 'login-error');
  });

  test('next= never leaves the site', async () => {
    const { page, server } = cx;
    for (const evil of ['//evil.example/', 'https://evil.example/', '/\\evil.example', '/\t/evil.example', 'https:evil.example']) {
      await page.goto(server.base + '/login?next=' + encodeURIComponent(evil));
      assert.equal(await page.locator('input[name=next]').inputValue(), '', `${evil} is dropped`);
    }
    await page.goto(server.base + '/login?next=' + encodeURIComponent('//evil.example/'));
    await signIn(page, server.base, server.password);
    assert.equal(new URL(page.url()).origin, server.base);
  });

  test('sign in lands on the API Keys tab with a secure session cookie', async () => {
    const { page, context, server } = cx;
    await context.clearCookies();
    await page.goto(server.base + '/login');
    await signIn(page, server.base, server.password);
    assert.equal((await page.locator('h2#tab-title').textContent()).trim(), 'API Keys');
    assert.equal(await page.locator('a[data-tab="api-keys"]').getAttribute('aria-current'), 'page');
    assert.equal((await page.locator('#current-user').textContent()).trim(), 'admin');
    const cookie = await cx.cookie();
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
    await cx.page.goto(cx.server.base + '/account');
    assert.equal(new URL(cx.page.url()).pathname, '/account/authentication/api-keys');
  });

  test('every tab is reachable through the tab nav and loads only its own script', async () => {
    const { page, server } = cx;
    for (const [tab, , heading] of TABS) {
      await Promise.all([
        page.waitForURL((u) => u.pathname === `/account/authentication/${tab}`),
        page.click(`a[data-tab="${tab}"]`),
      ]);
      assert.equal((await page.locator('h2#tab-title').textContent()).trim(), heading, `heading of ${tab}`);
      for (const [other] of TABS) {
        const current = await page.locator(`a[data-tab="${other}"]`).getAttribute('aria-current');
        assert.equal(current, other === tab ? 'page' : null, `aria-current of ${other} on the ${tab} tab`);
      }
      const scripts = await page.locator('script[src]').evaluateAll((s) => s.map((e) => e.getAttribute('src')));
      assert.deepEqual(scripts, ['/static/app.js', `/static/tabs/${tab}.js`]);
      const js = await page.request.get(server.base + `/static/tabs/${tab}.js`);
      assert.equal(js.status(), 200);
      assert.match(js.headers()['content-type'], /^text\/javascript/);
    }
    assert.deepEqual(cx.errors, [], 'no script errors');
  });

  test('a wrong URL shows an HTML 404 page to a browser, JSON to the API and to API clients', async () => {
    const { page, server } = cx;
    for (const path of ['/account/nope', '/account/authentication/nope', '/account/authentication/tokens/extra', '/nope']) {
      const res = await page.goto(server.base + path);
      assert.equal(res.status(), 404, path);
      const h = res.headers();
      assert.match(h['content-type'], /^text\/html/, path);
      assert.match(h['content-security-policy'], /frame-ancestors 'none'/, path);
      assert.equal(h['x-content-type-options'], 'nosniff', path);
      assert.match(h['strict-transport-security'], /max-age=/, path);
      assert.equal((await page.locator('h1').textContent()).trim(), 'Page not found', path);
    }
    await cx.atWidths(async (w) => {
      await page.goto(server.base + '/account/nope');
      await assertFits(page, 'the 404 page');
      await shot(page, `404-${w}`);
    });
    await Promise.all([page.waitForURL((u) => u.pathname === '/account/authentication/api-keys'), page.click('#not-found-home')]);
    for (const [path, accept] of [['/api/nope', 'text/html'], ['/account/nope', '*/*'], ['/account/nope', 'application/json']]) {
      const res = await httpsRequest(server.base, 'GET', path, { headers: { Accept: accept } });
      assert.equal(res.status, 404, `${path} (${accept})`);
      assert.match(res.headers['content-type'], /^application\/json/, `${path} (${accept})`);
      assert.equal(res.body.error, 'not_found');
    }
  });

  apiKeyTests(test, cx);
  tokenTests(test, cx);
  sshKeyTests(test, cx);
  sshPrivateKeyTests(test, cx);
  twoStepTests(test, cx);
  securityKeyTests(test, cx);
  adminTests(test, cx);

  test('every tab fits at 390 and 1280 px with its lists filled', async () => {
    const { page, server } = cx;
    // The widest API key row: one with a last use and its address.
    assert.equal(await keyStatus(server.base, server.narrowKey), 200);
    await page.goto(server.base + '/account/authentication/api-keys');
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline) {
      const keys = await page.evaluate(async () => (await fetch('/api/api-keys')).json());
      if (keys.find((k) => k.name === 'browser-key narrowed')?.last_used_ip) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    await cx.atWidths(async (w) => {
      for (const [tab] of TABS) {
        await page.goto(server.base + `/account/authentication/${tab}`);
        await assertFits(page, `the ${tab} tab`);
        await shot(page, `${tab}-${w}`);
        if (w === 1280) await shot(page, tab);
      }
    });
  });

  test('when the session ends under an open page, an action goes to sign-in and back', async () => {
    const { page, server } = cx;
    await page.goto(server.base + '/account/authentication/tokens');
    const cookie = await cx.cookie();
    const csrf = await page.locator('meta[name=csrf-token]').getAttribute('content');
    // Signed out elsewhere: the browser keeps a cookie the server no longer knows.
    const out = await httpsRequest(server.base, 'POST', '/api/auth/logout', {
      headers: { Cookie: `${COOKIE}=${cookie.value}`, 'X-CSRF-Token': csrf },
    });
    assert.equal(out.status, 204);
    await page.click('#token-add-open');
    await page.fill('#token-name', 'after-the-end');
    await Promise.all([page.waitForURL((u) => u.pathname === '/login'), page.click('#token-create')]);
    assert.equal(new URL(page.url()).searchParams.get('next'), '/account/authentication/tokens');
    assert.equal(await page.locator('#login-error').textContent(), '', 'no "a valid credential is required"');
    await signIn(page, server.base, server.password, '/account/authentication/tokens');
    assert.equal(await page.locator('tr[data-token-name="after-the-end"]').count(), 0, 'nothing was made');

    // A page load (a tab link) without a session does the same.
    await cx.context.clearCookies();
    await Promise.all([page.waitForURL((u) => u.pathname === '/login'), page.click('a[data-tab="ssh-keys"]')]);
    assert.equal(new URL(page.url()).searchParams.get('next'), '/account/authentication/ssh-keys');
    await signIn(page, server.base, server.password, '/account/authentication/ssh-keys');
  });

  test('change password: the current one, the new one twice, and the other sessions signed out', async () => {
    const { page, server } = cx;
    await page.goto(server.base + '/account/authentication/api-keys');
    const dialog = page.locator('dialog#password-dialog');
    await cx.atWidths(async (w) => {
      await page.click('#change-password-open');
      await dialog.waitFor({ state: 'visible' });
      await assertFits(page, 'the change password dialog');
      await shot(page, `change-password-${w}`, { full: false });
      await page.click('#password-cancel');
      await dialog.waitFor({ state: 'hidden' });
    });
    assert.equal(await page.locator('#password-sign-out').isChecked(), true, 'sign out the others by default');
    assert.match(await page.locator('label[for=password-current]').textContent(), /Current password/);

    // Another session, to see it end.
    const other = await httpsRequest(server.base, 'POST', '/api/auth/login', { json: { username: 'admin', password: server.password } });
    assert.equal(other.status, 200);
    const otherCookie = other.headers['set-cookie'][0].split(';')[0];
    recordSecret(otherCookie.split('=')[1]);
    const before = await cx.cookie();
    const csrfBefore = await page.locator('meta[name=csrf-token]').getAttribute('content');

    await page.click('#change-password-open');
    const fresh = recordSecret('correct horse battery ' + Date.now().toString(36));
    await page.fill('#password-current', server.password);
    await page.fill('#password-new', fresh);
    await page.fill('#password-confirm', fresh + 'x');
    await page.click('#password-submit');
    assert.match(await page.locator('#password-confirm-error').textContent(), /differ/);
    assert.equal(await page.locator('#password-confirm').getAttribute('aria-invalid'), 'true');

    const wrong = recordSecret('not-my-password-' + Date.now().toString(36));
    await page.fill('#password-current', wrong);
    await page.fill('#password-confirm', fresh);
    const [bad] = await Promise.all([
      page.waitForResponse((r) => new URL(r.url()).pathname === '/api/auth/password'),
      page.click('#password-submit'),
    ]);
    assert.equal(bad.status(), 422);
    await page.waitForFunction(() => document.querySelector('#password-current-error').textContent.length > 0);
    assert.equal(await page.locator('#password-current').getAttribute('aria-invalid'), 'true');

    await page.fill('#password-current', server.password);
    await page.fill('#password-new', 'admin');
    await page.fill('#password-confirm', 'admin');
    await page.click('#password-submit');
    assert.match(await page.locator('#password-new-error').textContent(), /12/, 'too short, said before sending');
    const weak = 'password1234';
    await page.fill('#password-new', weak);
    await page.fill('#password-confirm', weak);
    const [weakRes] = await Promise.all([
      page.waitForResponse((r) => new URL(r.url()).pathname === '/api/auth/password'),
      page.click('#password-submit'),
    ]);
    assert.equal(weakRes.status(), 422);
    await page.waitForFunction(() => document.querySelector('#password-new-error').textContent.length > 0);
    assert.ok(!(await page.locator('#password-new-error').textContent()).startsWith('new_password'), 'no field prefix');
    await shot(page, 'change-password-error-1280', { full: false });

    await page.fill('#password-new', fresh);
    await page.fill('#password-confirm', fresh);
    const [ok] = await Promise.all([
      page.waitForResponse((r) => new URL(r.url()).pathname === '/api/auth/password'),
      page.click('#password-submit'),
    ]);
    assert.equal(ok.status(), 204);
    await dialog.waitFor({ state: 'hidden' });
    await page.locator('.toast', { hasText: 'Password changed' }).waitFor();
    const after = await cx.cookie();
    recordSecret(after.value);
    assert.notEqual(after.value, before.value, 'the session id rotated');
    const otherNow = await httpsRequest(server.base, 'GET', '/api/auth/session', { headers: { Cookie: otherCookie } });
    assert.equal(otherNow.status, 401, 'the other session is signed out');
    const old = await httpsRequest(server.base, 'POST', '/api/auth/login', { json: { username: 'admin', password: server.password } });
    assert.equal(old.status, 401, 'the old password no longer works');
    server.password = fresh;

    // The page goes on working with the rotated session: its CSRF token was refreshed.
    await page.waitForFunction((old) => document.querySelector('meta[name=csrf-token]').content !== old, csrfBefore);
    const csrf = recordSecret(await page.locator('meta[name=csrf-token]').getAttribute('content'));
    const check = await httpsRequest(server.base, 'POST', '/api/tokens', {
      headers: { Cookie: `${COOKIE}=${after.value}`, 'X-CSRF-Token': csrf }, json: { name: 'after-password', expires_in_hours: 1 },
    });
    assert.equal(check.status, 201, 'the new token passes the CSRF check');
    recordSecret(check.body.token);
  });

  test('sign out lands on /login and the account pages are closed again', async () => {
    const { page, server, browser } = cx;
    const before = await cx.cookie();
    assert.ok(before, 'not signed in');
    await Promise.all([page.waitForURL((u) => u.pathname === '/login'), page.click('button#sign-out')]);
    await page.goto(server.base + '/account/authentication/api-keys');
    assert.equal(new URL(page.url()).pathname, '/login');
    const replay = await browser.newContext({ ignoreHTTPSErrors: true });
    try {
      await replay.addCookies([{ ...before, expires: -1 }]);
      const res = await replay.request.get(server.base + '/api/auth/session', { maxRedirects: 0 });
      assert.equal(res.status(), 401, 'the session survived sign-out');
    } finally {
      await replay.close();
    }
    assert.deepEqual(cx.errors, [], 'no script errors on any page');
  });

  test('the server exits 0 on SIGTERM', async () => {
    await cx.browser.close();
    cx.browser = null;
    const { code, signal } = await cx.server.stop();
    assert.equal(signal, null);
    assert.equal(code, 0);
  });
});
