// The offboarding desk (退職・出向の管理): its tabs and counts, the one next step per row,
// sending a plan back with a comment, the leaving user's banner, and the plan form's live
// card count. One demo organisation; the tests run in order and build on each other's state.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startDemo, stop, launch, context, signIn, shot, tokyoDate, flash } from './lib.mjs';

let server;
let browser;
let admin;

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

const TABS = ['upcoming', 'needs_action', 'done', 'cancelled'];

/** Every tab's count, e.g. { upcoming: 1, needs_action: 0, … }. */
async function counts(page) {
  const out = {};
  for (const t of TABS) out[t] = Number((await page.locator(`#tab-${t} .count`).textContent()).trim());
  return out;
}

/** The desk's row of a user (by display name). */
function row(page, name) {
  return page.locator('#desk tbody tr', { hasText: name });
}

/** Registers a departure on the desk; returns the departure page's path. */
async function register(page, user, lastDay, successor) {
  await page.goto(`${server.url}/departures`);
  const form = page.locator('#register');
  await form.getByLabel('対象ユーザー').selectOption({ label: user });
  await form.getByLabel('退職日').fill(lastDay);
  await form.getByLabel('最終出社日').fill(lastDay);
  await form.getByLabel('引き継ぎ先（既定）').selectOption({ label: successor });
  await form.getByRole('button', { name: '退職・出向を登録' }).click();
  await page.waitForURL(/\/departures\/[0-9a-f-]+$/);
  assert.equal(await flash(page), '退職・出向を登録しました。');
  return new URL(page.url()).pathname;
}

async function signedIn(email) {
  const page = await (await context(browser)).newPage();
  await signIn(page, server.url, email);
  await page.waitForURL((u) => !u.pathname.startsWith('/login'));
  return page;
}

