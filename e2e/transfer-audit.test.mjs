// An admin's bulk transfer from the cards list (所有者変更 of chosen cards), and the audit log
// page that records it: filters, events, the CSV download.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startDemo, stop, launch, context, signIn, shot, tokyoDate, flash, cspViolations } from './lib.mjs';

let server;
let browser;
let admin;
/** The two cards moved by the first test: { id, name }. */
let moved = [];

before(async () => {
  server = await startDemo();
  browser = await launch();
  admin = await (await context(browser)).newPage();
  await signIn(admin, server.url, 'admin@example.co.jp');
  await admin.waitForURL(/\/departures$/);
});

after(async () => {
  await browser?.close();
  if (server) await stop(server);
});

/** The cards list filtered by owner; resolves with the count it shows. */
async function cardsOf(page, owner) {
  await page.goto(`${server.url}/cards`);
  await page.locator('select[name=owner]').selectOption({ label: owner });
  await page.getByRole('button', { name: '検索' }).click();
  await page.waitForURL(/owner=/);
  return Number((await page.locator('#card-count').textContent()).match(/(\d+) 件/)[1]);
}

test('an admin chooses two cards on the cards list and transfers them', async () => {
  // Two cards of 中村 拓也.
  const before = await cardsOf(admin, '中村 拓也');
  assert.ok(before >= 2);
  const rows = admin.locator('#card-selection tbody tr');
  for (const i of [0, 1]) {
    const link = rows.nth(i).locator('td').nth(1).getByRole('link');
    moved.push({ id: (await link.getAttribute('href')).split('/').pop(), name: (await link.textContent()).trim() });
    await rows.nth(i).getByRole('checkbox').check();
  }
  await shot(admin, 'transfer-01-cards-chosen');

  // 選択した名刺の所有者変更 → the transfer page with those two cards, from their owner.
  await admin.getByRole('button', { name: '選択した名刺の所有者変更' }).click();
  await admin.waitForURL(/\/transfers\?card=/);
  const url = new URL(admin.url());
  assert.deepEqual(url.searchParams.getAll('card').sort(), moved.map((c) => c.id).sort());
  const chosen = admin.locator('#chosen-cards tbody tr');
  assert.equal(await chosen.count(), 2);
  for (const c of moved) {
    await admin.locator('#chosen-cards').getByRole('link', { name: c.name }).first().waitFor();
  }
  assert.deepEqual(await chosen.locator('td:nth-child(3)').allTextContents(), ['中村 拓也', '中村 拓也']);
  assert.equal(await admin.locator('#from option:checked').textContent(), '中村 拓也');
  const mode = admin.getByLabel('名刺一覧で選択した名刺 (2 枚)');
  assert.equal(await mode.isChecked(), true);
  await shot(admin, 'transfer-02-preview-page');

  // Preview to 佐藤 美咲: exactly two cards; then run it.
  await admin.locator('#to').selectOption({ label: '佐藤 美咲' });
  await admin.getByRole('button', { name: '対象件数を確認する' }).click();
  await admin.locator('#preview').waitFor();
  const preview = await admin.locator('#preview').textContent();
  assert.match(preview, /^名刺 2 枚・コンタクト \d+ 件・タグ 0 件が移ります。付与されるタグ: 旧所有者: 中村 拓也 \(\d{4}-\d\d-\d\d\)$/);
  await shot(admin, 'transfer-03-counts');
  // The confirmation comes from static/console.js (the CSP forbids inline handlers).
  let asked = '';
  admin.once('dialog', (d) => { asked = d.message(); d.accept(); });
  await admin.getByRole('button', { name: '所有者変更を実行する' }).click();
  await admin.waitForURL(/\/transfers\?done=/);
  assert.ok(asked.length > 0, 'the browser asked before running the transfer');
  assert.equal(await flash(admin), '所有者変更を実行しました。');
  assert.match(await admin.locator('#transfer-done').textContent(), /^名刺 2 枚・コンタクト \d+ 件・タグ 0 件を移しました。/);
  await shot(admin, 'transfer-04-done');
  // The message is shown once; the result stays (it is read back from the batch).
  await admin.reload();
  assert.equal(await admin.locator('#flash').count(), 0);
  await admin.locator('#transfer-done').waitFor();
  const history = admin.locator('table', { hasText: '実行日時' }).locator('tbody tr').first();
  assert.match(await history.textContent(), /中村 拓也 → 佐藤 美咲/);

  // The cards are 佐藤's now, tagged with their previous owner.
  assert.equal(await cardsOf(admin, '中村 拓也'), before - 2);
  for (const c of moved) {
    await admin.goto(`${server.url}/cards/${c.id}`);
    await admin.getByText('佐藤 美咲').first().waitFor();
    await admin.getByText(`旧所有者: 中村 拓也 (${tokyoDate(0)})`).first().waitFor();
  }
});

