// The whole offboarding story in a real browser, on the demo organisation.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startDemo, startServe, stop, launch, context, signIn, shot, tokyoDate, flash } from './lib.mjs';

let server;
let browser;

before(async () => {
  server = await startDemo();
  browser = await launch();
});

after(async () => {
  await browser?.close();
  if (server) await stop(server);
});

test('admin registers a departure, the leaving user reports a plan, the admin approves and executes it, the day passes, the account stops', async () => {
  const adminCtx = await context(browser);
  const admin = await adminCtx.newPage();
  await signIn(admin, server.url, 'admin@example.co.jp');
  await admin.waitForURL(/\/departures$/);
  assert.equal(await admin.title(), '退職・出向の管理 — meishi');
  await admin.getByRole('button', { name: 'ログアウト' }).waitFor();
  // The desk opens on 予定 with the demo's 山田 賢治 in it; the form chooses no user for us.
  assert.equal(await admin.locator('#tab-upcoming').getAttribute('aria-current'), 'page');
  await admin.locator('#desk tr', { hasText: '山田 賢治' }).waitFor();
  assert.equal(await admin.locator('#register #user_id').inputValue(), '');
  assert.equal(await admin.locator('#register #successor_id').inputValue(), '');
  await shot(admin, '01-desk');

  // Register 伊藤 翔太's departure: last working day tomorrow, successor 佐藤 美咲.
  const day = tokyoDate(1);
  const form = admin.locator('form[action="/departures"]');
  await form.getByLabel('対象ユーザー').selectOption({ label: '伊藤 翔太' });
  await form.getByLabel('退職日').fill(day);
  await form.getByLabel('最終出社日').fill(day);
  await form.getByLabel('引き継ぎ先（既定）').selectOption({ label: '佐藤 美咲' });
  await form.getByRole('button', { name: '退職・出向を登録' }).click();
  await admin.waitForURL(/\/departures\/[0-9a-f-]+$/);
  const departureUrl = admin.url();
  assert.equal(await flash(admin), '退職・出向を登録しました。');
  await assert.doesNotReject(admin.getByText(`${day} 23:59 JST`).waitFor());
  assert.equal(await admin.locator('#plan-status').textContent(), '未報告');
  await shot(admin, '02-departure-registered');

  // The leaving user reports the plan: 展示会2025 cards to 鈴木, the rest to 佐藤.
  const itoCtx = await context(browser);
  const ito = await itoCtx.newPage();
  await signIn(ito, server.url, 'ito.shota@example.co.jp');
  await ito.goto(`${server.url}/me/handover`);
  assert.equal(await ito.title(), '私の引き継ぎ — meishi');
  await ito.locator('#tag_0').selectOption({ label: '展示会2025' });
  await ito.locator('#to_0').selectOption({ label: '鈴木 大輔' });
  await ito.getByRole('button', { name: 'この内容で報告する' }).click();
  await ito.waitForURL(/\/me\/handover$/);
  assert.equal(await flash(ito), '引き継ぎ計画を報告しました。管理者の承認をお待ちください。');
  assert.equal(await ito.locator('#plan-status').textContent(), '報告済み（承認待ち）');
  await shot(ito, '03-my-handover');

  // The admin approves, previews (htmx) and executes.
  await admin.goto(departureUrl);
  await admin.getByRole('button', { name: '計画を承認する' }).click();
  await admin.waitForURL(departureUrl);
  assert.equal(await flash(admin), '引き継ぎ計画を承認しました。');
  assert.equal(await admin.locator('#plan-status').textContent(), '承認済み');
  await admin.getByRole('button', { name: '実行内容を確認する' }).click();
  await admin.getByText('実行すると次のとおり移ります').waitFor();
  await shot(admin, '04-plan-preview');
  admin.once('dialog', (d) => d.accept());
  await admin.getByRole('button', { name: '所有者変更を実行する' }).click();
  await admin.waitForURL(departureUrl);
  assert.equal(await flash(admin), '所有者変更を実行しました。');
  assert.equal((await admin.locator('#ready-badge').textContent()).trim(), '準備完了');
  // The message is shown once: a reload does not show it again.
  await admin.reload();
  assert.equal(await admin.locator('#flash').count(), 0);
  await shot(admin, '05-plan-executed');

  // The last working day passes: the server restarts with its clock two days ahead and the
  // catch-up run suspends the account.
  await stop(server);
  server = await startServe(server.db, 2 * 86400);
  await admin.goto(`${server.url}/users`);
  if (admin.url().includes('/login')) await signIn(admin, server.url, 'admin@example.co.jp');
  await admin.goto(`${server.url}/users`);
  const row = admin.locator('tr', { hasText: '伊藤 翔太(退職済み)' });
  await row.waitFor();
  assert.equal(await row.locator('.badge').textContent(), '停止中');
  await shot(admin, '06-users-after-suspension');

  // Suspended and holding nothing: the departure left 予定 for 完了.
  await admin.goto(`${server.url}/departures?tab=done`);
  await admin.locator('#desk tr', { hasText: '伊藤 翔太(退職済み)' }).waitFor();
  assert.match(await admin.locator('#tab-done .count').textContent(), /^[1-9]/);

  // 伊藤 can no longer sign in.
  const again = await (await context(browser)).newPage();
  await signIn(again, server.url, 'ito.shota@example.co.jp');
  await again.locator('#login-error').waitFor();
  assert.equal(await again.locator('#login-error').textContent(), 'メールアドレスまたはパスワードが違います。');

  // The successor sees the cards with the previous-owner tag.
  const satoCtx = await context(browser);
  const sato = await satoCtx.newPage();
  await signIn(sato, server.url, 'sato.misaki@example.co.jp');
  await sato.goto(`${server.url}/cards`);
  await sato.getByLabel('タグ').selectOption({ label: `旧所有者: 伊藤 翔太 (${tokyoDate(0)})` });
  await sato.getByRole('button', { name: '検索' }).click();
  const tagged = sato.locator('tbody tr');
  assert.ok((await tagged.count()) > 0, 'cards carry the previous-owner tag');
  await shot(sato, '07-successor-cards');
});

