// The console shell: sign-in gate, header, navigation and hash routing (#/account, #/keys, ...).

import * as session from './session.js';
import { get, ApiError } from './api.js';
import { h, button, errorBox, pageHead } from './ui.js';
import { roleLabel } from './format.js';
import * as login from './pages/login.js';
import * as account from './pages/account.js';
import * as keys from './pages/keys.js';
import * as users from './pages/users.js';
import * as profile from './pages/profile.js';

const ICONS = {
  account: 'M4 21V5a2 2 0 0 1 2-2h8a2 2 0 0 1 2 2v16M16 9h2a2 2 0 0 1 2 2v10M2 21h20M8 7h4M8 11h4M8 15h4',
  keys: 'M15 7a4 4 0 1 1-3.9 4.9L4 19v2h3v-2h2v-2h2l1.1-1.1A4 4 0 0 1 15 7zm1.5 2.5h.01',
  users: 'M16 20v-1.5a4 4 0 0 0-4-4H7a4 4 0 0 0-4 4V20M9.5 11a3.5 3.5 0 1 0 0-7 3.5 3.5 0 0 0 0 7zM21 20v-1.5a4 4 0 0 0-3-3.85M15.5 4.15a3.5 3.5 0 0 1 0 6.7',
  profile: 'M12 12a4 4 0 1 0 0-8 4 4 0 0 0 0 8zM4 21a8 8 0 0 1 16 0',
};

const PAGES = [
  { id: 'account', title: 'Account', module: account, visible: (ctx) => ctx.can('get-current-account') },
  { id: 'keys', title: 'API keys', module: keys, visible: () => true },
  { id: 'users', title: 'Users', module: users, visible: (ctx) => ctx.can('get-users') },
  { id: 'profile', title: 'My profile', module: profile, visible: () => true },
];

const app = document.getElementById('app');
let ctx = null;
let endNotice = null;

function icon(name) {
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('fill', 'none');
  svg.setAttribute('stroke', 'currentColor');
  svg.setAttribute('stroke-width', '1.8');
  svg.setAttribute('stroke-linecap', 'round');
  svg.setAttribute('stroke-linejoin', 'round');
  svg.setAttribute('aria-hidden', 'true');
  const path = document.createElementNS(ns, 'path');
  path.setAttribute('d', ICONS[name]);
  svg.append(path);
  return svg;
}

function makeContext(me) {
  const perms = new Set(me.security?.permissions || []);
  return {
    me,
    can: (op) => perms.has(op),
    async reloadMe() {
      ctx = makeContext(await get('/user'));
      renderShell();
    },
  };
}

function currentRoute() {
  const id = location.hash.replace(/^#\/?/, '').split(/[/?]/)[0];
  const visible = PAGES.filter((p) => p.visible(ctx));
  return visible.find((p) => p.id === id) || visible[0];
}

function renderShell() {
  const page = currentRoute();
  if (`#/${page.id}` !== location.hash) history.replaceState(null, '', `#/${page.id}`);
  const me = ctx.me;
  const signOut = button('Sign out', { small: true, onClick: () => session.logout() });
  const main = h('main', { id: 'main', tabindex: '-1' });
  const skip = h('a', { class: 'skip-link btn', href: '#main', onClick: (e) => { e.preventDefault(); main.focus(); } }, 'Skip to content');
  app.replaceChildren(
    skip,
    h('header', { class: 'topbar' },
      h('a', { class: 'brand', href: '#/' + PAGES.find((p) => p.visible(ctx)).id },
        h('img', { src: '/console/favicon.svg', alt: '' }),
        h('span', { class: 'brand-name' }, 'Elastic Cloud Enterprise', h('span', { class: 'brand-sub' }, 'Identity console'))),
      h('div', { class: 'whoami' },
        h('div', { 'data-testid': 'whoami' }, me.full_name || me.user_name),
        h('div', { class: 'role' }, (me.security?.roles || []).map(roleLabel).join(', ') || 'No roles')),
      signOut),
    h('div', { class: 'layout' },
      h('nav', { class: 'sidenav', 'aria-label': 'Console' },
        h('ul', {}, PAGES.filter((p) => p.visible(ctx)).map((p) => h('li', {},
          h('a', { href: `#/${p.id}`, 'aria-current': p.id === page.id ? 'page' : null }, icon(p.id), p.title))))),
      main),
  );
  document.title = `${page.title} · ECE identity console`;
  renderPage(page, main);
}

async function renderPage(page, main) {
  try {
    await page.module.render(main, ctx);
  } catch (err) {
    main.replaceChildren(pageHead(page.title), errorBox(err));
    if (!(err instanceof ApiError)) console.error(err);
  }
  const focusTarget = main.querySelector('h1');
  if (document.activeElement === document.body || document.activeElement?.closest('nav')) focusTarget?.focus();
}

function showLogin() {
  ctx = null;
  document.querySelectorAll('dialog').forEach((d) => d.close());
  document.title = 'Sign in · ECE identity console';
  login.render(app, { notice: endNotice, onSignedIn: enter });
  endNotice = null;
}

async function enter() {
  try {
    ctx = makeContext(await get('/user'));
  } catch (err) {
    if (!session.token()) return; // 401: the session listener shows the sign-in page
    app.replaceChildren(h('main', { id: 'main' }, errorBox(err), button('Try again', { kind: 'primary', onClick: enter })));
    return;
  }
  renderShell();
}

session.onEnd((reason) => {
  endNotice = reason === 'expired' ? 'Your session has ended. Sign in again to continue.' : 'You are signed out.';
  showLogin();
});

window.addEventListener('hashchange', () => { if (ctx) renderShell(); });

if (session.restore()) enter();
else showLogin();
