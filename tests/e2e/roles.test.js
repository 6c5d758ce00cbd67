// What each role may do in the console, against a real server: ops creates, edits, disables,
// enables and deletes users, and a deployment role sees only the account; a viewer gets read-only
// pages and the API refuses her edits; a user edits their profile and changes their password. Then,
// with those users: the users page at phone width, axe on every page at 1440×900 and 390×844, and
// a focus ring on every control. The users ops, viewer and one with a long email (with an API key)
// and the trust setting turned off are made through the API first, as console.test.js and
// keys.test.js leave them; the steps build on each other and run in order.

import { describe, it, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import {
  startServer, launchBrowser, openPage, screenshot, call, consoleToken, signIn, signOut, go, assertAccessible, overflow,
} from './harness.js';
import { OPS_PASSWORD, VIEWER_PASSWORD, CHRIS_PASSWORD, endOfStep, checkFits, createTheUsers } from './cast.js';

const DANA_PASSWORD = 'dana-password-1';
const PHONE = { width: 390, height: 844 };

describe('ECE identity console', () => {
  let server;
  let browser;
  let page;

  before(async () => {
    server = await startServer();
    const admin = await createTheUsers(server.url);
    assert.equal((await call(server.url, 'PUT', '/account', { auth: admin, body: { trust: { trust_all: false } } })).status, 200);
    // One key left in everybody's list, as keys.test.js leaves it.
    const login = await call(server.url, 'POST', '/users/auth/_login', { body: { username: 'christopher.montgomery', password: CHRIS_PASSWORD } });
    const chris = `Bearer ${login.body.token}`;
    assert.equal((await call(server.url, 'POST', '/users/auth/keys', { auth: chris, body: { description: 'chris ci', expiration: '30d' } })).status, 201);
    await call(server.url, 'POST', '/users/auth/_logout', { auth: chris });
    browser = await launchBrowser();
    page = await openPage(browser, server.url);
    await signIn(page, 'ops', OPS_PASSWORD);
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  afterEach((t) => endOfStep(page, t));

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
