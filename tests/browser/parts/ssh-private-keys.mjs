// Browser tests of the SSH Private Keys tab, in the documentation's words: New SSH
// Private Key → Name, Description, Remote Resource SSH Private Key → Create SSH Private
// Key → "SSH Private Key created successfully" with the public half (as ssh-keygen -y
// derives it); the Passphrase field for an encrypted key (a missing or wrong one refused
// under the field, the right one accepted); a pasted public key refused with the
// server's message; the file picker; Test connection against a real OpenSSH sshd
// (unknown host key → trust → success, a refused key, a changed host key, an
// unreachable port); and the delete dialog's Delete credentials. The private key never
// shows on the page, in storage or in the URL again.

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { LOG_DIR, recordSecret } from '../support.mjs';
import { assertFits, shot } from '../layout.mjs';

const TAB = '/account/authentication/ssh-private-keys';
const SSHD = '/usr/sbin/sshd';

function run(cmd, args) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 60_000 });
  if (r.error) throw r.error;
  assert.equal(r.status, 0, `${cmd} ${args.join(' ')} failed: ${r.stderr}`);
  return r.stdout;
}

// A key pair from the real ssh-keygen, its private body lines recorded as secrets.
function keygen(dir, name, args, passphrase) {
  const file = path.join(dir, name);
  run('ssh-keygen', ['-q', ...args, '-N', passphrase, '-C', `${name}@browser`, '-f', file]);
  const pub = fs.readFileSync(file + '.pub', 'utf8').trim();
  const priv = fs.readFileSync(file, 'utf8');
  // Whole base64 lines (the last one of a file can be a few characters, too short for
  // the log check to search for).
  const body = priv.split('\n').filter((l) => l.length >= 16 && !l.startsWith('-----') && !l.includes(':') && !pub.includes(l));
  for (const l of body) recordSecret(l);
  if (passphrase) recordSecret(passphrase);
  const fingerprint = run('ssh-keygen', ['-lf', file + '.pub']).trim().split(/\s+/)[1];
  return { file, priv, pub, body, fingerprint };
}

// `<type> <base64>` of an OpenSSH public key line (the comment dropped).
const typeAndBlob = (line) => line.trim().split(/\s+/).slice(0, 2).join(' ');

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

