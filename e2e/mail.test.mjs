// メール (issue 14) in the browser: an administrator writes a template (an unknown placeholder
// is refused beside the body, the typed text kept), previews a One to One mail whose recipients
// include a card of a suspended owner (named with 所有者が利用停止・削除済み, also in the CSV),
// sends it, and follows it in the history until 送信完了 while a small SMTP sink (smtp-sink.mjs)
// receives the messages, each from its card's owner. The test data is made through the API.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startDemo, stop, launch, context, signIn, shot, flash } from './lib.mjs';
import { startSmtpSink } from './smtp-sink.mjs';

let server;
let sink;
let browser;
let admin;
const COMPANY = 'メール試験株式会社';

/** A card through the API as the administrator, for `owner`; returns its id. */
async function card(owner, fields) {
  const res = await admin.request.post(`${server.url}/api/v1/cards`, { data: { owner_id: owner, company: COMPANY, ...fields } });
  assert.equal(res.status(), 201, await res.text());
  return (await res.json()).id;
}

before(async () => {
  sink = await startSmtpSink();
  // `meishi demo` reads the SMTP server from the environment, as `meishi serve` does.
  process.env.MEISHI_SMTP_URL = sink.url;
  server = await startDemo();
  browser = await launch();
  admin = await (await context(browser)).newPage();
  await signIn(admin, server.url, 'admin@example.co.jp');
  await admin.waitForURL(/\/departures$/);
  const users = (await (await admin.request.get(`${server.url}/api/v1/users?limit=100`)).json()).items;
  const id = (email) => users.find((u) => u.email === email).id;
  const [sato, ito] = [id('sato.misaki@example.co.jp'), id('ito.shota@example.co.jp')];
  await card(sato, { full_name: '試験 一郎', email: 'ichiro@mail-e2e.example.jp' });
  await card(sato, { full_name: '試験 二郎', email: 'jiro@mail-e2e.example.jp' });
  await card(sato, { full_name: '試験 四郎' }); // no address
  await card(ito, { full_name: '伊藤 三郎', email: 'saburo@mail-e2e.example.jp' });
  // 伊藤 翔太 leaves: suspended, his card is skipped and named.
  const res = await admin.request.post(`${server.url}/api/v1/users/${ito}/suspend`);
  assert.equal(res.status(), 200, await res.text());
});

after(async () => {
  await browser?.close();
  if (server) await stop(server);
  await sink?.close();
});

test('a template: an unknown placeholder is refused beside the body, the text kept; fixed, it is saved', async () => {
  await admin.locator('#nav-mail').click();
  await admin.waitForURL(/\/mail\/templates$/);
  assert.equal(await admin.locator('#mail-off').count(), 0, 'mail is configured: no notice');
  await admin.locator('#new-template').click();
  await admin.waitForURL(/\/mail\/templates\/new$/);
  await admin.getByLabel('テンプレート名').fill('新製品のご案内');
  await admin.getByLabel('件名').fill('{{会社名}} {{氏名}}様 新製品のご案内');
  await admin.getByLabel('本文（テキスト）').fill('{{氏名}}様\n\nいつもお世話になっております。{{担当者名}}です。');
  // The help box lists every placeholder.
  const help = await admin.locator('#placeholders').textContent();
  for (const p of ['{{氏名}}', '{{会社名}}', '{{部署名}}', '{{役職}}', '{{差出人氏名}}', '{{差出人メール}}', '{{後任者氏名}}', '{{後任者メール}}']) {
    assert.ok(help.includes(p), `the help lists ${p}`);
  }
  await admin.getByRole('button', { name: '作成する' }).click();
  const err = admin.locator('#e-body');
  await err.waitFor();
  const text = await err.textContent();
  assert.ok(text.includes('{{担当者名}}'), `the error names the placeholder: ${text}`);
  assert.ok(text.includes('使えない差し込み項目'), text);
  assert.equal(await admin.locator('#f-body').getAttribute('aria-invalid'), 'true');
  assert.equal(await admin.getByLabel('テンプレート名').inputValue(), '新製品のご案内', 'the name is kept');
  assert.ok((await admin.getByLabel('本文（テキスト）').inputValue()).includes('{{担当者名}}'), 'the body is kept');
  await shot(admin, 'mail-01-template-error');

  await admin.getByLabel('本文（テキスト）').fill('{{氏名}}様\n\nいつもお世話になっております。{{差出人氏名}}です。\n新製品のご案内をお送りします。');
  await admin.getByLabel('組織の全員に共有する').check();
  await admin.getByRole('button', { name: '作成する' }).click();
  await admin.waitForURL(/\/mail\/templates$/);
  assert.equal(await flash(admin), 'テンプレート「新製品のご案内」を作成しました。');
  const row = admin.locator('#templates tbody tr', { hasText: '新製品のご案内' });
  assert.ok((await row.textContent()).includes('システム管理者'), 'the creator is shown');
  assert.ok((await row.textContent()).includes('共有'));
  await shot(admin, 'mail-02-templates');
});

