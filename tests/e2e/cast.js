// The cast of the console suites (console, keys and roles .test.js): the users the steps sign in
// as, the users that keys.test.js and roles.test.js create through the API because the steps of
// console.test.js that made them ran against another server, and the checks all three use.

import assert from 'node:assert/strict';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { call, createUsers, ADMIN_PASSWORD } from './harness.js';

export const OPS_PASSWORD = 'ops-password-1';
export const VIEWER_PASSWORD = 'viewer-password-1';
export const CHRIS_PASSWORD = 'chris-password-1';
export const LONG_EMAIL = 'christopher.montgomery@engineering.example.com';

/**
 * After each step: the page's last state as a picture in the temporary directory (for debugging a
 * failure; not part of the docs), and no script errors or requests that left the server.
 */
export async function endOfStep(page, t) {
  await page.screenshot({ path: join(tmpdir(), `ece-e2e-${t.name.replace(/\W+/g, '-').slice(0, 40)}.png`) }).catch(() => {});
  const problems = page.problems.splice(0);
  assert.deepEqual(problems, [], 'no script errors and no requests leaving the server');
}

/**
 * The users table fits its card and the window, and every row's actions are inside both; every
 * cell's text is inside the window.
 */
export async function checkFits(page) {
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

/** The users the earlier steps of console.test.js create (ops, viewer, a long email), through the API. */
export async function createTheUsers(base) {
  const login = await call(base, 'POST', '/users/auth/_login', { body: { username: 'admin', password: ADMIN_PASSWORD } });
  assert.equal(login.status, 200, 'admin signs in');
  const admin = `Bearer ${login.body.token}`;
  await createUsers(base, admin, [
    { user_name: 'ops', full_name: 'Olivia Ops', email: 'ops@example.com', security: { password: OPS_PASSWORD, roles: ['ece_platform_admin'] } },
    { user_name: 'viewer', full_name: 'Victor Viewer', email: 'viewer@example.com', security: { password: VIEWER_PASSWORD, roles: ['ece_platform_viewer'] } },
    { user_name: 'christopher.montgomery', full_name: 'Christopher Alexander Montgomery-Fitzwilliam', email: LONG_EMAIL,
      security: { password: CHRIS_PASSWORD, roles: [] } },
  ], 1);
  return admin;
}
