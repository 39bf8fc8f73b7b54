// Browser tests of the admin panel's Audit log section: after admin actions made with an
// organisation key (a member disabled and enabled over HTTPS, as a script would), the page
// lists them with who acted and with which credential; the actor and event type filters;
// the pager keeping the filters; the two exports, fetched with the page's session and
// compared with the rows; and a bad date range refused at its field.

import assert from 'node:assert/strict';
import { httpsRequest, recordSecret } from '../support.mjs';
import { assertFits, shot } from '../layout.mjs';
import { pageApi } from './api-keys.mjs';

const AUDIT = '/admin/audit-log';

// A CSV document as rows of cells (quotes doubled inside quoted cells, as RFC 4180 has it).
function parseCsv(text) {
  const rows = [];
  let row = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') { cell += '"'; i++; } else if (c === '"') quoted = false; else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') { row.push(cell); cell = ''; }
    else if (c === '\n') { row.push(cell); rows.push(row); row = []; cell = ''; }
    else if (c !== '\r') cell += c;
  }
  if (cell || row.length) { row.push(cell); rows.push(row); }
  return rows;
}

const rowsOf = (page) => page.locator('#audit-table tbody tr').evaluateAll((rs) => rs.map((r) => ({
  id: r.dataset.id, action: r.dataset.action, actor: r.dataset.actor,
})));

