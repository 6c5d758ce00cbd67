// The console's API keys against a real server: ops creates a key, sees it exactly once, uses it
// and deletes it; then sees everybody's keys, filters them by user and revokes one or several.
// The users (ops, viewer, a long email) are created through the API first, as console.test.js's
// earlier steps would; the steps build on each other and run in order.

import { describe, it, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import {
  startServer, launchBrowser, openPage, screenshot, call, consoleToken, signIn, go,
} from './harness.js';
import { OPS_PASSWORD, VIEWER_PASSWORD, CHRIS_PASSWORD, endOfStep, createTheUsers } from './cast.js';

describe('ECE identity console', () => {
  let server;
  let browser;
  let page;

  before(async () => {
    server = await startServer();
    await createTheUsers(server.url);
    browser = await launchBrowser();
    page = await openPage(browser, server.url);
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  afterEach((t) => endOfStep(page, t));

  it('shows a new API key exactly once; the key works until deleted', async () => {
    await signIn(page, 'ops', OPS_PASSWORD);
    await go(page, 'API keys');
    await page.getByLabel('Description').fill('e2e deploy script');
    await page.getByLabel('Expires after').selectOption('1d');
    await page.getByRole('button', { name: 'Create API key' }).click();
    const panel = page.getByTestId('new-key-panel');
    await panel.waitFor();
    assert.match(await panel.innerText(), /only time the key is shown/);
    const key = await page.getByTestId('new-api-key').inputValue();
    assert.ok(key.length >= 20, 'a key is shown');
    const row = page.locator('#own-keys tr', { hasText: 'e2e deploy script' });
    await row.waitFor();
    assert.match(await row.innerText(), /in 1 day|tomorrow|in 24 hours/);
    await screenshot(page, 'api-key-created');

    // The key works from a script.
    const me = await call(server.url, 'GET', '/user', { auth: `ApiKey ${key}` });
    assert.equal(me.status, 200);
    assert.equal(me.body.user_name, 'ops');

    // Hiding the panel, or reloading the page, never shows it again.
    await page.getByRole('button', { name: /I have saved it/ }).click();
    assert.equal(await page.getByTestId('new-key-panel').count(), 0);
    await page.reload();
    await page.getByRole('heading', { level: 1, name: 'API keys' }).waitFor();
    await row.waitFor();
    assert.equal(await page.getByTestId('new-key-panel').count(), 0);
    assert.ok(!(await page.content()).includes(key), 'the secret is nowhere in the page');
    const list = await call(server.url, 'GET', '/users/auth/keys', { auth: `Bearer ${await consoleToken(page)}` });
    assert.ok(!JSON.stringify(list.body).includes(key), 'the list API never returns it');
    await screenshot(page, 'api-keys');

    // Delete with confirmation: cancel first, then confirm.
    await row.getByRole('button', { name: 'Delete API key e2e deploy script' }).click();
    let confirm = page.getByRole('dialog', { name: 'Delete this API key?' });
    await confirm.getByRole('button', { name: 'Cancel' }).click();
    await confirm.waitFor({ state: 'detached' });
    assert.equal((await call(server.url, 'GET', '/user', { auth: `ApiKey ${key}` })).status, 200);
    await row.getByRole('button', { name: 'Delete API key e2e deploy script' }).click();
    confirm = page.getByRole('dialog', { name: 'Delete this API key?' });
    await screenshot(page, 'api-key-delete');
    await confirm.getByRole('button', { name: 'Delete key' }).click();
    await row.waitFor({ state: 'detached' });
    await page.getByText('You have no API keys yet.').waitFor();
    assert.ok(await page.getByRole('heading', { name: 'Your keys' }).evaluate((el) => el === document.activeElement), 'focus moves to the list after a delete');
    assert.equal((await call(server.url, 'GET', '/user', { auth: `ApiKey ${key}` })).status, 401);
  });

  it('lets an admin see everybody\'s keys, filter them by user and revoke one or several', async () => {
    // Keys of other users, made through the API as they would.
    const keysOf = {};
    for (const [user, password, descriptions] of [
      ['viewer', VIEWER_PASSWORD, ['viewer laptop']],
      ['christopher.montgomery', CHRIS_PASSWORD, ['chris ci', 'chris backup', 'chris old']],
    ]) {
      const login = await call(server.url, 'POST', '/users/auth/_login', { body: { username: user, password } });
      const auth = `Bearer ${login.body.token}`;
      for (const description of descriptions) {
        const k = await call(server.url, 'POST', '/users/auth/keys', { auth, body: { description, expiration: '30d' } });
        keysOf[description] = k.body;
      }
      await call(server.url, 'POST', '/users/auth/_logout', { auth });
    }
    await page.reload();
    const all = page.locator('#all-keys');
    await all.getByRole('heading', { name: 'Everybody’s API keys' }).waitFor();
    const rowOf = (d) => all.locator(`tr[data-key-id="${keysOf[d].id}"]`);
    await rowOf('chris ci').waitFor();
    assert.match(await rowOf('chris ci').innerText(), /christopher\.montgomery/);
    assert.match(await rowOf('chris ci').locator('td[data-label="Created"]').innerText(), /UTC|GMT/);
    assert.equal(await all.locator('tbody tr').count(), 4);

    // Filter by user.
    await all.getByLabel('User', { exact: true }).selectOption('viewer');
    await all.locator('tbody tr').first().waitFor();
    assert.equal(await all.locator('tbody tr').count(), 1);
    assert.match(await all.locator('tbody tr').innerText(), /viewer laptop/);
    await all.getByLabel('User', { exact: true }).selectOption('');

    // Revoke one, after a confirmation (cancel first).
    const revoke = rowOf('chris old').getByRole('button', { name: 'Revoke API key chris old of christopher.montgomery' });
    await revoke.click();
    let confirm = page.getByRole('dialog', { name: 'Revoke this API key?' });
    await confirm.getByRole('button', { name: 'Cancel' }).click();
    await confirm.waitFor({ state: 'detached' });
    await revoke.click();
    confirm = page.getByRole('dialog', { name: 'Revoke this API key?' });
    await confirm.getByRole('button', { name: 'Revoke key' }).click();
    await rowOf('chris old').waitFor({ state: 'detached' });
    assert.ok(await page.evaluate(() => document.activeElement?.closest('#all-keys') !== null), 'focus stays in the list');
    const chrisAuth = `ApiKey ${keysOf['chris ci'].key}`;
    assert.equal((await call(server.url, 'GET', '/user', { auth: `ApiKey ${keysOf['chris old'].key}` })).status, 401);

    // Revoke several at once.
    await rowOf('chris backup').getByRole('checkbox').check();
    await rowOf('viewer laptop').getByRole('checkbox').check();
    await all.getByRole('button', { name: 'Revoke selected (2)' }).click();
    confirm = page.getByRole('dialog', { name: 'Revoke 2 API keys?' });
    await screenshot(page, 'api-keys-revoke');
    await confirm.getByRole('button', { name: 'Revoke 2 keys' }).click();
    await rowOf('viewer laptop').waitFor({ state: 'detached' });
    await rowOf('chris backup').waitFor({ state: 'detached' });
    assert.equal((await call(server.url, 'GET', '/user', { auth: `ApiKey ${keysOf['viewer laptop'].key}` })).status, 401);
    assert.equal((await call(server.url, 'GET', '/user', { auth: chrisAuth })).status, 200, 'the others still work');
    await screenshot(page, 'api-keys-all');

    // From a user's row on the Users page, straight to that user's keys.
    await go(page, 'Users');
    await page.getByRole('link', { name: 'API keys of christopher.montgomery' }).click();
    await all.getByRole('heading', { name: 'Everybody’s API keys' }).waitFor();
    await rowOf('chris ci').waitFor();
    assert.equal(await all.getByLabel('User', { exact: true }).inputValue(), 'christopher.montgomery');
    assert.equal(await all.locator('tbody tr').count(), 1);
  });
});