test('the desk: counts on the tabs, moving between them, and the next step of each row', async () => {
  await admin.goto(`${server.url}/departures`);
  // The demo's 山田 賢治 is upcoming, three weeks ahead, no plan yet.
  assert.deepEqual(await counts(admin), { upcoming: 1, needs_action: 0, done: 0, cancelled: 0 });
  assert.equal(await admin.locator('#tab-upcoming').getAttribute('aria-current'), 'page');
  const yamada = row(admin, '山田 賢治');
  assert.equal((await yamada.locator('td').nth(3).textContent()).trim(), 'あと 21 日');
  assert.equal(await yamada.locator('.plan-status').textContent(), '未報告');
  await shot(admin, 'desk-01-upcoming');

  // 計画の報告を依頼 → the departure's page with the message; the row now says 依頼済み.
  await yamada.getByRole('button', { name: '計画の報告を依頼' }).click();
  await admin.waitForURL(/\/departures\/[0-9a-f-]+$/);
  assert.equal(await flash(admin), '引き継ぎ計画の報告を依頼しました。');
  await admin.goto(`${server.url}/departures`);
  assert.equal((await yamada.locator('td.next').textContent()).trim(), '依頼済み');
  assert.equal(await yamada.getByRole('button').count(), 0, 'no button once asked');
  await shot(admin, 'desk-02-requested');

  // 山田 is told on 私の引き継ぎ.
  const yamadaPage = await signedIn('yamada.kenji@example.co.jp');
  await yamadaPage.goto(`${server.url}/me/handover`);
  assert.equal(await yamadaPage.locator('#plan-requested').textContent(), '管理者から引き継ぎ計画の報告を依頼されています。');
  await yamadaPage.context().close();

  // 渡辺 直美 leaves in ten days and reports a plan: her row's next step is 承認.
  const watanabeDay = tokyoDate(10);
  const watanabePath = await register(admin, '渡辺 直美', watanabeDay, '佐藤 美咲');
  const watanabe = await signedIn('watanabe.naomi@example.co.jp');
  await watanabe.goto(`${server.url}/me/handover`);
  await watanabe.getByRole('button', { name: 'この内容で報告する' }).click();
  await watanabe.waitForURL(/\/me\/handover$/);
  assert.equal(await watanabe.locator('#plan-status').textContent(), '報告済み（承認待ち）');
  // The news on her cards (人事異動・連絡先変更) is hers to process before she leaves: she
  // dismisses all of it at once on the news page.
  await watanabe.goto(`${server.url}/news`);
  await watanabe.getByRole('checkbox', { name: 'すべて選択' }).check();
  await watanabe.getByRole('button', { name: '選択したニュースを却下' }).click();
  await watanabe.waitForURL(/\/news/);
  assert.equal(await watanabe.locator('input[name=ids]').count(), 0, 'no open news left');
  await admin.goto(`${server.url}/departures`);
  assert.deepEqual(await counts(admin), { upcoming: 2, needs_action: 0, done: 0, cancelled: 0 });
  const naomi = row(admin, '渡辺 直美');
  assert.equal(await naomi.locator('.plan-status').textContent(), '報告済み（承認待ち）');
  assert.equal((await naomi.locator('td').nth(3).textContent()).trim(), 'あと 10 日');
  await shot(admin, 'desk-03-approve-next');

  // 承認 → approved. The plan runs by itself right before the suspension (the default), so
  // her readiness is complete and the next step is only 確認.
  await naomi.getByRole('button', { name: '承認' }).click();
  await admin.waitForURL(`${server.url}${watanabePath}`);
  assert.equal(await flash(admin), '引き継ぎ計画を承認しました。');
  assert.equal(await admin.locator('#plan-status').textContent(), '承認済み');
  await admin.goto(`${server.url}/departures`);
  assert.equal(await naomi.locator('.plan-status').textContent(), '承認済み');
  assert.match(await naomi.locator('td.readiness .badge').getAttribute('class'), /\bok\b/);
  assert.equal((await naomi.locator('td.next').textContent()).trim(), '確認');
  assert.equal(await naomi.getByRole('button').count(), 0);
  await shot(admin, 'desk-04-approved');

  // 中村 拓也's departure is registered and cancelled: it moves to 取消.
  await register(admin, '中村 拓也', tokyoDate(30), '小林 由美');
  admin.once('dialog', (d) => d.accept());
  await admin.getByRole('button', { name: 'この退職・出向を取り消す' }).click();
  await admin.waitForURL(/\/departures$/);
  assert.equal(await flash(admin), '退職・出向を取り消しました。');
  assert.deepEqual(await counts(admin), { upcoming: 2, needs_action: 0, done: 0, cancelled: 1 });
  assert.equal(await row(admin, '中村 拓也').count(), 0, 'not upcoming any more');

  // Moving between the tabs: each shows its own rows and marks itself current.
  await admin.locator('#tab-cancelled').click();
  await admin.waitForURL(/\?tab=cancelled$/);
  assert.equal(await admin.locator('#tab-cancelled').getAttribute('aria-current'), 'page');
  assert.equal(await admin.locator('#tab-upcoming').getAttribute('aria-current'), null);
  assert.equal(await admin.locator('#desk tbody tr').count(), 1);
  const nakamura = row(admin, '中村 拓也');
  assert.equal((await nakamura.locator('td.next').textContent()).trim(), '確認');
  await nakamura.getByRole('link', { name: '確認' }).waitFor();
  await shot(admin, 'desk-05-cancelled-tab');

  for (const t of ['needs_action', 'done']) {
    await admin.locator(`#tab-${t}`).click();
    await admin.waitForURL(new RegExp(`\\?tab=${t}$`));
    assert.equal(await admin.locator(`#tab-${t}`).getAttribute('aria-current'), 'page');
    assert.equal(await admin.locator('#desk').count(), 0);
    assert.equal(await admin.getByText('該当する退職・出向はありません。').count(), 1);
  }
  await shot(admin, 'desk-06-empty-tab');
  await admin.locator('#tab-upcoming').click();
  await admin.waitForURL(/\?tab=upcoming$/);
  assert.equal(await admin.locator('#desk tbody tr').count(), 2);
  // A tab the desk does not know falls back to 予定.
  await admin.goto(`${server.url}/departures?tab=nonsense`);
  assert.equal(await admin.locator('#tab-upcoming').getAttribute('aria-current'), 'page');
});

