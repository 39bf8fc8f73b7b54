// Browser tests of the admin panel's Keys section, following the platform documentation:
// Create Key → Public API Key → Next → name → Permissions → Generate Key (shown once, then
// used with curl as HTTP Basic), Duplicate Key with an adjusted permission, Disable Key,
// Delete Key refused while enabled and confirmed once disabled; members' own keys; the
// filters and paging; the Team Computer Key (create, refused while one exists, delete,
// recreate); the SCIM Key regenerated (the old one dead at once); and a Team edition
// organisation, which is offered no Public API Key.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { keyStatus, recordSecret } from '../support.mjs';
import { assertFits, shot } from '../layout.mjs';
import { pageApi } from './api-keys.mjs';

const KEYS = '/admin/keys';
const ORG_RULE = 'Disable this key first';

// `curl -u "KEY:"`, the documented way to use a key; the key goes in on stdin (`-K -`),
// never on the command line. Resolves to { status, body }.
function curl(base, key, method, pathname) {
  recordSecret(key);
  recordSecret('Basic ' + Buffer.from(key + ':').toString('base64'));
  const r = spawnSync('curl', ['-sk', '-K', '-', '-o', '-', '-w', '\n%{http_code}', '-X', method, base + pathname], {
    input: `user = "${key}:"\n`, encoding: 'utf8', timeout: 60_000,
  });
  if (r.error) throw r.error;
  assert.equal(r.status, 0, `curl failed: ${r.stderr}`);
  const i = r.stdout.lastIndexOf('\n');
  let body = null;
  try { body = JSON.parse(r.stdout.slice(0, i)); } catch {}
  return { status: Number(r.stdout.slice(i + 1)), body };
}

const row = (page, name) => page.locator(`#org-keys-table tr[data-key-name="${name}"]`);

// The new secret in the shared show-once panel: checked, recorded, and closed with Done.
async function takeSecret(page, A, { label, shots }) {
  const panel = page.locator('dialog#secret-dialog');
  await panel.waitFor({ state: 'visible' });
  assert.equal((await page.locator('#secret-title').textContent()).trim(), `Your new ${label}`);
  assert.match(await panel.textContent(), /cannot be seen again/, 'the warning that it cannot be recovered');
  const key = recordSecret(await page.locator('#secret-value').inputValue());
  assert.match(key, /^gwk_[0-9A-Za-z]{38}$/);
  if (shots) {
    await A.atWidths(page, async (w) => {
      await assertFits(page, `the new ${label} panel`);
      await shot(page, `${shots}-${w}`, { full: false });
    });
  }
  await page.keyboard.press('Escape');
  assert.equal(await panel.isVisible(), true, 'Escape does not throw the key away');
  await page.click('#secret-done');
  await panel.waitFor({ state: 'hidden' });
  assert.ok(!(await page.content()).includes(key), 'the secret is not in the page any more');
  return key;
}

// Create Key → `type` → Next: the dialog at the type's step.
async function choose(page, type) {
  await page.click('#create-key-open');
  await page.locator('dialog#create-key-dialog').waitFor({ state: 'visible' });
  await page.check(`#create-key-types input[value="${type}"]`);
  await page.click('#create-key-next');
}

