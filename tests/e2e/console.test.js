// End-to-end tests of the web console against a real server: its headers and compressed assets,
// the admin signing in with the keyboard, the account page and its trust setting, creating users
// (with a long email in the users table) and signing out. The steps build on each other and run in
// order. API keys are in keys.test.js; what ops, a deployment role and a viewer may do, the
// profile, the narrow screen, axe and focus rings in roles.test.js.

import { describe, it, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { gunzipSync, brotliDecompressSync } from 'node:zlib';
import {
  startServer, launchBrowser, openPage, screenshot, call, consoleToken, signOut, go, ADMIN_PASSWORD, assertAccessible, overflow,
} from './harness.js';
import { OPS_PASSWORD, VIEWER_PASSWORD, CHRIS_PASSWORD, LONG_EMAIL, endOfStep, checkFits } from './cast.js';

/** A GET that returns the body exactly as sent (node's fetch would decompress it). */
function rawGet(url, headers) {
  return new Promise((ok, fail) => {
    http.get(url, { headers }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => ok({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
    }).on('error', fail);
  });
}

describe('ECE identity console', () => {
  let server;
  let browser;
  let page;

  before(async () => {
    server = await startServer();
    browser = await launchBrowser();
    page = await openPage(browser, server.url);
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  afterEach((t) => endOfStep(page, t));

  it('serves the console with a strict CSP and keeps the JSON 404 elsewhere', async () => {
    const res = await fetch(`${server.url}/`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type'), /^text\/html/);
    assert.match(res.headers.get('content-security-policy'), /default-src 'self'/);
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(res.headers.get('cache-control'), 'no-store');
    const js = await fetch(`${server.url}/console/js/main.js`);
    assert.match(js.headers.get('content-type'), /^text\/javascript/);
    const css = await fetch(`${server.url}/console/app.css`);
    assert.match(css.headers.get('content-type'), /^text\/css/);
    const again = await fetch(`${server.url}/console/app.css`, { headers: { 'If-None-Match': css.headers.get('etag') } });
    assert.equal(again.status, 304);

    // Compressed once, served by Accept-Encoding; index.html links immutable versioned assets.
    const html = await (await fetch(`${server.url}/`)).text();
    const versioned = html.match(/\/console\/(v-[0-9a-f]{16})\/js\/main\.js/);
    assert.ok(versioned, 'index.html links a versioned main.js');
    const raw = await (await fetch(`${server.url}/console/js/main.js`, { headers: { 'Accept-Encoding': 'identity' } })).arrayBuffer();
    for (const [encoding, decode] of [['br', brotliDecompressSync], ['gzip', gunzipSync]]) {
      // node's fetch would decode by itself: ask for the raw bytes with a plain request.
      const res = await rawGet(`${server.url}/console/${versioned[1]}/js/main.js`, { 'Accept-Encoding': encoding });
      assert.equal(res.headers['content-encoding'], encoding);
      assert.equal(res.headers.vary, 'Accept-Encoding');
      assert.equal(res.headers['cache-control'], 'public, max-age=31536000, immutable');
      assert.ok(res.body.length < raw.byteLength / 2, `${encoding} is smaller`);
      assert.deepEqual(decode(res.body), Buffer.from(raw));
    }
    const plain = await rawGet(`${server.url}/console/app.css`, {});
    assert.equal(plain.headers['content-encoding'], undefined);
    assert.equal(plain.headers['cache-control'], 'no-cache');
    for (const path of ['/nope', '/console/nope.js', '/console/index.html']) {
      const missing = await fetch(`${server.url}${path}`);
      assert.equal(missing.status, 404, path);
      assert.equal((await missing.json()).errors[0].code, 'root.resource_not_found');
    }
  });

  it('signs the admin in with the keyboard alone', async () => {
    await page.goto('/');
    const user = page.getByLabel('User name');
    await user.waitFor();
    assert.ok(await user.evaluate((el) => el === document.activeElement), 'the user name field has focus');
    await screenshot(page, 'sign-in');

    // A wrong password is explained, with its code.
    await page.keyboard.type('admin');
    await page.keyboard.press('Tab');
    await page.keyboard.type('wrong-password');
    await page.keyboard.press('Enter');
    const alert = page.getByRole('alert');
    await alert.waitFor();
    assert.match(await alert.innerText(), /user name or password is wrong/);
    assert.match(await alert.innerText(), /root\.unauthenticated/);

    await page.keyboard.type(ADMIN_PASSWORD); // the password field was cleared and focused
    await page.keyboard.press('Enter');
    await page.getByRole('button', { name: 'Sign out' }).waitFor();
    assert.equal(await page.getByTestId('whoami').innerText(), 'admin');
  });

  it('shows the account and lets an admin change the trust setting', async () => {
    await go(page, 'Account');
    const account = await call(server.url, 'GET', '/account', { auth: `Bearer ${await consoleToken(page)}` });
    assert.equal(await page.getByTestId('account-id').innerText(), account.body.id);
    const toggle = page.getByRole('switch', { name: /Trust all deployments/ });
    assert.ok(await toggle.isChecked());
    await toggle.press('Space');
    await page.getByRole('button', { name: 'Save changes' }).click();
    await page.getByText('Trust setting saved.').waitFor();
    const after = await call(server.url, 'GET', '/account', { auth: `Bearer ${await consoleToken(page)}` });
    assert.equal(after.body.trust.trust_all, false);
    await screenshot(page, 'account');
    // The page is exactly as tall as the window: no stray scrolling.
    assert.deepEqual(await overflow(page), { x: 0, y: 0 });
  });

  it('asks before leaving a page with unsaved changes', async () => {
    const toggle = page.getByRole('switch', { name: /Trust all deployments/ });
    await toggle.press('Space');
    await page.getByRole('navigation', { name: 'Console' }).getByRole('link', { name: 'Users' }).click();
    let ask = page.getByRole('dialog', { name: 'Leave without saving?' });
    await ask.getByRole('button', { name: 'Cancel' }).click();
    await ask.waitFor({ state: 'detached' });
    await page.getByRole('heading', { level: 1, name: 'Account' }).waitFor();
    assert.ok(await toggle.isChecked(), 'the unsaved change is still there');
    assert.match(page.url(), /#\/account$/);
    await page.getByRole('navigation', { name: 'Console' }).getByRole('link', { name: 'Users' }).click();
    ask = page.getByRole('dialog', { name: 'Leave without saving?' });
    await ask.getByRole('button', { name: 'Leave and discard' }).click();
    await page.getByRole('heading', { level: 1, name: 'Users' }).waitFor();
    const account = await call(server.url, 'GET', '/account', { auth: `Bearer ${await consoleToken(page)}` });
    assert.equal(account.body.trust.trust_all, false, 'nothing was saved');
  });

  it('tells built-in users they cannot have API keys', async () => {
    await go(page, 'API keys');
    await page.getByText('Built-in users can’t have API keys').waitFor();
    assert.equal(await page.getByRole('button', { name: 'Create API key' }).count(), 0);
  });

  it('lets the admin create users, and explains API errors', async () => {
    await go(page, 'Users');
    for (const [name, full, role, password] of [
      ['ops', 'Olivia Ops', 'Platform admin', OPS_PASSWORD],
      ['viewer', 'Victor Viewer', 'Platform viewer', VIEWER_PASSWORD],
    ]) {
      await page.getByRole('button', { name: 'Create user' }).click();
      const dialog = page.getByRole('dialog', { name: 'Create user' });
      await dialog.getByLabel('User name').fill(name);
      await dialog.getByLabel('Full name').fill(full);
      await dialog.getByLabel('Email').fill(`${name}@example.com`);
      await dialog.getByLabel('Password', { exact: true }).fill(password);
      await dialog.getByLabel('Repeat the password').fill(password);
      await dialog.getByRole('checkbox', { name: new RegExp(`^${role}`) }).check();
      if (name === 'ops') await screenshot(page, 'users-create');
      await dialog.getByRole('button', { name: 'Create user' }).click();
      await dialog.waitFor({ state: 'detached' });
      await page.locator(`tr[data-user="${name}"]`).waitFor();
    }

    // Checked before sending, and announced: too short, then typed differently twice.
    await page.getByRole('button', { name: 'Create user' }).click();
    const dialog = page.getByRole('dialog', { name: 'Create user' });
    await dialog.getByLabel('User name').fill('ops');
    await dialog.getByLabel('Password', { exact: true }).fill('short');
    await dialog.getByLabel('Repeat the password').fill('short');
    await dialog.getByRole('button', { name: 'Create user' }).click();
    await dialog.getByRole('alert').filter({ hasText: 'at least 8 characters' }).waitFor();
    assert.equal(await dialog.getByLabel('Password', { exact: true }).getAttribute('aria-invalid'), 'true');
    await dialog.getByLabel('Password', { exact: true }).fill('another-password');
    await dialog.getByLabel('Repeat the password').fill('another-passwort');
    await dialog.getByRole('button', { name: 'Create user' }).click();
    await dialog.getByRole('alert').filter({ hasText: 'The two passwords don’t match.' }).waitFor();
    assert.ok(await dialog.getByLabel('Repeat the password').evaluate((el) => el === document.activeElement), 'focus on the field to fix');
    await assertAccessible(page, 'the create-user dialog with an error');

    // A duplicate name: the dialog stays open and shows the error in words with its code.
    await dialog.getByLabel('Repeat the password').fill('another-password');
    await dialog.getByRole('button', { name: 'Create user' }).click();
    const alert = dialog.getByRole('alert');
    await alert.waitFor();
    assert.match(await alert.innerText(), /already in use/);
    assert.match(await alert.innerText(), /user\.user_name\.conflict/);
    assert.equal(await dialog.getByLabel('User name').getAttribute('aria-invalid'), 'true');
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'detached' });

    const ops = page.locator('tr[data-user="ops"]');
    assert.match(await ops.innerText(), /Platform admin/);
    assert.match(await page.locator('tr[data-user="viewer"]').innerText(), /Platform viewer/);
    // Created date with its time zone, the exact time on hover, and who created the user.
    assert.match(await ops.innerText(), /by admin/);
    const created = ops.locator('time').first();
    assert.match(await created.innerText(), /UTC|GMT/);
    assert.match(await created.getAttribute('title'), /\d{2}:\d{2}:\d{2}.*\(\d{4}-\d{2}-\d{2}T/);
  });

  it('fits long values in the users table with every action visible', async () => {
    const admin = `Bearer ${await consoleToken(page)}`;
    const res = await call(server.url, 'POST', '/users', { auth: admin, body: {
      user_name: 'christopher.montgomery', full_name: 'Christopher Alexander Montgomery-Fitzwilliam', email: LONG_EMAIL,
      security: { password: CHRIS_PASSWORD, roles: [] } } });
    assert.equal(res.status, 200);
    await page.reload();
    const row = page.locator('tr[data-user="christopher.montgomery"]');
    await row.waitFor();
    // A role-less user's roles read "—", like any other empty cell.
    assert.equal(await row.locator('td[data-label="Roles"]').innerText(), '—');
    await checkFits(page);
    await screenshot(page, 'users');
  });

  it('signs out, and the old token is refused by the API', async () => {
    const token = await consoleToken(page);
    assert.equal((await call(server.url, 'GET', '/user', { auth: `Bearer ${token}` })).status, 200);
    await signOut(page);
    await page.getByText('You are signed out.').waitFor();
    assert.equal(await consoleToken(page), null);
    const res = await call(server.url, 'GET', '/user', { auth: `Bearer ${token}` });
    assert.equal(res.status, 401);
  });
});