test('a plan sent back with a comment: the user sees it and reports again; the banner counts the days', async () => {
  const lastDay = tokyoDate(21);
  const yamada = await signedIn('yamada.kenji@example.co.jp');

  // The banner is on every page for the leaving user, with the days left and the open duties.
  for (const path of ['/cards', '/imports', '/me/handover']) {
    await yamada.goto(`${server.url}${path}`);
    const text = await yamada.locator('#leaving-banner').textContent();
    assert.match(text, new RegExp(`^最終出社日は ${lastDay}（あと 21 日）です。引き継ぎが \\d+ 件残っています。`), `${path}: ${text}`);
  }
  // Its count is the open items of the checklist on 私の引き継ぎ.
  const open = await yamada.locator('.checklist li.open').count();
  assert.match(await yamada.locator('#leaving-banner').textContent(), new RegExp(`引き継ぎが ${open} 件残っています`));
  await yamada.locator('#leaving-banner').getByRole('link', { name: '私の引き継ぎへ' }).click();
  await yamada.waitForURL(/\/me\/handover$/);
  await shot(yamada, 'sendback-01-banner');

  // Nobody else sees a banner.
  assert.equal(await admin.locator('#leaving-banner').count(), 0);
  const sato = await signedIn('sato.misaki@example.co.jp');
  await sato.goto(`${server.url}/cards`);
  assert.equal(await sato.locator('#leaving-banner').count(), 0);
  await sato.context().close();

  // 山田 reports: 展示会2025 to 鈴木 大輔.
  await yamada.locator('#tag_0').selectOption({ label: '展示会2025' });
  await yamada.locator('#to_0').selectOption({ label: '鈴木 大輔' });
  await yamada.getByRole('button', { name: 'この内容で報告する' }).click();
  await yamada.waitForURL(/\/me\/handover$/);
  assert.equal(await yamada.locator('#plan-status').textContent(), '報告済み（承認待ち）');

  // The admin sends it back with a comment.
  const comment = '要フォローの名刺は高橋さんに引き継いでください。';
  await admin.goto(`${server.url}/departures`);
  await row(admin, '山田 賢治').getByRole('link', { name: '山田 賢治' }).click();
  await admin.waitForURL(/\/departures\/[0-9a-f-]+$/);
  const yamadaPath = new URL(admin.url()).pathname;
  assert.equal(await admin.locator('#plan-status').textContent(), '報告済み（承認待ち）');
  await admin.locator('#plan-lines').getByText('展示会2025').waitFor();
  await admin.getByLabel('差し戻しの理由（本人に表示されます）').fill(comment);
  await shot(admin, 'sendback-02-before-send-back');
  await admin.getByRole('button', { name: '差し戻す' }).click();
  await admin.waitForURL(`${server.url}${yamadaPath}`);
  assert.equal(await flash(admin), '引き継ぎ計画を差し戻しました。');
  assert.equal(await admin.locator('#plan-status').textContent(), '差し戻し');
  assert.equal(await admin.locator('#plan-comment').textContent(), `管理者からの差し戻しコメント: ${comment}`);
  await shot(admin, 'sendback-03-sent-back');
  await admin.goto(`${server.url}/departures`);
  assert.equal(await row(admin, '山田 賢治').locator('.plan-status').textContent(), '差し戻し');

  // 山田 sees the comment and the plan as he wrote it, adds the line and reports again.
  await yamada.goto(`${server.url}/me/handover`);
  assert.equal(await yamada.locator('#plan-status').textContent(), '差し戻し');
  assert.equal(await yamada.locator('#plan-comment').textContent(), `管理者からの差し戻しコメント: ${comment}`);
  assert.equal(await yamada.locator('#tag_0 option:checked').textContent(), '展示会2025');
  await shot(yamada, 'sendback-04-user-sees-comment');
  await yamada.locator('#tag_1').selectOption({ label: '要フォロー' });
  await yamada.locator('#to_1').selectOption({ label: '高橋 恵子' });
  await yamada.getByRole('button', { name: 'この内容で報告する' }).click();
  await yamada.waitForURL(/\/me\/handover$/);
  assert.equal(await flash(yamada), '引き継ぎ計画を報告しました。管理者の承認をお待ちください。');
  assert.equal(await yamada.locator('#plan-status').textContent(), '報告済み（承認待ち）');
  assert.match(await yamada.locator('#leaving-banner').textContent(), /あと 21 日/);
  await shot(yamada, 'sendback-05-reported-again');

  // The admin sees the new plan, both lines, ready to approve.
  await admin.goto(`${server.url}${yamadaPath}`);
  assert.equal(await admin.locator('#plan-status').textContent(), '報告済み（承認待ち）');
  const lines = await admin.locator('#plan-lines li').allTextContents();
  assert.equal(lines.length, 3, lines.join(' | '));
  assert.match(lines[0], /展示会2025 → 鈴木 大輔/);
  assert.match(lines[1], /要フォロー → 高橋 恵子/);
  await admin.goto(`${server.url}/departures`);
  await row(admin, '山田 賢治').getByRole('button', { name: '承認' }).waitFor();
  await yamada.context().close();
});

