// The Security realms page: a platform admin creates, edits (the bind password kept), reorders and
// deletes LDAP / Active Directory realms through the console; a stale edit shows the version
// conflict; a platform viewer sees everything read-only; a user without platform roles doesn't
// see the page at all; a directory user signs in on the same form (a real slapd) and sees their
// profile read-only. The steps build on each other and run in order.

import { describe, it, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  startServer, launchBrowser, openPage, screenshot, call, consoleToken, signIn, signOut, go, ADMIN_PASSWORD, assertAccessible, overflow,
} from './harness.js';
import { startSlapd, slapdInstalled, SUFFIX } from './slapd.js';

const REALMS = '/platform/configuration/security/realms';
const VIEWER_PASSWORD = 'viewer-password-1';
const NOBODY_PASSWORD = 'nobody-password-1';
// Without slapd the directory test is skipped, loudly, except under CI=true (run.sh's default),
// where it must run.
const NO_SLAPD = !slapdInstalled() && process.env.CI !== 'true' && 'slapd is not installed (apt-get install slapd)';

describe('security realms in the console', () => {
  let server;
  let browser;
  let page;
  let admin; // Authorization header of an API session of the admin

  const realmIds = async () => (await call(server.url, 'GET', REALMS, { auth: admin })).body.realms.map((r) => r.id);
  const overflowX = async (p) => (await overflow(p)).x;
  const realmBody = (req) => {
    try { return JSON.parse(req.postData() || 'null'); } catch { return null; }
  };

  before(async () => {
    server = await startServer();
    const login = await call(server.url, 'POST', '/users/auth/_login', { body: { username: 'admin', password: ADMIN_PASSWORD } });
    assert.equal(login.status, 200);
    admin = `Bearer ${login.body.token}`;
    for (const [user_name, password, roles] of [['viewer', VIEWER_PASSWORD, ['ece_platform_viewer']], ['nobody', NOBODY_PASSWORD, []]]) {
      const res = await call(server.url, 'POST', '/users', { auth: admin, body: { user_name, security: { password, roles, enabled: true } } });
      assert.equal(res.status, 200, JSON.stringify(res.body));
    }
    browser = await launchBrowser();
    page = await openPage(browser, server.url);
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  afterEach(async (t) => {
    await page.screenshot({ path: join(tmpdir(), `ece-e2e-realms-${t.name.replace(/\W+/g, '-').slice(0, 40)}.png`) }).catch(() => {});
    const problems = page.problems.splice(0);
    assert.deepEqual(problems, [], 'no script errors and no requests leaving the server');
  });

  it('an admin creates an LDAP realm through the form', async () => {
    await signIn(page, 'admin', ADMIN_PASSWORD);
    await go(page, 'Security realms');
    await page.locator('tr[data-realm="native"]').waitFor();
    await page.getByRole('link', { name: 'Add LDAP realm' }).click();
    await page.getByRole('heading', { level: 1, name: 'New LDAP realm' }).waitFor();

    await page.getByLabel('Id', { exact: true }).fill('corp');
    await page.getByLabel('Name', { exact: true }).fill('Corporate LDAP');
    await page.getByLabel('URLs', { exact: true }).fill('ldap://127.0.0.1:1\nldap://127.0.0.1:2');
    await page.getByLabel('Bind type').selectOption('user_search');
    await page.getByLabel('User search base DN').fill('ou=people,dc=example,dc=org');
    await page.getByLabel('Bind DN', { exact: true }).fill('cn=reader,dc=example,dc=org');
    await page.getByLabel('Bind password').fill('bind-secret-1');
    await page.getByLabel('Group search base DN').fill('ou=groups,dc=example,dc=org');
    await page.getByRole('group', { name: 'Default roles' }).getByLabel('Platform viewer').check();
    await page.getByRole('button', { name: 'Add rule' }).click();
    const rule = page.locator('[data-rule]').first();
    await rule.getByLabel('Match').selectOption('group_dn');
    await rule.getByLabel('Distinguished name').fill('cn=admins,ou=groups,dc=example,dc=org');
    await rule.getByLabel('Platform admin').check();
    await assertAccessible(page, 'the new-realm form');
    await screenshot(page, 'realm-form');

    const sent = page.waitForRequest((r) => r.method() === 'POST' && r.url().endsWith(`${REALMS}/ldap`));
    await page.getByRole('button', { name: 'Create realm' }).click();
    assert.equal(realmBody(await sent).bind_password, 'bind-secret-1');
    await page.locator('tr[data-realm="corp"]').waitFor();

    const got = await call(server.url, 'GET', `${REALMS}/ldap/corp`, { auth: admin });
    assert.equal(got.status, 200);
    assert.equal(got.body.name, 'Corporate LDAP');
    assert.deepEqual(got.body.urls, ['ldap://127.0.0.1:1', 'ldap://127.0.0.1:2']);
    assert.equal(got.body.bind_type, 'user_search');
    assert.equal(got.body.user_search.base_dn, 'ou=people,dc=example,dc=org');
    assert.equal(got.body.group_search.base_dn, 'ou=groups,dc=example,dc=org');
    assert.deepEqual(got.body.role_mappings, {
      default_roles: ['ece_platform_viewer'],
      rules: [{ type: 'group_dn', value: 'cn=admins,ou=groups,dc=example,dc=org', roles: ['ece_platform_admin'] }],
    });
    assert.equal(got.body.bind_password, undefined, 'the secret is never returned');
  });

  it('edits the realm, keeping the stored bind password', async () => {
    await page.getByRole('link', { name: 'Edit realm corp' }).click();
    await page.getByRole('heading', { level: 1, name: 'Corporate LDAP' }).waitFor();
    const password = page.getByLabel('Bind password');
    assert.equal(await password.inputValue(), '', 'the secret is not shown');
    assert.match(await page.locator('form[aria-label="Realm settings"]').innerText(), /Leave empty to keep the stored one/);
    await page.getByLabel('Name', { exact: true }).fill('Corporate directory');

    const sent = page.waitForRequest((r) => r.method() === 'PUT' && r.url().includes(`${REALMS}/ldap/corp?version=`));
    await page.getByRole('button', { name: 'Save changes' }).click();
    const body = realmBody(await sent);
    assert.equal(body.name, 'Corporate directory');
    assert.ok(!('bind_password' in body), 'an empty password field is left out: the server keeps the stored one');
    await page.locator('tr[data-realm="corp"]', { hasText: 'Corporate directory' }).waitFor();
    // The server refuses user_search without a bind password (bind_anonymously false): the save
    // went through because the stored password was kept.
    assert.equal((await call(server.url, 'GET', `${REALMS}/ldap/corp`, { auth: admin })).body.name, 'Corporate directory');
  });

  it('keeps a half-typed realm edit when the session ends, for after signing in again', async () => {
    await page.getByRole('link', { name: 'Edit realm corp' }).click();
    await page.getByRole('heading', { level: 1, name: 'Corporate directory' }).waitFor();
    await page.getByLabel('User search filter').fill('(mail={0})');
    await page.getByLabel('Bind password').fill('never-kept');
    // The session is revoked elsewhere; the next request (the save) is refused with 401.
    await call(server.url, 'POST', '/users/auth/_logout', { auth: `Bearer ${await consoleToken(page)}` });
    await page.getByRole('button', { name: 'Save changes' }).click();
    await page.getByText('What you had typed on the page (except passwords) is kept').waitFor();

    await page.getByLabel('User name').fill('admin');
    await page.getByLabel('Password').fill(ADMIN_PASSWORD);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.getByRole('heading', { level: 1, name: 'Corporate directory' }).waitFor();
    await page.getByText('What you had typed before your session ended is back').waitFor();
    assert.equal(await page.getByLabel('User search filter').inputValue(), '(mail={0})');
    assert.equal(await page.getByLabel('Bind password').inputValue(), '', 'passwords are never kept');
    assert.equal((await call(server.url, 'GET', `${REALMS}/ldap/corp`, { auth: admin })).body.user_search.filter, undefined, 'nothing was saved');
    // Leaving asks first (unsaved changes); discard them.
    await page.getByRole('link', { name: 'Back to realms' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Leave and discard' }).click();
    await page.locator('tr[data-realm="corp"]').waitFor();
  });

  it('reorders two realms with the up and down buttons', async () => {
    const ad = await call(server.url, 'POST', `${REALMS}/active-directory`, {
      auth: admin,
      body: { id: 'ad1', name: 'Active Directory', urls: ['ldap://127.0.0.1:3'], domain_name: 'corp.example.com', bind_anonymously: true },
    });
    assert.equal(ad.status, 201, JSON.stringify(ad.body));
    await page.reload();
    await page.locator('tr[data-realm="ad1"]').waitFor();
    assert.deepEqual(await realmIds(), ['native', 'corp', 'ad1']);
    assert.ok(await page.getByRole('button', { name: 'Move realm corp up' }).isDisabled(), 'the first realm can\u2019t move up');

    await page.getByRole('button', { name: 'Move realm ad1 up' }).click();
    await page.locator('tbody tr').nth(1).and(page.locator('[data-realm="ad1"]')).waitFor();
    assert.deepEqual(await realmIds(), ['native', 'ad1', 'corp']);
    await assertAccessible(page, 'the realms list');
    await screenshot(page, 'realms');

    await page.getByRole('button', { name: 'Move realm ad1 down' }).click();
    await page.locator('tbody tr').nth(1).and(page.locator('[data-realm="corp"]')).waitFor();
    assert.deepEqual(await realmIds(), ['native', 'corp', 'ad1']);

    // On a phone the rows stack; nothing scrolls sideways and every action stays reachable.
    await page.setViewportSize({ width: 390, height: 844 });
    assert.deepEqual(await overflowX(page), 0);
    assert.ok(await page.getByRole('button', { name: 'Delete realm ad1' }).isVisible());
    await assertAccessible(page, 'the realms list on a phone');
    await page.getByRole('link', { name: 'Edit realm corp' }).click();
    await page.getByRole('heading', { level: 1, name: 'Corporate directory' }).waitFor();
    assert.deepEqual(await overflowX(page), 0);
    await page.getByRole('link', { name: 'Back to realms' }).click();
    await page.locator('tr[data-realm="corp"]').waitFor();
    await page.setViewportSize({ width: 1440, height: 900 });
  });

  it('deletes a realm after asking', async () => {
    await page.getByRole('button', { name: 'Delete realm corp' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Delete realm' }).click();
    await page.locator('tr[data-realm="corp"]').waitFor({ state: 'detached' });
    assert.deepEqual(await realmIds(), ['native', 'ad1']);
  });

  it('a stale edit shows the conflict and loads the current settings', async () => {
    await page.getByRole('link', { name: 'Edit realm ad1' }).click();
    await page.getByRole('heading', { level: 1, name: 'Active Directory' }).waitFor();
    // Someone else changes the realm after the form was loaded.
    const other = await call(server.url, 'PUT', `${REALMS}/active-directory/ad1`, {
      auth: admin,
      body: { id: 'ad1', name: 'Changed elsewhere', urls: ['ldap://127.0.0.1:3'], domain_name: 'corp.example.com', bind_anonymously: true },
    });
    assert.equal(other.status, 200, JSON.stringify(other.body));

    await page.getByLabel('Name', { exact: true }).fill('My change');
    await page.getByRole('button', { name: 'Save changes' }).click();
    const alert = page.getByRole('alert').filter({ hasText: 'Changed by someone else' });
    await alert.waitFor();
    assert.match(await alert.innerText(), /security_realm\.version_conflict/);
    assert.equal((await call(server.url, 'GET', `${REALMS}/active-directory/ad1`, { auth: admin })).body.name, 'Changed elsewhere');
    await screenshot(page, 'realm-conflict');

    await alert.getByRole('button', { name: 'Load the current settings' }).click();
    await page.getByRole('heading', { level: 1, name: 'Changed elsewhere' }).waitFor();
    assert.equal(await page.getByLabel('Name', { exact: true }).inputValue(), 'Changed elsewhere');
    // Saving again (now at the current version) works.
    await page.getByLabel('Domain name').fill('ad.example.com');
    await page.getByRole('button', { name: 'Save changes' }).click();
    await page.locator('tr[data-realm="ad1"]').waitFor();
    assert.equal((await call(server.url, 'GET', `${REALMS}/active-directory/ad1`, { auth: admin })).body.domain_name, 'ad.example.com');
  });

  it('a SAML realm is edited as JSON (no form yet)', async () => {
    const saml = {
      id: 'okta', name: 'Okta',
      idp: { entity_id: 'http://www.okta.com/exk1', metadata_path: 'https://example.okta.com/app/exk1/sso/saml/metadata' },
      sp: { entity_id: 'https://ece.example.com', acs: 'https://ece.example.com/api/v1/users/auth/saml/_callback', logout: 'https://ece.example.com/logout' },
      attributes: { principal: 'nameid', groups: 'groups' },
    };
    const created = await call(server.url, 'POST', `${REALMS}/saml`, { auth: admin, body: saml });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    await go(page, 'API keys'); // away and back: the list is read again
    await go(page, 'Security realms');
    await page.getByRole('link', { name: 'Edit realm okta' }).click();
    await page.getByRole('heading', { level: 1, name: 'Okta' }).waitFor();
    assert.equal(await page.getByRole('form', { name: 'Realm settings', exact: true }).count(), 0, 'no form for SAML');
    const area = page.getByLabel('SAML settings as JSON');
    const doc = JSON.parse(await area.inputValue());
    assert.equal(doc.idp.entity_id, saml.idp.entity_id);
    doc.name = 'Okta SSO';
    await area.fill(JSON.stringify(doc));
    await page.getByRole('button', { name: 'Save JSON' }).click();
    await page.locator('tr[data-realm="okta"]').waitFor();
    assert.equal((await call(server.url, 'GET', `${REALMS}/saml/okta`, { auth: admin })).body.name, 'Okta SSO');
    const removed = await call(server.url, 'DELETE', `${REALMS}/saml/okta`, { auth: admin });
    assert.equal(removed.status, 200, JSON.stringify(removed.body));
  });

  it('a platform viewer sees the realms read-only', async () => {
    await signOut(page);
    await signIn(page, 'viewer', VIEWER_PASSWORD);
    await go(page, 'Security realms');
    await page.locator('tr[data-realm="ad1"]').waitFor();
    assert.match(await page.locator('main').innerText(), /Read-only/);
    for (const name of [/^Add /, /^Move realm/, /^Delete realm/]) {
      assert.equal(await page.getByRole('button', { name }).count(), 0, `no ${name} button`);
    }
    assert.equal(await page.getByRole('link', { name: /^Add / }).count(), 0);
    await assertAccessible(page, 'the realms list, read-only');

    await page.getByRole('link', { name: 'View realm ad1' }).click();
    await page.getByRole('heading', { level: 1, name: 'Changed elsewhere' }).waitFor();
    assert.ok(await page.getByLabel('Name', { exact: true }).isDisabled());
    assert.ok(await page.getByLabel('Domain name').isDisabled());
    assert.equal(await page.getByRole('button', { name: /Save|Create|Add rule|Remove rule/ }).count(), 0);
    await assertAccessible(page, 'a realm, read-only');
  });

  it('a user without platform roles doesn\u2019t see the page', async () => {
    await signOut(page);
    await signIn(page, 'nobody', NOBODY_PASSWORD);
    const nav = page.getByRole('navigation', { name: 'Console' });
    await nav.getByRole('link', { name: 'My profile' }).waitFor();
    assert.equal(await nav.getByRole('link', { name: 'Security realms' }).count(), 0);
    await page.goto('/#/realms');
    await page.getByRole('status').filter({ hasText: 'You can\u2019t open Security realms' }).waitFor();
  });

  it('a directory user signs in on the same form and sees their profile read-only', { skip: NO_SLAPD }, async () => {
    const slapd = await startSlapd([{ uid: 'dana', cn: 'Dana Directory', mail: 'dana@example.org', password: 'dana-dir-pw', groups: ['ece-viewers'] }]);
    try {
      const realm = await call(server.url, 'POST', `${REALMS}/ldap`, {
        auth: admin,
        body: {
          id: 'dir', name: 'Test directory', urls: [slapd.url], bind_anonymously: true, bind_type: 'user_templates',
          user_dn_templates: [`uid={0},ou=people,${SUFFIX}`],
          group_search: { base_dn: `ou=groups,${SUFFIX}` },
          role_mappings: { default_roles: [], rules: [{ type: 'group_dn', value: `cn=ece-viewers,ou=groups,${SUFFIX}`, roles: ['ece_platform_viewer'] }] },
        },
      });
      assert.equal(realm.status, 201, JSON.stringify(realm.body));

      await signOut(page);
      await signIn(page, 'dana', 'dana-dir-pw');
      assert.match(await page.getByRole('banner').innerText(), /Platform viewer/);
      await go(page, 'My profile');
      const main = page.locator('main');
      assert.match(await main.innerText(), /You sign in through the LDAP realm dir/);
      assert.ok(await page.getByLabel('Full name').isDisabled());
      assert.ok(await page.getByLabel('Email').isDisabled());
      assert.equal(await page.getByRole('button', { name: /Save profile|Change password/ }).count(), 0);
      assert.equal(await page.getByLabel('Current password').count(), 0);
      await assertAccessible(page, 'a directory user\u2019s profile');
      await screenshot(page, 'profile-directory-user');

      // An admin sees the directory user in the users list, without the edits the API refuses.
      const adminPage = await openPage(browser, server.url);
      try {
        await signIn(adminPage, 'admin', ADMIN_PASSWORD);
        await go(adminPage, 'Users');
        const row = adminPage.locator('tr[data-user="dana"]');
        await row.waitFor();
        assert.match(await row.innerText(), /Realm dir/);
        assert.match(await row.innerText(), /Managed by its realm/);
        assert.equal(await row.getByRole('button', { name: /Edit|Disable|Delete/ }).count(), 0);
        assert.deepEqual(adminPage.problems, []);
      } finally {
        await adminPage.context().close();
      }
    } finally {
      await slapd.stop();
    }
  });
});
