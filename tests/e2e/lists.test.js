// A large installation: 1,000 users. The users page searches, sorts and pages them, and only ever
// puts one page of rows (25 by default) in the DOM, so it stays fast at any size.
//
// The users are created through the API (POST /users, as a script would), a few at a time: each
// one hashes a password with Argon2, which on a small machine takes most of this file's time.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startServer, launchBrowser, openPage, signIn, go, ADMIN_PASSWORD, call, createUsers, assertAccessible, screenshot,
} from './harness.js';

const COUNT = 1000;
const pad = (i) => String(i).padStart(4, '0');

describe('a thousand users', () => {
  let server;
  let browser;
  let page;

  before(async () => {
    server = await startServer();
    const login = await call(server.url, 'POST', '/users/auth/_login', { body: { username: 'admin', password: ADMIN_PASSWORD } });
    assert.equal(login.status, 200, 'admin signs in');
    const bodies = Array.from({ length: COUNT }, (_, i) => ({
      user_name: `user-${pad(i)}`,
      full_name: `Person ${pad(COUNT - i)}`,
      email: `person.${pad(i)}@${i % 2 ? 'odd' : 'even'}.example.com`,
      security: { password: 'list-password', roles: i % 10 === 0 ? ['ece_platform_viewer'] : [], enabled: i % 7 !== 0 },
    }));
    await createUsers(server.url, `Bearer ${login.body.token}`, bodies);
    browser = await launchBrowser();
    page = await openPage(browser, server.url);
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  const status = () => page.getByRole('status').filter({ hasText: /users|No users/ }).first().innerText();
  const names = () => page.locator('tbody tr[data-user]').evaluateAll((trs) => trs.map((tr) => tr.dataset.user));

  it('pages the list: one page of rows in the DOM', async () => {
    await signIn(page, 'admin', ADMIN_PASSWORD);
    await go(page, 'Users');
    await page.locator('tr[data-user="admin"]').waitFor();
    assert.match(await status(), /Showing 1–25 of 1,002 users/);
    assert.equal(await page.locator('tbody tr').count(), 25);
    await page.getByRole('button', { name: 'Next' }).click();
    assert.match(await status(), /Showing 26–50 of 1,002 users/);
    assert.match(await page.getByText(/Page 2 of 41/).innerText(), /Page 2 of 41/);
    await page.getByRole('combobox', { name: 'Users per page' }).selectOption('250');
    assert.equal(await page.locator('tbody tr').count(), 250);
    await page.getByRole('combobox', { name: 'Users per page' }).selectOption('25');
    await screenshot(page, 'users-many');
  });

  it('searches by name, full name and email', async () => {
    const search = page.getByLabel('Search users');
    await search.fill('user-0421');
    assert.deepEqual(await names(), ['user-0421']);
    await search.fill('Person 0579'); // full name of user-0421
    assert.deepEqual(await names(), ['user-0421']);
    await search.fill('@odd.example');
    assert.match(await status(), /of 500 users \(1,002 in all\)/);
    await search.fill('nobody-like-this');
    assert.match(await status(), /No users match/);
    await search.fill('');
  });

  it('sorts by a column, both ways', async () => {
    const header = page.getByRole('columnheader', { name: /User/ }).first();
    assert.equal(await header.getAttribute('aria-sort'), 'ascending');
    await header.getByRole('button').click();
    assert.equal(await header.getAttribute('aria-sort'), 'descending');
    assert.equal((await names())[0], 'user-0999');
    const email = page.getByRole('columnheader', { name: /Email/ });
    await email.getByRole('button').click();
    assert.equal(await email.getAttribute('aria-sort'), 'ascending');
    assert.equal((await names())[0], 'user-0000');
    // Filter to disabled users, then sort by status.
    await page.getByLabel('Show').selectOption('disabled');
    assert.match(await status(), /of 143 users/);
    await page.getByLabel('Show').selectOption('all');
    await page.getByRole('columnheader', { name: /User/ }).first().getByRole('button').click();
    await assertAccessible(page, 'a 1,000-user list');
  });

  it('handles 10,000 users (served by a stub) with one page in the DOM', async () => {
    // The list the API would return for 10,000 users, answered by the test instead of the server.
    const real = await call(server.url, 'GET', '/users/admin', { auth: `Basic ${Buffer.from(`admin:${ADMIN_PASSWORD}`).toString('base64')}` });
    const users = Array.from({ length: 10_000 }, (_, i) => ({
      ...real.body, builtin: false, user_name: `bulk-${String(i).padStart(5, '0')}`, full_name: `Bulk ${i}`, email: `bulk.${i}@example.com`,
    }));
    await page.route('**/api/v1/users?include_disabled=true', (route) => route.fulfill({ json: { users } }));
    try {
      await page.reload();
      await page.locator('tr[data-user="bulk-00000"]').waitFor();
      assert.match(await status(), /Showing 1–25 of 10,000 users/);
      assert.equal(await page.locator('tbody tr').count(), 25);
      const ms = await page.evaluate(async () => {
        const input = document.querySelector('input[type="search"]');
        const t0 = performance.now();
        input.value = 'bulk-0999';
        input.dispatchEvent(new Event('input'));
        return performance.now() - t0;
      });
      console.log(`# search over 10,000 users redrew the table in ${ms.toFixed(1)} ms`);
      assert.equal((await names()).length, 10); // bulk-09990 to bulk-09999
    } finally {
      await page.unroute('**/api/v1/users?include_disabled=true');
    }
  });
});
