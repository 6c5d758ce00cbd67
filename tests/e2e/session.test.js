// Session lifetime in the console, against a server whose sessions idle out after 12 s: an active
// user's token is refreshed before it expires; an idle console lets the session end and asks to
// sign in again.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launchBrowser, openPage, call, consoleToken, signIn, ADMIN_PASSWORD } from './harness.js';

const IDLE_SECONDS = 12;

describe('console session refresh', () => {
  let server;
  let browser;
  let page;

  before(async () => {
    server = await startServer({ ECE_SESSION_IDLE_TIMEOUT: String(IDLE_SECONDS) });
    browser = await launchBrowser();
    page = await openPage(browser, server.url);
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  const expiresAt = () => page.evaluate(() => JSON.parse(sessionStorage.getItem('ece-console.session')).expires);

  it('refreshes the token of an active user before it expires', async () => {
    await signIn(page, 'admin', ADMIN_PASSWORD);
    const first = await consoleToken(page);
    const firstExpiry = await expiresAt();
    await page.keyboard.press('Shift'); // the user is active
    await page.waitForFunction(
      (t) => JSON.parse(sessionStorage.getItem('ece-console.session') || 'null')?.token !== t,
      first, { timeout: IDLE_SECONDS * 1000, polling: 250 });
    const second = await consoleToken(page);
    assert.ok(second && second !== first);
    assert.ok(Date.parse(await expiresAt()) > Date.parse(firstExpiry), 'the expiry moved later');
    assert.equal((await call(server.url, 'GET', '/user', { auth: `Bearer ${second}` })).status, 200);
    // The replaced token keeps working for the grace period, so requests in flight don't fail.
    assert.equal((await call(server.url, 'GET', '/user', { auth: `Bearer ${first}` })).status, 200);
    assert.deepEqual(page.problems, []);
  });

  it('lets an idle session end, then asks to sign in again', async () => {
    const token = await consoleToken(page);
    // No activity from here on: the console must not keep the session alive by itself.
    await page.getByText('Your session has ended. Sign in again to continue.')
      .waitFor({ timeout: (IDLE_SECONDS + 5) * 1000 });
    assert.equal(await consoleToken(page), null);
    assert.equal((await call(server.url, 'GET', '/user', { auth: `Bearer ${token}` })).status, 401);
    assert.deepEqual(page.problems, []);
  });
});
