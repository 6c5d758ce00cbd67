// The console shell: sign-in gate, header, navigation and hash routing (#/account, #/keys, ...).

import * as session from './session.js';
import * as sso from './sso.js';
import { api, get, ApiError } from './api.js';
import { h, button, errorBox, pageHead, callout, confirmDialog, toast } from './ui.js';
import { roleLabel, formatTime } from './format.js';
import { isDirty, saveDraft, takeDraft, applyDraft } from './guard.js';
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
  realms: 'M12 3l8 3v6c0 4.5-3.4 8.2-8 9-4.6-.8-8-4.5-8-9V6l8-3zM9 12l2 2 4-4',
};

// Loaded when first opened: a page only platform admins and viewers see need not load for
// everybody (and an asset missing from the server breaks that page alone, not the console).
const lazy = (load) => ({ render: async (main, ctx) => (await load()).render(main, ctx) });
const realms = lazy(() => import('./pages/realms.js'));

const PAGES = [
  { id: 'account', title: 'Account', module: account, visible: (ctx) => ctx.can('get-current-account') },
  { id: 'keys', title: 'API keys', module: keys, visible: () => true },
  { id: 'users', title: 'Users', module: users, visible: (ctx) => ctx.can('get-users') },
  { id: 'realms', title: 'Security realms', module: realms, visible: (ctx) => ctx.can('get-security-realm-configurations') },
  { id: 'profile', title: 'My profile', module: profile, visible: () => true },
];

const app = document.getElementById('app');
const LOGO = new URL('../favicon.svg', import.meta.url).href;
let ctx = null;
let endNotice = null;
let shownHash = null; // the hash of the page on screen, to go back to when leaving is cancelled
let draft = null; // input kept from a session that ended, put back after signing in again
let ssoError = null; // why a single sign-on hand-off was refused, for the sign-in page

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

