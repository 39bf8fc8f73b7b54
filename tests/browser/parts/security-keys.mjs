// Browser tests of security keys and passkeys (Feature Preview), with Chromium's virtual
// authenticator (DevTools WebAuthn domain: CTAP2, internal transport, resident keys and
// user verification): the Security keys card (add with the recovery codes shown once,
// the browser's refusals, rename, remove), the key as the second step of a sign-in (and
// the note without JavaScript), "Sign in with a passkey" (and the organisation turning
// it off), and "Enforce Security Key MFA" for a member who has only an authenticator app.
//
// WebAuthn's relying party is `localhost` when no public origin is configured, so these
// pages are opened at https://localhost:PORT, in a browser context of their own.

import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { COOKIE, TIMEOUT, clickThrough, freshCode, recordSecret, runAdmin } from '../support.mjs';
import { WIDTHS, assertFits, shot } from '../layout.mjs';
import { pageApi } from './api-keys.mjs';
import { enable } from './two-step.mjs';

const TAB = '/account/authentication/2-step-verification';
const HOME = '/account/authentication/api-keys';

async function toast(page, text) {
  await page.locator('.toast', { hasText: text }).first().waitFor();
}

// A browser context at https://localhost:PORT with a virtual authenticator on its page.
async function keyContext(cx) {
  const base = cx.server.base.replace('://127.0.0.1:', '://localhost:');
  const context = await cx.browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1280, height: 800 } });
  context.setDefaultTimeout(TIMEOUT);
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('request', async (req) => {
    try {
      const h = await req.allHeaders();
      if (h['x-csrf-token']) recordSecret(h['x-csrf-token']);
    } catch {}
  });
  page.on('response', async (res) => {
    try {
      if (/^\/api\/(auth\/(login|passkey)|mfa\/webauthn\/register)/.test(new URL(res.url()).pathname) && res.ok()) {
        const body = await res.json();
        if (body && body.csrf_token) recordSecret(body.csrf_token);
        if (body && body.ceremony) recordSecret(body.ceremony);
      }
    } catch {}
  });
  const cdp = await context.newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true,
      isUserVerified: true, automaticPresenceSimulation: true,
    },
  });
  const atWidths = async (fn) => {
    try {
      for (const w of WIDTHS) {
        await page.setViewportSize({ width: w, height: w < 600 ? 844 : 800 });
        await fn(w);
      }
    } finally {
      await page.setViewportSize({ width: 1280, height: 800 });
    }
  };
  const cookie = async () => (await context.cookies(base)).find((c) => c.name === COOKIE);
  return { base, context, page, errors, cdp, authenticatorId, atWidths, cookie };
}

async function password(page, username, secret, landing) {
  await page.fill('input#username', username);
  await page.fill('input#password', secret);
  await Promise.all([page.waitForURL((u) => u.pathname === landing), page.click('button#login-submit')]);
}

async function signOut(page) {
  await Promise.all([page.waitForURL((u) => u.pathname === '/login'), page.click('button#sign-out')]);
}

// Add security key → the name → the browser's ceremony (the virtual key answers).
async function addKey(page, name) {
  await page.click('#security-key-add');
  await page.locator('dialog#add-security-key-dialog').waitFor({ state: 'visible' });
  await page.fill('#security-key-name', name);
  const [res] = await Promise.all([
    page.waitForResponse((r) => new URL(r.url()).pathname === '/api/mfa/webauthn/register/finish'),
    page.click('#security-key-submit'),
  ]);
  return res;
}