export function adminAuditTests(test, cx, getA) {
  const K = {};

  test('audit log: admin actions made with an organisation key are listed with who and which credential', async () => {
    const A = getA();
    const { page } = A.owner;
    await page.goto(cx.server.base + AUDIT);
    const made = await pageApi(page, 'POST', '/api/admin/keys', { name: 'offboarding-bot', permissions: ['org:members:read', 'org:members:write'] });
    assert.equal(made.status, 201, JSON.stringify(made.body));
    K.key = recordSecret(made.body.key);
    K.id = made.body.id;
    const auth = { Authorization: recordSecret('Basic ' + Buffer.from(K.key + ':').toString('base64')) };
    for (const action of ['disable', 'enable']) {
      const r = await httpsRequest(cx.server.base, 'POST', `/api/admin/members/${A.ottoId}/${action}`, { headers: auth });
      assert.equal(r.status, 200, `${action}: ${r.text}`);
    }
    const api = (await pageApi(page, 'GET', '/api/admin/audit?action=user.disabled')).body;
    const record = api.find((e) => e.subject.username === 'new-otto');
    assert.ok(record, 'the API has the record');
    assert.deepEqual(record.credential, { kind: 'api_key', id: K.id });
    K.actor = record.actor.username;
    assert.ok(K.actor && K.actor !== 'acme-owner', `the organisation's principal acted: ${K.actor}`);

    await page.goto(cx.server.base + AUDIT);
    const row = page.locator(`#audit-table tr[data-id="${record.id}"]`);
    assert.equal((await row.locator('.audit-what').textContent()).trim(), 'user.disabled');
    assert.equal((await row.locator('.audit-who').textContent()).trim(), K.actor);
    assert.equal((await row.locator('.audit-subject').textContent()).trim(), 'new-otto');
    assert.match((await row.locator('.audit-credential').textContent()).replace(/\s+/g, ' ').trim(), new RegExp(`^API key ${K.id}$`));
    assert.match(await row.locator('.audit-from').textContent(), /127\.0\.0\.1/);
    const when = row.locator('.audit-when time');
    assert.match(await when.textContent(), /^(just now|\d+ min ago)$/);
    assert.match(await when.getAttribute('title'), /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$/);
    // Newest first (records of one second are in no particular order among themselves).
    const newest = (await rowsOf(page)).slice(0, 5).map((r) => r.action);
    for (const a of ['org_key.created', 'user.disabled', 'user.enabled']) assert.ok(newest.includes(a), `${a} in ${newest}`);
    await A.atWidths(page, async (w) => {
      await assertFits(page, 'the Audit log section');
      await shot(page, `admin-audit-log-${w}`);
    });
  });

  test('audit log: filters by actor and event type, and the pager keeps them', async () => {
    const A = getA();
    const { page } = A.owner;
    await page.fill('#audit-filter-actor', K.actor);
    await Promise.all([page.waitForURL((u) => u.searchParams.get('actor') === K.actor), page.click('#audit-filters-apply')]);
    const byActor = await rowsOf(page);
    assert.ok(byActor.length >= 2, 'the key\'s actions');
    assert.ok(byActor.every((r) => r.actor === K.actor), `only the key's principal: ${byActor.map((r) => r.actor)}`);
    assert.deepEqual(byActor.slice(0, 2).map((r) => r.action).sort(), ['user.disabled', 'user.enabled']);

    await page.fill('#audit-filter-actor', '');
    await page.fill('#audit-filter-action', 'member.');
    await Promise.all([page.waitForURL((u) => u.search === '?action=member.'), page.click('#audit-filters-apply')]);
    const members = await rowsOf(page);
    assert.ok(members.length >= 3, 'member.created and member.password_link_issued');
    assert.ok(members.every((r) => r.action.startsWith('member.')), `${members.map((r) => r.action)}`);
    assert.ok(members.some((r) => r.action === 'member.password_link_issued'));
    assert.equal(await page.locator('#audit-filter-action').inputValue(), 'member.');
    const suggested = await page.locator('#audit-prefixes option').evaluateAll((os) => os.map((o) => o.value));
    for (const p of ['api_key.', 'org_key.', 'member.', 'user.', 'login.', 'token.', 'mfa.']) assert.ok(suggested.includes(p), p);
    K.memberRows = members;
    await A.atWidths(page, async (w) => {
      await assertFits(page, 'the filtered Audit log');
      await shot(page, `admin-audit-log-filtered-${w}`);
    });

    // More than a page of account records (the bulk members): the next page is of the same filter.
    await page.goto(cx.server.base + AUDIT + '?action=user.');
    assert.equal(await page.locator('#audit-table tbody tr').count(), 50);
    await Promise.all([page.waitForURL((u) => u.searchParams.has('cursor')), page.click('a[rel=next]')]);
    assert.equal(new URL(page.url()).searchParams.get('action'), 'user.', 'the filter is kept');
    const second = await rowsOf(page);
    assert.ok(second.length > 0 && second.every((r) => r.action.startsWith('user.')));
  });

  test('audit log: the exports hold the filtered rows, as JSON Lines and as CSV', async () => {
    const A = getA();
    const { page } = A.owner;
    await page.goto(cx.server.base + AUDIT + '?action=member.');
    const ids = (await rowsOf(page)).map((r) => r.id);
    assert.deepEqual(ids, K.memberRows.map((r) => r.id));
    const jsonl = await page.locator('#audit-export-jsonl').getAttribute('href');
    const csv = await page.locator('#audit-export-csv').getAttribute('href');
    assert.equal(jsonl, '/api/admin/audit/export?format=jsonl&action=member.');
    assert.equal(csv, '/api/admin/audit/export?format=csv&action=member.');
    assert.equal((await page.locator('#audit-export-jsonl').textContent()).trim(), 'Export JSON Lines');
    assert.equal((await page.locator('#audit-export-csv').textContent()).trim(), 'Export CSV');

    // The page's own session (its cookie) fetches them, as a click would.
    const j = await page.request.get(cx.server.base + jsonl);
    assert.equal(j.status(), 200);
    assert.match(j.headers()['content-disposition'], /attachment; filename="audit\.jsonl"/);
    const records = (await j.text()).split('\n').filter(Boolean).map((l) => JSON.parse(l));
    assert.deepEqual(records.map((r) => r.id), ids, 'the JSON Lines are the rows, in order');
    assert.ok(records.every((r) => r.action.startsWith('member.')));

    const c = await page.request.get(cx.server.base + csv);
    assert.equal(c.status(), 200);
    assert.match(c.headers()['content-type'], /^text\/csv/);
    const [header, ...lines] = parseCsv(await c.text());
    assert.deepEqual(header.slice(0, 3), ['id', 'at', 'action']);
    assert.deepEqual(lines.map((l) => l[0]), ids, 'the CSV rows are the rows, in order');
    const subject = header.indexOf('subject_username');
    assert.ok(lines.some((l) => l[subject] === 'new-otto'));

    // Through a click too: the browser saves the attachment.
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#audit-export-csv')]);
    assert.equal(download.suggestedFilename(), 'audit.csv');
  });

  test('audit log: a bad date range is refused at its field', async () => {
    const A = getA();
    const { page } = A.owner;
    await page.goto(cx.server.base + AUDIT);
    await page.fill('#audit-filter-since', '2026-02-10');
    await page.fill('#audit-filter-until', '2026-02-01');
    await page.click('#audit-filters-apply');
    const error = page.locator('#audit-filter-until-error');
    await error.waitFor({ state: 'visible' });
    assert.equal((await error.textContent()).trim(), 'To must be on or after the From date.');
    assert.equal(new URL(page.url()).search, '', 'not sent');

    // The server says the same for an address typed by hand, and lists nothing.
    await page.goto(cx.server.base + AUDIT + '?since=2026-02-10&until=2026-02-01');
    assert.equal((await error.textContent()).trim(), 'To must be on or after the From date.');
    assert.equal(await page.locator('#audit-filter-until').getAttribute('aria-invalid'), 'true');
    assert.equal(await page.locator('#audit-table').count(), 0);
    assert.equal(await page.locator('#audit-export-csv').count(), 0, 'no export of a refused filter');
    await A.atWidths(page, async (w) => {
      await assertFits(page, 'the refused date range');
      await shot(page, `admin-audit-log-error-${w}`);
    });
    await page.goto(cx.server.base + AUDIT + '?since=yesterday');
    assert.match(await page.locator('#audit-filter-since-error').textContent(), /^From must be a date/);
    // A single day, From = To, is the whole day.
    const today = new Date().toISOString().slice(0, 10);
    await page.goto(cx.server.base + AUDIT + `?since=${today}&until=${today}`);
    assert.ok((await page.locator('#audit-table tbody tr').count()) > 0, 'today\'s records');
  });
}