test('a card search in Japanese finds the cards by name and company', async () => {
  const page = await (await context(browser)).newPage();
  await signIn(page, server.url, 'sato.misaki@example.co.jp');
  await page.goto(`${server.url}/cards`);
  await page.getByLabel('キーワード').fill('株式会社');
  await page.getByRole('button', { name: '検索' }).click();
  const rows = page.locator('tbody tr');
  assert.ok((await rows.count()) > 0);
  const first = (await rows.first().locator('td').nth(1).textContent()).trim();
  assert.match(first, /株式会社|㈱|\(株\)/);
  await page.getByLabel('キーワード').fill('ヤマダ');
  await page.getByRole('button', { name: '検索' }).click();
  for (const name of await page.locator('tbody tr td:first-child small').allTextContents()) {
    assert.match(name, /ヤマダ/);
  }
  await shot(page, '08-search');
});

test('a form post without the CSRF token is refused', async () => {
  const ctx = await context(browser);
  const page = await ctx.newPage();
  await signIn(page, server.url, 'admin@example.co.jp');
  const res = await page.request.post(`${server.url}/cards`, { form: { full_name: 'CSRF なし' } });
  assert.equal(res.status(), 403);
  assert.match(await res.text(), /送信は受け付けられませんでした/);
});

test('the console reads in English and fits a phone', async () => {
  const ctx = await context(browser, { locale: 'en-US', phone: true });
  const page = await ctx.newPage();
  await page.goto(`${server.url}/login`);
  await page.getByLabel('Email').fill('admin@example.co.jp');
  await page.getByLabel('Password').fill('meishi-demo');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(/\/departures$/);
  assert.equal(await page.title(), 'Departures — meishi');
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(width <= 390, `no horizontal scrolling on a phone (${width}px)`);
  await shot(page, '09-desk-en-phone');
});

test('an import with a bad line shows the line and imports nothing; then the valid rows', async () => {
  const page = await (await context(browser)).newPage();
  await signIn(page, server.url, 'sato.misaki@example.co.jp');
  await page.goto(`${server.url}/imports`);
  assert.equal(await page.title(), 'インポート・エクスポート — meishi');
  const csv = '氏名,会社名,Email(1)\n取込 一郎,株式会社取込テスト,ichiro@torikomi.example.jp\n取込 二郎,株式会社取込テスト,not-an-email\n取込 三郎,株式会社取込テスト,saburo@torikomi.example.jp\n';
  const file = { name: 'cards.csv', mimeType: 'text/csv', buffer: Buffer.from(csv, 'utf8') };
  await page.getByLabel('ファイル').setInputFiles(file);
  await page.getByRole('button', { name: '取り込む' }).click();
  await page.locator('#import-errors').waitFor();
  const row = page.locator('#import-errors tbody tr').first();
  assert.equal((await row.locator('td').first().textContent()).trim(), '3', 'the bad row is line 3 of the file');
  assert.match(await page.locator('#import-result').textContent(), /何も取り込んでいません/);
  await shot(page, '10-import-error');

  await page.getByLabel('ファイル').setInputFiles(file);
  await page.getByLabel('正しい行だけ取り込む').check();
  await page.getByRole('button', { name: '取り込む' }).click();
  await page.getByText('取り込み 2 件').waitFor();
  await page.goto(`${server.url}/cards?q=${encodeURIComponent('取込')}`);
  assert.equal(await page.locator('tbody tr').count(), 2);
});
