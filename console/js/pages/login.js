// Sign-in with user name and password (POST /users/auth/_login), and below the form one button
// per single sign-on method the server offers (GET /users/auth/methods, `sso_methods`).

import * as session from '../session.js';
import * as sso from '../sso.js';
import { api } from '../api.js';
import { h, field, button, busy, callout, showError, clearError, fieldError } from '../ui.js';

/**
 * notice: why the session ended (info); error: why a single sign-on was refused (alert).
 */
export function render(root, { notice, error, onSignedIn, logo }) {
  const user = field({ label: 'User name', name: 'username', autocomplete: 'username', required: true });
  const pass = field({ label: 'Password', name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  const errors = h('div');
  const submit = button('Sign in', { kind: 'primary', type: 'submit' });
  submit.classList.add('btn-block');
  const form = h('form', { novalidate: true, 'aria-label': 'Sign in' }, user, pass, errors, submit);

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearError(errors, form);
    const username = user.input.value.trim();
    if (!username || !pass.input.value) {
      return fieldError(errors, (username ? pass : user).input, 'Enter your user name and password.');
    }
    try {
      await busy(submit, () => session.login(username, pass.input.value));
    } catch (err) {
      if (err.status === 401) {
        err.message = 'The user name or password is wrong, or the user is disabled.';
      }
      showError(errors, err);
      pass.input.value = '';
      pass.input.focus();
      return;
    }
    onSignedIn();
  });

  const others = h('div', { class: 'signin-sso', hidden: true });
  ssoButtons(others);
  const refused = error && callout('danger', 'Single sign-on refused', h('p', {}, error));
  refused?.setAttribute('role', 'alert');

  root.replaceChildren(h('main', { class: 'signin', id: 'main' },
    h('div', { class: 'signin-card' },
      h('img', { class: 'logo', src: logo, alt: '' }),
      h('h1', {}, 'Sign in'),
      h('p', { class: 'lead' }, 'Elastic Cloud Enterprise identity console'),
      notice && callout('info', null, h('p', { role: 'status' }, notice)),
      refused,
      form,
      others,
      h('p', { class: 'signin-foot' }, 'Your session stays in this browser tab only.'))));
  user.input.focus();
}

/** Fills slot with "Sign in with <realm>" buttons; leaves it hidden when there are none. */
async function ssoButtons(slot) {
  let methods;
  try {
    methods = await api('GET', '/users/auth/methods', undefined, { auth: false });
  } catch {
    return; // the password form works without them
  }
  const list = (methods?.sso_methods || []).filter((m) => m?.name && m?.url);
  if (!list.length || !slot.isConnected) return;
  slot.replaceChildren(
    h('p', { class: 'signin-or' }, h('span', {}, 'or')),
    ...list.map((m) => {
      const b = button(`Sign in with ${m.name}`, { onClick: () => sso.start(m) });
      b.classList.add('btn-block');
      return b;
    }));
  slot.hidden = false;
}
