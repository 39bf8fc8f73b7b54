// Browser tests of the SSH Keys tab: Add Key opens the form, real ssh-keygen keys are
// added and listed with the fingerprints ssh-keygen prints, refusals are shown on the
// field, the copy button copies the .pub line, and delete asks first.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { cookieGet, sshKeygen } from '../support.mjs';
import { assertFits, shot } from '../layout.mjs';

const TAB = '/account/authentication/ssh-keys';

export function sshKeyTests(test, cx) {
  async function addKey(page, name, text) {
    await page.click('#ssh-key-add-open');
    await page.locator('dialog#ssh-key-dialog').waitFor({ state: 'visible' });
    await page.fill('#ssh-key-name', name);
    await page.fill('#ssh-key-text', text);
    const [res] = await Promise.all([
      page.waitForResponse((r) => new URL(r.url()).pathname === '/api/ssh-keys' && r.request().method() === 'POST'),
      page.click('#ssh-key-add'),
    ]);
    return res;
  }

  test('SSH keys: Add Key opens the form; real ssh-keygen keys are listed with their fingerprints', async () => {
    const { page, server } = cx;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gatehouse-ssh-'));
    server.sshDir = dir;
    const ed = sshKeygen(dir, 'id_ed25519', ['-t', 'ed25519'], 'alice@laptop');
    const ec = sshKeygen(dir, 'id_ecdsa', ['-t', 'ecdsa', '-b', '256'], 'alice@desktop');
    server.ssh = { ed, ec };

    await page.goto(server.base + TAB);
    await page.locator('#ssh-keys-empty').waitFor();
    assert.match(await page.locator('#ssh-keys-empty').textContent(), /no SSH keys/);
    assert.equal((await page.locator('#ssh-key-add-open').textContent()).trim(), 'Add Key');
    assert.equal((await page.locator('#ssh-keys-usage-command').textContent()).trim(),
      `ssh -i ~/.ssh/id_ed25519 ${server.username}@<cluster>`);
    const dialog = page.locator('dialog#ssh-key-dialog');
    await cx.atWidths(async (w) => {
      await page.click('#ssh-key-add-open');
      await dialog.waitFor({ state: 'visible' });
      await assertFits(page, 'the Add Key dialog');
      await shot(page, `ssh-keys-add-dialog-${w}`, { full: false });
      await page.click('#ssh-key-cancel');
    });
    const textarea = page.locator('textarea#ssh-key-text');
    assert.equal(await textarea.getAttribute('placeholder'),
      'Begins with ssh-ed25519, ecdsa-sha2-nistp256, ssh-rsa, sk-ssh-ed25519@openssh.com…');
    assert.match(await textarea.evaluate((el) => getComputedStyle(el).fontFamily), /mono/i);
    assert.match(await page.locator('#ssh-key-hint').textContent(), /ssh-keygen -t ed25519/);

    const before = Date.now();
    for (const [name, key] of [['laptop', ed], ['desktop', ec]]) {
      const res = await addKey(page, name, key.pub); // the whole file, trailing newline included
      assert.equal(res.status(), 201, `adding ${name}`);
      await page.locator('.toast', { hasText: `SSH key ${name} added` }).waitFor();
      await page.locator(`tr[data-ssh-key-name="${name}"]`).waitFor();
      await dialog.waitFor({ state: 'hidden' });
    }
    assert.equal(await page.locator('#ssh-keys-empty').count(), 0);
    const listed = await page.evaluate(async () => (await fetch('/api/ssh-keys')).json());
    assert.equal(listed.length, 2);
    for (const [name, key, type] of [['laptop', ed, 'ssh-ed25519'], ['desktop', ec, 'ecdsa-sha2-nistp256']]) {
      const row = page.locator(`tr[data-ssh-key-name="${name}"]`);
      assert.equal((await row.locator('.ssh-key-label').textContent()).trim(), name);
      assert.equal((await row.locator('.ssh-key-comment').textContent()).trim(), key.line.split(' ')[2]);
      assert.equal((await row.locator('.ssh-key-type').textContent()).trim().replace(/\s+/g, ' '), `${type} 256 bits`);
      assert.equal((await row.locator('.ssh-key-fingerprint code').textContent()).trim(), key.fingerprint);
      const api = listed.find((k) => k.name === name);
      const created = Date.parse(api.created_at);
      assert.ok(created >= before - 120_000 && created <= Date.now() + 120_000, `${name} was added just now`);
      const added = row.locator('.ssh-key-added time');
      assert.equal((await added.textContent()).trim(), new Date(created).toISOString().slice(0, 16).replace('T', ' '));
      assert.match(await added.getAttribute('title'), / UTC$/);
      assert.equal(await row.locator('button.ssh-key-delete').getAttribute('aria-label'), `Delete SSH key ${name}`);
    }
  });

  test('SSH keys: the clipboard button copies the public key line', async () => {
    const { page, server } = cx;
    await cx.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: server.base });
    for (const [name, key] of [['laptop', server.ssh.ed], ['desktop', server.ssh.ec]]) {
      const row = page.locator(`tr[data-ssh-key-name="${name}"]`);
      await page.evaluate(() => navigator.clipboard.writeText('-'));
      await row.locator('button.ssh-key-copy').click();
      await row.locator('.ssh-key-copy-status', { hasText: 'Copied' }).waitFor();
      assert.equal(await page.evaluate(() => navigator.clipboard.readText()), key.line, `${name}: the whole .pub line`);
    }
  });

  test('SSH keys: refused keys show the server\'s message on the field and add nothing', async () => {
    const { page, server } = cx;
    const { ed } = server.ssh;
    const fresh = sshKeygen(server.sshDir, 'id_ed25519_2', ['-t', 'ed25519'], 'alice@spare');
    const cases = [
      ['a private key', 'private', ed.priv, 422, 'this is a private key; paste the contents of the .pub file'],
      ['the same key again', 'laptop again', ed.pub, 409, 'this SSH key is already on your account'],
      ['a name already used', 'laptop', fresh.pub, 409, 'you already have an SSH key with that name'],
      ['authorized_keys options', 'forced', `command="echo hi" ${fresh.line}`, 422,
        'authorized_keys options such as command="...", from="..." or no-pty are not allowed'],
    ];
    for (const [what, name, text, status, message] of cases) {
      const res = await addKey(page, name, text);
      assert.equal(res.status(), status, what);
      await page.waitForFunction((m) => document.querySelector('#ssh-keys-error').textContent.includes(m), message);
      assert.ok((await page.locator('#ssh-keys-error').textContent()).trim().startsWith(message), what);
      assert.equal(await page.locator('#ssh-key-text').inputValue(), text, 'the paste stays to be fixed');
      const invalid = /name/.test(message) ? '#ssh-key-name' : '#ssh-key-text';
      assert.equal(await page.locator(invalid).getAttribute('aria-invalid'), 'true', `${what}: the field is marked`);
      if (what === 'authorized_keys options') {
        await cx.atWidths(async (w) => {
          await assertFits(page, 'the Add Key dialog with an error');
          await shot(page, `ssh-key-error-${w}`, { full: false });
        });
      }
      await page.click('#ssh-key-cancel');
      assert.equal(await page.locator('#ssh-keys-table tbody tr').count(), 2, `${what}: no row added`);
    }
    assert.ok(!(await page.content()).includes(ed.priv.split('\n')[2]), 'the private key is not echoed');
  });

  test('SSH keys: the delete icon asks for confirmation, then the key is gone', async () => {
    const { page, server } = cx;
    const cookie = await cx.cookie();
    const names = async () => {
      const { status, body } = await cookieGet(server.base, cookie.value, '/api/ssh-keys');
      assert.equal(status, 200);
      return body.map((k) => k.name).sort();
    };
    const dialog = page.locator('dialog#delete-ssh-key-dialog');
    const del = page.getByRole('button', { name: 'Delete SSH key desktop' });
    await cx.atWidths(async (w) => {
      await del.click();
      await dialog.waitFor({ state: 'visible' });
      assert.ok((await dialog.textContent()).includes(server.ssh.ec.fingerprint), 'the dialog names the fingerprint');
      await assertFits(page, 'the delete SSH key dialog');
      await shot(page, `delete-ssh-key-dialog-${w}`, { full: false });
      await page.click('#delete-ssh-key-cancel');
      await dialog.waitFor({ state: 'hidden' });
    });
    assert.deepEqual(await names(), ['desktop', 'laptop'], 'cancel keeps the key');
    await del.click();
    assert.equal((await page.locator('#delete-ssh-key-confirm').textContent()).trim(), 'Delete SSH Key');
    await page.click('#delete-ssh-key-confirm');
    await page.locator('.toast', { hasText: 'SSH key desktop deleted' }).waitFor();
    await page.locator('tr[data-ssh-key-name="desktop"]').waitFor({ state: 'detached' });
    assert.deepEqual(await names(), ['laptop']);
  });
}
