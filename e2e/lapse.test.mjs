// Nothing lapses silently: with the automatic run turned off, an approved plan that nobody
// executed before the suspension leaves the departure on the desk as 要対応 until an admin
// executes it; then it is 完了.
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

/** The number on a desk tab. */
async function tabCount(page, tab) {
  return Number((await page.locator(`#tab-${tab} .count`).textContent()).trim());
}

/** Minutes past midnight in Tokyo now. */
function tokyoMinutes() {
  const [h, m] = new Intl.DateTimeFormat('en-GB', { timeZone: 'Asia/Tokyo', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' })
    .format(new Date()).split(':').map(Number);
  return h * 60 + m;
}

test('an approved plan not run before the suspension needs action, then executes and is done', async () => {
  // The departure's last working day is today, its suspension tonight at 23:59 in Tokyo; in
  // the last minutes before it, tomorrow (and the restart a day later) so that the story
  // does not race the suspension.
  const late = tokyoMinutes() >= 23 * 60 + 55;
  const today = tokyoDate(late ? 1 : 0);
  const offsetDays = late ? 2 : 1;
  const adminCtx = await context(browser);
  const admin = await adminCtx.newPage();
  await signIn(admin, server.url, 'admin@example.co.jp');
  await admin.waitForURL(/\/departures$/);

  // 1. The organisation turns the automatic run off.
  await admin.goto(`${server.url}/settings`);
  const auto = admin.getByLabel('停止の直前に承認済みの引き継ぎ計画を自動実行する');
  assert.equal(await auto.isChecked(), true, 'on by default');
  await auto.uncheck();
  await admin.getByRole('button', { name: '保存する' }).click();
  await admin.waitForURL(/\/settings$/);
  assert.equal(await flash(admin), '設定を保存しました。');
  assert.equal(await auto.isChecked(), false);
  await shot(admin, 'lapse-01-settings-auto-run-off');

  // 2. 高橋 恵子 leaves today (suspension tonight 23:59 in Tokyo), successor 佐藤 美咲.
  await admin.goto(`${server.url}/departures`);
  const upcomingBefore = await tabCount(admin, 'upcoming');
  const form = admin.locator('#register');
  await form.getByLabel('対象ユーザー').selectOption({ label: '高橋 恵子' });
  await form.getByLabel('退職日').fill(today);
  await form.getByLabel('最終出社日').fill(today);
  await form.getByLabel('引き継ぎ先（既定）').selectOption({ label: '佐藤 美咲' });
  await form.getByRole('button', { name: '退職・出向を登録' }).click();
  await admin.waitForURL(/\/departures\/[0-9a-f-]+$/);
  const departureId = new URL(admin.url()).pathname.split('/').pop();
  // The server comes back on another port after the restart below.
  const departureUrl = () => `${server.url}/departures/${departureId}`;
  assert.equal(await flash(admin), '退職・出向を登録しました。');
  assert.equal((await admin.locator('#suspension').textContent()).trim(), `${today} 23:59 JST`);
  assert.equal(await admin.locator('#departure-status').textContent(), '予定');
  await shot(admin, 'lapse-02-registered');

  // 3. She reports a plan: 年賀状送付先 to 鈴木 大輔, the rest to 佐藤 美咲.
  const takahashi = await (await context(browser)).newPage();
  await signIn(takahashi, server.url, 'takahashi.keiko@example.co.jp');
  await takahashi.goto(`${server.url}/me/handover`);
  await takahashi.locator('#tag_0').selectOption({ label: '年賀状送付先' });
  await takahashi.locator('#count_0').filter({ hasText: '件' }).waitFor();
  await takahashi.locator('#to_0').selectOption({ label: '鈴木 大輔' });
  await takahashi.getByRole('button', { name: 'この内容で報告する' }).click();
  await takahashi.waitForURL(/\/me\/handover$/);
  assert.equal(await flash(takahashi), '引き継ぎ計画を報告しました。管理者の承認をお待ちください。');
  assert.equal(await takahashi.locator('#plan-status').textContent(), '報告済み（承認待ち）');
  await shot(takahashi, 'lapse-03-plan-reported');

  // 4. The admin approves it from the desk's row, and does not execute it.
  await admin.goto(`${server.url}/departures`);
  assert.equal(await tabCount(admin, 'upcoming'), upcomingBefore + 1);
  const row = admin.locator('#desk tr', { hasText: '高橋 恵子' });
  assert.equal((await row.locator('td').nth(3).textContent()).trim(), late ? 'あと 1 日' : '今日');
  assert.equal(await row.locator('.plan-status').textContent(), '報告済み（承認待ち）');
  await row.getByRole('button', { name: '承認' }).click();
  await admin.waitForURL(departureUrl());
  assert.equal(await flash(admin), '引き継ぎ計画を承認しました。');
  assert.equal(await admin.locator('#plan-status').textContent(), '承認済み');
  // With the automatic run off the cards are still hers: the readiness says so.
  await admin.locator('.checklist li[data-key="cards"]').waitFor();
  await shot(admin, 'lapse-04-approved-not-executed');

  // 5. The suspension passes while nobody executes: the server comes back a day later and
  //    its first tick suspends her; the plan does not run.
  await stop(server);
  server = await startServe(server.db, offsetDays * 86400);
  await admin.goto(`${server.url}/departures`);
  if (admin.url().includes('/login')) {
    await signIn(admin, server.url, 'admin@example.co.jp');
    await admin.waitForURL(/\/departures$/);
  }
  assert.equal(await tabCount(admin, 'needs_action'), 1);
  assert.match(await admin.locator('#tab-needs_action .count').getAttribute('class'), /\bbad\b/);
  assert.equal(await tabCount(admin, 'upcoming'), upcomingBefore, 'no longer upcoming');
  await shot(admin, 'lapse-05-desk-after-suspension');

  // 6. The 要対応 tab lists her, suspended, with the next step 実行.
  await admin.locator('#tab-needs_action').click();
  await admin.waitForURL(/\/departures\?tab=needs_action$/);
  assert.equal(await admin.locator('#tab-needs_action').getAttribute('aria-current'), 'page');
  const lapsed = admin.locator('#desk tbody tr');
  assert.equal(await lapsed.count(), 1);
  assert.match(await lapsed.locator('td').first().textContent(), /高橋 恵子\(退職済み\)/);
  assert.equal(await lapsed.locator('.badge.bad').first().textContent(), '要対応');
  assert.equal((await lapsed.locator('td').nth(3).textContent()).trim(), '1 日超過');
  await shot(admin, 'lapse-06-needs-action-tab');

  // 7. The detail page says 要対応 and lists what she still owns, with counts.
  await lapsed.locator('td').first().getByRole('link').click();
  await admin.waitForURL(departureUrl());
  assert.equal((await admin.locator('#ready-badge').textContent()).trim(), '要対応');
  assert.equal(await admin.locator('#departure-status').textContent(), '要対応');
  await admin.locator('#needs-action').waitFor();
  for (const key of ['cards', 'contacts', 'tags']) {
    const item = admin.locator(`.checklist li[data-key="${key}"]`);
    assert.match(await item.textContent(), /残り \d+ 件/, `${key} still owned, with a count`);
    assert.equal(await item.getAttribute('class'), 'open', `${key} still open`);
  }
  const cardsLeft = Number((await admin.locator('.checklist li[data-key="cards"]').textContent()).match(/残り (\d+) 件/)[1]);
  assert.ok(cardsLeft > 0);
  await shot(admin, 'lapse-07-detail-needs-action');

  // 8. The row's 実行 opens the preview with the counts; executing moves everything.
  await admin.goto(`${server.url}/departures?tab=needs_action`);
  await admin.locator('#desk tbody tr').getByRole('button', { name: '実行' }).click();
  await admin.getByText('実行すると次のとおり移ります').waitFor();
  const lines = await admin.locator('#preview li').allTextContents();
  assert.equal(lines.length, 2, `a line for 年賀状送付先 and the rest: ${lines}`);
  assert.match(lines[0], /^タグが付いた名刺: .+ → 鈴木 大輔: 名刺 \d+ \//, "the line says its condition");
  assert.match(lines[1], /^残りすべて（既定の引き継ぎ先） → 佐藤 美咲: 名刺 \d+ \//);
  const previewed = lines.map((l) => Number(l.match(/名刺 (\d+)/)[1])).reduce((a, b) => a + b);
  assert.equal(previewed, cardsLeft, 'the preview moves every card she still owns');
  await shot(admin, 'lapse-08-preview');
  admin.once('dialog', (d) => d.accept());
  await admin.getByRole('button', { name: '所有者変更を実行する' }).click();
  await admin.waitForURL(departureUrl());
  assert.equal(await flash(admin), '所有者変更を実行しました。');
  assert.equal((await admin.locator('#ready-badge').textContent()).trim(), '完了');
  assert.equal(await admin.locator('#departure-status').textContent(), '完了');
  assert.equal(await admin.locator('#needs-action').count(), 0);
  assert.equal(await admin.locator('#plan-status').textContent(), '実行済み');
  for (const key of ['cards', 'contacts', 'tags']) {
    assert.equal(await admin.locator(`.checklist li[data-key="${key}"]`).getAttribute('class'), 'done');
  }
  await shot(admin, 'lapse-09-executed-done');

  // 9. The desk: nothing needs action, she is under 完了.
  await admin.goto(`${server.url}/departures?tab=done`);
  assert.equal(await tabCount(admin, 'needs_action'), 0);
  assert.equal(await tabCount(admin, 'done'), 1);
  await admin.locator('#desk tr', { hasText: '高橋 恵子(退職済み)' }).waitFor();
  await shot(admin, 'lapse-10-done-tab');
});
