// Test harness: a real `ece-server serve` on a free loopback port with a temporary data dir, and
// Debian's chromium driven by playwright-core.

import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, mkdirSync, existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const SERVER_BIN = process.env.ECE_SERVER_BIN || join(ROOT, 'target/release/ece-server');
export const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
export const SHOTS = join(ROOT, 'docs/screenshots');
export const ADMIN_PASSWORD = 'e2e-admin-password';

/** Starts the server; resolves once it listens. Call stop() when done. */
export async function startServer(extraEnv = {}) {
  if (!existsSync(SERVER_BIN)) throw new Error(`no server binary at ${SERVER_BIN} (set ECE_SERVER_BIN or build it)`);
  const dataDir = mkdtempSync(join(tmpdir(), 'ece-e2e-'));
  const child = spawn(SERVER_BIN, ['serve', '--listen', '127.0.0.1:0'], {
    env: {
      PATH: process.env.PATH,
      ECE_DATA_DIR: dataDir,
      ECE_ADMIN_PASSWORD: ADMIN_PASSWORD,
      ECE_LOG: 'info',
      NO_COLOR: '1',
      ...extraEnv,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  const url = await new Promise((ok, fail) => {
    const timeout = setTimeout(() => fail(new Error(`server did not start in 20 s:\n${log}`)), 20_000);
    const onData = (chunk) => {
      log += chunk;
      // eslint-disable-next-line no-control-regex
      const m = log.replace(/\x1b\[[0-9;]*m/g, '').match(/listening on (http:\/\/127\.0\.0\.1:\d+)/);
      if (m) { clearTimeout(timeout); ok(m[1]); }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code) => { clearTimeout(timeout); fail(new Error(`server exited with ${code}:\n${log}`)); });
  });
  return {
    url,
    log: () => log,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
        if (child.exitCode === null) child.kill('SIGKILL');
      }
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export function launchBrowser() {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
}

/**
 * A fresh browser context and page on base. Collects console errors and any request that leaves
 * the server's origin (the console must work offline), checked by assertClean().
 */
export async function openPage(browser, base, viewport = { width: 1440, height: 900 }) {
  const context = await browser.newContext({ viewport, baseURL: base });
  const page = await context.newPage();
  page.setDefaultTimeout(10_000);
  page.problems = [];
  // Kept for failure reports (explained()): the page's console and the API's error answers.
  page.trail = [];
  page.on('console', (m) => page.trail.push(`${new Date().toISOString()} console.${m.type()}: ${m.text()}`));
  page.on('response', (r) => {
    if (r.status() >= 400) page.trail.push(`${new Date().toISOString()} ${r.request().method()} ${r.url()} -> ${r.status()}`);
  });
  page.on('console', (m) => { if (m.type() === 'error' && !/status of 40[0-9]/.test(m.text())) page.problems.push(`console: ${m.text()}`); });
  page.on('pageerror', (e) => page.problems.push(`page error: ${e.message}`));
  page.on('request', (r) => { if (!r.url().startsWith(base) && !r.url().startsWith('data:')) page.problems.push(`off-origin request: ${r.url()}`); });
  return page;
}

/**
 * Runs a test's body; if it fails, the error also carries the end of the server's log and the
 * page's trail, so that a failure seen once in CI can be read afterwards.
 */
export async function explained(server, page, body) {
  try {
    await body();
  } catch (e) {
    const log = server?.log?.() ?? '';
    e.message += `\n--- page trail (last 40) ---\n${(page?.trail ?? []).slice(-40).join('\n')}`
      + `\n--- server log (last 6,000 characters) ---\n${log.slice(-6000)}`;
    throw e;
  }
}

export async function screenshot(page, name) {
  mkdirSync(SHOTS, { recursive: true });
  // Let transitions and focus rings settle so the pictures are stable.
  await page.waitForTimeout(250);
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}

/** Calls the API directly (as a script would), returning { status, body }. */
export async function call(base, method, path, { auth, body } = {}) {
  const headers = { Accept: 'application/json' };
  if (auth) headers.Authorization = auth;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(`${base}/api/v1${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  let json = null;
  try { json = text ? JSON.parse(text) : null; } catch { json = text; }
  return { status: res.status, body: json, headers: res.headers };
}

/** The bearer token the console keeps for this tab. */
export async function consoleToken(page) {
  return page.evaluate(() => JSON.parse(sessionStorage.getItem('ece-console.session') || 'null')?.token ?? null);
}

/** Signs in through the form. */
export async function signIn(page, username, password) {
  await page.goto('/');
  await page.getByLabel('User name').fill(username);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await page.getByRole('button', { name: 'Sign out' }).waitFor();
}

export async function signOut(page) {
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByRole('heading', { name: 'Sign in' }).waitFor();
}

export async function go(page, name) {
  await page.getByRole('navigation', { name: 'Console' }).getByRole('link', { name }).click();
  await page.getByRole('heading', { level: 1, name }).waitFor();
}

// axe-core's source, evaluated in the page (through the debugging protocol, which the page's
// strict CSP does not govern, unlike an injected <script>).
const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

/**
 * Runs axe-core in the page and fails on any serious or critical violation, naming the rule and
 * the first elements it found.
 */
export async function assertAccessible(page, where) {
  if (!(await page.evaluate(() => typeof window.axe === 'object'))) await page.evaluate(AXE);
  const { violations } = await page.evaluate(() => window.axe.run(document, { resultTypes: ['violations'] }));
  const bad = violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  const report = bad.map((v) => `${v.impact} ${v.id}: ${v.help} (${v.nodes.length}x, e.g. ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(' | ')}: ${v.nodes[0]?.failureSummary?.replace(/\s+/g, ' ')})`);
  assert.deepEqual(report, [], `axe on ${where}`);
}

/** Creates users through the API, `parallel` requests at a time (each one hashes a password). */
export async function createUsers(base, auth, bodies, parallel = 8) {
  let next = 0;
  const worker = async () => {
    while (next < bodies.length) {
      const body = bodies[next++];
      const res = await call(base, 'POST', '/users', { auth, body });
      if (res.status !== 200) throw new Error(`creating ${body.user_name}: ${res.status} ${JSON.stringify(res.body)}`);
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
}

/** How far the document is wider and taller than the window (0 when it fits). */
export function overflow(page) {
  return page.evaluate(() => ({
    x: document.documentElement.scrollWidth - window.innerWidth,
    y: document.documentElement.scrollHeight - window.innerHeight,
  }));
}
