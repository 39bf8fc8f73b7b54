// Browser tests of the SSH Private Keys tab, in the documentation's words: New SSH
// Private Key → Name, Description, Remote Resource SSH Private Key → Create SSH Private
// Key → "SSH Private Key created successfully" with the public half; the Passphrase
// field for an encrypted key (a wrong one refused, the right one accepted); a pasted
// public key refused with the server's message; the Test connection dialog; and the
// delete dialog's Delete credentials. The private key never shows on the page again.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { recordSecret } from '../support.mjs';
import { assertFits, shot } from '../layout.mjs';

const TAB = '/account/authentication/ssh-private-keys';

function keygen(dir, name, args, passphrase) {
  const file = path.join(dir, name);
  const r = spawnSync('ssh-keygen', ['-q', ...args, '-N', passphrase, '-C', `${name}@browser`, '-f', file],
    { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, r.stderr);
  const pub = fs.readFileSync(file + '.pub', 'utf8').trim();
  const priv = fs.readFileSync(file, 'utf8');
  const body = priv.split('\n').filter((l) => l && !l.startsWith('-----') && !l.includes(':') && !pub.includes(l));
  for (const l of body) recordSecret(l);
  if (passphrase) recordSecret(passphrase);
  const lf = spawnSync('ssh-keygen', ['-lf', file + '.pub'], { encoding: 'utf8' });
  return { priv, pub, body, fingerprint: lf.stdout.trim().split(/\s+/)[1], blob: pub.split(' ')[1] };
}

export function sshPrivateKeyTests(test, cx) {
  const dialog = () => cx.page.locator('dialog#ssh-private-key-dialog');

  async function create(page) {
    const [res] = await Promise.all([
      page.waitForResponse((r) => new URL(r.url()).pathname === '/api/ssh-private-keys' && r.request().method() === 'POST'),
      page.click('#spk-create'),
    ]);
    return res;
  }

  test('SSH private keys: New SSH Private Key stores a key and shows only its public half', async () => {
    const { page } = cx;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gatehouse-spk-'));
    cx.spkDir = dir;
    const key = keygen(dir, 'id_ed25519', ['-t', 'ed25519'], '');
    await page.goto(cx.server.base + TAB);
    await page.locator('#ssh-private-keys-empty').waitFor();
    await cx.atWidths(async (w) => {
      await assertFits(page, 'the empty SSH Private Keys tab');
      await shot(page, `ssh-private-keys-empty-${w}`);
    });
    assert.equal((await page.locator('#ssh-private-key-add-open').textContent()).trim(), 'New SSH Private Key');
    await page.click('#ssh-private-key-add-open');
    await dialog().waitFor({ state: 'visible' });
    for (const [id, label] of [['spk-name', 'Name'], ['spk-key', 'Remote Resource SSH Private Key']]) {
      assert.equal((await page.locator(`label[for=${id}]`).textContent()).trim(), label);
    }
    assert.match((await page.locator('label[for=spk-description]').textContent()).trim(), /^Description/);
    assert.equal((await page.locator('#spk-create').textContent()).trim(), 'Create SSH Private Key');
    assert.ok(await page.locator('#spk-passphrase-field').isHidden(), 'no passphrase for an unencrypted key');
    await cx.atWidths(async (w) => {
      await assertFits(page, 'the New SSH Private Key dialog');
      await shot(page, `ssh-private-keys-new-dialog-${w}`, { full: false });
    });
    await page.fill('#spk-name', 'legacy-cluster');
    await page.fill('#spk-description', 'reaches the old cluster');
    await page.fill('#spk-key', key.priv.replace(/\n/g, '\r\n'));
    assert.ok(await page.locator('#spk-passphrase-field').isHidden());
    const res = await create(page);
    assert.equal(res.status(), 201, await res.text());
    const created = page.locator('dialog#spk-created-dialog');
    await created.waitFor({ state: 'visible' });
    assert.equal((await page.locator('#spk-created-dialog-title').textContent()).trim(), 'SSH Private Key created successfully');
    assert.equal((await page.locator('#spk-created-public-key').textContent()).trim(), key.pub.split(' ').slice(0, 2).join(' '));
    await cx.atWidths(async (w) => {
      await assertFits(page, 'the created dialog');
      await shot(page, `ssh-private-keys-created-${w}`, { full: false });
    });
    await page.click('#spk-created-done');
    const row = page.locator('tr[data-spk-name="legacy-cluster"]');
    await row.waitFor();
    assert.equal((await row.locator('.spk-fingerprint code').textContent()).trim(), key.fingerprint);
    assert.equal((await row.locator('.spk-description').textContent()).trim(), 'reaches the old cluster');
    assert.equal((await row.locator('.spk-last-used').textContent()).trim(), 'Never');
    assert.match((await row.locator('.spk-created time').getAttribute('title')), / UTC$/);
    const html = await page.content();
    assert.ok(!html.includes('-----END'), 'no key file on the page');
    for (const l of key.body) assert.ok(!html.includes(l), 'no private key bytes on the page');
    assert.equal(await page.locator('#spk-key').inputValue(), '', 'the form no longer holds the key');
  });

  test('SSH private keys: an encrypted key asks for its Passphrase; a wrong one and a public key are refused', async () => {
    const { page } = cx;
    const pass = 'pp-' + Math.random().toString(36).slice(2, 14);
    const key = keygen(cx.spkDir, 'id_ecdsa_pass', ['-t', 'ecdsa', '-b', '256'], pass);
    await page.click('#ssh-private-key-add-open');
    await dialog().waitFor({ state: 'visible' });
    await page.fill('#spk-name', 'protected');
    await page.fill('#spk-key', key.priv);
    await page.locator('#spk-passphrase-field').waitFor({ state: 'visible' });
    assert.equal((await page.locator('label[for=spk-passphrase]').textContent()).trim(), 'Passphrase');
    assert.equal(await page.locator('#spk-passphrase').getAttribute('type'), 'password');
    await page.fill('#spk-passphrase', 'not ' + pass);
    let res = await create(page);
    assert.equal(res.status(), 422);
    await page.waitForFunction(() => document.querySelector('#spk-error').textContent.includes('passphrase does not decrypt'));
    assert.equal(await page.locator('#spk-passphrase').getAttribute('aria-invalid'), 'true');
    assert.equal(await page.locator('#spk-passphrase').inputValue(), '', 'the passphrase is not kept in the form');
    await cx.atWidths(async (w) => {
      await assertFits(page, 'the dialog with a passphrase error');
      await shot(page, `ssh-private-keys-passphrase-error-${w}`, { full: false });
    });
    await page.fill('#spk-passphrase', pass);
    res = await create(page);
    assert.equal(res.status(), 201, await res.text());
    assert.ok(!(await res.text()).includes(pass));
    await page.locator('dialog#spk-created-dialog').waitFor({ state: 'visible' });
    await page.click('#spk-created-done');
    await page.locator('tr[data-spk-name="protected"]').waitFor();

    await page.click('#ssh-private-key-add-open');
    await page.fill('#spk-name', 'oops');
    await page.fill('#spk-key', key.pub);
    res = await create(page);
    assert.equal(res.status(), 422);
    await page.waitForFunction(() => document.querySelector('#spk-error').textContent.includes('this is a public key'));
    assert.equal(await page.locator('#spk-key').getAttribute('aria-invalid'), 'true');
    await page.click('#spk-cancel');
    assert.equal(await page.locator('#ssh-private-keys-table tbody tr').count(), 2);
  });

  test('SSH private keys: Test connection refuses the server\'s own loopback by default', async () => {
    const { page } = cx;
    const row = page.locator('tr[data-spk-name="legacy-cluster"]');
    await row.locator('button.spk-test').click();
    const testDialog = page.locator('dialog#spk-test-dialog');
    await testDialog.waitFor({ state: 'visible' });
    assert.equal((await page.locator('#spk-test-key').textContent()).trim(), 'legacy-cluster');
    assert.equal(await page.locator('#spk-test-port').inputValue(), '22');
    await page.fill('#spk-test-host', '127.0.0.1');
    await page.fill('#spk-test-user', 'deploy');
    await cx.atWidths(async (w) => {
      await assertFits(page, 'the Test connection dialog');
      await shot(page, `ssh-private-keys-test-dialog-${w}`, { full: false });
    });
    const [res] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith('/test')),
      page.click('#spk-test-run'),
    ]);
    assert.equal(res.status(), 422);
    await page.waitForFunction(() => document.querySelector('#spk-test-error').textContent.includes('may not reach'));
    assert.equal(await page.locator('#spk-test-host').getAttribute('aria-invalid'), 'true');
    await cx.atWidths(async (w) => {
      await assertFits(page, 'the Test connection dialog with an error');
      await shot(page, `ssh-private-keys-test-refused-${w}`, { full: false });
    });
    await page.click('#spk-test-cancel');
  });

  test('SSH private keys: the delete icon asks, and Delete credentials removes the key', async () => {
    const { page } = cx;
    await cx.atWidths(async (w) => {
      await page.goto(cx.server.base + TAB);
      await assertFits(page, 'the SSH Private Keys list');
      await shot(page, `ssh-private-keys-list-${w}`);
    });
    const row = page.locator('tr[data-spk-name="protected"]');
    await row.locator('button.spk-delete').click();
    const del = page.locator('dialog#delete-spk-dialog');
    await del.waitFor({ state: 'visible' });
    assert.equal((await page.locator('#delete-spk-confirm').textContent()).trim(), 'Delete credentials');
    await cx.atWidths(async (w) => {
      await assertFits(page, 'the delete dialog');
      await shot(page, `ssh-private-keys-delete-${w}`, { full: false });
    });
    await page.click('#delete-spk-confirm');
    await page.locator('.toast', { hasText: 'SSH private key protected deleted' }).waitFor();
    await row.waitFor({ state: 'detached' });
    assert.equal(await page.locator('#ssh-private-keys-table tbody tr').count(), 1);
    assert.deepEqual(cx.errors, [], 'no script errors');
  });
}
