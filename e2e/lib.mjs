// Shared helpers: start the real meishi binary on a fresh demo database, and Chromium.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname, basename } from 'node:path';
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

let starts = 0;

/**
 * A fresh, empty database for one demo: a SQLite file in a temporary directory, or, when
 * MEISHI_E2E_DATABASE names a PostgreSQL database, a new database beside it named after it,
 * the test file and the start (`<base>_<file>_<n>`), dropped first if an earlier run left it.
 * `meishi demo` needs an empty database, and node --test runs each file in its own process,
 * so every file (and every start within one) gets its own.
 */
export function freshDatabase() {
  const base = process.env.MEISHI_E2E_DATABASE;
  starts += 1;
  if (!base) return `sqlite://${join(mkdtempSync(join(tmpdir(), 'meishi-e2e-')), 'demo.db')}`;
  if (!/^postgres(ql)?:\/\//.test(base)) return base;
  const url = new URL(base);
  const file = basename(process.argv[1] || 'e2e').replace(/\.test\.mjs$|\.mjs$/, '').replace(/[^a-z0-9]/gi, '_');
  const name = `${url.pathname.slice(1)}_${file}_${starts}`.toLowerCase().slice(0, 63);
  const psql = (sql) => {
    const r = spawnSync('psql', [base, '-v', 'ON_ERROR_STOP=1', '-qAtc', sql], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`psql: ${sql}: ${r.stderr || r.error}`);
  };
  psql(`DROP DATABASE IF EXISTS "${name}"`);
  psql(`CREATE DATABASE "${name}" TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C.UTF-8' LC_CTYPE 'C.UTF-8'`);
  url.pathname = `/${name}`;
  return url.toString();
}

/** `meishi demo` on a fresh database (SQLite unless set); resolves with { url, db, child }. */
export async function startDemo() {
  // MEISHI_E2E_DATABASE runs the story on another engine (PostgreSQL: see freshDatabase).
  const db = freshDatabase();
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

/** What the browser refused under the pages' Content-Security-Policy (every context's pages). */
export const cspViolations = [];

/** A fresh browser context (own cookies) in Japanese, phone-width when asked. */
export async function context(browser, { locale = 'ja-JP', phone = false } = {}) {
  const ctx = await browser.newContext({
    locale,
    extraHTTPHeaders: { 'Accept-Language': locale === 'ja-JP' ? 'ja' : 'en' },
    viewport: phone ? { width: 390, height: 844 } : { width: 1280, height: 900 },
  });
  ctx.on('console', (m) => {
    if (m.type() === 'error' && /Content Security Policy/i.test(m.text())) cspViolations.push(m.text());
  });
  return ctx;
}

export async function signIn(page, url, email, password = 'meishi-demo') {
  await page.goto(`${url}/login`);
  await page.getByLabel('メールアドレス').fill(email);
  await page.getByLabel('パスワード').fill(password);
  await page.getByRole('button', { name: 'ログイン' }).click();
}

/** The one-time message a post's redirect shows at the top of the next page. */
export async function flash(page) {
  const f = page.locator('#flash');
  await f.waitFor();
  return (await f.textContent()).trim();
}

export async function shot(page, name) {
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}

/** The date in Tokyo `daysAhead` days from now (0: today), YYYY-MM-DD. */
export function tokyoDate(daysAhead) {
  const t = new Date(Date.now() + daysAhead * 86400_000);
  return new Intl.DateTimeFormat('sv-SE', { timeZone: 'Asia/Tokyo' }).format(t);
}
