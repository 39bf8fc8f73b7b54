// Browser tests of the Tokens tab: Generate Token opens the form (24 hours by default, as
// the documentation says), Add Token shows the token once with how to use it, the CLI
// signs in with it, Revoke asks first, and the policy's limits show as they apply.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { bearerGet, recordSecret, runAdmin, runCli } from '../support.mjs';
import { assertFits, shot } from '../layout.mjs';
import { pageApi } from './api-keys.mjs';

const TAB = '/account/authentication/tokens';

export function tokenTests(test, cx) {
  test('tokens: Generate Token opens the form, 24 hours is the default, Add Token shows it once', async () => {
    const { page, server } = cx;
    await cx.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: server.base });
    await page.goto(server.base + TAB);
    await page.locator('#tokens-empty').waitFor();
    assert.match(await page.locator('#tokens-intro').textContent(), /last\s+from 1 to 24 hours/);
    const open = page.locator('#token-add-open');
    assert.equal((await open.textContent()).trim(), 'Generate Token');
    const dialog = page.locator('dialog#token-dialog');
    await cx.atWidths(async (w) => {
      await open.click();
      await dialog.waitFor({ state: 'visible' });
      await assertFits(page, 'the Generate Token dialog');
      await shot(page, `tokens-add-dialog-${w}`, { full: false });
      await page.click('#token-cancel');
    });
    await open.click();
    const select = page.locator('#token-expiration');
    const options = await select.locator('option').evaluateAll((os) => os.map((o) => [o.value, o.textContent.trim()]));
    assert.deepEqual(options.map(([v]) => v), Array.from({ length: 24 }, (_, i) => String(i + 1)));
    assert.equal(options[0][1], '1 hour');
    assert.equal(options[23][1], '24 hours');
    assert.equal(await select.inputValue(), '24', 'the documented default');
    const apiOptions = (await pageApi(page, 'GET', '/api/tokens/options')).body;
    assert.equal(String(apiOptions.default_hours), '24');
    assert.equal((await page.locator('#token-create').textContent()).trim(), 'Add Token');

    await page.fill('#token-name', 'cli');
    await page.selectOption('#token-expiration', '2');
    const before = Date.now();
    await page.click('#token-create');
    const panel = page.locator('dialog#secret-dialog');
    await panel.waitFor({ state: 'visible' });
    await page.locator('.toast', { hasText: 'Token cli added' }).waitFor();
    const field = page.locator('#secret-value');
    const token = recordSecret(await field.inputValue());
    assert.match(token, /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/, 'a JWT: three base64url parts');
    assert.equal(await field.getAttribute('readonly'), '');
    assert.match(await field.evaluate((el) => getComputedStyle(el).fontFamily), /mono/i);
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'secret-value', 'focus moves to the token');
    const text = await panel.textContent();
    assert.match(text, /cannot be seen again/);
    assert.match(text, new RegExp(`gatehouse login --server ${server.base.replace(/[.]/g, '\\.')}`));
    assert.ok(text.includes(`curl -H "Authorization: Bearer $TOKEN" ${server.base}/api/auth/session`), 'the curl hint');
    const expiresAt = Date.parse(await page.locator('#secret-expires time').getAttribute('datetime'));
    assert.ok(Math.abs(expiresAt - (before + 2 * 3600_000)) < 120_000, 'expires about 2 hours from now');
    await page.click('#secret-copy');
    await page.locator('#secret-copy-status', { hasText: 'Copied' }).waitFor();
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), token);
    await cx.atWidths(async (w) => {
      await assertFits(page, 'the new token panel');
      await shot(page, `token-created-${w}`, { full: false });
    });
    await page.click('#secret-done');
    await panel.waitFor({ state: 'hidden' });
    const row = page.locator('tr[data-token-name="cli"]');
    await row.waitFor();
    assert.ok(!(await page.content()).includes(token), 'the token is not in the page any more');
    assert.equal(await page.locator('#tokens-empty').count(), 0);
    assert.match((await row.locator('.token-expires time').first().textContent()).trim(), /^\d{4}-\d\d-\d\d \d\d:\d\d$/);
    assert.match(await row.locator('.token-expires').textContent(), /in 2 h/);
    await row.locator('details.token-scopes summary').click();
    assert.match(await row.locator('details.token-scopes').textContent(), /tokens:write/);
    server.webToken = token;
    const { status, body } = await bearerGet(server.base, token);
    assert.equal(status, 200);
    assert.equal(body.auth_method, 'bearer');
    assert.equal(body.token.id, await row.getAttribute('data-token-id'), 'the session names the listed token');
  });

  test('tokens: the CLI logs in with the token made in the web UI', async () => {
    const { server } = cx;
    const token = server.webToken;
    const configHome = fs.mkdtempSync(path.join(os.tmpdir(), 'gatehouse-cli-'));
    try {
      const login = runCli(configHome, ['login', '--server', server.base, '--fingerprint', server.fingerprint], token + '\n');
      assert.equal(login.status, 0, `gatehouse login failed: ${login.stderr}`);
      assert.match(login.stdout, /as admin \(bearer\)/);
      const who = runCli(configHome, ['auth', 'session']);
      assert.equal(who.status, 0, `gatehouse auth session failed: ${who.stderr}`);
      assert.match(who.stdout, /^auth method:\s+bearer$/m);
      assert.ok(!who.stdout.includes(token) && !login.stdout.includes(token), 'the CLI never prints the token');
      assert.equal(runCli(configHome, ['logout']).status, 0);
    } finally {
      fs.rmSync(configHome, { recursive: true, force: true });
    }
  });

  test('tokens: revoke asks for confirmation, then the token stops working', async () => {
    const { page, server } = cx;
    const token = server.webToken;
    await page.goto(server.base + TAB);
    const row = page.locator('tr[data-token-name="cli"]');
    const revoke = row.locator('button.token-revoke');
    assert.match(await revoke.getAttribute('aria-label'), /^Revoke token cli /);
    const dialog = page.locator('dialog#revoke-token-dialog');
    await cx.atWidths(async (w) => {
      await assertFits(page, 'the Tokens tab with a token');
      await revoke.click();
      await dialog.waitFor({ state: 'visible' });
      assert.match(await dialog.textContent(), /cli/);
      assert.match(await dialog.textContent(), /stops working immediately/);
      await assertFits(page, 'the revoke dialog');
      await shot(page, `revoke-token-dialog-${w}`, { full: false });
      await page.click('#revoke-token-cancel');
      await dialog.waitFor({ state: 'hidden' });
    });
    assert.equal((await bearerGet(server.base, token)).status, 200, 'cancel keeps the token');
    await revoke.click();
    assert.equal((await page.locator('#revoke-token-confirm').textContent()).trim(), 'Revoke Token');
    await page.click('#revoke-token-confirm');
    await page.locator('.toast', { hasText: 'Token cli revoked' }).waitFor();
    await page.locator('#tokens-empty').waitFor();
    assert.equal((await bearerGet(server.base, token)).status, 401, 'a revoked token is refused at once');
  });

  test('tokens: the organisation policy limits the lifetimes, and a fixed one is text', async () => {
    const { page, server } = cx;
    const hoursOffered = () => page.locator('#token-expiration option').evaluateAll((os) => os.map((o) => o.value));
    try {
      runAdmin(server, ['policy', '--token-max-hours', '12', '--token-default-hours', '4']);
      await page.goto(server.base + TAB);
      await page.click('#token-add-open');
      assert.deepEqual(await hoursOffered(), Array.from({ length: 12 }, (_, i) => String(i + 1)));
      assert.equal(await page.locator('#token-expiration').inputValue(), '4');

      // The policy tightens while the form is open: the server's message is shown in it.
      await page.selectOption('#token-expiration', '12');
      runAdmin(server, ['policy', '--token-max-hours', '3', '--token-default-hours', '2']);
      await page.click('#token-create');
      await page.waitForFunction(() => (document.querySelector('#token-form-error')?.textContent ?? '').trim().length > 0);
      assert.match(await page.locator('#token-form-error').textContent(), /3/, 'the message names the limit');
      assert.equal(await page.locator('#token-create').isEnabled(), true, 'the button is usable again');
      await page.click('#token-cancel');

      runAdmin(server, ['policy', '--token-user-choice', 'false', '--token-default-hours', '3']);
      await page.goto(server.base + TAB);
      assert.match(await page.locator('#tokens-intro').textContent(), /last\s+3 hours and/);
      await page.click('#token-add-open');
      assert.equal(await page.locator('select#token-expiration').count(), 0, 'no one-option list');
      assert.match(await page.locator('#token-expiration-fixed').textContent(), /3 hours/);
      assert.match(await page.locator('#token-expiration-note').textContent(), /organisation sets/);
      await shot(page, 'tokens-policy-fixed-1280', { full: false });
      const before = Date.now();
      await page.click('#token-create');
      await page.locator('dialog#secret-dialog').waitFor({ state: 'visible' });
      const token = recordSecret(await page.locator('#secret-value').inputValue());
      const expiresAt = Date.parse(await page.locator('#secret-expires time').getAttribute('datetime'));
      assert.ok(Math.abs(expiresAt - (before + 3 * 3600_000)) < 120_000, 'the imposed 3 hours apply');
      // Leaving and coming back (back/forward cache or not) does not bring it back.
      await Promise.all([
        page.waitForURL((u) => u.pathname === '/account/authentication/ssh-keys'),
        page.evaluate(() => window.location.assign('/account/authentication/ssh-keys')),
      ]);
      await page.goBack();
      await page.locator('#token-add-open').waitFor();
      assert.equal(await page.locator('#secret-value').inputValue(), '', 'the token is gone after Back');
      assert.equal(await page.locator('dialog#secret-dialog').isVisible(), false);
      assert.ok(!(await page.content()).includes(token));
      await page.reload();
      assert.equal(await page.locator('tr[data-token-name="token"]').count(), 1, 'an unnamed token is listed as "token"');
    } finally {
      runAdmin(server, ['policy', '--token-user-choice', 'true', '--token-max-hours', '24', '--token-default-hours', '24']);
    }
  });
}
