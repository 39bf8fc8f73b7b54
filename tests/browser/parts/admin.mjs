// Browser tests of the organisation's admin panel (/admin): the frame and its sections,
// who may see it (owners and admins; members get the 404 page, the signed-out the sign-in),
// the Account ⇄ Admin panel links, and the Members section's journey (list, filter, change
// a role, the last owner's refusal, disable and enable in dialogs, reset 2-Step
// Verification with a reason, paging). The Keys section's journeys are admin-keys.mjs;
// Policies, Add member with the set-password page, the Audit log and SCIM have a file each.
// Organisations and people are made with the operator CLI against the test server's store.

import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import {
  COOKIE, TIMEOUT, clickThrough, freshCode, httpsRequest, keyStatus, recordSecret, runAdmin,
} from '../support.mjs';
import { WIDTHS, assertFits, shot } from '../layout.mjs';
import { adminKeyTests } from './admin-keys.mjs';
import { adminPolicyTests } from './admin-policies.mjs';
import { adminOnboardingTests } from './admin-onboarding.mjs';
import { adminAuditTests } from './admin-audit.mjs';
import { adminScimTests } from './admin-scim.mjs';

const SECTIONS = [['members', 'Members'], ['keys', 'Keys'], ['policies', 'Policies'], ['scim', 'SCIM'], ['audit-log', 'Audit log']];
// Long enough to wrap on a phone: a username of 31 characters, a long display name and email.
const LONG = 'alexandra-konstantinopoulou-xyz';
const LONG_DISPLAY = 'Alexandra Konstantinopoulou-Wellington of Northumberland';

// What the admin tests share: the people, their browsers, and the helpers.
function setup(cx) {
  const A = { errors: [], users: {} };
  A.toast = (page, text) => page.locator('.toast', { hasText: text }).first().waitFor();
  // Each width in turn, then back to the laptop.
  A.atWidths = async (page, fn) => {
    try {
      for (const w of WIDTHS) {
        await page.setViewportSize({ width: w, height: w < 600 ? 844 : 800 });
        await fn(w);
      }
    } finally {
      await page.setViewportSize({ width: 1280, height: 800 });
    }
  };
  // A person made with `gatehouse admin create-user`.
  A.person = (name, org, role, display) => {
    runAdmin(cx.server, ['create-user', name, '--email', `${name}@example.org`, '--org', org, '--role', role,
      '--password-file', A.passwordFile, ...(display ? ['--display-name', display] : [])]);
    A.users[name] = { name, org, role };
    return A.users[name];
  };
  // Signs in over the API from Node: { cookie, csrf, id }.
  A.apiLogin = async (name) => {
    const r = await httpsRequest(cx.server.base, 'POST', '/api/auth/login', { json: { username: name, password: A.password } });
    assert.equal(r.status, 200, `${name} signs in: ${r.text}`);
    const cookie = r.headers['set-cookie'].map((c) => c.split(';')[0]).find((c) => c.startsWith(COOKIE + '='));
    recordSecret(cookie.split('=')[1]);
    recordSecret(r.body.csrf_token);
    return { cookie, csrf: r.body.csrf_token, id: r.body.user.id };
  };
  A.asUser = (s, method, pathname, json) =>
    httpsRequest(cx.server.base, method, pathname, { headers: { Cookie: s.cookie, 'X-CSRF-Token': s.csrf }, json });
  // A browser of its own for `name`, signed in through the page, on `landing`.
  A.browserAs = async (name, landing) => {
    const context = await cx.browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1280, height: 800 } });
    context.setDefaultTimeout(TIMEOUT);
    cx.cleanups.push(() => context.close());
    const page = await context.newPage();
    page.on('pageerror', (e) => A.errors.push(`${name}: ${e.message}`));
    page.on('request', async (req) => {
      try {
        const h = await req.allHeaders();
        if (h['x-csrf-token']) recordSecret(h['x-csrf-token']);
      } catch {}
    });
    await page.goto(cx.server.base + '/login?next=' + encodeURIComponent(landing));
    await page.fill('#username', name);
    await page.fill('#password', A.password);
    await Promise.all([page.waitForURL((u) => u.pathname === landing.split('?')[0]), page.click('#login-submit')]);
    const cookie = (await context.cookies(cx.server.base)).find((c) => c.name === COOKIE);
    recordSecret(cookie.value);
    return { context, page };
  };
  A.row = (page, username) => page.locator(`#members-table tr[data-username="${username}"]`);
  return A;
}

