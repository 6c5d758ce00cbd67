// End-to-end tests of the web console against a real server. The steps build on each other
// (admin creates ops and viewer, ops creates keys and users, ...) and run in order.

import { describe, it, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  startServer, launchBrowser, openPage, screenshot, call, consoleToken, signIn, signOut, go, ADMIN_PASSWORD,
} from './harness.js';

const OPS_PASSWORD = 'ops-password-1';
const VIEWER_PASSWORD = 'viewer-password-1';
const DANA_PASSWORD = 'dana-password-1';

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
      await dialog.getByLabel('Password').fill(password);
      await dialog.getByRole('checkbox', { name: new RegExp(`^${role}`) }).check();
      if (name === 'ops') await screenshot(page, 'users-create');
      await dialog.getByRole('button', { name: 'Create user' }).click();
      await dialog.waitFor({ state: 'detached' });
      await page.locator(`tr[data-user="${name}"]`).waitFor();
    }

    // A duplicate name: the dialog stays open and shows the error in words with its code.
    await page.getByRole('button', { name: 'Create user' }).click();
    const dialog = page.getByRole('dialog', { name: 'Create user' });
    await dialog.getByLabel('User name').fill('ops');
    await dialog.getByLabel('Password').fill('another-password');
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
    const row = page.locator('tr', { hasText: 'e2e deploy script' });
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
    assert.equal((await call(server.url, 'GET', '/user', { auth: `ApiKey ${key}` })).status, 401);
  });

  it('lets ops create, edit, disable and enable a user who can then sign in', async () => {
    await go(page, 'Users');
    await page.getByRole('button', { name: 'Create user' }).click();
    let dialog = page.getByRole('dialog', { name: 'Create user' });
    await dialog.getByLabel('User name').fill('dana');
    await dialog.getByLabel('Password').fill(DANA_PASSWORD);
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

    await signOut(page);
    await signIn(page, 'dana', DANA_PASSWORD);
    assert.equal(await page.getByTestId('whoami').innerText(), 'Dana Deploy');
    // Deployment roles see the account but not the users.
    const nav = page.getByRole('navigation', { name: 'Console' });
    assert.equal(await nav.getByRole('link', { name: 'Users' }).count(), 0);
    assert.equal(await nav.getByRole('link', { name: 'Account' }).count(), 1);
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

    // Mismatched passwords are caught before calling the API.
    await page.getByLabel('New password', { exact: true }).fill('new-viewer-password');
    await page.getByLabel('Repeat the new password').fill('something-else');
    await page.getByRole('button', { name: 'Change password' }).click();
    await page.getByText('The two passwords don’t match.').waitFor();
    await page.getByLabel('Repeat the new password').fill('new-viewer-password');
    await page.getByRole('button', { name: 'Change password' }).click();
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
    const phone = await openPage(browser, server.url, { width: 390, height: 844 });
    try {
      await signIn(phone, 'ops', OPS_PASSWORD);
      await go(phone, 'Users');
      await phone.locator('tr[data-user="dana"]').waitFor();
      const overflow = await phone.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      assert.ok(overflow <= 0, `no horizontal scrolling (overflow ${overflow}px)`);
      await screenshot(phone, 'users-narrow');
      await signOut(phone);
      assert.deepEqual(phone.problems, []);
    } finally {
      await phone.context().close();
    }
  });
});