test('preview names the suspended owner\'s card, send, and the history reaches 送信完了', async () => {
  await admin.getByRole('link', { name: 'One to Oneメールを送る' }).click();
  await admin.waitForURL(/\/mail\/new$/);
  await admin.getByLabel('テンプレート').selectOption({ label: '新製品のご案内 — {{会社名}} {{氏名}}様 新製品のご案内' });
  await admin.getByLabel('会社名').fill(COMPANY);
  await admin.getByRole('button', { name: 'プレビュー' }).click();
  await admin.waitForURL(/\/mail\/new\?.*preview=1/);
  const preview = admin.locator('#preview');
  await preview.waitFor();
  assert.ok((await admin.locator('#preview-summary').textContent()).includes('送信予定 2 通、スキップ 2 件'),
    await admin.locator('#preview-summary').textContent());
  const bySender = await admin.locator('#by-sender').textContent();
  assert.ok(bySender.includes('佐藤 美咲'), bySender);
  const skipped = admin.locator('#skipped-cards li', { hasText: '伊藤 三郎' });
  assert.ok((await skipped.textContent()).includes('所有者が利用停止・削除済み'), await skipped.textContent());
  assert.ok((await admin.locator('#skipped-cards li', { hasText: '試験 四郎' }).textContent()).includes('メールアドレスなし'));
  assert.ok((await admin.locator('#by-reason').textContent()).includes('所有者が利用停止・削除済み'));
  await shot(admin, 'mail-03-preview');

  // The skipped list as CSV, every card by name with the reason.
  const href = await admin.locator('#skipped-csv').getAttribute('href');
  const csv = await admin.request.get(`${server.url}${href}`);
  assert.equal(csv.status(), 200);
  assert.match(csv.headers()['content-type'], /text\/csv/);
  const body = await csv.text();
  assert.ok(body.includes('伊藤 三郎') && body.includes('所有者が利用停止・削除済み'), body);

  await admin.locator('#send-button').click();
  await admin.waitForURL(/\/mail\/sends\/[0-9a-f-]+$/);
  assert.equal(await flash(admin), '2 通を送信キューに入れました（スキップ 2 件）。');
  const sendPath = new URL(admin.url()).pathname;
  assert.ok((await admin.locator('#skipped-cards').textContent()).includes('伊藤 三郎'));

  // The history lists it; after a moment (the delivery worker) it is 送信完了.
  await admin.getByRole('link', { name: '送信履歴' }).first().click();
  await admin.waitForURL(/\/mail\/sends$/);
  const row = admin.locator('#sends tbody tr').first();
  assert.ok((await row.textContent()).includes('新製品のご案内'), await row.textContent());
  let status = '';
  for (let i = 0; i < 60; i++) {
    status = (await row.locator('.send-status').textContent()).trim();
    if (status === '送信完了') break;
    await admin.waitForTimeout(500);
    await admin.reload();
  }
  assert.equal(status, '送信完了');
  assert.equal((await row.locator('td').nth(4).textContent()).trim(), '2', 'two messages');
  await shot(admin, 'mail-04-history');

  assert.equal(sink.messages.length, 2, 'the sink received both messages');
  const to = sink.messages.flatMap((m) => m.to).sort();
  assert.deepEqual(to, ['ichiro@mail-e2e.example.jp', 'jiro@mail-e2e.example.jp']);
  for (const m of sink.messages) assert.equal(m.from, 'sato.misaki@example.co.jp', 'from the card\'s owner');

  await admin.goto(`${server.url}${sendPath}`);
  assert.equal((await admin.locator('#send-status').textContent()).trim(), '送信完了');
  const messages = await admin.locator('#messages').textContent();
  assert.ok(messages.includes('試験 一郎') && messages.includes('送信済み'), messages);
  assert.equal(await admin.locator('#cancel-send').count(), 0, 'a finished send is not cancellable');
  await shot(admin, 'mail-05-send');
});