async function waitForPort(port, proc, what) {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null) throw new Error(`${what} exited (${proc.exitCode}); see ${LOG_DIR}`);
    const up = await new Promise((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => { s.destroy(); resolve(true); });
      s.on('error', () => resolve(false));
    });
    if (up) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what} did not listen on ${port}`);
}

// A real OpenSSH sshd on a free loopback port with its own host key, letting root in
// with the keys in one authorized_keys file.
async function startSshd(dir) {
  const sshd = { dir, port: await freePort(), hostKey: path.join(dir, 'hostkey'), authorized: path.join(dir, 'authorized_keys') };
  fs.writeFileSync(sshd.authorized, '');
  sshd.newHostKey = () => {
    for (const f of [sshd.hostKey, sshd.hostKey + '.pub']) fs.rmSync(f, { force: true });
    run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'browser-test-host', '-f', sshd.hostKey]);
    sshd.fingerprint = run('ssh-keygen', ['-lf', sshd.hostKey + '.pub']).trim().split(/\s+/)[1];
  };
  sshd.newHostKey();
  const config = path.join(dir, 'sshd_config');
  fs.writeFileSync(config, [
    `Port ${sshd.port}`, 'ListenAddress 127.0.0.1', `HostKey ${sshd.hostKey}`, 'PidFile none',
    `AuthorizedKeysFile ${sshd.authorized}`, 'StrictModes no', 'UsePAM no', 'PermitRootLogin yes',
    'PasswordAuthentication no', 'KbdInteractiveAuthentication no', 'LogLevel VERBOSE', '',
  ].join('\n'));
  fs.mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
  fs.mkdirSync(LOG_DIR, { recursive: true });
  run(SSHD, ['-t', '-f', config]);
  sshd.start = async () => {
    const log = fs.openSync(path.join(LOG_DIR, 'browser-sshd.log'), 'a');
    sshd.proc = spawn(SSHD, ['-D', '-e', '-f', config], { stdio: ['ignore', log, log] });
    fs.closeSync(log);
    await waitForPort(sshd.port, sshd.proc, 'sshd');
  };
  sshd.stop = async () => {
    const p = sshd.proc;
    sshd.proc = null;
    if (!p || p.exitCode !== null) return;
    const gone = new Promise((r) => p.once('exit', r));
    p.kill('SIGTERM');
    await gone;
  };
  sshd.authorize = (...pubs) => fs.writeFileSync(sshd.authorized, pubs.map((p) => p.trim() + '\n').join(''));
  await sshd.start();
  return sshd;
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

  async function openNew(page) {
    await page.click('#ssh-private-key-add-open');
    await dialog().waitFor({ state: 'visible' });
  }

  // The text under a field, once the server's answer is there.
  async function fieldError(page, id) {
    await page.waitForFunction((id) => document.getElementById(id).textContent.trim().length > 0, id);
    return (await page.locator('#' + id).textContent()).trim();
  }

  // The field empties (a dialog's close event comes a moment after it hides). Key text
  // is never an assertion's operand, so a failure cannot print it.
  async function assertEmptied(page, id, what) {
    const emptied = await page.waitForFunction((id) => document.getElementById(id).value === '', id, { timeout: 5000 })
      .then(() => true, () => false);
    assert.ok(emptied, what);
  }

  // Nothing of the key is left anywhere the page keeps text: its HTML, the form's
  // values, storage, or the address.
  async function assertKeyGone(page, key) {
    const html = await page.content();
    assert.ok(!/-----END [A-Z ]*PRIVATE KEY-----/.test(html), 'no key file on the page');
    for (const l of key.body) assert.ok(!html.includes(l), 'no private key bytes in the page');
    const kept = await page.evaluate(() => [
      ...Array.from(document.querySelectorAll('input, textarea'), (e) => e.value),
      ...Object.values(localStorage), ...Object.values(sessionStorage), window.location.href,
    ].join('\n'));
    for (const l of key.body) assert.ok(!kept.includes(l), 'no private key bytes in a field, storage or the URL');
  }

  test('SSH private keys: New SSH Private Key stores a key and shows only its public half', async () => {
    const { page } = cx;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gatehouse-spk-'));
    cx.spkDir = dir;
    cx.cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
    const key = keygen(dir, 'id_ed25519', ['-t', 'ed25519'], '');
    cx.spkKey = key;
    await page.goto(cx.server.base + TAB);
    await page.locator('#ssh-private-keys-empty').waitFor();
    assert.match((await page.locator('#ssh-private-keys-empty').textContent()).replace(/\s+/g, ' '), /let the platform reach a remote host/);
    await cx.atWidths(async (w) => {
      await assertFits(page, 'the empty SSH Private Keys tab');
      await shot(page, `ssh-private-keys-empty-${w}`);
    });
    assert.equal((await page.locator('#ssh-private-key-add-open').textContent()).trim(), 'New SSH Private Key');
    await openNew(page);
    for (const [id, label] of [['spk-name', 'Name'], ['spk-key', 'Remote Resource SSH Private Key']]) {
      assert.equal((await page.locator(`label[for=${id}]`).textContent()).trim(), label);
    }
    assert.match((await page.locator('label[for=spk-description]').textContent()).trim(), /^Description/);
    assert.equal((await page.locator('#spk-create').textContent()).trim(), 'Create SSH Private Key');
    assert.ok(await page.locator('#spk-passphrase-field').isHidden(), 'no passphrase for an unencrypted key');
    assert.equal(await page.locator('#spk-key').getAttribute('name'), null, 'the key field is never part of a form post');
    await cx.atWidths(async (w) => {
      await assertFits(page, 'the New SSH Private Key dialog');
      await shot(page, `ssh-private-keys-new-dialog-${w}`, { full: false });
    });
    await page.fill('#spk-name', 'legacy-cluster');
    await page.fill('#spk-description', 'reaches the old cluster');
    await page.fill('#spk-key', key.priv.replace(/\n/g, '\r\n'));
    assert.ok(await page.locator('#spk-passphrase-field').isHidden());
    await cx.atWidths(async (w) => {
      await assertFits(page, 'the filled New SSH Private Key dialog');
      await shot(page, `ssh-private-keys-new-filled-${w}`, { full: false });
    });
    const res = await create(page);
    assert.equal(res.status(), 201, await res.text());
    const created = page.locator('dialog#spk-created-dialog');
    await created.waitFor({ state: 'visible' });
    assert.equal((await page.locator('#spk-created-dialog-title').textContent()).trim(), 'SSH Private Key created successfully');
    const derived = run('ssh-keygen', ['-y', '-f', key.file]);
    assert.equal((await page.locator('#spk-created-public-key').textContent()).trim(), typeAndBlob(derived),
      'the public half is what ssh-keygen -y derives');
    assert.equal((await page.locator('#spk-created-fingerprint').textContent()).trim(), key.fingerprint);
    const text = (await created.textContent()).replace(/\s+/g, ' ');
    assert.match(text, /~\/\.ssh\/authorized_keys/);
    assert.match(text, /stored encrypted/);
    assert.match(text, /never be shown or downloaded again/);
    await cx.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: cx.server.base });
    await page.click('#spk-created-copy');
    await page.locator('#spk-created-copy-status', { hasText: 'Copied' }).waitFor();
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), typeAndBlob(derived));
    await cx.atWidths(async (w) => {
      await assertFits(page, 'the created dialog');
      await shot(page, `ssh-private-keys-created-${w}`, { full: false });
    });
    await assertKeyGone(page, key);
    await page.click('#spk-created-done');
    const row = page.locator('tr[data-spk-name="legacy-cluster"]');
    await row.waitFor();
    assert.equal((await row.locator('.spk-label').textContent()).trim(), 'legacy-cluster');
    assert.equal((await row.locator('.spk-description').textContent()).trim(), 'reaches the old cluster');
    assert.equal((await row.locator('.spk-type').textContent()).trim(), 'ssh-ed25519');
    assert.equal((await row.locator('.spk-fingerprint code').textContent()).trim(), key.fingerprint);
    assert.equal((await row.locator('.spk-last-used').textContent()).trim(), 'Never');
    assert.match(await row.locator('.spk-created time').getAttribute('title'), / UTC$/);
    await assertKeyGone(page, key);
  });

  test('SSH private keys: an encrypted key asks for its Passphrase; a missing or wrong one is refused under the field', async () => {
    const { page } = cx;
    const pass = 'pp-' + Math.random().toString(36).slice(2, 14);
    const key = keygen(cx.spkDir, 'id_ed25519_pass', ['-t', 'ed25519'], pass);
    await openNew(page);
    await page.fill('#spk-name', 'protected');
    await page.fill('#spk-key', key.priv);
    await page.locator('#spk-passphrase-field').waitFor({ state: 'visible' });
    assert.equal((await page.locator('label[for=spk-passphrase]').textContent()).trim(), 'Passphrase');
    assert.equal(await page.locator('#spk-passphrase').getAttribute('type'), 'password');
    await cx.atWidths(async (w) => {
      await assertFits(page, 'the dialog asking for a passphrase');
      await shot(page, `ssh-private-keys-passphrase-${w}`, { full: false });
    });

    // Sent without one: the server asks for it, under the Passphrase field.
    let res = await create(page);
    assert.equal(res.status(), 422);
    assert.equal((await res.json()).field, 'passphrase');
    assert.match(await fieldError(page, 'spk-passphrase-error'), /^This key is protected by a passphrase/);
    assert.equal(await page.locator('#spk-passphrase').getAttribute('aria-invalid'), 'true');

    await page.fill('#spk-passphrase', 'not ' + pass);
    res = await create(page);
    assert.equal(res.status(), 422);
    assert.equal(await fieldError(page, 'spk-passphrase-error'), 'The passphrase does not decrypt this key; check it and try again');
    assert.equal(await page.locator('#spk-passphrase').getAttribute('aria-invalid'), 'true');
    await assertEmptied(page, 'spk-passphrase', 'the passphrase is not kept in the form');
    assert.ok((await page.locator('#spk-key').inputValue()) === key.priv, 'the key stays, to try another passphrase');
    assert.equal(await page.locator('#spk-error').textContent(), '', 'nothing under the form');
    await cx.atWidths(async (w) => {
      await assertFits(page, 'the dialog with a passphrase error');
      await shot(page, `ssh-private-keys-passphrase-error-${w}`, { full: false });
    });
    await page.fill('#spk-passphrase', pass);
    res = await create(page);
    assert.equal(res.status(), 201, await res.text());
    assert.ok(!(await res.text()).includes(pass));
    await page.locator('dialog#spk-created-dialog').waitFor({ state: 'visible' });
    assert.equal((await page.locator('#spk-created-public-key').textContent()).trim(),
      typeAndBlob(run('ssh-keygen', ['-y', '-P', pass, '-f', key.file])));
    await assertKeyGone(page, key);
    await page.click('#spk-created-done');
    await page.locator('tr[data-spk-name="protected"]').waitFor();
    cx.spkProtected = key;
  });

  test('SSH private keys: a pasted public key and a name used twice are refused readably, on their field', async () => {
    const { page } = cx;
    const key = cx.spkKey;
    await openNew(page);
    await page.fill('#spk-name', 'oops');
    await page.fill('#spk-key', key.pub);
    let res = await create(page);
    assert.equal(res.status(), 422);
    assert.equal(await fieldError(page, 'spk-key-error'),
      'This is a public key; paste the private key file, e.g. ~/.ssh/id_ed25519');
    assert.equal(await page.locator('#spk-key').getAttribute('aria-invalid'), 'true');
    assert.ok(await page.locator('#spk-passphrase-field').isHidden(), 'a public key needs no passphrase');
    await cx.atWidths(async (w) => {
      await assertFits(page, 'the dialog refusing a public key');
      await shot(page, `ssh-private-keys-public-key-error-${w}`, { full: false });
    });

    // The longest public half there is (RSA 4096): it wraps inside its box.
    const rsa = keygen(cx.spkDir, 'id_rsa', ['-t', 'rsa', '-b', '4096'], '');
    await page.fill('#spk-name', 'legacy-cluster');
    await page.fill('#spk-key', rsa.priv);
    res = await create(page);
    assert.equal(res.status(), 409);
    assert.equal(await fieldError(page, 'spk-name-error'), 'You already have a stored SSH private key with that name');
    assert.equal(await page.locator('#spk-name').getAttribute('aria-invalid'), 'true');
    assert.ok((await page.locator('#spk-key').inputValue()) === rsa.priv, 'the key stays, to try another name');
    await page.fill('#spk-name', 'big-rsa');
    res = await create(page);
    assert.equal(res.status(), 201, await res.text());
    await page.locator('dialog#spk-created-dialog').waitFor({ state: 'visible' });
    assert.equal((await page.locator('#spk-created-public-key').textContent()).trim(), typeAndBlob(rsa.pub));
    await cx.atWidths(async (w) => {
      await assertFits(page, 'the created dialog with an RSA 4096 key');
      const box = await page.locator('#spk-created-public-key').evaluate((el) => {
        const pre = el.closest('pre');
        return { scroll: pre.scrollWidth, client: pre.clientWidth };
      });
      assert.ok(box.scroll <= box.client, `the public key wraps inside its box at ${w} px`);
      await shot(page, `ssh-private-keys-created-rsa-${w}`, { full: false });
    });
    await assertKeyGone(page, rsa);
    await page.click('#spk-created-done');
    await page.locator('tr[data-spk-name="big-rsa"]').waitFor();
    assert.equal((await page.locator('tr[data-spk-name="big-rsa"] .spk-type').textContent()).trim(), 'ssh-rsa');

    await openNew(page);
    await page.fill('#spk-name', 'abandoned');
    await page.fill('#spk-key', rsa.priv);
    await page.click('#spk-cancel');
    await dialog().waitFor({ state: 'hidden' });
    await assertEmptied(page, 'spk-key', 'closing the form drops the key');
    assert.equal(await page.locator('#ssh-private-keys-table tbody tr').count(), 3);
  });

  test('SSH private keys: the file picker reads a key file into the form', async () => {
    const { page } = cx;
    await openNew(page);
    await page.setInputFiles('#spk-file', cx.spkProtected.file);
    await page.waitForFunction(() => document.querySelector('#spk-key').value.includes('BEGIN OPENSSH PRIVATE KEY'));
    assert.ok((await page.locator('#spk-key').inputValue()) === cx.spkProtected.priv, 'the whole file is in the field');
    await page.locator('#spk-passphrase-field').waitFor({ state: 'visible' });
    const big = path.join(cx.spkDir, 'big.txt');
    fs.writeFileSync(big, 'x'.repeat(20_000));
    await page.setInputFiles('#spk-file', big);
    assert.match(await fieldError(page, 'spk-key-error'), /too large to be a private key file/);
    await page.click('#spk-cancel');
    await dialog().waitFor({ state: 'hidden' });
    await assertEmptied(page, 'spk-key', 'closing the form drops the file\'s text');
  });

  test('SSH private keys: Test connection shows a refused host under its field', async () => {
    const { page } = cx;
    const row = page.locator('tr[data-spk-name="legacy-cluster"]');
    await row.locator('button.spk-test').click();
    const testDialog = page.locator('dialog#spk-test-dialog');
    await testDialog.waitFor({ state: 'visible' });
    assert.equal((await page.locator('#spk-test-dialog-title').textContent()).trim(), 'Test connection');
    assert.equal((await page.locator('#spk-test-key').textContent()).trim(), 'legacy-cluster');
    for (const [id, label] of [['spk-test-host', 'Host'], ['spk-test-port', 'Port'], ['spk-test-user', 'Username']]) {
      assert.equal((await page.locator(`label[for=${id}]`).textContent()).trim(), label);
    }
    assert.equal(await page.locator('#spk-test-port').inputValue(), '22');
    assert.equal((await page.locator('#spk-test-run').textContent()).trim(), 'Test connection');
    await cx.atWidths(async (w) => {
      await assertFits(page, 'the Test connection dialog');
      await shot(page, `ssh-private-keys-test-dialog-${w}`, { full: false });
    });
    await page.fill('#spk-test-host', '-oProxyCommand=x');
    await page.fill('#spk-test-user', 'deploy');
    const [res] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith('/test')),
      page.click('#spk-test-run'),
    ]);
    assert.equal(res.status(), 422);
    assert.match(await fieldError(page, 'spk-test-host-error'), /^Give a host name or IP address/);
    assert.equal(await page.locator('#spk-test-host').getAttribute('aria-invalid'), 'true');
    await cx.atWidths(async (w) => {
      await assertFits(page, 'the Test connection dialog with an error');
      await shot(page, `ssh-private-keys-test-refused-${w}`, { full: false });
    });
    await page.click('#spk-test-cancel');
  });

  test('SSH private keys: Test connection against a real sshd: confirm the host key, then success; refused, changed and unreachable', async () => {
    const { page } = cx;
    const sshd = await startSshd(cx.spkDir);
    cx.cleanups.push(() => sshd.stop());
    try {
      sshd.authorize(cx.spkKey.pub);
      const testDialog = page.locator('dialog#spk-test-dialog');
      const result = page.locator('#spk-test-result');
      const tryKey = async (name, { host = '127.0.0.1', port = sshd.port, user = 'root' } = {}) => {
        await page.locator(`tr[data-spk-name="${name}"] button.spk-test`).click();
        await testDialog.waitFor({ state: 'visible' });
        await page.fill('#spk-test-host', host);
        await page.fill('#spk-test-port', String(port));
        await page.fill('#spk-test-user', user);
        const [res] = await Promise.all([
          page.waitForResponse((r) => r.url().endsWith('/test'), { timeout: 30_000 }),
          page.click('#spk-test-run'),
        ]);
        return res;
      };
      const outcome = async (kind) => {
        await page.locator(`#spk-test-result.${kind}`).waitFor({ timeout: 30_000 });
        return {
          title: (await page.locator('#spk-test-result-title').textContent()).trim(),
          message: (await page.locator('#spk-test-result-message').textContent()).trim(),
        };
      };
      const where = `127.0.0.1:${sshd.port}`;

      // First contact: the host key is unknown, shown with the fingerprint ssh-keygen prints.
      let res = await tryKey('legacy-cluster');
      assert.equal(res.status(), 409);
      const hostKey = page.locator('#spk-hostkey');
      await hostKey.waitFor({ state: 'visible' });
      assert.equal((await page.locator('#spk-hostkey-fingerprint').textContent()).trim(), sshd.fingerprint);
      assert.match(await page.locator('#spk-hostkey-fingerprint').evaluate((el) => getComputedStyle(el).fontFamily), /mono/i);
      const said = (await hostKey.textContent()).replace(/\s+/g, ' ');
      assert.ok(said.includes(`The authenticity of host ${where} can't be established`), said);
      assert.match(said, /ssh-ed25519 host key/);
      assert.match(said, /trust on first use/);
      const trust = page.locator('#spk-test-trust');
      assert.equal((await trust.textContent()).trim(), 'Trust this host key and connect');
      assert.ok(await page.locator('#spk-test-run').isHidden(), 'one way on: trusting the key');
      await cx.atWidths(async (w) => {
        await assertFits(page, 'the unknown host key dialog');
        await shot(page, `ssh-private-keys-test-host-key-${w}`, { full: false });
      });

      // Trusting it sends the same request with that fingerprint, and sshd lets the key in.
      const [trusted] = await Promise.all([
        page.waitForResponse((r) => r.url().endsWith('/test'), { timeout: 30_000 }),
        trust.click(),
      ]);
      assert.deepEqual(trusted.request().postDataJSON(),
        { host: '127.0.0.1', port: sshd.port, username: 'root', trust_host_key: sshd.fingerprint });
      assert.equal(trusted.status(), 200);
      assert.equal((await trusted.json()).result, 'success');
      let shown = await outcome('ok');
      assert.equal(shown.title, 'Connection succeeded');
      assert.ok(shown.message.startsWith(`root@${where} accepted the key.`), shown.message);
      assert.ok(shown.message.includes(sshd.fingerprint), 'says which host key is now remembered');
      assert.ok(await hostKey.isHidden());
      await cx.atWidths(async (w) => {
        await assertFits(page, 'the successful test');
        await shot(page, `ssh-private-keys-test-success-${w}`, { full: false });
      });
      await page.click('#spk-test-cancel');
      await page.waitForFunction(() =>
        document.querySelector('tr[data-spk-name="legacy-cluster"] .spk-last-used').textContent.trim() !== 'Never');
      assert.equal(await page.locator('tr[data-spk-name="legacy-cluster"] .spk-last-used time').count(), 1,
        'Last used is a time now');

      // Known now: straight to success.
      res = await tryKey('legacy-cluster');
      assert.equal(res.status(), 200);
      assert.equal((await outcome('ok')).title, 'Connection succeeded');
      await page.click('#spk-test-cancel');

      // A key that is not in authorized_keys: a readable failure.
      res = await tryKey('protected');
      assert.equal(res.status(), 200);
      assert.equal((await res.json()).result, 'authentication_refused');
      shown = await outcome('fail');
      assert.equal(shown.title, 'The host refused the key');
      assert.match(shown.message, /authorized_keys/);
      await cx.atWidths(async (w) => {
        await assertFits(page, 'the refused test');
        await shot(page, `ssh-private-keys-test-refused-key-${w}`, { full: false });
      });
      await page.click('#spk-test-cancel');

      // sshd comes back with another host key: the warning, both fingerprints, no way on.
      const pinned = sshd.fingerprint;
      await sshd.stop();
      sshd.newHostKey();
      await sshd.start();
      res = await tryKey('legacy-cluster');
      assert.equal(res.status(), 409);
      assert.equal((await res.json()).error, 'host_key_mismatch');
      const warning = page.locator('#spk-mismatch');
      await warning.waitFor({ state: 'visible' });
      assert.match(await warning.textContent(), /REMOTE HOST IDENTIFICATION HAS CHANGED/);
      assert.equal((await page.locator('#spk-mismatch-expected').textContent()).trim(), pinned);
      assert.equal((await page.locator('#spk-mismatch-presented').textContent()).trim(), sshd.fingerprint);
      assert.ok(await page.locator('#spk-test-trust').isHidden(), 'nothing offers to go on');
      assert.ok(await page.locator('#spk-test-run').isHidden(), 'not even testing again');
      assert.ok(await page.locator('#spk-test-cancel').isVisible(), 'only Close');
      assert.ok(await page.locator('#spk-hostkey').isHidden());
      await cx.atWidths(async (w) => {
        await assertFits(page, 'the changed host key warning');
        await shot(page, `ssh-private-keys-test-mismatch-${w}`, { full: false });
      });
      await page.click('#spk-test-cancel');

      // Nothing listens any more: unreachable, said as a failure.
      await sshd.stop();
      res = await tryKey('legacy-cluster');
      assert.equal(res.status(), 200);
      assert.equal((await res.json()).result, 'unreachable');
      shown = await outcome('fail');
      assert.equal(shown.title, 'The host could not be reached');
      assert.ok(shown.message.startsWith(`${where} could not be reached`), shown.message);
      await page.click('#spk-test-cancel');
    } finally {
      await sshd.stop();
    }
    assert.deepEqual(cx.errors, [], 'no script errors');
  });

  test('SSH private keys: the delete icon asks, and Delete credentials removes the key', async () => {
    const { page } = cx;
    await cx.atWidths(async (w) => {
      await page.goto(cx.server.base + TAB);
      await assertFits(page, 'the SSH Private Keys list');
      await shot(page, `ssh-private-keys-list-${w}`);
    });
    const row = page.locator('tr[data-spk-name="protected"]');
    const del = page.locator('dialog#delete-spk-dialog');
    await cx.atWidths(async (w) => {
      await row.locator('button.spk-delete').click();
      await del.waitFor({ state: 'visible' });
      assert.ok((await del.textContent()).includes(cx.spkProtected.fingerprint), 'the dialog names the fingerprint');
      await assertFits(page, 'the delete dialog');
      await shot(page, `ssh-private-keys-delete-${w}`, { full: false });
      await page.click('#delete-spk-cancel');
      await del.waitFor({ state: 'hidden' });
    });
    assert.equal(await page.locator('#ssh-private-keys-table tbody tr').count(), 3, 'cancel keeps the key');
    await row.locator('button.spk-delete').click();
    assert.equal((await page.locator('#delete-spk-confirm').textContent()).trim(), 'Delete credentials');
    await page.click('#delete-spk-confirm');
    await page.locator('.toast', { hasText: 'SSH private key protected deleted' }).waitFor();
    await row.waitFor({ state: 'detached' });
    assert.equal(await page.locator('#ssh-private-keys-table tbody tr').count(), 2);
    const listed = await page.evaluate(async () => (await fetch('/api/ssh-private-keys')).json());
    assert.deepEqual(listed.map((k) => k.name), ['legacy-cluster', 'big-rsa']);
    assert.deepEqual(cx.errors, [], 'no script errors');
  });
}
