// Browser tests of the 2-Step Verification tab (Manage MFA Settings) and the second step
// of signing in: Use Authenticator with a code computed here from the setup key behind
// "Can't scan the QR code?", the recovery codes shown once, signing in with a code and
// with a recovery code (with and without JavaScript), "Confirm it's you" when a change
// needs a recent sign-in, new recovery codes, removing the authenticator, the
// organisation's requirement, and Turn Off.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import { COOKIE, clickThrough, freshCode, httpsRequest, recordSecret, runAdmin, signIn, wrongCode } from '../support.mjs';
import { assertFits, bodyText, shot } from '../layout.mjs';
import { pageApi } from './api-keys.mjs';

const TAB = '/account/authentication/2-step-verification';
const HOME = '/account/authentication/api-keys';

async function toast(page, text) {
  await page.locator('.toast', { hasText: text }).first().waitFor();
}

async function signOut(page) {
  await Promise.all([page.waitForURL((u) => u.pathname === '/login'), page.click('button#sign-out')]);
}

// Signs in with the password and waits for the second step's page.
async function password(page, server) {
  await page.fill('input#username', 'admin');
  await page.fill('input#password', server.password);
  await Promise.all([page.waitForURL((u) => u.pathname === '/login/mfa'), page.click('button#login-submit')]);
}

// Use Authenticator → Setup Authenticator App → the code → MFA setup successful, ticked
// and closed. Returns { secret, used, codes } (the test's authenticator app).
export async function enable(page, { shots = null, atWidths = null, beforeClose = null } = {}) {
  const dialog = page.locator('dialog#totp-setup-dialog');
  await page.click('#totp-start');
  await dialog.waitFor({ state: 'visible' });
  assert.equal(await page.evaluate(() => document.activeElement?.id), 'totp-code', 'focus on the code field');
  await page.click('#totp-secret-toggle');
  await page.locator('#totp-secret').waitFor({ state: 'visible' });
  const grouped = await page.locator('#totp-secret').textContent();
  assert.match(grouped, /^[A-Z2-7]{4}( [A-Z2-7]{4})+$/, 'the setup key is grouped base32');
  recordSecret(grouped);
  const app = { secret: recordSecret(grouped.replace(/ /g, '')), used: -1 };
  const code = await freshCode(app);
  await page.fill('#totp-code', code);
  const codes = page.locator('dialog#recovery-dialog');
  await Promise.all([
    page.waitForResponse((r) => new URL(r.url()).pathname === '/api/mfa/totp/confirm' && r.status() === 200),
    page.click('#totp-enable'),
  ]);
  await codes.waitFor({ state: 'visible' });
  assert.equal((await page.locator('#recovery-dialog-title').textContent()).trim(), 'MFA setup successful');
  app.codes = await page.locator('#recovery-codes li').allTextContents();
  assert.equal(app.codes.length, 10, 'ten recovery codes');
  for (const c of app.codes) recordSecret(c);
  if (shots && atWidths) {
    await atWidths(async (w) => {
      await assertFits(page, 'the MFA setup successful dialog');
      await shot(page, `${shots}-${w}`, { full: false });
    });
  }
  if (beforeClose) await beforeClose();
  await page.check('#recovery-saved');
  await page.click('#recovery-done');
  await codes.waitFor({ state: 'hidden' });
  await page.locator('#two-step-state-badge', { hasText: 'On' }).waitFor();
  return app;
}

