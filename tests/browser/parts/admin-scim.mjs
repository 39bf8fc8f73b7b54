// Browser tests of the admin panel's SCIM section, in an organisation of its own: the Base
// URL with Copy and the empty state before any SCIM Key; Generate SCIM Key (shown once);
// users and a group provisioned through the real SCIM API (Bearer key,
// application/scim+json, the server's self-signed certificate), one refused and one
// deactivated, listed as recent operations in plain words; the group roles (group-to-role
// mappings) edited as a list (blank and repeated groups said at their rows, a refusal from the
// server said readably, the provisioned groups suggested and a group not provisioned hinted
// at), saved and applied to the provisioned member; an admin editing every row but the one
// mapped to Owner, which is locked and sent back unchanged; and Regenerate, after which the
// old key answers 401 at once.

import assert from 'node:assert/strict';
import https from 'node:https';
import { recordSecret, runAdmin } from '../support.mjs';
import { assertFits, shot } from '../layout.mjs';
import { pageApi } from './api-keys.mjs';

const SCIM = '/admin/scim';
const USER_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:User';
const GROUP_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:Group';
const PATCH_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
// What the identity provider calls itself, shown as the key's last use.
const IDP_AGENT = 'Initech IdP SCIM client/1.0';

// One SCIM request as an identity provider makes it: { status, type, body }.
function scim(base, key, method, pathname, body) {
  const auth = recordSecret('Bearer ' + recordSecret(key));
  const text = body === undefined ? undefined : JSON.stringify(body);
  const headers = { Authorization: auth, Accept: 'application/scim+json', 'User-Agent': IDP_AGENT };
  if (text !== undefined) headers['Content-Type'] = 'application/scim+json';
  return new Promise((resolve, reject) => {
    const req = https.request(base + '/scim/v2' + pathname, { method, rejectUnauthorized: false, headers }, (res) => {
      let raw = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (raw += c));
      res.on('end', () => {
        let parsed = null;
        try { parsed = JSON.parse(raw); } catch {}
        resolve({ status: res.statusCode, type: res.headers['content-type'], body: parsed, text: raw });
      });
    });
    req.on('error', reject);
    if (text !== undefined) req.write(text);
    req.end();
  });
}

// What a reader sees of an element, on one line (its block parts apart).
const text = async (locator) => (await locator.innerText()).replace(/\s+/g, ' ').trim();
const op = (page, action, result = 'ok') => page.locator(`#scim-recent-table tr[data-action="${action}"][data-result="${result}"]`);
const groupField = (page, n) => page.locator(`#scim-mapping-rows li.mapping-row:nth-child(${n}) input[name=group]`);
const roleField = (page, n) => page.locator(`#scim-mapping-rows li.mapping-row:nth-child(${n}) select[name=role]`);
const rowError = (page, n) => page.locator(`#scim-mapping-rows li.mapping-row:nth-child(${n}) .mapping-error`);
const mappingRow = (page, n) => page.locator(`#scim-mapping-rows li.mapping-row:nth-child(${n})`);
const rowHint = (page, n) => page.locator(`#scim-mapping-rows li.mapping-row:nth-child(${n}) .mapping-hint`);
const HINT = 'No group of this name has been provisioned yet.';
// The rows as shown: [group, role, locked].
const shownRows = (page) => page.locator('#scim-mapping-rows li.mapping-row').evaluateAll((rs) => rs.map((r) =>
  [r.querySelector('input').value, r.querySelector('select').value, r.hasAttribute('data-locked')]));
const suggestions = (page) => page.locator('datalist#scim-groups option').evaluateAll((os) => os.map((o) => o.value));