test('the plan form counts the cards of each line as it is edited (htmx)', async () => {
  // 小林 由美 leaves; what the cards list finds for her and a tag is what the line counts.
  await register(admin, '小林 由美', tokyoDate(14), '佐藤 美咲');
  const departurePath = new URL(admin.url()).pathname;
  await admin.goto(`${server.url}/cards`);
  await admin.locator('select[name=owner]').selectOption({ label: '小林 由美' });
  await admin.getByLabel('タグ').selectOption({ label: '重要顧客' });
  await admin.getByRole('button', { name: '検索' }).click();
  await admin.waitForURL(/tag=/);
  const expected = Number((await admin.locator('#card-count').textContent()).match(/(\d+) 件/)[1]);
  assert.ok(expected > 0, '小林 holds cards tagged 重要顧客');

  const kobayashi = await signedIn('kobayashi.yumi@example.co.jp');
  await kobayashi.goto(`${server.url}/me/handover`);
  assert.equal((await kobayashi.locator('#count_0').textContent()).trim(), '', 'nothing chosen, nothing counted');
  let requests = 0;
  kobayashi.on('request', (r) => { if (r.url().includes('/me/handover/count')) requests += 1; });
  await kobayashi.locator('#tag_0').selectOption({ label: '重要顧客' });
  await kobayashi.locator('#count_0').filter({ hasText: `${expected} 件` }).waitFor();
  assert.ok(requests >= 1, 'counted by htmx, without leaving the page');
  assert.match(kobayashi.url(), /\/me\/handover$/);
  await shot(kobayashi, 'count-01-tag');

  // A company typed in another line is counted too; one that matches nothing says 0 件, in red.
  await kobayashi.locator('#company_1').fill('該当なし株式会社');
  await kobayashi.locator('#company_1').press('Tab');
  await kobayashi.locator('#count_1').filter({ hasText: '0 件' }).waitFor();
  await kobayashi.locator('#count_1.bad').waitFor(); // once htmx has settled the swap
  // Back to no selection: the count goes away; the first line's count stayed.
  await kobayashi.locator('#tag_0').selectOption({ label: '—' });
  await kobayashi.waitForFunction(() => document.querySelector('#count_0').textContent.trim() === '');
  await kobayashi.locator('#tag_0').selectOption({ label: '重要顧客' });
  await kobayashi.locator('#count_0').filter({ hasText: `${expected} 件` }).waitFor();
  await shot(kobayashi, 'count-02-company-nothing');

  // The same shared form on the admin's side (代理で計画を作成・編集する) counts the same.
  await admin.goto(`${server.url}${departurePath}`);
  await admin.locator('#edit-plan summary').click();
  await admin.locator('#edit-plan #tag_0').selectOption({ label: '重要顧客' });
  await admin.locator('#edit-plan #count_0').filter({ hasText: `${expected} 件` }).waitFor();
  await shot(admin, 'count-03-admin-form');
  await kobayashi.context().close();
});