export function twoStepTests(test, cx) {
  // The test's authenticator app, shared by the steps below.
  const app = {};

  test('2-step verification: off at first; Use Authenticator shows the QR code and the setup key', async () => {
    const { page, server } = cx;
    await cx.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: server.base });
    // A fresh sign-in: changes need one within 10 minutes.
    await cx.context.clearCookies();
    await page.goto(server.base + '/login?next=' + encodeURIComponent(TAB));
    await signIn(page, server.base, server.password, TAB);
    assert.equal((await page.locator('h2#tab-title').textContent()).trim(), 'Manage MFA Settings');
    assert.equal((await page.locator('#two-step-status').textContent()).trim(), 'is Off', 'the nav says Off');
    assert.equal((await page.locator('#two-step-state-badge').textContent()).trim(), 'Off');
    assert.equal((await page.locator('#totp-card-title').textContent()).trim(), 'Authenticator app');
    assert.equal((await page.locator('#totp-start').textContent()).trim(), 'Use Authenticator');
    assert.equal(await page.locator('#two-step-off-open').count(), 0, 'nothing to turn off');
    assert.equal(await page.locator('#recovery-card').count(), 0);

    const dialog = page.locator('dialog#totp-setup-dialog');
    await cx.atWidths(async (w) => {
      await page.click('#totp-start');
      await dialog.waitFor({ state: 'visible' });
      assert.equal((await page.locator('#totp-setup-dialog-title').textContent()).trim(), 'Setup Authenticator App');
      const img = page.locator('#totp-qr');
      assert.match(await img.getAttribute('src'), /^data:image\/svg\+xml/);
      await page.waitForFunction(() => document.getElementById('totp-qr').complete);
      assert.ok(await img.evaluate((i) => i.naturalWidth > 0), 'the QR code loads under the CSP');
      assert.equal(await page.locator('#totp-secret').isVisible(), false, 'the key is behind the link');
      const code = page.locator('#totp-code');
      assert.equal(await code.getAttribute('inputmode'), 'numeric');
      assert.equal(await code.getAttribute('autocomplete'), 'one-time-code');
      assert.equal((await page.locator('label[for=totp-code]').textContent()).trim(), 'Verification code');
      assert.equal((await page.locator('#totp-enable').textContent()).trim(), 'Enable 2FA');
      await assertFits(page, 'the Setup Authenticator App dialog');
      await shot(page, `setup-authenticator-${w}`, { full: false });
      const toggle = page.locator('#totp-secret-toggle');
      assert.equal((await toggle.textContent()).trim(), "Can't scan the QR code?");
      await toggle.click();
      assert.equal(await toggle.getAttribute('aria-expanded'), 'true');
      const key = await page.locator('#totp-secret').textContent();
      recordSecret(key);
      recordSecret(key.replace(/ /g, ''));
      await page.click('#totp-secret-copy');
      await page.locator('#totp-secret-status', { hasText: 'Copied' }).waitFor();
      assert.equal(await page.evaluate(() => navigator.clipboard.readText()), key.replace(/ /g, ''));
      await assertFits(page, 'the setup key');
      await shot(page, `setup-authenticator-secret-${w}`, { full: false });
      await page.click('#totp-cancel');
      await dialog.waitFor({ state: 'hidden' });
      // The dialog's close event (a task after it hides) wipes the key.
      await page.waitForFunction(() => document.getElementById('totp-secret').textContent === '',
        null, { timeout: 5000 });
      assert.equal(await page.locator('#totp-secret').textContent(), '', 'the key left the page');
      assert.equal(await page.locator('#totp-qr').getAttribute('src'), null, 'so did the QR code');
    });
  });

  test('2-step verification: a wrong code is refused readably; the right one shows the recovery codes once', async () => {
    const { page } = cx;
    const dialog = page.locator('dialog#totp-setup-dialog');
    await page.click('#totp-start');
    await dialog.waitFor({ state: 'visible' });
    await page.click('#totp-secret-toggle');
    const secret = (await page.locator('#totp-secret').textContent()).replace(/ /g, '');
    await page.fill('#totp-code', '12');
    await page.click('#totp-enable');
    assert.match(await page.locator('#totp-error').textContent(), /6-digit/);
    await page.fill('#totp-code', wrongCode(secret));
    const [bad] = await Promise.all([
      page.waitForResponse((r) => new URL(r.url()).pathname === '/api/mfa/totp/confirm'),
      page.click('#totp-enable'),
    ]);
    assert.equal(bad.status(), 422);
    await page.waitForFunction(() => document.getElementById('totp-error').textContent.length > 0);
    const said = await page.locator('#totp-error').textContent();
    assert.match(said, /^That code does not match/, said);
    assert.equal(await page.locator('#totp-code').getAttribute('aria-invalid'), 'true');
    await page.click('#totp-cancel');
    await dialog.waitFor({ state: 'hidden' });

    const csrfBefore = await page.locator('meta[name=csrf-token]').getAttribute('content');
    // The recovery codes' dialog: only Done closes it, and only once ticked.
    const codesDialog = page.locator('dialog#recovery-dialog');
    const dialogChecks = async () => {
      assert.equal(await page.locator('#recovery-done').isDisabled(), true, 'Done waits for the box');
      await page.keyboard.press('Escape');
      assert.equal(await codesDialog.isVisible(), true, 'Escape does not drop the codes');
      assert.match(await page.locator('label.check', { hasText: 'I have saved these recovery codes' }).textContent(), /I have saved these recovery codes/);
      const codes = await page.locator('#recovery-codes li').allTextContents();
      for (const c of codes) assert.match(c, /^[A-Z0-9]{4}(-[A-Z0-9]{4}){3}$/, c);
      await page.click('#recovery-copy');
      await page.locator('#recovery-status', { hasText: 'Copied' }).waitFor();
      assert.equal(await page.evaluate(() => navigator.clipboard.readText()), codes.join('\n'));
      const [download] = await Promise.all([page.waitForEvent('download'), page.click('#recovery-download')]);
      assert.equal(download.suggestedFilename(), 'gatehouse-recovery-codes.txt');
      const text = fs.readFileSync(await download.path(), 'utf8');
      for (const c of codes) assert.ok(text.includes(c), 'every code is in the file');
      await download.delete();
    };
    Object.assign(app, await enable(page, { shots: 'mfa-setup-successful', atWidths: cx.atWidths, beforeClose: dialogChecks }));
    assert.equal(await page.locator('#recovery-codes li').count(), 0, 'the codes left the page');
    await toast(page, '2-Step Verification is on');
    const csrfAfter = await page.locator('meta[name=csrf-token]').getAttribute('content');
    recordSecret(csrfAfter);
    assert.notEqual(csrfAfter, csrfBefore, 'the re-issued session has a new CSRF token');
    const status = await pageApi(page, 'GET', '/api/mfa');
    assert.equal(status.status, 200);
    assert.equal(status.body.enabled, true);
    assert.equal(status.body.recovery_codes_left, 10);
    const session = await pageApi(page, 'GET', '/api/auth/session');
    assert.ok(session.body.amr.includes('otp'), 'the session records the code');
    // The page goes on working with the re-issued session.
    const keys = await pageApi(page, 'GET', '/api/api-keys');
    assert.equal(keys.status, 200);
  });

  test('2-step verification: when on, the tab lists the authenticator and the recovery codes left', async () => {
    const { page, server } = cx;
    await page.goto(server.base + TAB);
    assert.equal((await page.locator('#two-step-status').textContent()).trim(), 'is On', 'the nav says On');
    const row = page.locator('#totp-list .factor');
    assert.equal(await row.count(), 1);
    assert.equal((await row.locator('.factor-name').textContent()).trim(), 'Authenticator app');
    assert.match(await row.locator('.factor-added').textContent(), /Added\s+\d{4}-\d\d-\d\d/);
    assert.match(await row.locator('.factor-last-used').textContent(), /Last used/);
    assert.equal(await page.locator('#totp-start').count(), 0, 'one authenticator app at a time');
    assert.equal((await page.locator('#recovery-left').textContent()).trim(), '10 recovery codes left');
    assert.equal(await page.locator('#recovery-low').count(), 0);
    assert.equal((await page.locator('#two-step-off-open').textContent()).trim(), 'Turn Off');
    await cx.atWidths(async (w) => {
      await page.goto(server.base + TAB);
      await assertFits(page, 'the 2-Step Verification tab when on');
      await shot(page, `2-step-verification-on-${w}`);
    });
  });

  test('sign-in with 2-step verification: the password, then a code from the app', async () => {
    const { page, server } = cx;
    await signOut(page);
    await password(page, server);
    assert.equal(await cx.cookie(), undefined, 'the password alone opens no session');
    assert.match(await page.locator('#login-mfa-intro').textContent(), /Enter the code from your authenticator app/);
    const form = page.locator('form#login-mfa-form');
    assert.equal(await form.getAttribute('method'), 'post');
    assert.equal(await form.getAttribute('action'), '/api/auth/login/mfa');
    assert.equal(await page.locator('#mfa-code').getAttribute('autocomplete'), 'one-time-code');
    assert.equal(await page.locator('#mfa-code').getAttribute('inputmode'), 'numeric');
    assert.equal((await page.locator('label[for=mfa-code]').textContent()).trim(), 'Verification code');
    await cx.atWidths(async (w) => {
      await assertFits(page, 'the second step of sign-in');
      await shot(page, `login-mfa-${w}`);
    });
    await page.fill('#mfa-code', wrongCode(app.secret));
    await Promise.all([page.waitForURL((u) => u.searchParams.get('error') === 'invalid_code'), page.click('#login-mfa-submit')]);
    assert.match(await page.locator('#login-mfa-error').textContent(), /That code did not work/);
    await shot(page, 'login-mfa-error-1280');
    await page.fill('#mfa-code', await freshCode(app));
    await Promise.all([page.waitForURL((u) => u.pathname === HOME), page.click('#login-mfa-submit')]);
    const cookie = await cx.cookie();
    assert.ok(cookie, 'a session after the code');
    recordSecret(cookie.value);
  });

  test('sign-in with a recovery code, through "Use a recovery code"', async () => {
    const { page, server } = cx;
    await signOut(page);
    await password(page, server);
    const link = page.locator('#login-mfa-use-recovery');
    assert.equal((await link.textContent()).trim(), 'Use a recovery code');
    await Promise.all([page.waitForURL((u) => u.searchParams.get('method') === 'recovery'), link.click()]);
    assert.equal(await page.locator('#mfa-code').count(), 0);
    assert.equal(await page.locator('#recovery-code').getAttribute('name'), 'recovery_code');
    await cx.atWidths(async (w) => {
      await assertFits(page, 'the recovery code form');
      await shot(page, `login-mfa-recovery-${w}`);
    });
    await page.fill('#recovery-code', 'AAAA-BBBB-CCCC-DDDD');
    await Promise.all([page.waitForURL((u) => u.searchParams.get('error') === 'invalid_code'), page.click('#login-mfa-submit')]);
    assert.equal(new URL(page.url()).searchParams.get('method'), 'recovery', 'still the recovery code form');
    assert.match(await page.locator('#login-mfa-error').textContent(), /recovery code did not work/);
    // Typed in lower case and without dashes: the server normalises it.
    const code = app.codes.shift();
    await page.fill('#recovery-code', code.toLowerCase());
    await Promise.all([page.waitForURL((u) => u.pathname === HOME), page.click('#login-mfa-submit')]);
    await page.goto(server.base + TAB);
    assert.equal((await page.locator('#recovery-left').textContent()).trim(), '9 recovery codes left');
    // The same code never works twice.
    const again = await httpsRequest(server.base, 'POST', '/api/auth/login', { json: { username: 'admin', password: server.password } });
    assert.equal(again.body.mfa_required, true);
    assert.deepEqual(again.body.methods, ['totp', 'recovery_code']);
    const pending = again.headers['set-cookie'].find((c) => c.startsWith('gatehouse.mfa=')).split(';')[0];
    recordSecret(pending.split('=')[1]);
    const reuse = await httpsRequest(server.base, 'POST', '/api/auth/login/mfa', {
      headers: { Cookie: pending }, json: { recovery_code: code },
    });
    assert.equal(reuse.status, 401);
    assert.equal(reuse.body.error, 'invalid_code');
  });

  test('"Confirm it\'s you": a change answered reauthentication_required asks for the password, then goes through', async () => {
    const { page, server } = cx;
    await page.goto(server.base + TAB);
    // Force the answer a session older than 10 minutes gets, once.
    let stubbed = 0;
    await page.route('**/api/mfa/recovery-codes', async (route) => {
      if (stubbed++ > 0) return route.fallback();
      return route.fulfill({
        status: 401, contentType: 'application/json',
        body: JSON.stringify({ error: 'reauthentication_required', message: 'confirm it is you', request_id: 'test' }),
      });
    });
    try {
      await page.click('#recovery-regenerate');
      await page.locator('dialog#regenerate-dialog').waitFor({ state: 'visible' });
      await cx.atWidths(async (w) => {
        await assertFits(page, 'the new recovery codes confirmation');
        await shot(page, `regenerate-codes-dialog-${w}`, { full: false });
      });
      await page.click('#regenerate-confirm');
      const reauth = page.locator('dialog#reauth-dialog');
      await reauth.waitFor({ state: 'visible' });
      assert.equal((await page.locator('#reauth-dialog-title').textContent()).trim(), "Confirm it's you");
      assert.equal(await page.evaluate(() => document.activeElement?.id), 'reauth-password');
      assert.equal(await page.locator('#reauth-switch').isVisible(), true, 'a code is offered: 2-step verification is on');
      await cx.atWidths(async (w) => {
        await assertFits(page, "the Confirm it's you dialog");
        await shot(page, `reauthenticate-dialog-${w}`, { full: false });
      });
      const wrong = recordSecret('not-the-password-' + Date.now().toString(36));
      await page.fill('#reauth-password', wrong);
      const [bad] = await Promise.all([
        page.waitForResponse((r) => new URL(r.url()).pathname === '/api/auth/reauthenticate'),
        page.click('#reauth-submit'),
      ]);
      assert.equal(bad.status(), 422);
      await page.waitForFunction(() => document.getElementById('reauth-error').textContent.length > 0);
      assert.equal((await page.locator('#reauth-error').textContent()).trim(), 'That is not your password');
      assert.equal(await page.locator('#reauth-password').getAttribute('aria-invalid'), 'true');
      await shot(page, 'reauthenticate-dialog-error-1280', { full: false });
      const csrfBefore = await page.locator('meta[name=csrf-token]').getAttribute('content');
      await page.fill('#reauth-password', server.password);
      const [ok, retried] = await Promise.all([
        page.waitForResponse((r) => new URL(r.url()).pathname === '/api/auth/reauthenticate'),
        page.waitForResponse((r) => new URL(r.url()).pathname === '/api/mfa/recovery-codes' && r.status() === 201),
        page.click('#reauth-submit'),
      ]);
      assert.equal(ok.status(), 200);
      recordSecret((await ok.json()).csrf_token);
      assert.equal(retried.request().headers()['x-csrf-token'], (await ok.json()).csrf_token, 'the retry sends the new CSRF token');
      assert.notEqual(csrfBefore, await page.locator('meta[name=csrf-token]').getAttribute('content'));
      const codes = page.locator('dialog#recovery-dialog');
      await codes.waitFor({ state: 'visible' });
      assert.equal((await page.locator('#recovery-dialog-title').textContent()).trim(), 'New recovery codes');
      app.codes = await page.locator('#recovery-codes li').allTextContents();
      assert.equal(app.codes.length, 10);
      for (const c of app.codes) recordSecret(c);
      await page.check('#recovery-saved');
      await page.click('#recovery-done');
      await codes.waitFor({ state: 'hidden' });
      await page.locator('#recovery-left', { hasText: '10 recovery codes left' }).waitFor();
    } finally {
      await page.unroute('**/api/mfa/recovery-codes');
    }

    // Cancelling "Confirm it's you" changes nothing and says nothing alarming.
    await page.route('**/api/mfa/recovery-codes', (route) => route.fulfill({
      status: 401, contentType: 'application/json',
      body: JSON.stringify({ error: 'reauthentication_required', message: 'confirm it is you', request_id: 'test' }),
    }));
    try {
      await page.click('#recovery-regenerate');
      await page.click('#regenerate-confirm');
      await page.locator('dialog#reauth-dialog').waitFor({ state: 'visible' });
      await page.click('#reauth-cancel');
      await page.locator('dialog#reauth-dialog').waitFor({ state: 'hidden' });
      assert.equal(new URL(page.url()).pathname, TAB, 'still on the tab, not sent to sign in');
      assert.equal(await page.locator('dialog#recovery-dialog').isVisible(), false);
    } finally {
      await page.unroute('**/api/mfa/recovery-codes');
    }
  });

  test('recovery codes: three or fewer left shows a warning', async () => {
    const { page, server } = cx;
    // Seven sign-ins with recovery codes, from Node.
    for (let i = 0; i < 7; i++) {
      const first = await httpsRequest(server.base, 'POST', '/api/auth/login', { json: { username: 'admin', password: server.password } });
      assert.equal(first.body.mfa_required, true);
      const pending = first.headers['set-cookie'].find((c) => c.startsWith('gatehouse.mfa=')).split(';')[0];
      recordSecret(pending.split('=')[1]);
      const done = await httpsRequest(server.base, 'POST', '/api/auth/login/mfa', {
        headers: { Cookie: pending }, json: { recovery_code: app.codes.shift() },
      });
      assert.equal(done.status, 200, JSON.stringify(done.body));
      const c = done.headers['set-cookie'].find((x) => x.startsWith(`${COOKIE}=`)).split(';')[0];
      recordSecret(c.split('=')[1]);
      recordSecret(done.body.csrf_token);
      await httpsRequest(server.base, 'POST', '/api/auth/logout', { headers: { Cookie: c, 'X-CSRF-Token': done.body.csrf_token } });
    }
    await page.goto(server.base + TAB);
    assert.equal((await page.locator('#recovery-left').textContent()).trim(), '3 recovery codes left');
    assert.match(await page.locator('#recovery-low').textContent(), /running out of recovery codes/);
    await cx.atWidths(async (w) => {
      await page.goto(server.base + TAB);
      await assertFits(page, 'the low recovery codes warning');
      await shot(page, `2-step-verification-codes-low-${w}`);
    });
  });

  test('without JavaScript: the password, then the code, by form posts; a stale second step starts again', async () => {
    const { browser, server } = cx;
    const ctx = await browser.newContext({ ignoreHTTPSErrors: true, javaScriptEnabled: false, viewport: { width: 390, height: 844 } });
    try {
      const page = await ctx.newPage();
      await page.goto(server.base + '/login?next=/account/authentication/tokens');
      await page.fill('#username', 'admin');
      await page.fill('#password', server.password);
      await Promise.all([page.waitForURL((u) => u.pathname === '/login/mfa'), page.click('#login-submit')]);
      assert.equal(new URL(page.url()).searchParams.get('next'), '/account/authentication/tokens');
      assert.equal(await page.locator('input[name=next]').inputValue(), '/account/authentication/tokens');
      await page.fill('#mfa-code', wrongCode(app.secret));
      await Promise.all([page.waitForURL((u) => u.searchParams.get('error') === 'invalid_code'), page.click('#login-mfa-submit')]);
      assert.match(await page.locator('#login-mfa-error').textContent(), /That code did not work/);
      assert.equal(await page.locator('input[name=next]').inputValue(), '/account/authentication/tokens', 'next survives the error');
      // The recovery code form is a link away, without JavaScript too.
      await Promise.all([page.waitForURL((u) => u.searchParams.get('method') === 'recovery'), page.click('#login-mfa-use-recovery')]);
      await Promise.all([page.waitForURL((u) => u.searchParams.get('method') === 'totp'), page.click('#login-mfa-use-totp')]);
      await page.fill('#mfa-code', await freshCode(app));
      await Promise.all([page.waitForURL((u) => u.pathname === '/account/authentication/tokens'), page.click('#login-mfa-submit')]);
      const cookie = (await ctx.cookies(server.base)).find((c) => c.name === COOKIE);
      assert.ok(cookie?.httpOnly && cookie.secure, 'a secure session cookie');
      recordSecret(cookie.value);

      // The pending sign-in is used up: posting the second step again starts over.
      await ctx.clearCookies();
      await page.goto(server.base + '/login/mfa');
      await page.fill('#mfa-code', '123456');
      await Promise.all([page.waitForURL((u) => u.pathname === '/login'), page.click('#login-mfa-submit')]);
      assert.equal(new URL(page.url()).searchParams.get('error'), 'mfa_expired');
      assert.match(await page.locator('#login-error').textContent(), /not finished in time/);
      await assertFits(page, 'the sign-in page after an expired second step');
      await shot(page, 'login-mfa-expired-390');
      await page.goto(server.base + '/login/mfa');
      await Promise.all([page.waitForURL((u) => u.pathname === '/login'), page.click('#login-mfa-back')]);
    } finally {
      await ctx.close();
    }
  });

  test('Remove Authenticator app, after confirming with a code from the app', async () => {
    const { page, server } = cx;
    await page.goto(server.base + TAB);
    const dialog = page.locator('dialog#remove-totp-dialog');
    await cx.atWidths(async (w) => {
      await page.click('#totp-list .factor-remove');
      await dialog.waitFor({ state: 'visible' });
      assert.match(await dialog.textContent(), /Authenticator app/);
      await assertFits(page, 'the Remove Authenticator app dialog');
      await shot(page, `remove-authenticator-dialog-${w}`, { full: false });
      await page.click('#remove-totp-cancel');
      await dialog.waitFor({ state: 'hidden' });
    });
    assert.equal(await page.locator('#totp-list .factor').count(), 1, 'Cancel removes nothing');
    let stubbed = 0;
    await page.route('**/api/mfa/totp/*', async (route) => {
      if (route.request().method() !== 'DELETE' || stubbed++ > 0) return route.fallback();
      return route.fulfill({
        status: 401, contentType: 'application/json',
        body: JSON.stringify({ error: 'reauthentication_required', message: 'confirm it is you', request_id: 'test' }),
      });
    });
    try {
      await page.click('#totp-list .factor-remove');
      await dialog.waitFor({ state: 'visible' });
      assert.equal((await page.locator('#remove-totp-confirm').textContent()).trim(), 'Remove Authenticator app');
      await page.click('#remove-totp-confirm');
      await page.locator('dialog#reauth-dialog').waitFor({ state: 'visible' });
      await page.click('#reauth-switch');
      assert.equal(await page.locator('#reauth-code').isVisible(), true);
      assert.equal(await page.locator('#reauth-password').isVisible(), false);
      assert.equal(await page.evaluate(() => document.activeElement?.id), 'reauth-code');
      await shot(page, 'reauthenticate-dialog-code-1280', { full: false });
      await page.fill('#reauth-code', wrongCode(app.secret));
      await page.click('#reauth-submit');
      await page.waitForFunction(() => document.getElementById('reauth-error').textContent.length > 0);
      assert.match(await page.locator('#reauth-error').textContent(), /^That is not a current code/);
      await page.fill('#reauth-code', await freshCode(app));
      const [removed] = await Promise.all([
        page.waitForResponse((r) => r.request().method() === 'DELETE' && r.status() === 204),
        page.click('#reauth-submit'),
      ]);
      assert.equal(removed.status(), 204);
    } finally {
      await page.unroute('**/api/mfa/totp/*');
    }
    await toast(page, 'Authenticator app removed');
    await page.locator('#two-step-state-badge', { hasText: 'Off' }).waitFor();
    assert.equal((await page.locator('#two-step-status').textContent()).trim(), 'is Off', 'the nav follows');
    assert.equal(await page.locator('#recovery-card').count(), 0, 'the recovery codes went with it');
    assert.equal((await pageApi(page, 'GET', '/api/mfa')).body.enabled, false);
  });

  test('an organisation that requires 2-step verification: set it up first, and it cannot be turned off', async () => {
    const { browser, server } = cx;
    runAdmin(server, ['policy', '--require-mfa', 'true']);
    const ctx = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 390, height: 844 } });
    ctx.setDefaultTimeout(20_000);
    const errors = [];
    try {
      await ctx.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: server.base });
      const page = await ctx.newPage();
      page.on('pageerror', (e) => errors.push(e.message));
      await page.goto(server.base + '/login');
      await signIn(page, server.base, server.password, TAB);
      assert.equal((await page.locator('#two-step-required').textContent()).trim(),
        'Your organisation requires 2-step verification. Set it up to continue.');
      assert.equal(await page.locator('#two-step-policy-note').count(), 0, 'the notice says it once');
      await assertFits(page, 'the 2-Step Verification tab when it is required');
      await shot(page, '2-step-verification-required-390');
      // The other tabs send the user back here.
      await clickThrough(page, TAB, () => page.click('a[data-tab="tokens"]'));
      assert.equal((await page.locator('h2#tab-title').textContent()).trim(), 'Manage MFA Settings');
      const mine = await enable(page);
      await page.locator('#two-step-required').waitFor({ state: 'detached' });
      await Promise.all([page.waitForURL((u) => u.pathname === '/account/authentication/tokens'), page.click('a[data-tab="tokens"]')]);
      assert.equal((await page.locator('h2#tab-title').textContent()).trim(), 'Tokens', 'the account is open now');
      await page.goto(server.base + TAB);
      assert.match(await page.locator('#two-step-policy-note').textContent(), /cannot be turned off/);
      await page.click('#two-step-off-open');
      await page.click('#turn-off-confirm');
      await page.locator('.toast-error', { hasText: /requires/ }).waitFor();
      assert.equal((await page.locator('#two-step-state-badge').textContent()).trim(), 'On', 'still on');
      app.secret = mine.secret;
      app.used = mine.used;
    } finally {
      runAdmin(server, ['policy', '--require-mfa', 'false']);
      await ctx.close();
    }
    assert.deepEqual(errors, [], 'no script errors');
  });

  test('Turn Off: the dialog, then 2-step verification is off and sign-in asks only for the password', async () => {
    const { page, server } = cx;
    await page.goto(server.base + TAB);
    assert.equal(await page.locator('#two-step-policy-note').count(), 0);
    const dialog = page.locator('dialog#turn-off-dialog');
    await cx.atWidths(async (w) => {
      await page.click('#two-step-off-open');
      await dialog.waitFor({ state: 'visible' });
      await assertFits(page, 'the Turn off 2-Step Verification dialog');
      await shot(page, `turn-off-2sv-dialog-${w}`, { full: false });
      await page.click('#turn-off-cancel');
      await dialog.waitFor({ state: 'hidden' });
    });
    await page.click('#two-step-off-open');
    assert.equal((await page.locator('#turn-off-confirm').textContent()).trim(), 'Turn off 2-Step Verification');
    await page.click('#turn-off-confirm');
    await toast(page, '2-Step Verification is off');
    await page.locator('#two-step-state-badge', { hasText: 'Off' }).waitFor();
    assert.equal(await page.locator('#totp-start').isVisible(), true);
    assert.match(await bodyText(page), /Sign-ins ask only for your password/);
    await signOut(page);
    await signIn(page, server.base, server.password);
    assert.deepEqual(cx.errors, [], 'no script errors');
  });
}
