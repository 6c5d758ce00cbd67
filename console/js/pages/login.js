// Sign-in with user name and password (POST /users/auth/_login).

import * as session from '../session.js';
import { h, field, button, busy, callout, showError, clearError, fieldError } from '../ui.js';

export function render(root, { notice, onSignedIn, logo }) {
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

  root.replaceChildren(h('main', { class: 'signin', id: 'main' },
    h('div', { class: 'signin-card' },
      h('img', { class: 'logo', src: logo, alt: '' }),
      h('h1', {}, 'Sign in'),
      h('p', { class: 'lead' }, 'Elastic Cloud Enterprise identity console'),
      notice && callout('info', null, h('p', { role: 'status' }, notice)),
      form,
      h('p', { class: 'signin-foot' }, 'Your session stays in this browser tab only.'))));
  user.input.focus();
}