export function adminKeyTests(test, cx, getA) {
  test('admin keys: one list of every key, with the edition note', async () => {
    const A = getA();
    const { page } = A.owner;
    await A.owner.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: cx.server.base });
    await page.goto(cx.server.base + KEYS);
    assert.match(await page.locator('#keys-edition-note').textContent(), /Enterprise edition: with Access Controls for\s+API Keys/);
    const laptop = row(page, 'laptop');
    assert.equal((await laptop.locator('.key-type').textContent()).trim(), 'API Key');
    assert.equal((await laptop.locator('.key-owner').textContent()).trim(), 'alexandra-konstantinopoulou-xyz');
    assert.equal((await laptop.locator('.key-status').textContent()).trim(), 'Enabled');
    assert.equal(await laptop.locator('.key-duplicate').count(), 0, 'members duplicate their own keys');
    await A.atWidths(page, async (w) => {
      await assertFits(page, 'the Keys section');
      await shot(page, `admin-keys-${w}`);
    });
  });

  test('admin keys: Create Key → Public API Key → Next → Permissions → Generate Key, then curl with it', async () => {
    const A = getA();
    const { page } = A.owner;
    const dialog = page.locator('dialog#create-key-dialog');
    assert.equal((await page.locator('#create-key-open').textContent()).trim(), 'Create Key');
    await page.click('#create-key-open');
    await dialog.waitFor({ state: 'visible' });
    const types = await page.locator('#create-key-types input').evaluateAll((is) => is.map((i) => i.value));
    assert.deepEqual(types, ['public', 'team_computer', 'scim']);
    assert.match(await page.locator('#create-key-types').textContent(), /Public API Key[\s\S]*Team Computer Key[\s\S]*SCIM Key/);
    await A.atWidths(page, async (w) => {
      await assertFits(page, 'the Create Key dialog');
      await shot(page, `admin-create-key-dialog-${w}`, { full: false });
    });
    assert.equal((await page.locator('#create-key-next').textContent()).trim(), 'Next');
    await page.click('#create-key-next');
    await page.locator('#public-key-form').waitFor({ state: 'visible' });
    assert.equal((await page.locator('#create-key-dialog-title').textContent()).trim(), 'Create Public API Key');
    assert.equal((await page.locator('#public-key-permissions legend').textContent()).trim(), 'Permissions');
    assert.equal((await page.locator('#public-key-generate').textContent()).trim(), 'Generate Key');
    const options = (await pageApi(page, 'GET', '/api/admin/keys/options')).body;
    const boxes = await page.locator('#public-key-permissions input').evaluateAll((bs) => bs.map((b) => b.value));
    assert.deepEqual(boxes, options.permissions.map((p) => p.name), 'the permissions /api/admin/keys/options lists');
    await A.atWidths(page, async (w) => {
      await assertFits(page, 'the Public API Key step');
      await shot(page, `admin-create-key-public-${w}`, { full: false });
    });
    await page.fill('#public-key-name', 'deploy-bot');
    await page.click('#public-key-generate');
    assert.match(await page.locator('#public-key-form-error').textContent(), /Choose at least one permission/);
    await page.check('#public-key-permissions input[value="org:members:read"]');
    await page.check('#public-key-permissions input[value="org:keys:read"]');
    await page.click('#public-key-generate');
    const panel = page.locator('dialog#secret-dialog');
    await panel.waitFor({ state: 'visible' });
    await A.toast(page, 'Public API Key deploy-bot created');
    await page.click('#secret-copy');
    await page.locator('#secret-copy-status', { hasText: 'Copied' }).waitFor();
    const copied = await page.evaluate(() => navigator.clipboard.readText());
    assert.match(await page.locator('#secret-extra').textContent(), /curl -u "\$KEY:" https:\/\/127\.0\.0\.1:\d+\/api\/admin\/org/);
    const key = await takeSecret(page, A, { label: 'Public API Key', shots: 'admin-key-created' });
    assert.equal(copied, key, 'Copy copies the key');
    await row(page, 'deploy-bot').waitFor();

    const org = curl(cx.server.base, key, 'GET', '/api/admin/org');
    assert.equal(org.status, 200, 'the key works as HTTP Basic');
    assert.equal(org.body.name, 'acme');
    const carol = (await pageApi(page, 'GET', '/api/admin/members?role=member')).body.find((m) => m.username === 'mem-carol');
    const refused = curl(cx.server.base, key, 'POST', `/api/admin/members/${carol.id}/disable`);
    assert.equal(refused.status, 403, 'a permission it lacks is refused');
    assert.equal(refused.body.error, 'insufficient_permissions');
    A.deployKey = key;

    // Last used: when and from where, once the use reaches the store (every 5 s).
    const deadline = Date.now() + 20_000;
    let listed;
    while (Date.now() < deadline) {
      listed = (await pageApi(page, 'GET', '/api/admin/keys?type=public')).body.find((k) => k.name === 'deploy-bot');
      if (listed.last_used_ip) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    A.deployId = listed.id;
    await page.goto(cx.server.base + KEYS);
    const used = row(page, 'deploy-bot').locator('.key-last-used');
    assert.match(await used.textContent(), /(just now|\d+ min ago)\s*from 127\.0\.0\.1/);
    assert.match(await used.locator('time').getAttribute('title'), / UTC$/);
    assert.equal((await row(page, 'deploy-bot').locator('.key-created-by').textContent()).trim(), 'acme-owner');
    assert.equal((await row(page, 'deploy-bot').locator('.key-owner').textContent()).trim(), 'Organisation');
    await row(page, 'deploy-bot').locator('details.key-permissions summary').click();
    assert.match(await row(page, 'deploy-bot').locator('details.key-permissions').textContent(), /org:keys:read[\s\S]*org:members:read/);
    await A.atWidths(page, async (w) => {
      await assertFits(page, 'the Keys section with its permissions open');
      await shot(page, `admin-keys-permissions-${w}`);
    });
  });

  test('admin keys: Duplicate Key is a draft with the original permissions; the copy gets a new secret', async () => {
    const A = getA();
    const { page } = A.owner;
    const dup = row(page, 'deploy-bot').locator('.key-duplicate');
    assert.equal((await dup.textContent()).trim(), 'Duplicate Key');
    await dup.click();
    await page.locator('#public-key-form').waitFor({ state: 'visible' });
    assert.equal((await page.locator('#create-key-dialog-title').textContent()).trim(), 'Duplicate Key');
    assert.equal(await page.locator('#public-key-name').inputValue(), 'Copy of deploy-bot');
    assert.match(await page.locator('#public-key-draft-note').textContent(), /draft copy of deploy-bot/);
    const checked = () => page.locator('#public-key-permissions input:checked').evaluateAll((b) => b.map((x) => x.value).sort());
    assert.deepEqual(await checked(), ['org:keys:read', 'org:members:read']);
    await A.atWidths(page, async (w) => {
      await assertFits(page, 'the Duplicate Key draft');
      await shot(page, `admin-duplicate-key-dialog-${w}`, { full: false });
    });
    await page.uncheck('#public-key-permissions input[value="org:keys:read"]');
    const [res] = await Promise.all([
      page.waitForResponse((r) => r.request().method() === 'POST' && r.url().endsWith('/duplicate')),
      page.click('#public-key-generate'),
    ]);
    assert.equal(res.status(), 201);
    const copy = await takeSecret(page, A, { label: 'Public API Key' });
    assert.notEqual(copy, A.deployKey);
    await row(page, 'Copy of deploy-bot').waitFor();
    const original = (await pageApi(page, 'GET', `/api/admin/keys/${A.deployId}`)).body;
    assert.deepEqual(original.permissions, ['org:keys:read', 'org:members:read'], 'the original is unchanged');
    assert.equal(curl(cx.server.base, copy, 'GET', '/api/admin/members').status, 200);
    assert.equal(curl(cx.server.base, copy, 'GET', '/api/admin/keys').status, 403, 'the adjusted copy lacks org:keys:read');
    assert.equal(curl(cx.server.base, A.deployKey, 'GET', '/api/admin/keys').status, 200);
  });

  test('admin keys: Disable Key says so and can be undone; Delete Key waits until it is disabled', async () => {
    const A = getA();
    const { page } = A.owner;
    const deploy = () => row(page, 'deploy-bot');
    // Delete while enabled: the button explains itself, and no dialog opens.
    const del = deploy().locator('.key-delete');
    assert.equal(await del.getAttribute('aria-disabled'), 'true');
    assert.match(await del.getAttribute('title'), /an organisation's keys can be deleted only once disabled/);
    // aria-disabled: still clickable, it explains itself (centred, clear of the last toast).
    await del.evaluate((b) => b.scrollIntoView({ block: 'center' }));
    await del.click({ force: true });
    await A.toast(page, ORG_RULE);
    assert.equal(await page.locator('dialog#delete-org-key-dialog').isVisible(), false);
    await A.atWidths(page, async (w) => {
      await assertFits(page, 'Delete Key refused while enabled');
      await shot(page, `admin-key-delete-refused-${w}`, { full: false });
    });
    const api = await pageApi(page, 'DELETE', `/api/admin/keys/${A.deployId}`);
    assert.equal(api.status, 409);
    assert.match(api.body.message, /disable this Public API Key before deleting it/);

    await deploy().locator('.key-disable').click();
    await A.toast(page, 'Public API Key deploy-bot disabled: it stopped working at once. Enable it again at any time.');
    await page.waitForFunction(() => document.querySelector('tr[data-key-name="deploy-bot"]')?.dataset.enabled === 'false');
    assert.equal((await deploy().locator('.key-status').textContent()).trim(), 'Disabled');
    assert.equal(curl(cx.server.base, A.deployKey, 'GET', '/api/admin/org').status, 401, 'a disabled key stops at once');
    await A.atWidths(page, async (w) => {
      await assertFits(page, 'a disabled key');
      await shot(page, `admin-key-disabled-${w}`);
    });
    await deploy().locator('.key-enable').click();
    await A.toast(page, 'Public API Key deploy-bot enabled');
    assert.equal(curl(cx.server.base, A.deployKey, 'GET', '/api/admin/org').status, 200);

    // A page that went stale (enabled again elsewhere): the server's refusal is shown.
    await deploy().locator('.key-disable').click();
    await page.waitForFunction(() => document.querySelector('tr[data-key-name="deploy-bot"]')?.dataset.enabled === 'false');
    assert.equal((await pageApi(page, 'POST', `/api/admin/keys/${A.deployId}/enable`)).status, 200);
    await deploy().locator('.key-delete').click();
    await page.click('#delete-org-key-confirm');
    await A.toast(page, 'Disable this Public API Key before deleting it');
    await page.waitForFunction(() => document.querySelector('tr[data-key-name="deploy-bot"]')?.dataset.enabled === 'true');
    assert.equal(curl(cx.server.base, A.deployKey, 'GET', '/api/admin/org').status, 200, 'nothing was deleted');
  });

  test('admin keys: once disabled, Delete Key asks, Delete removes it, and the key answers 401', async () => {
    const A = getA();
    const { page } = A.owner;
    const deploy = row(page, 'deploy-bot');
    await deploy.locator('.key-disable').click();
    await page.waitForFunction(() => document.querySelector('tr[data-key-name="deploy-bot"] .key-delete:not([aria-disabled])'));
    const dialog = page.locator('dialog#delete-org-key-dialog');
    await A.atWidths(page, async (w) => {
      await deploy.locator('.key-delete').click();
      await dialog.waitFor({ state: 'visible' });
      await assertFits(page, 'the Delete Key dialog');
      await shot(page, `admin-delete-key-dialog-${w}`, { full: false });
      await page.click('#delete-org-key-cancel');
      await dialog.waitFor({ state: 'hidden' });
    });
    await deploy.locator('.key-delete').click();
    assert.match((await dialog.textContent()).replace(/\s+/g, ' '), /The Public API Key deploy-bot is deleted/);
    assert.equal((await page.locator('#delete-org-key-confirm').textContent()).trim(), 'Delete');
    await page.click('#delete-org-key-confirm');
    await A.toast(page, 'Public API Key deploy-bot deleted');
    await deploy.waitFor({ state: 'detached' });
    assert.equal(curl(cx.server.base, A.deployKey, 'GET', '/api/admin/org').status, 401, 'the deleted key answers 401');
    assert.equal((await pageApi(page, 'GET', `/api/admin/keys/${A.deployId}`)).status, 404);
  });

  test("admin keys: members' own keys can be found, disabled and deleted; names are shown as text", async () => {
    const A = getA();
    const { page } = A.owner;
    await page.selectOption('#keys-filter-type', 'personal');
    await page.fill('#keys-filter-owner', 'alexandra-konstantinopoulou-xyz');
    await Promise.all([page.waitForURL((u) => u.searchParams.get('type') === 'personal'), page.click('#keys-filters-apply')]);
    assert.equal(new URL(page.url()).searchParams.get('owner'), 'alexandra-konstantinopoulou-xyz');
    const names = await page.locator('#org-keys-table tbody tr').evaluateAll((rs) => rs.map((r) => r.dataset.keyName));
    assert.deepEqual(names, ['laptop']);
    await A.atWidths(page, async (w) => {
      await assertFits(page, 'the filtered Keys section');
      await shot(page, `admin-keys-filtered-${w}`);
    });
    const laptop = row(page, 'laptop');
    await laptop.locator('.key-disable').click();
    await A.toast(page, 'API Key laptop disabled');
    await page.waitForFunction(() => document.querySelector('tr[data-key-name="laptop"]')?.dataset.enabled === 'false');
    assert.equal(await keyStatus(cx.server.base, A.aliceKey), 401, 'an admin stops a member key at once');
    await laptop.locator('.key-delete').click();
    await page.click('#delete-org-key-confirm');
    await A.toast(page, 'API Key laptop deleted');
    await page.locator('#org-keys-empty', { hasText: 'No keys match these filters' }).waitFor();
    assert.equal(await keyStatus(cx.server.base, A.aliceKey), 401);

    await page.fill('#keys-filter-owner', 'nobody-here');
    await Promise.all([page.waitForURL((u) => u.searchParams.get('owner') === 'nobody-here'), page.click('#keys-filters-apply')]);
    assert.match(await page.locator('#keys-filter-owner-error').textContent(), /No member of your organisation is named "nobody-here"/);
    await A.atWidths(page, async (w) => {
      await assertFits(page, 'an unknown owner');
      await shot(page, `admin-keys-owner-unknown-${w}`);
    });

    const evil = '<img src=x id=pwned>"&\'';
    const made = await pageApi(page, 'POST', '/api/admin/keys', { name: evil, permissions: ['org:members:read'] });
    assert.equal(made.status, 201, JSON.stringify(made.body));
    recordSecret(made.body.key);
    await page.goto(cx.server.base + KEYS + '?type=public');
    assert.equal(await page.locator('#pwned').count(), 0, 'no markup from a name');
    assert.ok((await page.locator('#org-keys-table .key-label').allTextContents()).includes(evil), 'the name, as text');
    await pageApi(page, 'POST', `/api/admin/keys/${made.body.id}/disable`);
    assert.equal((await pageApi(page, 'DELETE', `/api/admin/keys/${made.body.id}`)).status, 204);
  });

  test('admin keys: the list is paged, and the next page keeps the filters', async () => {
    const A = getA();
    const { page } = A.owner;
    const made = [];
    for (let i = 0; i < 51; i++) {
      const r = await pageApi(page, 'POST', '/api/admin/keys', { name: `bulk-key-${String(i).padStart(2, '0')}`, permissions: ['org:audit:read'] });
      assert.equal(r.status, 201);
      recordSecret(r.body.key);
      made.push(r.body.id);
    }
    await page.goto(cx.server.base + KEYS + '?type=public&status=enabled');
    assert.equal(await page.locator('#org-keys-table tbody tr').count(), 50);
    await Promise.all([page.waitForURL((u) => u.searchParams.has('cursor')), page.locator('a[rel=next]', { hasText: 'More keys' }).click()]);
    const url = new URL(page.url());
    assert.equal(url.searchParams.get('type'), 'public');
    assert.equal(url.searchParams.get('status'), 'enabled');
    const types = await page.locator('#org-keys-table tbody tr').evaluateAll((rs) => rs.map((r) => r.dataset.keyType));
    assert.ok(types.length >= 1 && types.every((t) => t === 'public'), `page 2: ${types}`);
    for (const id of made) {
      assert.equal((await pageApi(page, 'POST', `/api/admin/keys/${id}/disable`)).status, 200);
      assert.equal((await pageApi(page, 'DELETE', `/api/admin/keys/${id}`)).status, 204);
    }
  });

  test('admin keys: the Team Computer Key is created once, refused while it exists, deleted and recreated', async () => {
    const A = getA();
    const { page } = A.owner;
    await page.goto(cx.server.base + KEYS);
    await choose(page, 'team_computer');
    await page.locator('#sole-key-step').waitFor({ state: 'visible' });
    assert.equal((await page.locator('#create-key-dialog-title').textContent()).trim(), 'Create Team Computer Key');
    await A.atWidths(page, async (w) => {
      await assertFits(page, 'the Team Computer Key step');
      await shot(page, `admin-create-team-computer-key-${w}`, { full: false });
    });
    await page.click('#sole-key-generate');
    await page.locator('dialog#secret-dialog').waitFor({ state: 'visible' });
    assert.match(await page.locator('#secret-extra').textContent(), /api_key_file/);
    const first = await takeSecret(page, A, { label: 'Team Computer Key', shots: 'admin-team-computer-key-created' });
    assert.equal(await keyStatus(cx.server.base, first, '/api/ssh/authorized-keys/mem-carol'), 200, 'it reads SSH keys');

    await choose(page, 'team_computer');
    const exists = page.locator('[data-sole="team_computer-exists"]');
    await exists.waitFor({ state: 'visible' });
    assert.match((await exists.textContent()).replace(/\s+/g, ' '), /already has a Team Computer Key\. Delete the existing one before creating a new one/);
    assert.equal(await page.locator('#sole-key-generate').isHidden(), true, 'nothing to press that would fail');
    await A.atWidths(page, async (w) => {
      await assertFits(page, 'a second Team Computer Key refused');
      await shot(page, `admin-team-computer-key-exists-${w}`, { full: false });
    });
    await page.click('#sole-key-back');
    await page.locator('#create-key-type-form').waitFor({ state: 'visible' });
    await page.click('#create-key-cancel');
    const again = await pageApi(page, 'POST', '/api/admin/team-computer-key');
    assert.equal(again.status, 409);
    assert.match(again.body.message, /delete the existing one before creating a new one/);

    const tck = row(page, 'Team Computer Key');
    assert.equal(await tck.locator('.key-delete').getAttribute('aria-disabled'), 'true');
    await tck.locator('.key-disable').click();
    await page.waitForFunction(() => document.querySelector('tr[data-key-type="team_computer"]')?.dataset.enabled === 'false');
    await tck.locator('.key-delete').click();
    await page.click('#delete-org-key-confirm');
    await A.toast(page, 'Team Computer Key deleted');
    await tck.waitFor({ state: 'detached' });
    assert.equal(await keyStatus(cx.server.base, first, '/api/ssh/authorized-keys/mem-carol'), 401);

    await choose(page, 'team_computer');
    assert.equal(await page.locator('#sole-key-generate').isVisible(), true, 'free to create again');
    await page.click('#sole-key-generate');
    const second = await takeSecret(page, A, { label: 'Team Computer Key' });
    assert.notEqual(second, first);
    assert.equal(await keyStatus(cx.server.base, second, '/api/ssh/authorized-keys/mem-carol'), 200);
  });

  test('admin keys: Regenerate replaces the SCIM Key, and the old one answers 401 at once', async () => {
    const A = getA();
    const { page } = A.owner;
    await choose(page, 'scim');
    await page.locator('[data-sole="scim"]').waitFor({ state: 'visible' });
    await page.click('#sole-key-generate');
    const first = await takeSecret(page, A, { label: 'SCIM Key' });
    // A SCIM key is good for the SCIM endpoints only: elsewhere it is known but refused.
    assert.equal(curl(cx.server.base, first, 'GET', '/api/admin/org').status, 403);

    const scim = row(page, 'SCIM Key');
    await scim.waitFor();
    await scim.locator('.key-regenerate').click();
    const warning = page.locator('[data-sole="scim-exists"]');
    await warning.waitFor({ state: 'visible' });
    assert.equal((await page.locator('#create-key-dialog-title').textContent()).trim(), 'Regenerate SCIM Key');
    assert.match((await warning.textContent()).replace(/\s+/g, ' '), /the current key stops working at once/);
    assert.equal((await page.locator('#sole-key-generate').textContent()).trim(), 'Regenerate');
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'sole-key-back', 'Cancel has the focus');
    await A.atWidths(page, async (w) => {
      await assertFits(page, 'the Regenerate SCIM Key dialog');
      await shot(page, `admin-regenerate-scim-key-${w}`, { full: false });
    });
    await page.click('#sole-key-generate');
    const second = await takeSecret(page, A, { label: 'SCIM Key', shots: 'admin-scim-key-created' });
    assert.notEqual(second, first);
    assert.equal(curl(cx.server.base, first, 'GET', '/api/admin/org').status, 401, 'the old SCIM Key is dead at once');
    assert.equal(curl(cx.server.base, second, 'GET', '/api/admin/org').status, 403, 'the new one is live (and SCIM-only)');
    await page.goto(cx.server.base + KEYS + '?type=scim');
    const prefixes = await page.locator('#org-keys-table .key-prefix').allTextContents();
    assert.equal(prefixes.length, 1, 'one SCIM Key');
    assert.ok(second.startsWith(prefixes[0].replace('…', '')), 'the new one is listed');
    await page.goto(cx.server.base + KEYS);
    await A.atWidths(page, async (w) => {
      await assertFits(page, 'the Keys section with every kind of key');
      await shot(page, `admin-keys-all-kinds-${w}`);
    });
  });

  test('admin keys: a Team edition organisation is offered no Public API Key, and says why', async () => {
    const A = getA();
    const small = await A.browserAs('small-owner', KEYS);
    const { page } = small;
    const sentence = 'Access Controls for API Keys is an Enterprise Level Feature, however Teams will be able to use this page to generate a Team Computer Key.';
    assert.equal((await page.locator('#keys-edition-note').textContent()).trim(), sentence);
    assert.equal((await page.locator('#org-edition').textContent()).trim(), 'Team edition');
    await A.atWidths(page, async (w) => {
      await assertFits(page, 'the Team edition Keys section');
      await shot(page, `admin-keys-team-${w}`);
    });
    await page.click('#create-key-open');
    await page.locator('dialog#create-key-dialog').waitFor({ state: 'visible' });
    const types = await page.locator('#create-key-types input').evaluateAll((is) => is.map((i) => i.value));
    assert.deepEqual(types, ['team_computer', 'scim'], 'no Public API Key on Team');
    assert.equal(await page.locator('#public-key-form').count(), 0);
    assert.equal((await page.locator('#create-key-edition-note').textContent()).trim(), sentence);
    assert.equal(await page.locator('#create-key-types input[value="team_computer"]').isChecked(), true);
    await A.atWidths(page, async (w) => {
      await assertFits(page, 'the Team edition Create Key dialog');
      await shot(page, `admin-create-key-team-dialog-${w}`, { full: false });
    });
    await page.click('#create-key-next');
    await page.click('#sole-key-generate');
    await takeSecret(page, A, { label: 'Team Computer Key' });
    const refused = await pageApi(page, 'POST', '/api/admin/keys', { name: 'ci', permissions: ['org:keys:read'] });
    assert.equal(refused.status, 403);
    await small.context.close();
  });
}
