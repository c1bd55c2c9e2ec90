// ニュース and the person of a card: a member sees the badge, applies one news item inline
// (htmx: no reload, the badge drops), dismisses another, opens the card (経歴, 同じ人物の名刺),
// and an administrator confirms a candidate and splits it off again. The test data is made
// through the API: cards of the same person held by two users, the newer one later exchanged.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startDemo, stop, launch, context, signIn, shot, flash } from './lib.mjs';

let server;
let browser;
let admin;
let sato;

/** A card through the API as the administrator, for `owner`; returns its id. */
async function card(owner, fields) {
  const res = await admin.request.post(`${server.url}/api/v1/cards`, { data: { owner_id: owner, ...fields } });
  assert.equal(res.status(), 201, await res.text());
  return (await res.json()).id;
}

async function badge(page) {
  const n = page.locator('#news-badge .nav-count');
  return (await n.count()) === 0 ? 0 : Number((await n.textContent()).trim());
}

before(async () => {
  server = await startDemo();
  browser = await launch();
  admin = await (await context(browser)).newPage();
  await signIn(admin, server.url, 'admin@example.co.jp');
  await admin.waitForURL(/\/departures$/);
  const users = (await (await admin.request.get(`${server.url}/api/v1/users?limit=100`)).json()).items;
  const id = (email) => users.find((u) => u.email === email).id;
  const [s, i] = [id('sato.misaki@example.co.jp'), id('ito.shota@example.co.jp')];
  // 佐藤 holds the older cards; 伊藤 registers newer ones of the same people.
  await card(s, { full_name: '試験 一郎', email: 'shiken.ichiro@e2e.example.jp', company: '旧商事株式会社', title: '課長', exchanged_on: '2024-04-01' });
  await card(i, { full_name: '試験 一郎', email: 'shiken.ichiro@e2e.example.jp', company: '新興業株式会社', title: '部長', phone: '03-1111-2222', exchanged_on: '2025-10-01' });
  await card(s, { full_name: '試験 花子', email: 'shiken.hanako@e2e.example.jp', company: '丸山物産', department: '営業部', exchanged_on: '2024-01-10' });
  await card(i, { full_name: '試験 花子', email: 'shiken.hanako@e2e.example.jp', company: '丸山物産', department: '経営企画部', exchanged_on: '2025-02-01' });
  // The same name only: a candidate for someone to decide.
  await card(s, { full_name: '候補 太郎', company: '北商会' });
  await card(i, { full_name: '候補 太郎', company: '南商会' });
  sato = await (await context(browser)).newPage();
  await signIn(sato, server.url, 'sato.misaki@example.co.jp');
  await sato.waitForURL((u) => !u.pathname.startsWith('/login'));
});

after(async () => {
  await browser?.close();
  if (server) await stop(server);
});

test('a member applies and dismisses news inline and the badge follows', async () => {
  const before = await badge(sato);
  assert.ok(before >= 3, `the badge counts the open news (${before})`);
  await sato.locator('#nav-news').click();
  await sato.waitForURL(/\/news$/);
  await shot(sato, 'news-01-list');
  // A marker on the window survives only if the page is not reloaded.
  await sato.evaluate(() => { window.__stay = 1; });

  const personnel = sato.locator('tr.news-row', { hasText: '試験 一郎' }).filter({ hasText: '人事異動' });
  assert.match(await personnel.textContent(), /旧商事株式会社\s*→\s*新興業株式会社/);
  await personnel.getByRole('button', { name: '反映' }).click();
  const applied = sato.locator('tr.news-row.applied', { hasText: '試験 一郎' });
  await applied.waitFor();
  assert.match(await applied.textContent(), /「試験 一郎」のニュースを名刺に反映しました。/);
  assert.equal(await sato.evaluate(() => window.__stay), 1, 'no full reload');
  assert.equal(await badge(sato), before - 1, 'the badge drops');

  const hanako = sato.locator('tr.news-row', { hasText: '試験 花子' });
  await hanako.getByRole('button', { name: '却下' }).click();
  await sato.locator('tr.news-row.dismissed', { hasText: '試験 花子' }).waitFor();
  assert.equal(await badge(sato), before - 2);
  assert.equal(await sato.evaluate(() => window.__stay), 1);
  await shot(sato, 'news-02-inline');

  // The card: its career and the other card of the person, with who holds it.
  await applied.getByRole('link', { name: '試験 一郎' }).click();
  await sato.waitForURL(/\/cards\/[0-9a-f-]+$/);
  const career = await sato.locator('#career-table').textContent();
  assert.ok(career.indexOf('旧商事株式会社') >= 0 && career.indexOf('旧商事株式会社') < career.indexOf('新興業株式会社'), career);
  assert.match(await sato.locator('#person-cards').textContent(), /伊藤 翔太/);
  assert.match(await sato.locator('#history').textContent(), /ニュースの反映/);
  await shot(sato, 'news-03-card');
});

test('an administrator confirms a candidate and splits the card off again', async () => {
  await admin.goto(`${server.url}/cards?q=${encodeURIComponent('候補 太郎')}`);
  await admin.getByRole('link', { name: '候補 太郎' }).first().click();
  await admin.waitForURL(/\/cards\/[0-9a-f-]+$/);
  const candidates = admin.locator('#candidates');
  assert.match(await candidates.textContent(), /同姓同名/);
  await candidates.getByRole('button', { name: '同一人物としてまとめる' }).first().click();
  assert.equal(await flash(admin), '同一人物としてまとめました。');
  assert.match(await admin.locator('#person-cards').textContent(), /候補 太郎/);
  await shot(admin, 'news-04-confirmed');

  await admin.locator('#split-link').click();
  await admin.locator('#split-confirm').waitFor();
  await admin.getByRole('button', { name: '別人として分ける' }).click();
  assert.equal(await flash(admin), 'この名刺を別の人物として分けました。');
  assert.equal(await admin.locator('#person-cards').count(), 0, 'no other cards now');
  await shot(admin, 'news-05-split');
});