const routeId = () => location.hash.replace(/^#\/?/, '').split(/[/?]/)[0];

function currentRoute() {
  const visible = PAGES.filter((p) => p.visible(ctx));
  return visible.find((p) => p.id === routeId()) || visible[0];
}

const mainEl = () => document.getElementById('main');

function renderShell() {
  const page = currentRoute();
  // A page this user may not open is named, not silently swapped for another.
  const denied = PAGES.find((p) => p.id === routeId() && p !== page);
  if (routeId() !== page.id) history.replaceState(null, '', `#/${page.id}`);
  shownHash = location.hash;
  const me = ctx.me;
  const signOut = button('Sign out', { small: true, onClick: () => leaveIfClean(() => session.logout()) });
  const main = h('main', { id: 'main', tabindex: '-1' });
  const skip = h('a', { class: 'skip-link btn', href: '#main', onClick: (e) => { e.preventDefault(); main.focus(); } }, 'Skip to content');
  const roles = (me.security?.roles || []).map(roleLabel).join(', ') || 'No roles';
  app.replaceChildren(
    skip,
    h('header', { class: 'topbar' },
      h('a', { class: 'brand', href: '#/' + PAGES.find((p) => p.visible(ctx)).id },
        h('img', { src: LOGO, alt: '' }),
        h('span', { class: 'brand-name' }, 'Elastic Cloud Enterprise', h('span', { class: 'brand-sub' }, ' Identity console'))),
      h('div', { class: 'whoami', title: `${me.user_name} \u2014 ${roles}` },
        h('span', { class: 'visually-hidden' }, 'Signed in as '),
        h('div', { 'data-testid': 'whoami', class: 'who' }, me.full_name || me.user_name),
        h('div', { class: 'role' }, roles)),
      signOut),
    h('div', { class: 'layout' },
      h('nav', { class: 'sidenav', 'aria-label': 'Console' },
        h('ul', {}, PAGES.filter((p) => p.visible(ctx)).map((p) => h('li', {},
          h('a', { href: `#/${p.id}`, 'aria-current': p.id === page.id ? 'page' : null }, icon(p.id), p.title))))),
      main),
  );
  document.title = `${page.title} \u00b7 ECE identity console`;
  renderPage(page, main, denied);
}

async function renderPage(page, main, denied) {
  try {
    await page.module.render(main, ctx);
  } catch (err) {
    main.replaceChildren(pageHead(page.title), errorBox(err));
    if (!(err instanceof ApiError)) console.error(err);
  }
  if (denied) {
    const note = callout('info', `You can\u2019t open ${denied.title}`,
      h('p', {}, `${denied.title} needs the platform admin or platform viewer role, which you don\u2019t have. You were taken to ${page.title} instead.`));
    note.setAttribute('role', 'status');
    main.querySelector('.page-head')?.after(note);
  }
  // The whole path (#/realms/ldap/corp, not only #/realms), and still that page (not one the
  // user may no longer open, which renderShell replaced).
  if (draft && location.hash.split('?')[0] === draft.hash.split('?')[0] && routeId() === page.id) {
    const n = applyDraft(main, draft);
    draft = null;
    if (n) toast('What you had typed before your session ended is back: check it and save.');
  }
  const focusTarget = main.querySelector('h1');
  if (document.activeElement === document.body || document.activeElement?.closest('nav')) focusTarget?.focus();
}

/** Runs go() at once, or after the user agrees to drop the page's unsaved changes. */
async function leaveIfClean(go) {
  const main = mainEl();
  if (main && isDirty(main) && !(await confirmDialog({
    title: 'Leave without saving?',
    message: 'This page has changes you haven\u2019t saved. If you leave, they are lost.',
    confirm: 'Leave and discard',
  }))) return false;
  go();
  return true;
}

function showLogin() {
  ctx = null;
  document.querySelectorAll('dialog').forEach((d) => d.close());
  hideWarning();
  document.title = 'Sign in \u00b7 ECE identity console';
  login.render(app, { notice: endNotice, error: ssoError, onSignedIn: enter, logo: LOGO });
  endNotice = null;
  ssoError = null;
}

async function enter() {
  try {
    ctx = makeContext(await get('/user'));
  } catch (err) {
    if (!session.token()) return; // 401: the session listener shows the sign-in page
    app.replaceChildren(h('main', { id: 'main' }, errorBox(err), button('Try again', { kind: 'primary', onClick: enter })));
    return;
  }
  draft = takeDraft(ctx.me.user_name);
  if (draft) history.replaceState(null, '', draft.hash);
  renderShell();
}

const END_NOTICES = {
  'signed-out': 'You are signed out.',
  idle: 'Your session ended because the console was inactive for too long. Sign in again to continue.',
  maximum: 'Your session reached its maximum length and ended. Sign in again to continue.',
  revoked: 'Your session was ended by the server: you signed out elsewhere, your password was changed, or your user was disabled or removed. Sign in again to continue.',
};

session.onEnd((reason) => {
  endNotice = END_NOTICES[reason] || END_NOTICES.idle;
  const main = mainEl();
  if (reason !== 'signed-out' && ctx && main && saveDraft(main, ctx.me.user_name, shownHash)) {
    endNotice += ' What you had typed on the page (except passwords) is kept for when you are back.';
  }
  showLogin();
});

// ---------- The warning before the session ends ----------

let warning = null;

function hideWarning() {
  if (!warning) return;
  clearInterval(warning.tick);
  warning.el.remove();
  warning = null;
}

session.onWarn((info) => {
  hideWarning();
  if (!info || !ctx) return;
  const at = formatTime(info.expires);
  const left = h('span', { class: 'countdown', 'aria-hidden': 'true' });
  const count = () => {
    const s = Math.max(0, Math.round((Date.parse(info.expires) - Date.now()) / 1000));
    left.textContent = ` (${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')} left)`;
  };
  count();
  const text = info.atMaximum
    ? `Your session reaches its maximum length at ${at} and can\u2019t be extended. Save your work now; then sign in again.`
    : info.refreshFailed
      ? `Your session could not be renewed: the server did not answer. It ends at ${at} unless a retry succeeds.`
      : `You have been inactive. Your session ends at ${at}.`;
  const stay = !info.atMaximum && button('Stay signed in', { kind: 'primary', small: true, onClick: () => session.tryRefresh() });
  const el = h('div', { class: 'session-warning', role: 'alert', 'data-testid': 'session-warning' },
    h('p', {}, h('strong', {}, 'Session ending soon. '), text, left),
    h('div', { class: 'actions' }, stay,
      info.atMaximum ? button('OK', { small: true, onClick: hideWarning }) : null,
      button('Sign out now', { small: true, onClick: () => session.logout() })));
  document.body.append(el);
  warning = { el, tick: setInterval(count, 1000) };
});

// ---------- Navigation with unsaved changes ----------

window.addEventListener('hashchange', async () => {
  if (!ctx) return;
  const target = location.hash;
  const main = mainEl();
  if (shownHash && main && isDirty(main)) {
    history.replaceState(null, '', shownHash); // stay until the user decides
    if (!(await leaveIfClean(() => history.replaceState(null, '', target)))) return;
  }
  renderShell();
});

window.addEventListener('beforeunload', (e) => {
  const main = mainEl();
  if (ctx && main && isDirty(main)) e.preventDefault();
});

// ---------- Start: a single sign-on hand-off, this tab's session, or the sign-in page ----------

/** Signs in with the token of a single sign-on hand-off (/sso/token), or says why not. */
async function handOff({ token, error }) {
  if (error) {
    ssoError = error;
    // A token nobody here asked for is revoked: it must not linger (best effort).
    if (token) api('POST', '/users/auth/_logout', {}, { token }).catch(() => {});
    return showLogin();
  }
  try {
    await session.adopt(token);
  } catch (err) {
    ssoError = `The session from single sign-on could not be opened (${err.message}). Sign in again.`;
    return showLogin();
  }
  enter();
}

const handed = sso.takeHandOff();
if (handed) handOff(handed);
else if (session.restore()) enter();
else showLogin();
