// Browser tests of the admin panel's Policies section: every field the API lists is on the
// form with its label and effect, a change is saved with the toast and seen through the API
// and by members (the Tokens tab offers no more than the new maximum, the API refuses a
// longer token), and a combination the server refuses (a default expiration outside the
// allowed ones) is shown at its field with nothing changed.

import assert from 'node:assert/strict';
import { assertFits, shot } from '../layout.mjs';
import { pageApi } from './api-keys.mjs';

const POLICIES = '/admin/policies';

export function adminPolicyTests(test, cx, getA) {
  let original;

  test('admin policies: every field of the policy with its label and effect', async () => {
    const A = getA();
    const { page } = A.owner;
    await page.goto(cx.server.base + POLICIES);
    const api = (await pageApi(page, 'GET', '/api/admin/policy')).body;
    original = api.policy;
    assert.equal(api.fields.length, Object.keys(api.policy).length, 'one field per policy member');
    for (const f of api.fields) {
      const box = page.locator(`[data-policy-field="${f.name}"]`);
      assert.equal(await box.count(), 1, `${f.name} is on the form`);
      assert.equal((await box.locator('.policy-effect').textContent()).trim(), f.effect, `${f.name}'s effect`);
      assert.match((await box.textContent()).replace(/\s+/g, ' '), new RegExp(f.label.replace(/[()]/g, '\\$&')), `${f.name}'s label`);
    }
    const legends = await page.locator('fieldset.policy-group > legend').evaluateAll((ls) => ls.map((l) => l.textContent.trim()));
    assert.deepEqual(legends, ['API keys', 'Tokens', 'Sign-in & 2-Step Verification', 'Per-account limits']);
    const expirations = await page.locator('#policy-api_key_expirations label').evaluateAll((ls) => ls.map((l) => l.textContent.trim()));
    assert.deepEqual(expirations, ['no expiration', '7 days', '30 days', '60 days', '90 days'], 'labelled as the API Keys tab labels them');
    const hours = await page.locator('#policy-token_max_hours option').evaluateAll((os) => os.map((o) => o.value));
    assert.deepEqual(hours, Array.from({ length: 24 }, (_, i) => String(i + 1)));
    assert.equal(await page.locator('#policy-max_api_keys_per_account').getAttribute('placeholder'),
      `Server limit (${api.server_limits.api_keys})`);
    assert.equal(await page.locator('#policy-max_tokens_per_account').getAttribute('placeholder'),
      `Server limit (${api.server_limits.tokens})`);
    assert.equal(await page.locator('#policy-require_mfa').getAttribute('role'), 'switch');
    assert.equal(await page.locator('#policy-read-only').count(), 0, 'an owner may save');
    await A.atWidths(page, async (w) => {
      await assertFits(page, 'the Policies section');
      await shot(page, `admin-policies-${w}`);
    });
  });

  test('admin policies: a shorter token maximum and an API key cap are saved and apply to members', async () => {
    const A = getA();
    const { page } = A.owner;
    await page.selectOption('#policy-token_max_hours', '6');
    await page.selectOption('#policy-token_default_hours', '4');
    await page.fill('#policy-max_api_keys_per_account', '5');
    const [res] = await Promise.all([
      page.waitForResponse((r) => new URL(r.url()).pathname === '/api/admin/policy' && r.request().method() === 'PUT'),
      page.click('#policy-save'),
    ]);
    assert.equal(res.status(), 200);
    await A.toast(page, 'Policies saved');
    const sent = res.request().postDataJSON();
    assert.deepEqual(Object.keys(sent).sort(), Object.keys(original).sort(), 'the whole document is sent');
    assert.equal(sent.max_tokens_per_account, null, 'an empty cap is the server limit');
    const now = (await pageApi(page, 'GET', '/api/admin/policy')).body.policy;
    assert.equal(now.token_max_hours, 6);
    assert.equal(now.token_default_hours, 4);
    assert.equal(now.max_api_keys_per_account, 5);
    assert.equal(now.max_tokens_per_account, null);
    assert.deepEqual(now.api_key_expirations, original.api_key_expirations, 'the rest is as it was');

    // Members see it: the Tokens tab offers at most 6 hours, and the API refuses 12.
    await page.goto(cx.server.base + '/account/authentication/tokens');
    const offered = await page.locator('#token-expiration option').evaluateAll((os) => os.map((o) => Number(o.value)));
    assert.equal(Math.max(...offered), 6, `the Tokens tab offers ${offered}`);
    const carol = await A.apiLogin('mem-carol');
    const long = await A.asUser(carol, 'POST', '/api/tokens', { name: 'too-long', expires_in_hours: 12 });
    assert.equal(long.status, 422, long.text);
    assert.match(long.body.message, /at most 6 hours/);
    await page.goto(cx.server.base + POLICIES);
    assert.equal(await page.locator('#policy-token_max_hours').inputValue(), '6', 'the form shows what is saved');
    assert.equal(await page.locator('#policy-max_api_keys_per_account').inputValue(), '5');
  });

  test('admin policies: a refused combination is shown at its field and nothing changes', async () => {
    const A = getA();
    const { page } = A.owner;
    const before = (await pageApi(page, 'GET', '/api/admin/policy')).body.policy;
    assert.equal(before.api_key_default_expiration, '30');
    // The default (30 days) no longer among the allowed expirations, and a cap changed too.
    await page.uncheck('#policy-api_key_expirations input[value="30"]');
    await page.fill('#policy-max_ssh_keys_per_account', '3');
    const [res] = await Promise.all([
      page.waitForResponse((r) => new URL(r.url()).pathname === '/api/admin/policy' && r.request().method() === 'PUT'),
      page.click('#policy-save'),
    ]);
    assert.equal(res.status(), 422);
    const error = page.locator('#policy-api_key_default_expiration-error');
    await error.waitFor({ state: 'visible' });
    assert.equal((await error.textContent()).trim(), 'Default API key expiration must be one of the allowed expirations');
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'policy-api_key_default_expiration', 'the field is focused');
    assert.equal(await page.locator('#policy-api_key_default_expiration').getAttribute('aria-invalid'), 'true');
    assert.equal(await page.locator('.toast', { hasText: 'Policies saved' }).count(), 0);
    assert.deepEqual((await pageApi(page, 'GET', '/api/admin/policy')).body.policy, before, 'nothing changed');
    await A.atWidths(page, async (w) => {
      await assertFits(page, 'the refused policy');
      await shot(page, `admin-policies-error-${w}`);
    });
    // A cap of 0 is refused by the server, at its field.
    await page.fill('#policy-max_ssh_keys_per_account', '0');
    await page.check('#policy-api_key_expirations input[value="30"]');
    const [zero] = await Promise.all([
      page.waitForResponse((r) => new URL(r.url()).pathname === '/api/admin/policy' && r.request().method() === 'PUT'),
      page.click('#policy-save'),
    ]);
    assert.equal(zero.status(), 422);
    await page.locator('#policy-max_ssh_keys_per_account-error').waitFor({ state: 'visible' });
    assert.match(await page.locator('#policy-max_ssh_keys_per_account-error').textContent(), /at least 1/);
    // Back to how it was, for the tests that follow.
    const restore = await pageApi(page, 'PUT', '/api/admin/policy', original);
    assert.equal(restore.status, 200);
  });
}
