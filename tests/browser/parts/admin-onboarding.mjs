// Browser tests of adding members: the Add member dialog (errors at their fields, the
// owner role offered to owners only), the one-time set-password link in the show-once
// panel (copied to the clipboard), and the set-password page in a browser of its own:
// the secret leaves the address bar at once, a mismatched confirmation and a weak
// password are refused at their fields, the new member signs in, and a used or replaced
// link shows the dead-link message instead of a form.

import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { COOKIE, TIMEOUT, recordSecret } from '../support.mjs';
import { assertFits, shot } from '../layout.mjs';
import { pageApi } from './api-keys.mjs';

const MEMBERS = '/admin/members';
const LINK = /^https:\/\/127\.0\.0\.1:\d+\/set-password#(gsp_[A-Za-z0-9_-]{43})$/;

// A link seen in the panel or an API answer: both it and its secret are secrets.
function takeLink(url) {
  const m = url.match(LINK);
  assert.ok(m, `a set-password link: ${url.replace(/#.*/, '#…')}`);
  recordSecret(url);
  recordSecret(m[1]);
  return url;
}

// The member's row, paging on as needed: the list is oldest first, so a new member is on
// its last page.
async function findRow(A, page, base, username) {
  await page.goto(base + MEMBERS);
  for (;;) {
    const row = A.row(page, username);
    if (await row.count()) return row;
    const more = page.locator('a[rel=next]');
    assert.equal(await more.count(), 1, `${username} is listed`);
    await Promise.all([page.waitForURL((u) => u.searchParams.has('cursor')), more.click()]);
  }
}

