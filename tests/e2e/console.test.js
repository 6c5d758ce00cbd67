// End-to-end tests of the web console against a real server. The steps build on each other
// (admin creates ops and viewer, ops creates keys and users, ...) and run in order.

import { describe, it, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import http from 'node:http';
import { gunzipSync, brotliDecompressSync } from 'node:zlib';
import {
  startServer, launchBrowser, openPage, screenshot, call, consoleToken, signIn, signOut, go, ADMIN_PASSWORD,
  assertAccessible, overflow,
} from './harness.js';

const OPS_PASSWORD = 'ops-password-1';
const VIEWER_PASSWORD = 'viewer-password-1';
const DANA_PASSWORD = 'dana-password-1';
const CHRIS_PASSWORD = 'chris-password-1';
const LONG_EMAIL = 'christopher.montgomery@engineering.example.com';
const PHONE = { width: 390, height: 844 };

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

/**
 * The users table fits its card and the window, and every row's actions are inside both; every
 * cell's text is inside the window.
 */
async function checkFits(page) {
  const problems = await page.evaluate(() => {
    const out = [];
    const card = document.querySelector('.card-table');
    const box = card.getBoundingClientRect();
    const table = card.querySelector('table');
    if (table.getBoundingClientRect().width > box.width + 1) out.push(`table ${table.getBoundingClientRect().width}px wide in a ${box.width}px card`);
    for (const el of card.querySelectorAll('tbody td, tbody button, tbody a')) {
      const r = el.getBoundingClientRect();
      if (r.right > Math.min(box.right, window.innerWidth) + 1 || r.left < box.left - 1) out.push(`${el.tagName} ${el.textContent.slice(0, 40)} at ${r.left}-${r.right}`);
      if (el.tagName === 'TD' && el.scrollWidth > el.clientWidth + 1) out.push(`cell ${el.textContent.slice(0, 40)} overflows`);
    }
    if (document.documentElement.scrollWidth > window.innerWidth) out.push('the page scrolls sideways');
    return out;
  });
  assert.deepEqual(problems, []);
  for (const name of ['Edit user christopher.montgomery', 'Disable user christopher.montgomery', 'Delete user christopher.montgomery']) {
    assert.ok(await page.getByRole('button', { name }).isVisible(), `${name} is visible`);
  }
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

  afterEach(async (t) => {
    // The last state of each test, for debugging a failure (not part of the docs).
    await page.screenshot({ path: join(tmpdir(), `ece-e2e-${t.name.replace(/\W+/g, '-').slice(0, 40)}.png`) }).catch(() => {});
    const problems = page.problems.splice(0);
    assert.deepEqual(problems, [], 'no script errors and no requests leaving the server');
  });

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

  it('lets ops create, edit, disable and enable a user who can then sign in', async () => {
    await go(page, 'Users');
    await page.getByRole('button', { name: 'Create user' }).click();
    let dialog = page.getByRole('dialog', { name: 'Create user' });
    await dialog.getByLabel('User name').fill('dana');
    await dialog.getByLabel('Password', { exact: true }).fill(DANA_PASSWORD);
    await dialog.getByLabel('Repeat the password').fill(DANA_PASSWORD);
    await dialog.getByRole('checkbox', { name: /^Deployment viewer/ }).check();
    await dialog.getByRole('button', { name: 'Create user' }).click();
    const row = page.locator('tr[data-user="dana"]');
    await row.waitFor();

    await row.getByRole('button', { name: 'Edit user dana' }).click();
    dialog = page.getByRole('dialog', { name: 'Edit dana' });
    await dialog.getByLabel('Full name').fill('Dana Deploy');
    await dialog.getByRole('checkbox', { name: /^Deployment manager/ }).check();
    await dialog.getByRole('button', { name: 'Save changes' }).click();
    await dialog.waitFor({ state: 'detached' });
    await row.getByText('Deployment manager').waitFor();
    const ops = `Bearer ${await consoleToken(page)}`;
    const dana = await call(server.url, 'GET', '/users/dana', { auth: ops });
    assert.equal(dana.body.full_name, 'Dana Deploy');
    assert.deepEqual([...dana.body.security.roles].sort(), ['ece_deployment_manager', 'ece_deployment_viewer']);

    await row.getByRole('button', { name: 'Disable user dana' }).click();
    await page.getByRole('dialog', { name: 'Disable dana?' }).getByRole('button', { name: 'Disable user' }).click();
    await row.getByText('Disabled', { exact: true }).waitFor();
    assert.equal((await call(server.url, 'POST', '/users/auth/_login', { body: { username: 'dana', password: DANA_PASSWORD } })).status, 401);
    await row.getByRole('button', { name: 'Enable user dana' }).click();
    await row.getByText('Enabled', { exact: true }).waitFor();
    assert.ok(await row.getByRole('button', { name: 'Disable user dana' }).evaluate((el) => el === document.activeElement), 'focus back on the toggle');

    // Your own row: no role checkboxes and no password (the API refuses the first, and the
    // second belongs on My profile, behind the current password); the rest saves.
    await page.locator('tr[data-user="ops"]').getByRole('button', { name: 'Edit user ops' }).click();
    dialog = page.getByRole('dialog', { name: 'Edit ops' });
    assert.equal(await dialog.getByRole('checkbox').count(), 0);
    assert.equal(await dialog.getByLabel('New password', { exact: true }).count(), 0);
    await dialog.getByText('You can’t change your own roles').waitFor();
    await dialog.getByLabel('Full name').fill('Olivia Operator');
    await dialog.getByRole('button', { name: 'Save changes' }).click();
    await dialog.waitFor({ state: 'detached' });
    await page.locator('tr[data-user="ops"]').getByText('Olivia Operator').waitFor();

    // After a delete, focus goes to the row that took its place.
    for (const name of ['temp-a', 'temp-b']) {
      assert.equal((await call(server.url, 'POST', '/users', { auth: ops, body: { user_name: name, security: { password: 'temp-password', roles: [] } } })).status, 200);
    }
    await page.reload();
    await page.locator('tr[data-user="temp-b"]').waitFor();
    await page.getByRole('button', { name: 'Delete user temp-a' }).click();
    await page.getByRole('dialog', { name: 'Delete temp-a?' }).getByRole('button', { name: 'Delete user' }).click();
    await page.locator('tr[data-user="temp-a"]').waitFor({ state: 'detached' });
    assert.equal(await page.evaluate(() => document.activeElement?.getAttribute('aria-label')), 'Edit user temp-b');
    await page.getByRole('button', { name: 'Delete user temp-b' }).click();
    await page.getByRole('dialog', { name: 'Delete temp-b?' }).getByRole('button', { name: 'Delete user' }).click();
    await page.locator('tr[data-user="temp-b"]').waitFor({ state: 'detached' });

    await signOut(page);
    await signIn(page, 'dana', DANA_PASSWORD);
    assert.equal(await page.getByTestId('whoami').innerText(), 'Dana Deploy');
    // Deployment roles see the account but not the users.
    const nav = page.getByRole('navigation', { name: 'Console' });
    assert.equal(await nav.getByRole('link', { name: 'Users' }).count(), 0);
    assert.equal(await nav.getByRole('link', { name: 'Account' }).count(), 1);
    // Opening the users page anyway says why it shows Account instead.
    await page.goto('/#/users');
    await page.getByRole('heading', { level: 1, name: 'Account' }).waitFor();
    await page.getByText('You can’t open Users').waitFor();
    await signOut(page);
  });

  it('gives a viewer read-only pages, and the API refuses its edits', async () => {
    await signIn(page, 'viewer', VIEWER_PASSWORD);
    await go(page, 'Users');
    await page.locator('tr[data-user="ops"]').waitFor();
    await page.getByText('You can see users but not change them.').waitFor();
    for (const name of ['Create user', /^Edit user/, /^Disable user/, /^Delete user/]) {
      assert.equal(await page.getByRole('button', { name }).count(), 0, `no ${name} button`);
    }
    await screenshot(page, 'users-read-only');
    // Everybody's keys, read-only.
    await go(page, 'API keys');
    const all = page.locator('#all-keys');
    await all.locator('tbody tr').first().waitFor();
    await all.getByText('only platform admins can revoke them').waitFor();
    assert.equal(await all.getByRole('button', { name: /Revoke/ }).count(), 0);
    assert.equal(await all.getByRole('checkbox').count(), 0);
    await go(page, 'Account');
    assert.ok(await page.getByRole('switch', { name: /Trust all deployments/ }).isDisabled());
    assert.equal(await page.getByRole('button', { name: 'Save changes' }).count(), 0);

    const auth = `Bearer ${await consoleToken(page)}`;
    const create = await call(server.url, 'POST', '/users', { auth, body: { user_name: 'mallory', security: { password: 'mallory-pass', roles: [] } } });
    assert.equal(create.status, 403);
    assert.equal(create.body.errors[0].code, 'root.unauthorized.rbac');
    assert.equal((await call(server.url, 'PUT', '/account', { auth, body: { trust: { trust_all: true } } })).status, 403);
    assert.equal((await call(server.url, 'PATCH', '/users/dana', { auth, body: { security: { enabled: false } } })).status, 403);
    assert.equal((await call(server.url, 'DELETE', '/users/dana', { auth })).status, 403);
  });

  it('lets a user edit their profile and change their password', async () => {
    await go(page, 'My profile');
    await page.getByLabel('Full name').fill('Victoria Viewer');
    await page.getByLabel('Email').fill('victoria@example.com');
    await page.getByRole('button', { name: 'Save profile' }).click();
    await page.getByText('Profile saved.').waitFor();
    assert.equal(await page.getByTestId('whoami').innerText(), 'Victoria Viewer');

    // The current password is asked for; mismatched new ones are caught before calling the API
    // and announced.
    const form = page.getByRole('form', { name: 'Change password' });
    await form.getByLabel('New password', { exact: true }).fill('new-viewer-password');
    await form.getByLabel('Repeat the new password').fill('new-viewer-password');
    await form.getByRole('button', { name: 'Change password' }).click();
    await form.getByRole('alert').filter({ hasText: 'Enter your current password.' }).waitFor();
    await form.getByLabel('Current password').fill('not-my-password');
    await form.getByLabel('Repeat the new password').fill('something-else');
    await form.getByRole('button', { name: 'Change password' }).click();
    await form.getByRole('alert').filter({ hasText: 'The two passwords don’t match.' }).waitFor();
    await form.getByLabel('Repeat the new password').fill('new-viewer-password');
    await form.getByRole('button', { name: 'Change password' }).click();
    await form.getByRole('alert').filter({ hasText: 'The current password is wrong.' }).waitFor();
    assert.equal((await call(server.url, 'POST', '/users/auth/_login', { body: { username: 'viewer', password: VIEWER_PASSWORD } })).status, 200, 'not changed');
    await form.getByLabel('Current password').fill(VIEWER_PASSWORD);
    await form.getByRole('button', { name: 'Change password' }).click();
    await page.getByText('Password changed.').waitFor();
    await screenshot(page, 'profile');

    const me = await call(server.url, 'GET', '/user', { auth: `Bearer ${await consoleToken(page)}` });
    assert.equal(me.status, 200, 'this session survives its own password change');
    assert.equal(me.body.full_name, 'Victoria Viewer');
    assert.equal(me.body.email, 'victoria@example.com');
    assert.equal((await call(server.url, 'POST', '/users/auth/_login', { body: { username: 'viewer', password: VIEWER_PASSWORD } })).status, 401);
    await signOut(page);
    await signIn(page, 'viewer', 'new-viewer-password');
    await signOut(page);
  });

  it('works on a narrow screen', async () => {
    const phone = await openPage(browser, server.url, PHONE);
    try {
      await signIn(phone, 'ops', OPS_PASSWORD);
      // The header still says who is signed in.
      assert.ok(await phone.getByTestId('whoami').isVisible());
      assert.equal(await phone.getByTestId('whoami').innerText(), 'Olivia Operator');
      await go(phone, 'Users');
      await phone.locator('tr[data-user="christopher.montgomery"]').waitFor();
      assert.equal((await overflow(phone)).x, 0, 'no horizontal scrolling');
      await checkFits(phone);
      await screenshot(phone, 'users-narrow');
      await signOut(phone);
      assert.deepEqual(phone.problems, []);
    } finally {
      await phone.context().close();
    }
  });

  it('has no serious accessibility problems on any page, at 1440×900 and 390×844', async () => {
    for (const viewport of [{ width: 1440, height: 900 }, PHONE]) {
      const p = await openPage(browser, server.url, viewport);
      const size = `${viewport.width}×${viewport.height}`;
      try {
        await p.goto('/');
        await p.getByLabel('User name').waitFor();
        await assertAccessible(p, `sign-in at ${size}`);
        for (const [user, password] of [['ops', OPS_PASSWORD], ['viewer', 'new-viewer-password']]) {
          await signIn(p, user, password);
          for (const name of ['Account', 'API keys', 'Users', 'My profile']) {
            await go(p, name);
            await p.locator('.loading').waitFor({ state: 'detached' });
            if (name === 'Users') await p.locator('tr[data-user="dana"]').waitFor();
            if (name === 'API keys') await p.locator('#all-keys tbody tr').first().waitFor();
            await assertAccessible(p, `${name} of ${user} at ${size}`);
            // Every focusable control shows a focus ring.
            if (name === 'Users' && user === 'ops') {
              await p.getByRole('button', { name: 'Create user' }).click();
              await assertAccessible(p, `create-user dialog at ${size}`);
              await p.keyboard.press('Escape');
            }
          }
          await signOut(p);
        }
        assert.deepEqual(p.problems, []);
      } finally {
        await p.context().close();
      }
    }
  });

  it('shows a focus ring on every control', async () => {
    await signIn(page, 'ops', OPS_PASSWORD);
    await go(page, 'Users');
    await page.locator('tr[data-user="dana"]').waitFor();
    // Tab through the page from the top: each focused element draws an outline of at least 2 px.
    await page.locator('h1').focus();
    const seen = new Set();
    for (let i = 0; i < 40; i += 1) {
      await page.keyboard.press('Tab');
      const ring = await page.evaluate(() => {
        const el = document.activeElement;
        if (!el || el === document.body) return null;
        const cs = getComputedStyle(el);
        return { what: `${el.tagName} ${el.getAttribute('aria-label') || el.textContent.trim().slice(0, 20)}`, style: cs.outlineStyle, width: parseFloat(cs.outlineWidth) };
      });
      if (!ring) continue;
      seen.add(ring.what);
      assert.ok(ring.style !== 'none' && ring.width >= 2, `visible focus on ${ring.what}: ${ring.style} ${ring.width}px`);
    }
    assert.ok(seen.size >= 20, `tabbed through ${seen.size} controls`);
    await signOut(page);
  });
});