export function securityKeyTests(test, cx) {
  // The admin's browser at localhost, shared by the steps below.
  const k = {};

  test('security keys: the card is a Preview; Add security key registers the first factor and shows the recovery codes once', async () => {
    Object.assign(k, await keyContext(cx));
    const { page, base } = k;
    await page.goto(base + '/login?next=' + encodeURIComponent(TAB));
    await password(page, 'admin', cx.server.password, TAB);
    const card = page.locator('#security-keys-card');
    assert.equal((await page.locator('#security-keys-card-title').innerText()).replace(/\s+/g, ' ').trim(), 'Security keys Preview');
    assert.equal((await page.locator('#security-key-add').textContent()).trim(), 'Add security key');
    assert.equal(await card.locator('.factor').count(), 0);
    const status = await pageApi(page, 'GET', '/api/mfa');
    assert.equal(status.body.security_keys_available, true);
    await k.atWidths(async (w) => {
      await page.goto(base + TAB);
      await assertFits(page, 'the Security keys card');
      await shot(page, `security-keys-card-${w}`);
    });

    const dialog = page.locator('dialog#add-security-key-dialog');
    await k.atWidths(async (w) => {
      await page.click('#security-key-add');
      await dialog.waitFor({ state: 'visible' });
      assert.equal(await page.evaluate(() => document.activeElement?.id), 'security-key-name');
      assert.equal(await page.locator('#security-key-name').getAttribute('placeholder'), 'YubiKey 5C');
      await assertFits(page, 'the Add security key dialog');
      await shot(page, `add-security-key-dialog-${w}`, { full: false });
      await page.click('#security-key-cancel');
      await dialog.waitFor({ state: 'hidden' });
    });

    // No name: said at once, nothing sent.
    await page.click('#security-key-add');
    await page.click('#security-key-submit');
    assert.match(await page.locator('#security-key-error').textContent(), /Give the key a name/);
    // The key refuses (no user verification): the browser's NotAllowedError, readably.
    await k.cdp.send('WebAuthn.setUserVerified', { authenticatorId: k.authenticatorId, isUserVerified: false });
    try {
      await page.fill('#security-key-name', 'YubiKey 5C');
      await page.click('#security-key-submit');
      await page.locator('#security-key-error', { hasText: /cancelled or timed out/ }).waitFor();
      await shot(page, 'add-security-key-error-1280', { full: false });
    } finally {
      await k.cdp.send('WebAuthn.setUserVerified', { authenticatorId: k.authenticatorId, isUserVerified: true });
    }
    await page.click('#security-key-cancel');

    const csrfBefore = await page.locator('meta[name=csrf-token]').getAttribute('content');
    const res = await addKey(page, 'YubiKey 5C');
    assert.equal(res.status(), 201);
    const body = await res.json();
    assert.equal(body.key.name, 'YubiKey 5C');
    assert.equal(body.key.passkey, true, 'the virtual key keeps a discoverable credential');
    const codes = page.locator('dialog#recovery-dialog');
    await codes.waitFor({ state: 'visible' });
    assert.equal((await page.locator('#recovery-dialog-title').textContent()).trim(), 'MFA setup successful');
    assert.match(await page.locator('#recovery-dialog-intro').textContent(), /security key/);
    k.codes = await page.locator('#recovery-codes li').allTextContents();
    assert.equal(k.codes.length, 10);
    for (const c of k.codes) recordSecret(c);
    await k.atWidths(async (w) => {
      await assertFits(page, 'MFA setup successful after a security key');
      await shot(page, `security-key-setup-successful-${w}`, { full: false });
    });
    await page.check('#recovery-saved');
    await page.click('#recovery-done');
    await codes.waitFor({ state: 'hidden' });
    await toast(page, 'YubiKey 5C added');
    assert.notEqual(await page.locator('meta[name=csrf-token]').getAttribute('content'), csrfBefore, 'the re-issued session has a new CSRF token');
    assert.ok((await pageApi(page, 'GET', '/api/auth/session')).body.amr.includes('hwk'), 'the session records the key');

    await page.goto(base + TAB);
    assert.equal((await page.locator('#two-step-state-badge').textContent()).trim(), 'On', 'a key alone turns it on');
    assert.equal((await page.locator('#two-step-status').textContent()).trim(), 'is On', 'the nav says On');
    assert.match(await page.locator('#two-step-summary').textContent(), /ask for your security key after your password/);
    const row = page.locator('#security-key-list .factor');
    assert.equal(await row.count(), 1);
    assert.equal((await row.locator('.key-name').textContent()).trim(), 'YubiKey 5C');
    assert.equal((await row.locator('.key-passkey').textContent()).trim(), 'Passkey');
    assert.match(await row.locator('.factor-added').textContent(), /Added\s+\d{4}-\d\d-\d\d/);
    assert.match(await row.locator('.factor-last-used').textContent(), /Last used\s+never/);
    assert.equal(await page.locator('#totp-start').isVisible(), true, 'an authenticator app can still be added');
    await k.atWidths(async (w) => {
      await page.goto(base + TAB);
      await assertFits(page, 'the Security keys card with a key');
      await shot(page, `security-key-added-${w}`);
    });

    // The same key again: the browser knows it (excludeCredentials) and says so.
    await page.click('#security-key-add');
    await page.fill('#security-key-name', 'Same key');
    await page.click('#security-key-submit');
    await page.locator('#security-key-error', { hasText: /registered already/ }).waitFor();
    await page.click('#security-key-cancel');
    assert.deepEqual(k.errors, [], 'no script errors');
  });

  test('sign-in with the password and then the security key; without JavaScript the page says the key needs it', async () => {
    const { page, base } = k;
    await signOut(page);
    await password(page, 'admin', cx.server.password, '/login/mfa');
    const url = new URL(page.url());
    assert.equal(url.searchParams.get('methods'), 'webauthn,recovery_code', 'the page knows the ways this account has');
    const use = page.locator('#login-key-start');
    await use.waitFor({ state: 'visible' });
    assert.equal((await use.textContent()).trim(), 'Use your security key');
    assert.match(await use.getAttribute('class'), /primary/);
    assert.equal(await page.locator('#mfa-code').count(), 0, 'no code field: this account has no authenticator app');
    assert.equal(await page.locator('#login-mfa-use-totp').count(), 0);
    assert.equal((await page.locator('#login-mfa-use-recovery').textContent()).trim(), 'Use a recovery code');
    await k.atWidths(async (w) => {
      await assertFits(page, 'the second step with a security key');
      await shot(page, `login-mfa-security-key-${w}`);
    });
    assert.equal(await k.cookie(), undefined, 'the password alone opens no session');
    await Promise.all([page.waitForURL((u) => u.pathname === HOME), use.click()]);
    const session = await pageApi(page, 'GET', '/api/auth/session');
    assert.ok(session.body.amr.includes('hwk'), JSON.stringify(session.body.amr));
    recordSecret((await k.cookie()).value);

    const ctx = await cx.browser.newContext({ ignoreHTTPSErrors: true, javaScriptEnabled: false, viewport: { width: 390, height: 844 } });
    try {
      const p = await ctx.newPage();
      await p.goto(base + '/login');
      await password(p, 'admin', cx.server.password, '/login/mfa');
      assert.equal(new URL(p.url()).searchParams.get('methods'), 'webauthn,recovery_code', 'the form post names them too');
      assert.match(await p.locator('#login-key-nojs').textContent(), /needs JavaScript/);
      assert.equal(await p.locator('#login-key-start').isVisible(), false, 'no button that cannot work');
      await assertFits(p, 'the security key step without JavaScript');
      await shot(p, 'login-mfa-security-key-nojs-390');
      // The recovery code still works without JavaScript, and an error keeps the ways.
      await Promise.all([p.waitForURL((u) => u.searchParams.get('method') === 'recovery'), p.click('#login-mfa-use-recovery')]);
      await p.fill('#recovery-code', 'AAAA-BBBB-CCCC-DDDD');
      await Promise.all([p.waitForURL((u) => u.searchParams.get('error') === 'invalid_code'), p.click('#login-mfa-submit')]);
      assert.equal(new URL(p.url()).searchParams.get('methods'), 'webauthn,recovery_code');
      assert.equal(await p.locator('#login-mfa-use-key').count(), 1, 'the key is still offered');
    } finally {
      await ctx.close();
    }
  });

  test('Sign in with a passkey: no username or password', async () => {
    const { page, base } = k;
    await signOut(page);
    const button = page.locator('#passkey-start');
    await button.waitFor({ state: 'visible' });
    assert.equal((await button.textContent()).trim(), 'Sign in with a passkey');
    await k.atWidths(async (w) => {
      await page.goto(base + '/login');
      await button.waitFor({ state: 'visible' });
      await assertFits(page, 'the sign-in page with a passkey');
      await shot(page, `login-passkey-${w}`);
    });
    await Promise.all([page.waitForURL((u) => u.pathname === HOME), button.click()]);
    const session = await pageApi(page, 'GET', '/api/auth/session');
    assert.equal(session.body.user.username, 'admin');
    assert.ok(session.body.amr.includes('hwk'));
    recordSecret((await k.cookie()).value);
  });

  test('passkey sign-in is refused readably when the organisation turned it off', async () => {
    const { page, base } = k;
    runAdmin(cx.server, ['policy', '--passkey-sign-in', 'false']);
    try {
      await signOut(page);
      const [res] = await Promise.all([
        page.waitForResponse((r) => new URL(r.url()).pathname === '/api/auth/passkey/finish'),
        page.click('#passkey-start'),
      ]);
      assert.equal(res.status(), 403);
      await page.locator('#passkey-error', { hasText: /does not allow passkey sign-in/ }).waitFor();
      assert.equal(new URL(page.url()).pathname, '/login', 'still on the sign-in page');
      assert.equal(await k.cookie(), undefined, 'no session');
      await k.atWidths(async (w) => {
        await assertFits(page, 'the passkey refusal');
        await shot(page, `login-passkey-refused-${w}`);
      });
    } finally {
      runAdmin(cx.server, ['policy', '--passkey-sign-in', 'true']);
    }
    await page.goto(base + '/login');
    await Promise.all([page.waitForURL((u) => u.pathname === HOME), page.click('#passkey-start')]);
  });

  test('rename a security key', async () => {
    const { page, base } = k;
    await page.goto(base + TAB);
    const dialog = page.locator('dialog#rename-security-key-dialog');
    await k.atWidths(async (w) => {
      await page.click('#security-key-list .key-rename');
      await dialog.waitFor({ state: 'visible' });
      assert.equal(await page.locator('#rename-key-name').inputValue(), 'YubiKey 5C');
      await assertFits(page, 'the Rename security key dialog');
      await shot(page, `rename-security-key-dialog-${w}`, { full: false });
      await page.click('#rename-key-cancel');
      await dialog.waitFor({ state: 'hidden' });
    });
    await page.click('#security-key-list .key-rename');
    await page.fill('#rename-key-name', 'Backup key on the keyring');
    await page.click('#rename-key-submit');
    await toast(page, 'Renamed to Backup key on the keyring');
    await page.locator('#security-key-list .key-name', { hasText: 'Backup key on the keyring' }).waitFor();
    assert.match(await page.locator('#security-key-list .factor-last-used').textContent(), /Last used\s+(just now|\d+ min ago)/);
  });

  test('remove the security key, the last method: 2-step verification turns off', async () => {
    const { page, base } = k;
    await page.goto(base + TAB);
    const dialog = page.locator('dialog#remove-security-key-dialog');
    await k.atWidths(async (w) => {
      await page.click('#security-key-list .key-remove');
      await dialog.waitFor({ state: 'visible' });
      assert.match(await dialog.textContent(), /Backup key on the keyring/);
      assert.equal(await page.locator('#remove-key-last').isVisible(), true, 'it is the last method');
      await assertFits(page, 'the Remove security key dialog');
      await shot(page, `remove-security-key-dialog-${w}`, { full: false });
      await page.click('#remove-key-cancel');
      await dialog.waitFor({ state: 'hidden' });
    });
    await page.click('#security-key-list .key-remove');
    assert.equal((await page.locator('#remove-key-confirm').textContent()).trim(), 'Remove security key');
    await page.click('#remove-key-confirm');
    // A sign-in older than 10 minutes asks "Confirm it's you" first (the password:
    // this account has no authenticator app).
    const reauth = page.locator('dialog#reauth-dialog');
    const removed = page.locator('.toast', { hasText: 'Backup key on the keyring removed' }).first();
    await Promise.race([reauth.waitFor({ state: 'visible' }), removed.waitFor()]);
    if (await reauth.isVisible()) {
      assert.equal(await page.locator('#reauth-switch').isVisible(), false, 'no code to offer');
      await page.fill('#reauth-password', cx.server.password);
      await page.click('#reauth-submit');
    }
    await removed.waitFor();
    await page.locator('#two-step-state-badge', { hasText: 'Off' }).waitFor();
    assert.equal(await page.locator('#security-key-list').count(), 0);
    assert.equal((await pageApi(page, 'GET', '/api/mfa')).body.enabled, false);
    assert.deepEqual(k.errors, [], 'no script errors');
    await k.context.close();
  });

  test('Enforce Security Key MFA: a member with only an authenticator app must add a key before anything else', async () => {
    const { server } = cx;
    const secret = recordSecret('Member-' + crypto.randomBytes(12).toString('base64url'));
    const file = path.join(server.tmp, 'member-password');
    fs.writeFileSync(file, secret + '\n', { mode: 0o600 });
    runAdmin(server, ['create-user', 'keymember', '--email', 'keymember@example.com', '--password-file', file]);
    fs.rmSync(file);
    const m = await keyContext(cx);
    try {
      const { page, base } = m;
      await page.goto(base + '/login?next=' + encodeURIComponent(TAB));
      await password(page, 'keymember', secret, TAB);
      const app = await enable(page);
      runAdmin(server, ['policy', '--enforce-security-key', 'true']);
      await signOut(page);
      await password(page, 'keymember', secret, '/login/mfa');
      assert.equal(new URL(page.url()).searchParams.get('methods'), 'totp,recovery_code');
      assert.equal(await page.locator('#login-mfa-use-key').count(), 0, 'no key to offer yet');
      await page.fill('#mfa-code', await freshCode(app));
      await Promise.all([page.waitForURL((u) => u.pathname === TAB), page.click('#login-mfa-submit')]);
      recordSecret((await m.cookie()).value);
      const notice = page.locator('#two-step-required');
      assert.equal((await notice.textContent()).trim(), 'Your organisation requires a security key. Add one to continue.');
      assert.match(await page.locator('#security-key-add').getAttribute('class'), /primary/, 'adding a key is the thing to do');
      await m.atWidths(async (w) => {
        await page.goto(base + TAB);
        await assertFits(page, 'the Enforce Security Key notice');
        await shot(page, `enforce-security-key-notice-${w}`);
      });
      // Nothing else works until a key is added.
      await clickThrough(page, TAB, () => page.click('a[data-tab="tokens"]'));
      assert.equal((await pageApi(page, 'GET', '/api/tokens')).status, 403);

      const res = await addKey(page, 'Member key');
      assert.equal(res.status(), 201);
      assert.equal((await res.json()).recovery_codes, undefined, 'not the first factor: the codes stay as they were');
      await toast(page, 'Member key added');
      await notice.waitFor({ state: 'detached' });
      assert.match(await page.locator('#two-step-policy-note').textContent(), /requires a security key/);
      // With both, removing the app leaves the key: the dialog does not say it turns off.
      await page.click('#totp-list .factor-remove');
      await page.locator('dialog#remove-totp-dialog').waitFor({ state: 'visible' });
      assert.equal(await page.locator('#remove-totp-last').isVisible(), false);
      await shot(page, 'remove-authenticator-with-key-dialog-390', { full: false });
      await page.click('#remove-totp-cancel');
      await Promise.all([page.waitForURL((u) => u.pathname === '/account/authentication/tokens'), page.click('a[data-tab="tokens"]')]);
      assert.equal((await page.locator('h2#tab-title').textContent()).trim(), 'Tokens', 'the account is open now');
      assert.equal((await pageApi(page, 'GET', '/api/tokens')).status, 200);
      assert.deepEqual(m.errors, [], 'no script errors');
    } finally {
      runAdmin(server, ['policy', '--enforce-security-key', 'false']);
      await m.context.close();
    }
    // The shared page signs in afresh, so its session was not opened under the policy.
    await cx.context.clearCookies();
    await cx.page.goto(server.base + '/login');
    await cx.page.fill('input#username', 'admin');
    await cx.page.fill('input#password', server.password);
    await Promise.all([cx.page.waitForURL((u) => u.pathname === HOME), cx.page.click('button#login-submit')]);
  });
}