export function adminOnboardingTests(test, cx, getA) {
  const L = {};
  // A browser with nobody signed in, as the new member has.
  const freshPage = async () => {
    const context = await cx.browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1280, height: 800 } });
    context.setDefaultTimeout(TIMEOUT);
    cx.cleanups.push(() => context.close());
    const page = await context.newPage();
    page.on('pageerror', (e) => getA().errors.push(`set-password: ${e.message}`));
    return { context, page };
  };
  const strong = () => recordSecret('river lantern ' + crypto.randomBytes(6).toString('hex') + ' orbit');

  test('admin members: Add member shows its errors at the fields, then the link once, copied', async () => {
    const A = getA();
    const { page, context } = A.owner;
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: cx.server.base });
    await page.goto(cx.server.base + MEMBERS);
    const dialog = page.locator('dialog#add-member-dialog');
    await A.atWidths(page, async (w) => {
      await page.click('#member-add-open');
      await dialog.waitFor({ state: 'visible' });
      await assertFits(page, 'the Add member dialog');
      await shot(page, `admin-add-member-dialog-${w}`, { full: false });
      await page.click('#add-member-cancel');
      await dialog.waitFor({ state: 'hidden' });
    });
    await page.click('#member-add-open');
    const roles = await page.locator('#add-member-role option').evaluateAll((os) => os.map((o) => o.value));
    assert.deepEqual(roles, ['member', 'admin', 'owner'], 'an owner may add owners');
    assert.equal(await page.locator('#add-member-role').inputValue(), 'member');

    // Taken username (409) and a bad email (422), each at its field.
    await page.fill('#add-member-username', 'mem-bob');
    await page.fill('#add-member-email', 'bob2@example.org');
    await page.click('#add-member-submit');
    await page.locator('#add-member-username-error').waitFor({ state: 'visible' });
    assert.equal(await page.locator('#add-member-username').getAttribute('aria-invalid'), 'true');
    await page.fill('#add-member-username', 'new-nora');
    await page.fill('#add-member-email', 'not-an-email');
    await page.click('#add-member-submit');
    await page.locator('#add-member-email-error').waitFor({ state: 'visible' });
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'add-member-email');
    assert.equal(await page.locator('#add-member-username-error').isHidden(), true, 'the earlier error is gone');
    await A.atWidths(page, async (w) => {
      await assertFits(page, 'the Add member errors');
      await shot(page, `admin-add-member-error-${w}`, { full: false });
    });

    await page.fill('#add-member-email', 'nora@example.org');
    await page.fill('#add-member-display-name', 'Nora Newcomer');
    await page.click('#add-member-submit');
    const panel = page.locator('dialog#secret-dialog');
    await panel.waitFor({ state: 'visible' });
    assert.equal((await page.locator('#secret-title').textContent()).trim(), 'Set-password link for new-nora');
    L.nora = takeLink(await page.locator('#secret-value').inputValue());
    const text = (await panel.textContent()).replace(/\s+/g, ' ');
    assert.match(text, /cannot be seen again/);
    assert.match(text, /It works once/);
    assert.match(text, /Hand it to new-nora privately/);
    assert.match(await page.locator('#secret-expires').textContent(), /It expires at \d{4}-\d\d-\d\d \d\d:\d\d UTC/);
    await page.click('#secret-copy');
    await page.locator('#secret-copy-status', { hasText: 'Copied' }).waitFor();
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), L.nora, 'the link is on the clipboard');
    await A.atWidths(page, async (w) => {
      await assertFits(page, 'the set-password link panel');
      await shot(page, `admin-set-password-link-${w}`, { full: false });
    });
    await page.keyboard.press('Escape');
    assert.equal(await panel.isVisible(), true, 'Escape does not throw the link away');
    await page.click('#secret-done');
    await panel.waitFor({ state: 'hidden' });
    assert.ok(!(await page.content()).includes(L.nora.split('#')[1]), 'the secret left the page');

    const row = await findRow(A, page, cx.server.base, 'new-nora');
    assert.equal((await row.locator('.member-no-password').textContent()).trim(), 'Password not set');
    assert.equal(await row.locator('.member-new-link').count(), 1);
    assert.equal((await row.locator('.member-display-name').textContent()).trim(), 'Nora Newcomer');
    await A.atWidths(page, async (w) => {
      await assertFits(page, 'Members with a password not set');
      await shot(page, `admin-members-unset-${w}`);
    });
  });

  test('set-password: the link works once, in a browser of its own', async () => {
    const A = getA();
    const { page } = await freshPage();
    const sent = [];
    page.on('request', (r) => { if (r.url().includes('gsp_')) sent.push(r.url()); });
    await page.goto(L.nora);
    await page.locator('#set-password-form').waitFor({ state: 'visible' });
    assert.equal(new URL(page.url()).hash, '', 'the fragment left the address bar');
    assert.equal(await page.evaluate(() => location.href.includes('gsp_')), false);
    assert.equal((await page.locator('h1').textContent()).trim(), 'Choose your password');
    const h = (await page.request.get(cx.server.base + '/set-password')).headers();
    assert.equal(h['referrer-policy'], 'no-referrer');
    assert.doesNotMatch(h['content-security-policy'], /unsafe-inline/);
    await A.atWidths(page, async (w) => {
      await assertFits(page, 'the set-password page');
      await shot(page, `set-password-${w}`);
    });

    const good = strong();
    await page.fill('#set-password-new', good);
    await page.fill('#set-password-confirm', good + 'x');
    await page.click('#set-password-submit');
    assert.match(await page.locator('#set-password-confirm-error').textContent(), /differ/);
    assert.equal(await page.locator('#set-password-confirm').getAttribute('aria-invalid'), 'true');

    await page.fill('#set-password-new', 'password1234');
    await page.fill('#set-password-confirm', 'password1234');
    const [weak] = await Promise.all([
      page.waitForResponse((r) => new URL(r.url()).pathname === '/api/auth/set-password'),
      page.click('#set-password-submit'),
    ]);
    assert.equal(weak.status(), 422);
    await page.locator('#set-password-new-error').waitFor({ state: 'visible' });
    assert.ok((await page.locator('#set-password-new-error').textContent()).trim().length > 0);
    assert.equal(await page.locator('#set-password-form').isVisible(), true, 'the link still works');
    await A.atWidths(page, async (w) => {
      await assertFits(page, 'a weak password refused');
      await shot(page, `set-password-error-${w}`);
    });

    await page.fill('#set-password-new', good);
    await page.fill('#set-password-confirm', good);
    const [ok] = await Promise.all([
      page.waitForResponse((r) => new URL(r.url()).pathname === '/api/auth/set-password'),
      page.click('#set-password-submit'),
    ]);
    assert.equal(ok.status(), 200);
    await page.locator('#set-password-done').waitFor({ state: 'visible' });
    assert.match((await page.locator('#set-password-done').textContent()).replace(/\s+/g, ' '), /Your password is set\. Sign in as new-nora\./);
    await A.atWidths(page, async (w) => {
      await assertFits(page, 'the password set');
      await shot(page, `set-password-done-${w}`);
    });
    assert.deepEqual(sent, [], 'the secret never went into a URL the browser requested');

    await Promise.all([page.waitForURL((u) => u.pathname === '/login'), page.click('#set-password-login')]);
    await page.fill('#username', 'new-nora');
    await page.fill('#password', good);
    await Promise.all([page.waitForURL((u) => u.pathname === '/account/authentication/api-keys'), page.click('#login-submit')]);
    recordSecret((await page.context().cookies(cx.server.base)).find((c) => c.name === COOKIE).value);
    assert.equal((await page.locator('#current-user').textContent()).trim(), 'new-nora');

    // Used: the same link now shows the dead-link message, and no form.
    await page.goto(L.nora);
    await page.locator('#set-password-form').waitFor({ state: 'visible' });
    await page.fill('#set-password-new', good);
    await page.fill('#set-password-confirm', good);
    await page.click('#set-password-submit');
    await page.locator('#set-password-dead').waitFor({ state: 'visible' });
    assert.equal(await page.locator('#set-password-form').isHidden(), true);
    assert.match(await page.locator('#set-password-dead').textContent(), /Ask your administrator for a new link/);

    // No fragment at all: the same message at once.
    await page.goto(cx.server.base + '/set-password');
    await page.locator('#set-password-dead').waitFor({ state: 'visible' });
    assert.equal(await page.locator('#set-password-form').isHidden(), true);
    await A.atWidths(page, async (w) => {
      await assertFits(page, 'the dead link');
      await shot(page, `set-password-dead-${w}`);
    });

    const owner = A.owner.page;
    const row = await findRow(A, owner, cx.server.base, 'new-nora');
    assert.equal(await row.locator('.member-no-password').count(), 0, 'the password shows as set');
    assert.equal(await row.locator('.member-new-link').count(), 0);
    const members = (await pageApi(owner, 'GET', '/api/admin/members?limit=200')).body;
    assert.equal(members.find((m) => m.username === 'new-nora').password_set, true);
    await page.context().close();
  });

  test('admin members: New set-password link asks first, kills the old link, and the new one works', async () => {
    const A = getA();
    const owner = A.owner.page;
    const made = await pageApi(owner, 'POST', '/api/admin/members', { username: 'new-otto', email: 'otto@example.org' });
    assert.equal(made.status, 201);
    const first = takeLink(made.body.set_password_url);
    A.ottoId = made.body.member.id;
    const row = await findRow(A, owner, cx.server.base, 'new-otto');
    const dialog = owner.locator('dialog#new-link-dialog');
    await A.atWidths(owner, async (w) => {
      await row.locator('.member-new-link').click();
      await dialog.waitFor({ state: 'visible' });
      await assertFits(owner, 'the new link dialog');
      await shot(owner, `admin-new-link-dialog-${w}`, { full: false });
      await owner.click('#new-link-cancel');
      await dialog.waitFor({ state: 'hidden' });
    });
    assert.match((await dialog.textContent()).replace(/\s+/g, ' '), /new-otto was given earlier stops working at once/);
    await row.locator('.member-new-link').click();
    await owner.click('#new-link-confirm');
    await owner.locator('dialog#secret-dialog').waitFor({ state: 'visible' });
    const second = takeLink(await owner.locator('#secret-value').inputValue());
    assert.notEqual(second, first);
    await owner.click('#secret-done');

    const { page } = await freshPage();
    const good = strong();
    await page.goto(first);
    await page.fill('#set-password-new', good);
    await page.fill('#set-password-confirm', good);
    await page.click('#set-password-submit');
    await page.locator('#set-password-dead').waitFor({ state: 'visible' });
    await page.goto(second);
    await page.fill('#set-password-new', good);
    await page.fill('#set-password-confirm', good);
    await page.click('#set-password-submit');
    await page.locator('#set-password-done').waitFor({ state: 'visible' });
    assert.equal((await page.locator('#set-password-username').textContent()).trim(), 'new-otto');
    await page.context().close();
  });

  test('admin members: an admin is not offered the owner role for a new member', async () => {
    const A = getA();
    const admin = await A.browserAs('acme-admin', MEMBERS);
    const { page } = admin;
    await page.click('#member-add-open');
    await page.locator('dialog#add-member-dialog').waitFor({ state: 'visible' });
    const roles = await page.locator('#add-member-role option').evaluateAll((os) => os.map((o) => o.value));
    assert.deepEqual(roles, ['member', 'admin']);
    const refused = await pageApi(page, 'POST', '/api/admin/members', { username: 'would-be-owner', email: 'wbo@example.org', role: 'owner' });
    assert.equal(refused.status, 403, 'and the server refuses it anyway');
    await admin.context.close();
  });
}