test('cards of two owners cannot be transferred together: the page says so', async () => {
  await admin.goto(`${server.url}/cards`);
  const rows = admin.locator('#card-selection tbody tr');
  const owners = await rows.locator('td:nth-child(5)').allTextContents();
  const second = owners.findIndex((o) => o !== owners[0]);
  assert.ok(second > 0, 'the first page has cards of two owners');
  await rows.nth(0).getByRole('checkbox').check();
  await rows.nth(second).getByRole('checkbox').check();
  await admin.getByRole('button', { name: '選択した名刺の所有者変更' }).click();
  await admin.waitForURL(/\/transfers\?card=/);
  const alert = admin.getByRole('alert');
  assert.match(await alert.textContent(), /^選択した名刺の所有者が複数います（.+ \(1\), .+ \(1\)）。/);
  await shot(admin, 'transfer-05-two-owners');
});

test('the audit log: filter by action, the events, the CSV download', async () => {
  await admin.goto(`${server.url}/audit`);
  assert.equal(await admin.title(), '監査ログ — meishi');
  const events = admin.locator('#audit-events tbody tr');
  assert.ok((await events.count()) > 0);
  assert.match(await admin.locator('p', { hasText: '日時はすべて組織のタイムゾーンです' }).textContent(), /Asia\/Tokyo/);
  await shot(admin, 'audit-01-all');

  // Only the transfers: the one the first test ran, by the admin, with its counts.
  await admin.locator('#audit-filters').getByLabel('操作').selectOption('transfer.create');
  await admin.getByRole('button', { name: '絞り込む' }).click();
  await admin.waitForURL(/action=transfer\.create/);
  assert.equal(await admin.locator('#audit-filters').getByLabel('操作').inputValue(), 'transfer.create');
  assert.deepEqual(await events.locator('td.action').allTextContents(), ['transfer.create']);
  assert.equal((await events.locator('td.actor').textContent()).trim(), 'システム管理者');
  await events.getByText('表示').click();
  const change = await events.locator('pre.json').last().textContent();
  assert.match(change, /"cards":\s*2,/);
  await shot(admin, 'audit-02-transfers');

  // The system ran no transfer: filters combine.
  const actor = admin.locator('#audit-filters').getByLabel('実行者');
  await actor.selectOption({ label: 'システム' });
  await admin.getByRole('button', { name: '絞り込む' }).click();
  await admin.waitForURL(/actor=.*action=transfer\.create|action=transfer\.create.*actor=/);
  assert.equal(await admin.locator('#audit-none').textContent(), '条件に合う記録はありません。');
  // The system did load the demo.
  await admin.locator('#audit-filters').getByLabel('操作').selectOption('demo.load');
  await admin.getByRole('button', { name: '絞り込む' }).click();
  await admin.waitForURL(/action=demo\.load/);
  assert.deepEqual(await events.locator('td.actor').allTextContents(), ['システム']);

  // The CSV links keep the filter, and the download is the filtered log.
  await actor.selectOption({ label: 'すべて' });
  await admin.locator('#audit-filters').getByLabel('操作').selectOption('transfer.create');
  await admin.getByRole('button', { name: '絞り込む' }).click();
  await admin.waitForURL(/action=transfer\.create/);
  for (const id of ['#audit-csv', '#audit-csv-sjis']) {
    assert.match(await admin.locator(id).getAttribute('href'), /^\/audit\.csv\?.*action=transfer\.create/);
  }
  const [download] = await Promise.all([
    admin.waitForEvent('download'),
    admin.locator('#audit-csv').click(),
  ]);
  assert.match(download.suggestedFilename(), /\.csv$/);
  const csv = (await (await download.createReadStream()).toArray()).map(String).join('');
  const lines = csv.replace(/^\uFEFF/, '').trim().split(/\r\n/);
  assert.equal(lines.length, 2, `a header and the one transfer: ${csv}`);
  assert.match(lines[0], /^日時 \(Asia\/Tokyo\),/);
  assert.match(lines[1], /transfer\.create/);
  assert.match(lines[1], /システム管理者/);
  await shot(admin, 'audit-03-csv-links');
  // Nothing on these pages was refused by the Content-Security-Policy (no inline script).
  assert.deepEqual(cspViolations, []);
});
