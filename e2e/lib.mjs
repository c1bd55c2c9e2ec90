// Shared helpers: start the real meishi binary on a fresh demo database, and Chromium.
import { spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
export const BIN = process.env.MEISHI_BIN
  || join(process.env.CARGO_TARGET_DIR || join(here, '..', 'target'), 'debug', 'meishi');
export const SHOTS = join(here, 'screenshots');
mkdirSync(SHOTS, { recursive: true });

/** Waits for a line of the child's output matching `re`; resolves with the match. */
function waitFor(child, stream, re) {
  return new Promise((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${re}: ${buf}`)), 60_000);
    child[stream].on('data', (d) => {
      buf += d.toString();
      const m = buf.match(re);
      if (m) { clearTimeout(timer); resolve(m); }
    });
    child.on('exit', (code) => reject(new Error(`meishi exited (${code}): ${buf}`)));
  });
}

/** `meishi demo` on a fresh database (SQLite unless set); resolves with { url, db, child }. */
export async function startDemo() {
  // MEISHI_E2E_DATABASE runs the story on another engine (an empty PostgreSQL database).
  const db = process.env.MEISHI_E2E_DATABASE
    || `sqlite://${join(mkdtempSync(join(tmpdir(), 'meishi-e2e-')), 'demo.db')}`;
  const child = spawn(BIN, ['demo', '--database', db, '--listen', '127.0.0.1:0', '--cards', '600'], { env: { ...process.env, RUST_LOG: 'warn' } });
  const m = await waitFor(child, 'stdout', /URL\s+(http:\/\/127\.0\.0\.1:\d+)\//);
  return { url: m[1], db, child };
}

/** `meishi serve` on an existing database, its clock `offsetSecs` ahead (the test hook). */
export async function startServe(db, offsetSecs) {
  const env = { ...process.env, RUST_LOG: 'warn', MEISHI_CLOCK_OFFSET_SECS: String(offsetSecs) };
  const child = spawn(BIN, ['serve', '--database', db, '--listen', '127.0.0.1:0'], { env });
  const m = await waitFor(child, 'stderr', /listening on (http:\/\/127\.0\.0\.1:\d+)/);
  return { url: m[1], db, child };
}

export async function stop(server) {
  if (server.child.exitCode !== null) return;
  const done = new Promise((r) => server.child.on('exit', r));
  server.child.kill('SIGTERM');
  await done;
}

export function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
}

/** A fresh browser context (own cookies) in Japanese, phone-width when asked. */
export async function context(browser, { locale = 'ja-JP', phone = false } = {}) {
  return browser.newContext({
    locale,
    extraHTTPHeaders: { 'Accept-Language': locale === 'ja-JP' ? 'ja' : 'en' },
    viewport: phone ? { width: 390, height: 844 } : { width: 1280, height: 900 },
  });
}

export async function signIn(page, url, email, password = 'meishi-demo') {
  await page.goto(`${url}/login`);
  await page.getByLabel('メールアドレス').fill(email);
  await page.getByLabel('パスワード').fill(password);
  await page.getByRole('button', { name: 'ログイン' }).click();
}

export async function shot(page, name) {
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}

/** Tomorrow's date in Tokyo, YYYY-MM-DD. */
export function tokyoDate(daysAhead) {
  const t = new Date(Date.now() + daysAhead * 86400_000);
  return new Intl.DateTimeFormat('sv-SE', { timeZone: 'Asia/Tokyo' }).format(t);
}