export function adminScimTests(test, cx, getA) {
  const S = {};

  test('admin scim: before the SCIM Key exists, the Base URL to copy and a way to generate it', async () => {
    const A = getA();
    runAdmin(cx.server, ['org', 'create', 'initech']);
    A.person('ini-owner', 'initech', 'owner', 'Ivy Owner');
    A.person('ini-admin', 'initech', 'admin', 'Ian Admin');
    S.owner = await A.browserAs('ini-owner', SCIM);
    const { page } = S.owner;
    await S.owner.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: cx.server.base });
    assert.equal((await page.locator('h2#section-title').textContent()).trim(), 'SCIM');
    assert.equal(await page.locator('a[data-section="scim"]').getAttribute('aria-current'), 'page');
    const api = (await pageApi(page, 'GET', '/api/admin/scim')).body;
    assert.deepEqual(api, { base_url: cx.server.base + '/scim/v2', key: null, role_mappings: [], groups: [], recent: [] });
    assert.equal(await text(page.locator('#scim-base-url-label')), 'Base URL');
    assert.equal(await text(page.locator('#scim-base-url')), api.base_url, 'the URL the API gives');

    await page.click('#scim-base-url-copy');
    await page.locator('#scim-base-url-status', { hasText: 'Copied to the clipboard' }).waitFor();
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), api.base_url, 'Copy copies the Base URL');

    assert.match(await text(page.locator('#scim-key-empty')), /^No SCIM Key yet\. Generate one and give it to your identity provider/);
    assert.equal(await text(page.locator('#scim-key-generate')), 'Generate SCIM Key');
    assert.match(await text(page.locator('#scim-recent-empty')), /^No SCIM operations yet\. Once you generate the SCIM Key/);
    assert.equal(await page.locator('#scim-mappings-empty').isVisible(), true);
    assert.equal(await page.locator('.mapping-head').isHidden(), true, 'no column heads over no rows');
    assert.equal(await page.locator('#scim-mappings-save').isHidden(), true, 'nothing to save yet');
    assert.equal(await page.locator('#scim-recent-all').getAttribute('href'), '/admin/audit-log?action=scim.');
    await A.atWidths(page, async (w) => {
      await assertFits(page, 'the SCIM section before the key exists');
      await shot(page, `admin-scim-empty-${w}`);
    });
  });

  test('admin scim: Generate SCIM Key shows it once, with the Base URL; the status says it is not used yet', async () => {
    const A = getA();
    const { page } = S.owner;
    await page.click('#scim-key-generate');
    const panel = page.locator('dialog#secret-dialog');
    await panel.waitFor({ state: 'visible' });
    await A.toast(page, 'SCIM Key created');
    assert.equal(await text(page.locator('#secret-title')), 'Your new SCIM Key');
    assert.match(await text(page.locator('#secret-extra')),
      new RegExp(`SCIM bearer token .* with the Base URL ${cx.server.base.replace(/[.]/g, '\\.')}/scim/v2\\.`));
    S.key = recordSecret(await page.locator('#secret-value').inputValue());
    assert.match(S.key, /^gwk_[0-9A-Za-z]{38}$/);
    await A.atWidths(page, async (w) => {
      await assertFits(page, 'the new SCIM Key panel');
      await shot(page, `admin-scim-generated-key-${w}`, { full: false });
    });
    await page.keyboard.press('Escape');
    assert.equal(await panel.isVisible(), true, 'Escape does not throw the key away');
    await page.click('#secret-done');
    await panel.waitFor({ state: 'hidden' });
    assert.ok(!(await page.content()).includes(S.key), 'the key is not in the page any more');
    assert.equal(await text(page.locator('#scim-key-status')), 'Enabled');
    assert.match(await text(page.locator('#scim-key-last-used')), /^Not used yet/);
    assert.match(await text(page.locator('#scim-key .scim-key-created')), /^Generated \d{4}-\d\d-\d\d \d\d:\d\d by ini-owner$/);
    assert.equal(await page.locator('#scim-key-generate').count(), 0, 'Regenerate from now on');
    assert.match(await text(page.locator('#scim-recent-empty')), /What your identity provider does with the SCIM Key is listed here/);
  });

  test('admin scim: users and a group provisioned through the SCIM API are the recent operations', async () => {
    const A = getA();
    const { page } = S.owner;
    const base = cx.server.base;
    const jdoe = {
      schemas: [USER_SCHEMA], userName: 'jdoe', name: { givenName: 'Jane', familyName: 'Doe' },
      emails: [{ value: 'jdoe@initech.example', primary: true }], active: true,
    };
    const created = await scim(base, S.key, 'POST', '/Users', jdoe);
    assert.equal(created.status, 201, created.text);
    assert.match(created.type, /^application\/scim\+json/);
    S.userId = created.body.id;
    const taken = await scim(base, S.key, 'POST', '/Users', jdoe);
    assert.equal(taken.status, 409, taken.text);
    const rsmith = await scim(base, S.key, 'POST', '/Users', {
      schemas: [USER_SCHEMA], userName: 'rsmith', emails: [{ value: 'rsmith@initech.example' }], active: true,
    });
    assert.equal(rsmith.status, 201, rsmith.text);
    const off = await scim(base, S.key, 'PATCH', `/Users/${rsmith.body.id}`, {
      schemas: [PATCH_SCHEMA], Operations: [{ op: 'replace', path: 'active', value: false }],
    });
    assert.equal(off.status, 200, off.text);
    const group = await scim(base, S.key, 'POST', '/Groups', {
      schemas: [GROUP_SCHEMA], displayName: 'Initech Admins', members: [{ value: S.userId }],
    });
    assert.equal(group.status, 201, group.text);
    S.groupId = group.body.id;
    const renamed = await scim(base, S.key, 'PATCH', `/Groups/${S.groupId}`, {
      schemas: [PATCH_SCHEMA], Operations: [{ op: 'add', path: 'members', value: [{ value: rsmith.body.id }] }],
    });
    assert.equal(renamed.status, 200, renamed.text);

    // The key's last use reaches the store within 5 s; Refresh shows it without a reload.
    const deadline = Date.now() + 20_000;
    while (!(await pageApi(page, 'GET', '/api/admin/scim')).body.key.last_used_ip && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 500));
    }
    await page.evaluate(() => { window.notReloaded = true; });
    await page.click('#scim-recent-refresh');
    await page.locator('#scim-recent-table').waitFor();
    assert.equal(await page.evaluate(() => window.notReloaded), true, 'refreshed in place');
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'scim-recent-refresh', 'the focus stays on Refresh');
    assert.match(await text(page.locator('#scim-key-last-used')), /^Last used (just now|\d+ min ago) from 127\.0\.0\.1$/);
    assert.equal(await text(page.locator('#scim-key .scim-key-agent')), IDP_AGENT);

    const made = op(page, 'scim.user.created');
    assert.equal(await made.count(), 2, 'jdoe and rsmith');
    const jane = page.locator('#scim-recent-table tr[data-action="scim.user.created"][data-target="jdoe"][data-result="ok"]');
    assert.equal(await text(jane.locator('.scim-op-what')), 'Created user');
    assert.equal(await text(jane.locator('.scim-op-target')), 'jdoe User');
    assert.equal(await jane.locator('.scim-op-target-name').getAttribute('title'), S.userId);
    assert.equal(await text(jane.locator('.scim-op-result')), 'OK');
    assert.match(await jane.locator('.scim-op-when time').getAttribute('title'), /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$/);
    const refused = op(page, 'scim.user.created', 'refused');
    assert.equal(await text(refused.locator('.scim-op-target')), 'jdoe User', 'named from the request');
    assert.equal(await text(refused.locator('.scim-op-result')), 'Refused The userName "jdoe" is taken.');
    assert.equal(await text(op(page, 'scim.user.deactivated').locator('.scim-op-what')), 'Deactivated user Signed out everywhere');
    assert.equal(await text(op(page, 'scim.user.deactivated').locator('.scim-op-target')), 'rsmith User');
    assert.equal(await text(op(page, 'scim.user.patched').locator('.scim-op-what')), 'Updated user');
    assert.equal(await text(op(page, 'scim.group.created').locator('.scim-op-target')), 'Initech Admins Group');
    assert.equal(await text(op(page, 'scim.group.patched').locator('.scim-op-target')), 'Initech Admins Group',
      'a patch is named after its group');
    assert.equal(await op(page, 'scim.role.changed').count(), 0, 'no mappings yet: roles are left alone');
    const listed = (await pageApi(page, 'GET', '/api/admin/scim')).body.recent;
    const rows = await page.locator('#scim-recent-table tbody tr').evaluateAll((rs) => rs.map((r) => r.dataset.id));
    assert.deepEqual(rows, listed.map((r) => r.id), 'the API\'s recent operations, in its order');
    await A.atWidths(page, async (w) => {
      await assertFits(page, 'the SCIM section with recent operations');
      await shot(page, `admin-scim-provisioned-${w}`);
    });
  });

  test('admin scim: group roles are edited as a list, checked at their rows, saved and applied', async () => {
    const A = getA();
    const { page } = S.owner;
    const puts = [];
    const onRequest = (r) => { if (r.method() === 'PUT' && r.url().endsWith('/api/admin/scim/role-mappings')) puts.push(r); };
    page.on('request', onRequest);
    try {
      await page.click('#scim-mapping-add');
      assert.equal(await page.evaluate(() => document.activeElement?.id), 'scim-map-group-1', 'the new row has the focus');
      assert.equal(await page.locator('#scim-mappings-empty').isHidden(), true);
      assert.equal(await page.locator('#scim-mappings-save').isVisible(), true, 'a row to save');
      const roles = await roleField(page, 1).locator('option').evaluateAll((os) => os.map((o) => o.value));
      assert.deepEqual(roles, ['owner', 'admin', 'member'], 'an owner may map to every role');
      assert.equal(await roleField(page, 1).inputValue(), 'member', 'a new row gives Member');
      await page.click('#scim-mappings-save');
      assert.match(await text(rowError(page, 1)), /^Enter the group's name as your identity provider sends it, or remove this row\.$/);
      assert.equal(await groupField(page, 1).getAttribute('aria-invalid'), 'true');
      assert.match(await text(page.locator('#scim-mappings-error')), /Nothing was saved/);

      await groupField(page, 1).fill('Initech Admins');
      assert.equal(await groupField(page, 1).getAttribute('aria-invalid'), null, 'typing clears the mark');
      await roleField(page, 1).selectOption('admin');
      await page.click('#scim-mapping-add');
      await groupField(page, 2).fill('initech admins');
      await page.click('#scim-mappings-save');
      assert.equal(await text(rowError(page, 2)), '"Initech Admins" is mapped above already: a group gets one role.');
      assert.equal(await page.evaluate(() => document.activeElement?.id), 'scim-map-group-2');
      await A.atWidths(page, async (w) => {
        await assertFits(page, 'a repeated group refused at its row');
        await shot(page, `admin-scim-mappings-error-${w}`);
      });

      // A name the server refuses (a tab is not printable): said readably under the list.
      await groupField(page, 2).fill('Initech\tStaff');
      const [refused] = await Promise.all([
        page.waitForResponse((r) => r.url().endsWith('/api/admin/scim/role-mappings')),
        page.click('#scim-mappings-save'),
      ]);
      assert.equal(refused.status(), 422);
      await page.locator('#scim-mappings-error', { hasText: 'printable' }).waitFor();
      assert.equal(await text(page.locator('#scim-mappings-error')), 'Each group name must be 1 to 256 printable characters');

      // The provisioned groups are suggested; a name that is none of them is hinted at
      // once the field is left, and still saved.
      assert.equal(await groupField(page, 2).getAttribute('list'), 'scim-groups');
      assert.deepEqual(await suggestions(page), ['Initech Admins']);
      await groupField(page, 2).fill('Initech Staff');
      await groupField(page, 2).press('Tab');
      await rowHint(page, 2).waitFor();
      assert.equal(await text(rowHint(page, 2)), HINT);
      assert.match(await groupField(page, 2).getAttribute('aria-describedby'), /\bscim-map-hint-2\b/);
      assert.equal(await rowHint(page, 1).isHidden(), true, 'Initech Admins is provisioned');
      await groupField(page, 1).fill('initech admin');
      await groupField(page, 1).press('Tab');
      await rowHint(page, 1).waitFor();  // a typo is hinted at
      await groupField(page, 1).fill('initech ADMINS');
      assert.equal(await rowHint(page, 1).isHidden(), true, 'gone as soon as the name is a group\'s, in any case');
      await groupField(page, 1).fill('Initech Admins');
      await A.atWidths(page, async (w) => {
        await assertFits(page, 'a group not provisioned yet, hinted at');
        await shot(page, `admin-scim-mappings-hint-${w}`);
      });
      await page.click('#scim-mapping-add');
      await groupField(page, 3).fill('Temporary');
      await page.click('#scim-mapping-rows li.mapping-row:nth-child(3) .mapping-remove');
      assert.equal(await page.locator('#scim-mapping-rows li.mapping-row').count(), 2, 'Remove takes its row away');
      assert.equal(await page.evaluate(() => document.activeElement?.id), 'scim-map-group-2', 'the focus goes to the row before');
      assert.equal(await page.locator('#scim-mapping-rows li.mapping-row:nth-child(2) .mapping-remove').getAttribute('aria-label'),
        'Remove the mapping of Initech Staff');
      const sent = puts.length;
      const [saved] = await Promise.all([
        page.waitForResponse((r) => r.url().endsWith('/api/admin/scim/role-mappings')),
        page.click('#scim-mappings-save'),
      ]);
      assert.equal(saved.status(), 200);
      assert.equal(puts.length, sent + 1, 'one PUT');
      assert.deepEqual(saved.request().postDataJSON(), {
        role_mappings: [{ group: 'Initech Admins', role: 'admin' }, { group: 'Initech Staff', role: 'member' }],
      });
      await A.toast(page, 'Group roles saved: 2 groups mapped, applied to every member SCIM manages');
      assert.equal(puts.length, 2, 'the blank and repeated groups were never sent');
    } finally {
      page.off('request', onRequest);
    }

    const api = (await pageApi(page, 'GET', '/api/admin/scim')).body;
    assert.deepEqual(api.role_mappings, [{ group: 'Initech Admins', role: 'admin' }, { group: 'Initech Staff', role: 'member' }]);
    const members = (await pageApi(page, 'GET', '/api/admin/members')).body;
    assert.equal(members.find((m) => m.username === 'jdoe').role, 'admin', 'jdoe is in Initech Admins: now an admin');
    // The list as the server keeps it, and what the save did, without a reload.
    await page.locator('#scim-recent-table tr[data-action="scim.role_mappings_changed"]').waitFor();
    assert.equal(await groupField(page, 1).inputValue(), 'Initech Admins');
    assert.equal(await roleField(page, 1).inputValue(), 'admin');
    assert.deepEqual([await rowHint(page, 1).isHidden(), await rowHint(page, 2).isVisible()], [true, true],
      'the saved list keeps the hint at Initech Staff');
    const changed = op(page, 'scim.role_mappings_changed');
    assert.equal(await text(changed.locator('.scim-op-what')), 'Changed group roles Initech Admins → Admin, Initech Staff → Member by ini-owner');
    assert.equal(await text(changed.locator('.scim-op-target')), '—');
    // jdoe, and rsmith (deactivated, but in the group too).
    const promoted = page.locator('#scim-recent-table tr[data-action="scim.role.changed"][data-target="jdoe"]');
    assert.equal(await text(promoted.locator('.scim-op-what')), 'Changed role Member → Admin by ini-owner');
    assert.equal(await text(promoted.locator('.scim-op-target')), 'jdoe User');
    await page.reload();
    await A.atWidths(page, async (w) => {
      await assertFits(page, 'the SCIM section with its mappings and operations');
      await shot(page, `admin-scim-${w}`);
    });
  });

  test('admin scim: an admin edits every group role but the Owner ones, which are locked and sent back as they are', async () => {
    const A = getA();
    for (const displayName of ['Initech Founders', 'Initech Support']) {
      const made = await scim(cx.server.base, S.key, 'POST', '/Groups', { schemas: [GROUP_SCHEMA], displayName, members: [] });
      assert.equal(made.status, 201, made.text);
    }
    const admin = await A.browserAs('ini-admin', SCIM);
    const { page } = admin;
    await page.click('#scim-mapping-add');
    const roles = await roleField(page, 3).locator('option').evaluateAll((os) => os.map((o) => o.value));
    assert.deepEqual(roles, ['admin', 'member'], 'only an owner maps a group to Owner');
    const mapped = [{ group: 'Initech Admins', role: 'admin' }, { group: 'Initech Staff', role: 'member' }];
    const founders = await pageApi(S.owner.page, 'PUT', '/api/admin/scim/role-mappings', {
      role_mappings: [...mapped, { group: 'Initech Founders', role: 'owner' }],
    });
    assert.equal(founders.status, 200);
    await page.reload();

    assert.equal(await page.locator('#scim-mappings-read-only').count(), 0, 'not read-only as a whole');
    assert.equal(await page.locator('#scim-mappings-fields').getAttribute('disabled'), null);
    assert.deepEqual(await shownRows(page), [
      ['Initech Admins', 'admin', false], ['Initech Founders', 'owner', true], ['Initech Staff', 'member', false],
    ], 'the Owner mapping is shown as it is, locked');
    // The locked row: read, not changed, not removed, and why.
    assert.equal(await groupField(page, 2).isEditable(), false);
    assert.equal(await roleField(page, 2).isDisabled(), true);
    assert.deepEqual(await roleField(page, 2).locator('option').evaluateAll((os) => os.map((o) => o.value)), ['owner']);
    assert.equal(await mappingRow(page, 2).locator('.mapping-remove').count(), 0, 'no Remove');
    assert.equal(await text(mappingRow(page, 2).locator('.mapping-note')), 'Only an owner can change which groups make owners.');
    assert.match(await groupField(page, 2).getAttribute('aria-describedby'), /^scim-map-note-2\b/);
    // The others: edited as an owner would, but never to Owner.
    assert.equal(await groupField(page, 3).isEditable(), true);
    assert.deepEqual(await roleField(page, 3).locator('option').evaluateAll((os) => os.map((o) => o.value)), ['admin', 'member']);
    assert.equal(await mappingRow(page, 3).locator('.mapping-remove').count(), 1);
    assert.equal(await page.locator('#scim-mappings-save').isVisible(), true);
    assert.deepEqual(await suggestions(page), ['Initech Admins', 'Initech Founders', 'Initech Support']);
    assert.deepEqual(await page.locator('.mapping-hint').evaluateAll((ps) => ps.map((p) => !p.hidden)), [false, false, true],
      'only Initech Staff is not provisioned');
    assert.equal(await page.locator('#scim-key-regenerate').isVisible(), true, 'an admin may regenerate the key');
    await A.atWidths(page, async (w) => {
      await assertFits(page, 'the SCIM section as an admin, the Owner mapping locked');
      await shot(page, `admin-scim-as-admin-${w}`);
    });

    // A new row may not take the locked row's group, in any case: said at the new row.
    await page.click('#scim-mapping-add');
    await groupField(page, 4).fill('initech founders');
    await page.click('#scim-mappings-save');
    assert.equal(await text(rowError(page, 4)), '"Initech Founders" is mapped above already: a group gets one role.');
    assert.equal(await text(rowError(page, 2)), '', 'the locked row is never the one at fault');
    // Renamed to a group not provisioned yet: hinted at, saved all the same.
    await groupField(page, 4).fill('Initech Contractors');
    await groupField(page, 4).press('Tab');
    await rowHint(page, 4).waitFor();
    assert.equal(await text(rowHint(page, 4)), HINT);
    await groupField(page, 3).fill('Initech Support');
    assert.equal(await rowHint(page, 3).isHidden(), true, 'a provisioned group');
    await roleField(page, 3).selectOption('admin');
    await A.atWidths(page, async (w) => {
      await assertFits(page, 'an admin editing the group roles around the locked Owner mapping');
      await shot(page, `admin-scim-as-admin-editing-${w}`);
    });
    const [saved] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith('/api/admin/scim/role-mappings')),
      page.click('#scim-mappings-save'),
    ]);
    assert.equal(saved.status(), 200, await saved.text());
    assert.deepEqual(saved.request().postDataJSON(), {
      role_mappings: [
        { group: 'Initech Admins', role: 'admin' }, { group: 'Initech Founders', role: 'owner' },
        { group: 'Initech Support', role: 'admin' }, { group: 'Initech Contractors', role: 'member' },
      ],
    }, 'the whole list, the Owner row unchanged');
    await A.toast(page, 'Group roles saved: 4 groups mapped, applied to every member SCIM manages');
    const byName = (list) => [...list].sort((a, b) => a.group.localeCompare(b.group));
    const kept = (await pageApi(page, 'GET', '/api/admin/scim')).body.role_mappings;
    assert.deepEqual(byName(kept), byName([
      { group: 'Initech Admins', role: 'admin' }, { group: 'Initech Contractors', role: 'member' },
      { group: 'Initech Founders', role: 'owner' }, { group: 'Initech Support', role: 'admin' },
    ]));
    // The list as the server keeps it, the Owner row still locked.
    await page.locator('#scim-mapping-rows li.mapping-row[data-locked] input[value="Initech Founders"]').waitFor();
    await page.locator('#scim-mapping-rows li.mapping-row', { has: page.locator('input[value="Initech Contractors"]') }).waitFor();
    const after = await shownRows(page);
    assert.deepEqual(after.filter(([, , locked]) => locked), [['Initech Founders', 'owner', true]]);
    assert.equal(after.length, 4);

    // The server agrees: a list that changes the Owner rows is refused to an admin.
    const refused = await pageApi(page, 'PUT', '/api/admin/scim/role-mappings', { role_mappings: mapped });
    assert.equal(refused.status, 403);
    assert.match(refused.body.message, /only an owner can change which groups map to the owner role/);
    await admin.context.close();
    assert.equal((await pageApi(S.owner.page, 'PUT', '/api/admin/scim/role-mappings', { role_mappings: mapped })).status, 200);
  });

  test('admin scim: Regenerate asks first; the new key is shown once and the old one answers 401 at once', async () => {
    const A = getA();
    const { page } = S.owner;
    await page.goto(cx.server.base + SCIM);
    const dialog = page.locator('dialog#scim-regenerate-dialog');
    await page.click('#scim-key-regenerate');
    await dialog.waitFor({ state: 'visible' });
    assert.match(await text(dialog), /the current key stops working at once\. Update your identity provider with the new key right away/);
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'scim-regenerate-cancel', 'Cancel has the focus');
    await A.atWidths(page, async (w) => {
      await assertFits(page, 'the Regenerate SCIM Key dialog');
      await shot(page, `admin-scim-regenerate-dialog-${w}`, { full: false });
    });
    await page.click('#scim-regenerate-cancel');
    await dialog.waitFor({ state: 'hidden' });
    assert.equal((await scim(cx.server.base, S.key, 'GET', '/Users')).status, 200, 'Cancel changes nothing');

    await page.click('#scim-key-regenerate');
    await page.click('#scim-regenerate-confirm');
    await page.locator('dialog#secret-dialog').waitFor({ state: 'visible' });
    await A.toast(page, 'SCIM Key regenerated: the old one stopped working at once');
    const fresh = recordSecret(await page.locator('#secret-value').inputValue());
    await page.click('#secret-done');
    assert.notEqual(fresh, S.key);
    assert.equal((await scim(cx.server.base, S.key, 'GET', '/Users')).status, 401, 'the old key is dead at once');
    const users = await scim(cx.server.base, fresh, 'GET', '/Users');
    assert.equal(users.status, 200);
    const names = users.body.Resources.map((u) => u.userName);
    assert.ok(names.includes('jdoe') && names.includes('rsmith'), `the new key lists the provisioned users: ${names}`);
    await page.locator('#scim-key-last-used', { hasText: 'Not used yet' }).waitFor();
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'scim-key-regenerate', 'back on Regenerate');
    await S.owner.context.close();
  });
}
