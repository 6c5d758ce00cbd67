// Session lifetime in the console, against a server whose sessions idle out after 12 s: an active
// user's token is refreshed before it expires; an idle one is warned first and may stay; an idle
// console lets the session end, says why and keeps the typed input. A second server with an
// 8 s idle timeout and a 14 s maximum checks the warning and notice at the maximum length.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launchBrowser, openPage, call, consoleToken, signIn, go, screenshot, explained, ADMIN_PASSWORD } from './harness.js';

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

  it('refreshes the token of an active user before it expires', () => explained(server, page, async () => {
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
  }));

  it('warns before an idle session ends and lets the user stay signed in', () => explained(server, page, async () => {
    const token = await consoleToken(page);
    // No activity: shortly before the end, a warning with a way to stay. The activity of the test
    // before may still have earned one more refresh, which moves the end by up to a whole idle
    // period: wait for two (CI once saw the warning come later than one period).
    const warning = page.getByTestId('session-warning');
    await warning.waitFor({ timeout: (IDLE_SECONDS * 2 + 5) * 1000 });
    assert.equal(await warning.getAttribute('role'), 'alert');
    assert.match(await warning.innerText(), /inactive\. Your session ends at \d{1,2}:\d{2}/);
    await screenshot(page, 'session-warning');
    await warning.getByRole('button', { name: 'Stay signed in' }).click();
    await warning.waitFor({ state: 'detached' });
    assert.notEqual(await consoleToken(page), token, 'the session was refreshed');
    assert.deepEqual(page.problems, []);
  }));

  it('lets an idle session end, says why, and keeps what was typed', () => explained(server, page, async () => {
    const token = await consoleToken(page);
    await go(page, 'Account');
    const toggle = page.getByRole('switch', { name: /Trust all deployments/ });
    await toggle.click();
    assert.equal(await toggle.isChecked(), false);
    // No activity from here on: the console must not keep the session alive by itself.
    await page.getByText('Your session ended because the console was inactive for too long.')
      .waitFor({ timeout: (IDLE_SECONDS * 2 + 5) * 1000 });
    await page.getByText('What you had typed on the page (except passwords) is kept').waitFor();
    assert.equal(await consoleToken(page), null);
    assert.equal((await call(server.url, 'GET', '/user', { auth: `Bearer ${token}` })).status, 401);

    // Signing in again goes back to the page, with the input restored (not saved).
    await page.getByLabel('User name').fill('admin');
    await page.getByLabel('Password').fill(ADMIN_PASSWORD);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.getByRole('heading', { level: 1, name: 'Account' }).waitFor();
    await page.getByText('What you had typed before your session ended is back').waitFor();
    assert.equal(await toggle.isChecked(), false, 'the unsaved change is back');
    assert.ok(await page.getByRole('button', { name: 'Save changes' }).isEnabled());
    assert.deepEqual(page.problems, []);
  }));
});

describe('console session at its maximum length', () => {
  let server;
  let browser;
  let page;

  before(async () => {
    server = await startServer({ ECE_SESSION_IDLE_TIMEOUT: '8', ECE_SESSION_MAX_LIFETIME: '14' });
    browser = await launchBrowser();
    page = await openPage(browser, server.url);
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  it('warns that the session can\'t be extended, then says it ended', () => explained(server, page, async () => {
    await signIn(page, 'admin', ADMIN_PASSWORD);
    const warning = page.getByTestId('session-warning');
    // An active user: refreshed until the absolute end caps the session.
    for (let i = 0; i < 30 && !(await warning.isVisible()); i += 1) {
      await page.keyboard.press('Shift');
      await page.waitForTimeout(500);
    }
    assert.match(await warning.innerText(), /maximum length .* can’t be extended/);
    assert.equal(await warning.getByRole('button', { name: 'Stay signed in' }).count(), 0);
    await page.getByText('Your session reached its maximum length and ended.').waitFor({ timeout: 15_000 });
    assert.deepEqual(page.problems, []);
  }));
});

describe('console session when a refresh fails', () => {
  let server;
  let browser;
  let page;

  before(async () => {
    server = await startServer({ ECE_SESSION_IDLE_TIMEOUT: '8' });
    browser = await launchBrowser();
    page = await openPage(browser, server.url);
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  it('still warns before the end, says why, and the user can retry', () => explained(server, page, async () => {
    await signIn(page, 'admin', ADMIN_PASSWORD);
    const token = await consoleToken(page);
    // The server is unreachable for refreshes: the console's retry (10 s) would come after the
    // end (8 s), so the warning must not wait for it.
    let refused = 0;
    const refreshes = '**/api/v1/users/auth/_refresh';
    await page.route(refreshes, (route) => {
      refused += 1;
      return route.fulfill({ status: 503, contentType: 'application/json',
        body: JSON.stringify({ errors: [{ code: 'root.unavailable', message: 'test: unavailable' }] }) });
    });
    await page.keyboard.press('Shift'); // active: the refresh at half-life is tried, and fails
    const warning = page.getByTestId('session-warning');
    await warning.waitFor({ timeout: 7_000 });
    assert.equal(refused, 1);
    assert.match(await warning.innerText(), /could not be renewed: the server did not answer\. It ends at \d{1,2}:\d{2}/);
    await page.unroute(refreshes);
    await warning.getByRole('button', { name: 'Stay signed in' }).click();
    await warning.waitFor({ state: 'detached' });
    assert.notEqual(await consoleToken(page), token, 'the session was refreshed');
    assert.deepEqual(page.problems.filter((p) => !/status of 503/.test(p)), []);
  }));
});
