// Browser tests of the API Keys tab: the documentation's flow (Add API Key → Key Name,
// Expiration, permissions → Add Key; Duplicate → review → Generate Key), toasts, badges,
// one-line dates, the delete rule of the policy, revoked keys and paging.

import assert from 'node:assert/strict';
import { bearerGet, httpsRequest, keyStatus, recordSecret, runAdmin } from '../support.mjs';
import { assertFits, bodyText, shot } from '../layout.mjs';

const TAB = '/account/authentication/api-keys';

// The page's own fetch, with its CSRF token (for setting up data quickly).
export function pageApi(page, method, path, body) {
  return page.evaluate(async ([method, path, body]) => {
    const r = await fetch(path, {
      method,
      headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': document.querySelector('meta[name=csrf-token]').content },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: r.status, body: r.status === 204 ? null : await r.json() };
  }, [method, path, body]);
}

async function toast(page, text) {
  await page.locator('.toast', { hasText: text }).first().waitFor();
}

export function apiKeyTests(test, cx) {
  test('API keys: Add API Key opens the form; Add Key shows the key once; the empty line goes', async () => {
    const { page, server } = cx;
    await cx.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: server.base });
    await page.goto(server.base + TAB);
    await page.locator('#api-keys-empty').waitFor();
    await page.evaluate(() => { window.notReloaded = true; });
    const open = page.locator('#api-key-add-open');
    assert.equal((await open.textContent()).trim(), 'Add API Key');
    const dialog = page.locator('dialog#api-key-dialog');
    await cx.atWidths(async (w) => {
      await open.click();
      await dialog.waitFor({ state: 'visible' });
      await assertFits(page, 'the Add API Key dialog');
      await shot(page, `api-keys-add-dialog-${w}`, { full: false });
      await page.click('#api-key-cancel');
      await dialog.waitFor({ state: 'hidden' });
    });
    await open.click();
    assert.equal((await page.locator('label[for=api-key-name]').textContent()).trim(), 'Key Name');
    assert.equal((await page.locator('label[for=api-key-expiration]').textContent()).trim(), 'Expiration');
    assert.equal((await page.locator('#api-key-permissions legend').textContent()).trim(), 'Permissions');
    assert.equal((await page.locator('#api-key-create').textContent()).trim(), 'Add Key');
    const options = await page.locator('#api-key-expiration option').evaluateAll((os) => os.map((o) => o.value));
    assert.deepEqual(options, ['none', '7', '30', '60', '90'], 'the default policy offers every expiration');
    await page.fill('#api-key-name', 'browser-key');
    await page.selectOption('#api-key-expiration', '7');
    await page.check('input[name="permission"][value="api_keys:read"]');
    await page.click('#api-key-create');
    const panel = page.locator('dialog#secret-dialog');
    await panel.waitFor({ state: 'visible' });
    await toast(page, 'API key browser-key added');
    const key = recordSecret(await page.locator('#secret-value').inputValue());
    assert.match(key, /^gwk_[0-9A-Za-z]{38}$/);
    assert.match(await panel.textContent(), /cannot be seen again/);
    await page.click('#secret-copy');
    await page.locator('#secret-copy-status', { hasText: 'Copied' }).waitFor();
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), key, 'the copy button copies the key');
    await cx.atWidths(async (w) => {
      await assertFits(page, 'the new key panel');
      await shot(page, `api-key-created-${w}`, { full: false });
    });
    await page.keyboard.press('Escape');
    assert.equal(await panel.isVisible(), true, 'Escape does not throw the key away');
    assert.equal(await keyStatus(server.base, key), 200, 'the new key authenticates');
    await page.click('#secret-done');
    await panel.waitFor({ state: 'hidden' });
    assert.equal(await page.locator('#secret-value').inputValue(), '');
    assert.ok(!(await page.content()).includes(key), 'the key is not shown again');
    const row = page.locator('tr[data-key-name="browser-key"]');
    await row.waitFor();
    assert.equal(await page.locator('#api-keys-empty').count(), 0, 'the "no keys yet" line is gone');
    assert.equal(await page.evaluate(() => window.notReloaded), true, 'no reload was needed');
    assert.match(await row.textContent(), /gwk_/);
    assert.equal((await row.locator('.key-status').textContent()).trim(), 'Enabled');
    await row.locator('details.key-permissions summary').click();
    assert.match(await row.locator('details.key-permissions').textContent(), /api_keys:read/);
    cx.server.browserKey = key;
  });

  test('API keys: disable and enable confirm with a toast, and the badge follows', async () => {
    const { page, server } = cx;
    const key = server.browserKey;
    const row = () => page.locator('tr[data-key-name="browser-key"]');
    await row().locator('button.key-disable').click();
    await toast(page, 'API key browser-key disabled');
    await page.waitForFunction(() => document.querySelector('tr[data-key-name="browser-key"] .badge')?.textContent === 'Disabled');
    assert.equal(await row().locator('button.key-enable').count(), 1);
    assert.equal(await keyStatus(server.base, key), 401, 'a disabled key is refused at once');
    await shot(page, 'api-key-disabled-1280');
    await row().locator('button.key-enable').click();
    await toast(page, 'API key browser-key enabled');
    await page.waitForFunction(() => document.querySelector('tr[data-key-name="browser-key"] .badge')?.textContent === 'Enabled');
    assert.equal(await keyStatus(server.base, key), 200);
    assert.equal(await page.evaluate(() => window.notReloaded), true);
  });

  test('API keys: Duplicate opens a draft with the original permissions and expiry; Generate Key shows the copy once', async () => {
    const { page, server } = cx;
    const row = page.locator('tr[data-key-name="browser-key"]');
    const dialog = page.locator('dialog#api-key-dialog');
    await cx.atWidths(async (w) => {
      await row.locator('button.key-duplicate').click();
      await dialog.waitFor({ state: 'visible' });
      await assertFits(page, 'the duplicate draft');
      await shot(page, `duplicate-key-dialog-${w}`, { full: false });
      await page.click('#api-key-cancel');
    });
    await row.locator('button.key-duplicate').click();
    assert.equal((await page.locator('#api-key-dialog-title').textContent()).trim(), 'Duplicate API key');
    assert.equal((await page.locator('#api-key-create').textContent()).trim(), 'Generate Key');
    assert.equal(await page.locator('#api-key-name').inputValue(), 'browser-key (copy)');
    assert.equal(await page.locator('#api-key-expiration').inputValue(), '7', "the original's expiry");
    const checked = () => page.locator('input[name=permission]:checked').evaluateAll((b) => b.map((x) => x.value).sort());
    assert.deepEqual(await checked(), ['account:read', 'api_keys:read'], "the original's permissions");
    const [res] = await Promise.all([
      page.waitForResponse((r) => r.request().method() === 'POST' && /\/duplicate$/.test(new URL(r.url()).pathname)),
      page.click('#api-key-create'),
    ]);
    assert.equal(res.status(), 201, 'unchanged permissions: the duplicate endpoint');
    await page.locator('dialog#secret-dialog').waitFor({ state: 'visible' });
    const copy = recordSecret(await page.locator('#secret-value').inputValue());
    assert.notEqual(copy, server.browserKey, 'a duplicate has a new secret');
    assert.equal(await keyStatus(server.base, copy), 200);
    await page.click('#secret-done');
    await page.locator('tr[data-key-name="browser-key (copy)"]').waitFor();

    // Adjusted in the draft: a new key with exactly the chosen permissions.
    await row.locator('button.key-duplicate').click();
    await page.fill('#api-key-name', 'browser-key narrowed');
    await page.uncheck('input[name=permission][value="api_keys:read"]');
    await page.selectOption('#api-key-expiration', '30');
    const [made] = await Promise.all([
      page.waitForResponse((r) => r.request().method() === 'POST' && new URL(r.url()).pathname === '/api/api-keys'),
      page.click('#api-key-create'),
    ]);
    assert.equal(made.status(), 201);
    server.narrowKey = recordSecret((await made.json()).key);
    await page.click('#secret-done');
    const listed = (await pageApi(page, 'GET', '/api/api-keys')).body;
    const narrowed = listed.find((k) => k.name === 'browser-key narrowed');
    assert.deepEqual(narrowed.permissions, ['account:read']);
    const days = (Date.parse(narrowed.expires_at) - Date.parse(narrowed.created_at)) / 86400_000;
    assert.equal(Math.round(days), 30);
    const dup = listed.find((k) => k.name === 'browser-key (copy)');
    assert.deepEqual(dup.permissions.sort(), ['account:read', 'api_keys:read']);
  });

  test('API keys: dates fit one line, last use is relative, counts are singular for one', async () => {
    const { page, server } = cx;
    // Let the last use reach the store (flushed every 5 s).
    const deadline = Date.now() + 20_000;
    let used;
    while (Date.now() < deadline) {
      used = (await pageApi(page, 'GET', '/api/api-keys')).body.find((k) => k.name === 'browser-key');
      if (used.last_used_at) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    assert.ok(used.last_used_at, 'the use was recorded');
    await page.goto(server.base + TAB);
    const row = page.locator('tr[data-key-name="browser-key"]');
    const last = row.locator('.key-last-used time');
    assert.equal(await last.getAttribute('datetime'), used.last_used_at.replace(/\.\d+Z$/, 'Z'));
    assert.match(await last.getAttribute('title'), /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$/);
    assert.match(await last.textContent(), /^(just now|\d+ min ago)$/);
    assert.match(await row.locator('.key-last-used').textContent(), /from 127\.0\.0\.1/);
    assert.match((await row.locator('.key-created time').textContent()).trim(), /^\d{4}-\d\d-\d\d \d\d:\d\d$/);
    await page.locator('.key-permissions summary', { hasText: /^1 permission$/ }).first().waitFor();
    assert.ok(!(await bodyText(page)).includes('(s)'), 'no "permission(s)"');
    for (const w of [1280, 390]) {
      await page.setViewportSize({ width: w, height: 800 });
      const lines = await page.locator('#api-keys-table time:visible').evaluateAll((ts) => ts.map((t) => t.getClientRects().length));
      assert.ok(lines.length > 0 && lines.every((n) => n === 1), `every date on one line at ${w} px: ${lines}`);
    }
    await page.setViewportSize({ width: 1280, height: 800 });
    // Without JavaScript the date itself is the text.
    const ctx = await cx.browser.newContext({ ignoreHTTPSErrors: true, javaScriptEnabled: false });
    try {
      await ctx.addCookies(await cx.context.cookies(server.base));
      const p = await ctx.newPage();
      await p.goto(server.base + TAB);
      assert.match(await p.locator('tr[data-key-name="browser-key"] .key-last-used time').textContent(), /^\d{4}-\d\d-\d\d \d\d:\d\d$/);
    } finally {
      await ctx.close();
    }
  });

  test('API keys: the delete icon asks for confirmation, then the key stops working', async () => {
    const { page, server } = cx;
    const key = server.browserKey;
    const row = page.locator('tr[data-key-name="browser-key"]');
    const dialog = page.locator('dialog#delete-key-dialog');
    await cx.atWidths(async (w) => {
      await assertFits(page, 'the API Keys tab with keys');
      await row.locator('button.key-delete').click();
      await dialog.waitFor({ state: 'visible' });
      assert.match(await dialog.textContent(), /browser-key/);
      await assertFits(page, 'the delete dialog');
      await shot(page, `delete-key-dialog-${w}`, { full: false });
      await page.click('#delete-key-cancel');
      await dialog.waitFor({ state: 'hidden' });
    });
    assert.equal(await keyStatus(server.base, key), 200, 'cancel keeps the key');
    await row.locator('button.key-delete').click();
    assert.equal((await page.locator('#delete-key-confirm').textContent()).trim(), 'Delete API Key');
    await page.click('#delete-key-confirm');
    await toast(page, 'API key browser-key deleted');
    await page.locator('tr[data-key-name="browser-key"]').waitFor({ state: 'detached' });
    assert.equal(await keyStatus(server.base, key), 401, 'a deleted key is refused');
  });

  test('API keys: under "disable before delete" the delete icon says so before any dialog', async () => {
    const { page, server } = cx;
    try {
      runAdmin(server, ['policy', '--require-disable-before-delete', 'true']);
      await page.goto(server.base + TAB);
      const note = page.locator('#api-keys-policy-note');
      assert.match(await note.textContent(), /requires disabling a key before deleting/);
      const row = page.locator('tr[data-key-name="browser-key (copy)"]');
      const del = row.locator('button.key-delete');
      assert.equal(await del.getAttribute('aria-disabled'), 'true');
      assert.match(await del.getAttribute('title'), /Disable the key first/);
      await del.click({ force: true }); // aria-disabled: still clickable, it explains itself
      await toast(page, 'Disable API key browser-key (copy) first');
      assert.equal(await page.locator('dialog#delete-key-dialog').isVisible(), false, 'no dialog to fail after');
      await shot(page, 'api-keys-disable-first-1280');
      await row.locator('button.key-disable').click();
      await toast(page, 'API key browser-key (copy) disabled');
      await page.waitForFunction(() => !document.querySelector('tr[data-key-name="browser-key (copy)"] .key-delete[aria-disabled]'));
      await row.locator('button.key-delete').click();
      await page.click('#delete-key-confirm');
      await toast(page, 'API key browser-key (copy) deleted');
    } finally {
      runAdmin(server, ['policy', '--require-disable-before-delete', 'false']);
    }
  });

  test('API keys: an organisation-fixed expiration is text with its reason, not a one-option list', async () => {
    const { page, server } = cx;
    try {
      runAdmin(server, ['policy', '--api-key-user-choice', 'false', '--api-key-default-expiration', '30']);
      await page.goto(server.base + TAB);
      await page.click('#api-key-add-open');
      assert.equal(await page.locator('select#api-key-expiration').count(), 0);
      const fixed = page.locator('#api-key-expiration-fixed');
      assert.match(await fixed.textContent(), /30 days/);
      assert.match(await fixed.textContent(), /organisation sets/);
      await shot(page, 'api-keys-add-dialog-policy-fixed-1280', { full: false });
      await page.click('#api-key-cancel');
    } finally {
      runAdmin(server, ['policy', '--api-key-user-choice', 'true']);
    }
  });

  test('API keys: a key revoked with the token that made it shows Revoked and no Enable', async () => {
    const { page, server } = cx;
    const minted = await pageApi(page, 'POST', '/api/tokens', { name: 'parent', expires_in_hours: 1 });
    assert.equal(minted.status, 201);
    const token = recordSecret(minted.body.token);
    const child = await httpsRequest(server.base, 'POST', '/api/api-keys', {
      headers: { Authorization: recordSecret('Bearer ' + token) }, json: { name: 'made-by-token' },
    });
    assert.equal(child.status, 201, child.text);
    recordSecret(child.body.key);
    assert.equal((await pageApi(page, 'DELETE', `/api/tokens/${minted.body.id}`)).status, 204);
    assert.equal((await bearerGet(server.base, token)).status, 401);
    await page.goto(server.base + TAB);
    const row = page.locator('tr[data-key-name="made-by-token"]');
    assert.equal((await row.locator('.badge').textContent()).trim(), 'Revoked');
    assert.equal(await row.locator('button.key-enable, button.key-disable').count(), 0);
  });

  test('API keys: the list is paged, and actions on a later page stay on it', async () => {
    const { page, server } = cx;
    await page.goto(server.base + TAB);
    const have = (await pageApi(page, 'GET', '/api/api-keys?limit=200')).body.length;
    const made = [];
    for (let i = have; i < 52; i++) {
      const r = await pageApi(page, 'POST', '/api/api-keys', { name: `bulk-${String(i).padStart(2, '0')}` });
      assert.equal(r.status, 201);
      recordSecret(r.body.key);
      made.push(r.body.id);
    }
    await page.goto(server.base + TAB);
    const more = page.locator('a[rel=next]');
    assert.match(await more.textContent(), /More keys/);
    await Promise.all([page.waitForURL((u) => u.searchParams.has('cursor')), more.click()]);
    const rows = page.locator('#api-keys-table tbody tr');
    assert.ok((await rows.count()) >= 1, 'the second page lists the rest');
    const name = await rows.first().getAttribute('data-key-name');
    await rows.first().locator('button.key-disable').click();
    await toast(page, `API key ${name} disabled`);
    assert.ok(new URL(page.url()).searchParams.has('cursor'), 'still on page 2');
    await page.waitForFunction((n) => document.querySelector(`tr[data-key-name="${n}"] .badge`)?.textContent === 'Disabled', name);
    for (const id of made) assert.equal((await pageApi(page, 'DELETE', `/api/api-keys/${id}`)).status, 204);
  });
}