export function adminTests(test, cx) {
  let A;

  test('admin panel: organisations and people made with the operator CLI', async () => {
    A = setup(cx);
    const { server } = cx;
    A.password = recordSecret('pw-' + crypto.randomBytes(15).toString('base64url'));
    A.passwordFile = path.join(server.tmp, 'admin-tests.pw');
    fs.writeFileSync(A.passwordFile, A.password, { mode: 0o600 });
    runAdmin(server, ['org', 'create', 'acme', '--edition', 'enterprise']);
    runAdmin(server, ['org', 'create', 'smallco']);
    A.person('acme-owner', 'acme', 'owner', 'Ada Owner');
    A.person('acme-admin', 'acme', 'admin', 'Adrian Admin');
    A.person(LONG, 'acme', 'member', LONG_DISPLAY);
    A.person('mem-bob', 'acme', 'member', 'Bob Builder');
    A.person('mem-carol', 'acme', 'member', 'Carol Member');
    A.person('small-owner', 'smallco', 'owner', 'Sam Small');
    // Bob has 2-Step Verification, set up over the API as a browser would.
    const bob = await A.apiLogin('mem-bob');
    const start = await A.asUser(bob, 'POST', '/api/mfa/totp');
    assert.equal(start.status, 201, start.text);
    recordSecret(start.body.secret);
    recordSecret(start.body.uri);
    const app = { secret: recordSecret(start.body.secret.replace(/ /g, '')), used: -1 };
    const done = await A.asUser(bob, 'POST', '/api/mfa/totp/confirm', { code: await freshCode(app) });
    assert.equal(done.status, 200, done.text);
    for (const c of done.body.recovery_codes) recordSecret(c);
    // Alice signs in (a last sign-in to show) and has an API key of her own.
    A.alice = await A.apiLogin(LONG);
    const key = await A.asUser(A.alice, 'POST', '/api/api-keys', { name: 'laptop' });
    assert.equal(key.status, 201, key.text);
    A.aliceKey = recordSecret(key.body.key);
    A.aliceKeyId = key.body.id;
  });

  test('admin panel: signed out, /admin/keys goes to sign-in and comes back', async () => {
    const context = await cx.browser.newContext({ ignoreHTTPSErrors: true });
    cx.cleanups.push(() => context.close());
    const page = await context.newPage();
    await page.goto(cx.server.base + '/admin/keys');
    const url = new URL(page.url());
    assert.equal(url.pathname, '/login');
    assert.equal(url.searchParams.get('next'), '/admin/keys');
    await page.fill('#username', 'acme-owner');
    await page.fill('#password', A.password);
    await Promise.all([page.waitForURL((u) => u.pathname === '/admin/keys'), page.click('#login-submit')]);
    recordSecret((await context.cookies(cx.server.base)).find((c) => c.name === COOKIE).value);
    await context.close();
  });

  test('admin panel: the frame, its sections and the link back to Account', async () => {
    const { server } = cx;
    A.owner = await A.browserAs('acme-owner', '/account/authentication/api-keys');
    const { page } = A.owner;
    const link = page.locator('#admin-panel-link');
    assert.equal((await link.textContent()).trim(), 'Admin panel', 'owners see the Admin panel link');
    await A.atWidths(page, async (w) => {
      await assertFits(page, 'the account page with the Admin panel link');
      await shot(page, `admin-account-link-${w}`);
    });
    await Promise.all([page.waitForURL((u) => u.pathname === '/admin/members'), link.click()]);
    assert.equal((await page.locator('h1').textContent()).trim(), 'Admin panel');
    assert.equal((await page.locator('#org-name').textContent()).trim(), 'acme');
    assert.equal((await page.locator('#org-edition').textContent()).trim(), 'Enterprise edition');
    for (const [slug, name] of SECTIONS) {
      await clickThrough(page, `/admin/${slug}`, () => page.click(`a[data-section="${slug}"]`));
      assert.equal((await page.locator('h2#section-title').textContent()).trim(), name);
      for (const [other] of SECTIONS) {
        assert.equal(await page.locator(`a[data-section="${other}"]`).getAttribute('aria-current'), other === slug ? 'page' : null);
      }
      const scripts = await page.locator('script[src]').evaluateAll((s) => s.map((e) => e.getAttribute('src')));
      assert.deepEqual(scripts, ['/static/app.js', `/static/admin/${slug}.js`]);
      const js = await page.request.get(server.base + `/static/admin/${slug}.js`);
      assert.equal(js.status(), 200);
      assert.match(js.headers()['content-type'], /^text\/javascript/);
    }
    assert.equal((await page.request.get(server.base + '/static/admin/nope.js')).status(), 404);
    await Promise.all([page.waitForURL((u) => u.pathname.startsWith('/account/authentication/')), page.click('#account-link')]);
    const nope = await page.goto(server.base + '/admin/nope');
    assert.equal(nope.status(), 404);
  });

  test('admin panel: Members lists everyone with role, status, 2-Step Verification and last sign-in', async () => {
    const { page } = A.owner;
    await page.goto(cx.server.base + '/admin');
    assert.equal(new URL(page.url()).pathname, '/admin/members', '/admin leads to Members');
    const names = await page.locator('#members-table tbody tr').evaluateAll((rs) => rs.map((r) => r.dataset.username));
    assert.deepEqual(names.sort(), ['acme-admin', 'acme-owner', LONG, 'mem-bob', 'mem-carol'].sort(), 'acme only, no principal');
    const alice = A.row(page, LONG);
    assert.equal((await alice.locator('.member-display-name').textContent()).trim(), LONG_DISPLAY);
    assert.equal(await alice.locator('select.role-select').inputValue(), 'member');
    assert.equal((await alice.locator('.member-status').textContent()).trim(), 'Active');
    assert.equal((await alice.locator('.member-2sv').textContent()).trim(), 'Off');
    const last = alice.locator('.member-last-sign-in time');
    assert.match(await last.textContent(), /^(just now|\d+ min ago)$/, 'relative');
    assert.match(await last.getAttribute('title'), /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$/, 'the exact UTC time on hover');
    assert.equal((await A.row(page, 'mem-carol').locator('.member-last-sign-in').textContent()).trim(), 'Never');
    assert.equal((await A.row(page, 'mem-bob').locator('.member-2sv .badge').textContent()).trim(), 'On');
    assert.equal((await A.row(page, 'mem-bob').locator('.member-reset-2sv').getAttribute('aria-label')), 'Reset 2-Step Verification of mem-bob');
    assert.equal(await A.row(page, 'mem-carol').locator('.member-reset-2sv').count(), 0, 'nothing to reset when 2SV is off');
    assert.equal(await A.row(page, 'acme-owner').locator('.member-disable').count(), 0, 'no disabling oneself');
    assert.match(await A.row(page, 'acme-owner').textContent(), /You/);
    assert.equal(await page.locator('#member-add-open').isVisible(), true, 'Add member is offered');
    await A.atWidths(page, async (w) => {
      await assertFits(page, 'the Members section');
      await shot(page, `admin-members-${w}`);
    });
  });

  test('admin panel: Members filters by role and status, and Clear shows everyone again', async () => {
    const { page } = A.owner;
    await page.selectOption('#members-filter-role', 'member');
    await Promise.all([page.waitForURL((u) => u.searchParams.get('role') === 'member'), page.click('#members-filters-apply')]);
    assert.equal(new URL(page.url()).search, '?role=member', 'empty filters stay out of the address');
    const roles = await page.locator('#members-table tbody tr').evaluateAll((rs) => rs.map((r) => r.dataset.role));
    assert.deepEqual(roles, ['member', 'member', 'member']);
    assert.equal(await page.locator('#members-filter-role').inputValue(), 'member');
    await A.atWidths(page, async (w) => {
      await assertFits(page, 'the filtered Members section');
      await shot(page, `admin-members-filtered-${w}`);
    });
    await page.selectOption('#members-filter-status', 'disabled');
    await Promise.all([page.waitForURL((u) => u.searchParams.get('status') === 'disabled'), page.click('#members-filters-apply')]);
    assert.match(await page.locator('#members-empty').textContent(), /No members match these filters/);
    await Promise.all([page.waitForURL((u) => u.search === ''), page.click('#members-filters-clear')]);
    assert.equal(await page.locator('#members-table tbody tr').count(), 5);
  });

  test('admin panel: a role changes with the select and Save; the last owner cannot be demoted', async () => {
    const { page } = A.owner;
    const alice = A.row(page, LONG);
    await alice.locator('select.role-select').selectOption('admin');
    assert.equal(await alice.locator('.role-save').isVisible(), true, 'Save shows once the role differs');
    await A.atWidths(page, async (w) => {
      await assertFits(page, 'a role change waiting for Save');
      await shot(page, `admin-members-role-change-${w}`);
    });
    await alice.locator('.role-save').click();
    await A.toast(page, `${LONG} is now an admin`);
    await page.waitForFunction((n) => document.querySelector(`tr[data-username="${n}"]`)?.dataset.role === 'admin', LONG);
    assert.equal(await alice.locator('.role-save').isHidden(), true);
    const me = await A.asUser(A.alice, 'GET', '/api/admin/members');
    assert.equal(me.status, 200, 'an admin now: the members list opens to them at once');
    await alice.locator('select.role-select').selectOption('member');
    await alice.locator('.role-save').click();
    await A.toast(page, `${LONG} is now a member`);
    await page.waitForFunction((n) => document.querySelector(`tr[data-username="${n}"]`)?.dataset.role === 'member', LONG);

    // The only owner demoting themselves: refused, with the server's reason.
    const owner = A.row(page, 'acme-owner');
    await owner.locator('select.role-select').selectOption('member');
    const [res] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith('/role')),
      owner.locator('.role-save').click(),
    ]);
    assert.equal(res.status(), 409);
    await A.toast(page, "this is the organisation's last active owner");
    assert.equal(await owner.locator('select.role-select').inputValue(), 'owner', 'the select shows the role kept');
    assert.equal(await owner.locator('.role-save').isHidden(), true);
    await A.atWidths(page, async (w) => {
      await assertFits(page, 'the last-owner refusal');
      await shot(page, `admin-members-last-owner-${w}`, { full: false });
    });
  });

  test('admin panel: Disable and Enable ask first, and disabling ends sessions and keys at once', async () => {
    const { page } = A.owner;
    const alice = A.row(page, LONG);
    const dialog = page.locator('dialog#disable-member-dialog');
    await A.atWidths(page, async (w) => {
      await alice.locator('.member-disable').click();
      await dialog.waitFor({ state: 'visible' });
      await assertFits(page, 'the disable dialog');
      await shot(page, `admin-disable-member-dialog-${w}`, { full: false });
      await page.click('#disable-member-cancel');
      await dialog.waitFor({ state: 'hidden' });
    });
    const text = (await dialog.textContent()).replace(/\s+/g, ' ');
    assert.match(text, new RegExp(`${LONG} is signed out everywhere at once`));
    assert.match(text, /sessions end, and their tokens and API keys stop working immediately/);
    assert.equal(await keyStatus(cx.server.base, A.aliceKey), 200, 'Cancel changes nothing');
    await alice.locator('.member-disable').click();
    await page.click('#disable-member-confirm');
    await A.toast(page, `${LONG} is disabled`);
    await page.waitForFunction((n) => document.querySelector(`tr[data-username="${n}"]`)?.dataset.disabled === 'true', LONG);
    assert.equal((await alice.locator('.member-status').textContent()).trim(), 'Disabled');
    assert.equal((await A.asUser(A.alice, 'GET', '/api/auth/session')).status, 401, 'her session ended');
    assert.equal(await keyStatus(cx.server.base, A.aliceKey), 401, 'her API key stopped');
    await A.atWidths(page, async (w) => {
      await assertFits(page, 'a disabled member');
      await shot(page, `admin-members-disabled-${w}`);
    });

    const enable = page.locator('dialog#enable-member-dialog');
    await alice.locator('.member-enable').click();
    await enable.waitFor({ state: 'visible' });
    await A.atWidths(page, async (w) => {
      await assertFits(page, 'the enable dialog');
      await shot(page, `admin-enable-member-dialog-${w}`, { full: false });
    });
    await page.click('#enable-member-confirm');
    await A.toast(page, `${LONG} is enabled again`);
    await page.waitForFunction((n) => document.querySelector(`tr[data-username="${n}"]`)?.dataset.disabled === 'false', LONG);
    assert.equal(await keyStatus(cx.server.base, A.aliceKey), 200, 'her API key works again');
    A.alice = await A.apiLogin(LONG);
  });

  test('admin panel: Reset 2-Step Verification wants a reason and turns it off', async () => {
    const { page } = A.owner;
    const bob = A.row(page, 'mem-bob');
    const dialog = page.locator('dialog#reset-2sv-dialog');
    await bob.locator('.member-reset-2sv').click();
    await dialog.waitFor({ state: 'visible' });
    assert.match(await dialog.textContent(), /mem-bob/);
    await page.click('#reset-2sv-confirm');
    assert.match(await page.locator('#reset-2sv-error').textContent(), /Give a reason/);
    assert.equal(await page.locator('#reset-2sv-reason').getAttribute('aria-invalid'), 'true');
    await A.atWidths(page, async (w) => {
      await assertFits(page, 'the reset 2SV dialog');
      await shot(page, `admin-reset-2sv-dialog-${w}`, { full: false });
    });
    await page.fill('#reset-2sv-reason', 'lost phone and recovery codes; identity checked by video call');
    await page.click('#reset-2sv-confirm');
    await A.toast(page, '2-Step Verification of mem-bob is reset');
    await dialog.waitFor({ state: 'hidden' });
    await page.waitForFunction(() => document.querySelector('tr[data-username="mem-bob"] .member-2sv')?.textContent.trim() === 'Off');
    const login = await httpsRequest(cx.server.base, 'POST', '/api/auth/login', { json: { username: 'mem-bob', password: A.password } });
    assert.equal(login.status, 200);
    assert.ok(!login.body.mfa_required, 'the password alone signs Bob in now');
    recordSecret(login.body.csrf_token);
    recordSecret(login.headers['set-cookie'][0].split(';')[0].split('=')[1]);
    const audit = runAdmin(cx.server, ['audit', '--limit', '30', '--json']);
    assert.ok(JSON.parse(audit.stdout).some((e) => e.action === 'mfa.reset_by_admin' && /video call/.test(e.detail ?? '')),
      'the reason is in the audit log');
  });

  test('admin panel: an admin sees owners without controls and cannot make owners', async () => {
    const admin = await A.browserAs('acme-admin', '/admin/members');
    const { page } = admin;
    const owner = A.row(page, 'acme-owner');
    assert.equal(await owner.locator('select').count(), 0);
    assert.match(await owner.textContent(), /Only an owner can change an owner/);
    const options = await A.row(page, 'mem-carol').locator('select.role-select option').evaluateAll((os) => os.map((o) => o.value));
    assert.deepEqual(options, ['admin', 'member']);
    await A.atWidths(page, async (w) => {
      await assertFits(page, 'the Members section as an admin');
      await shot(page, `admin-members-as-admin-${w}`);
    });
    await admin.context.close();
  });

  test('admin panel: Members is paged, and the next page keeps the filter', async () => {
    const { page } = A.owner;
    for (let i = 0; i < 48; i++) A.person(`bulk-${String(i).padStart(2, '0')}`, 'acme', 'member');
    await page.goto(cx.server.base + '/admin/members?role=member');
    assert.equal(await page.locator('#members-table tbody tr').count(), 50);
    const more = page.locator('a[rel=next]');
    assert.match(await more.textContent(), /More members/);
    await Promise.all([page.waitForURL((u) => u.searchParams.has('cursor')), more.click()]);
    const url = new URL(page.url());
    assert.equal(url.searchParams.get('role'), 'member', 'the filter is kept');
    const roles = await page.locator('#members-table tbody tr').evaluateAll((rs) => rs.map((r) => r.dataset.role));
    assert.ok(roles.length === 1 && roles.every((r) => r === 'member'), `the rest of the members: ${roles}`);
    await A.atWidths(page, async (w) => {
      await assertFits(page, 'the second page of members');
      await shot(page, `admin-members-page-2-${w}`);
    });
  });

  adminKeyTests(test, cx, () => A);
  adminPolicyTests(test, cx, () => A);
  adminOnboardingTests(test, cx, () => A);
  adminAuditTests(test, cx, () => A);
  adminScimTests(test, cx, () => A);

  test('admin panel: a member gets the 404 page and no Admin panel link', async () => {
    const carol = await A.browserAs('mem-carol', '/account/authentication/api-keys');
    const { page } = carol;
    assert.equal(await page.locator('#admin-panel-link').count(), 0, 'no link for a member');
    await A.atWidths(page, async (w) => {
      await shot(page, `admin-account-no-link-${w}`);
    });
    for (const p of ['/admin', '/admin/members', '/admin/keys', '/admin/policies', '/admin/scim', '/admin/nope']) {
      const res = await page.goto(cx.server.base + p);
      assert.equal(res.status(), 404, p);
      assert.equal(new URL(page.url()).pathname, p, `${p}: no redirect that would hint at the panel`);
      assert.equal((await page.locator('h1').textContent()).trim(), 'Page not found', p);
    }
    // An API client with a member's session gets our JSON 404, as for any unknown path.
    const s = await A.apiLogin('mem-carol');
    const json = await httpsRequest(cx.server.base, 'GET', '/admin/keys', { headers: { Cookie: s.cookie, Accept: '*/*' } });
    assert.equal(json.status, 404);
    assert.equal(json.body.error, 'not_found');
    await A.atWidths(page, async (w) => {
      await page.goto(cx.server.base + '/admin/keys');
      await assertFits(page, 'the 404 page for a member');
      await shot(page, `admin-404-member-${w}`);
    });
    await carol.context.close();
    await A.owner.context.close();
    assert.deepEqual(A.errors, [], 'no script errors in the admin panel');
  });
}
