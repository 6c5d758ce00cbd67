// My profile (GET/PATCH /user): name, email, password; my roles and what they allow.

import { api, patch } from '../api.js';
import { h, fill, field, button, busy, card, pageHead, callout, showError, clearError, fieldError, toast, passwordPair, when } from '../ui.js';
import { roleLabel, externalRealm, realmTypeLabel } from '../format.js';

export async function render(main, ctx) {
  const me = ctx.me;
  fill(main,
    pageHead('My profile', `Signed in as ${me.user_name}.`),
    detailsCard(me, ctx),
    // A directory user's password is the directory's: nothing to change here.
    external(me) ? null : passwordCard(me),
    rolesCard(me));
}

const external = externalRealm;

function detailsCard(me, ctx) {
  // Built-in and directory users can't change their name and email (the API refuses it).
  const locked = me.builtin || !!external(me);
  const full = field({ label: 'Full name', name: 'full_name', value: me.full_name || '', autocomplete: 'name', disabled: locked });
  const email = field({ label: 'Email', name: 'email', type: 'email', value: me.email || '', autocomplete: 'email', disabled: locked });
  const errors = h('div');
  const save = button('Save profile', { kind: 'primary', type: 'submit' });
  const form = h('form', { 'aria-label': 'Profile', 'data-guard': '' },
    h('div', { class: 'form-grid' },
      field({ label: 'User name', name: 'user_name', value: me.user_name, disabled: true, hint: 'User names can\u2019t be changed.' }),
      full, email),
    errors,
    external(me)
      ? callout('info', null, h('p', {}, `You sign in through the ${realmTypeLabel(external(me).type)} realm ${external(me).id}: your name, email, password and roles come from the directory and can\u2019t be changed here.`))
      : me.builtin
        ? callout('info', null, h('p', {}, 'Built-in users keep their name and email. You can still change the password below.'))
        : h('div', { class: 'actions' }, save));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearError(errors, form);
    try {
      await busy(save, () => patch('/user', { full_name: full.input.value.trim() || null, email: email.input.value.trim() || null }));
      // Reload first: the header shows the new name by the time the toast says it is saved.
      await ctx.reloadMe();
      toast('Profile saved.');
    } catch (err) {
      showError(errors, err, form);
    }
  });
  const meta = me.metadata || {};
  return card('Details', null, form,
    h('dl', { class: 'facts' },
      meta.created_at && [h('dt', {}, 'Created'), h('dd', {}, when(meta.created_at), meta.created_by && ` by ${meta.created_by}`)],
      meta.last_login_at && [h('dt', {}, 'Last sign-in'), h('dd', {}, when(meta.last_login_at))]));
}

/**
 * Checks the current password by signing in with it (POST /users/auth/_login, the only way the
 * API verifies a password) and at once ends the session that sign-in opened. Failed checks count
 * against the server's brute-force limit like any sign-in. Resolves true or false.
 */
async function currentPasswordIsRight(username, password) {
  let res;
  try {
    res = await api('POST', '/users/auth/_login', { username, password }, { auth: false });
  } catch (err) {
    if (err.status === 401) return false;
    throw err;
  }
  await api('POST', '/users/auth/_logout', {}, { token: res.token }).catch(() => {});
  return true;
}

function passwordCard(me) {
  const current = field({ label: 'Current password', name: 'current_password', type: 'password', autocomplete: 'current-password', required: true, hint: 'Asked so that nobody at an unattended screen can take over your account.' });
  const pass = passwordPair();
  const errors = h('div');
  const save = button('Change password', { kind: 'primary', type: 'submit' });
  const form = h('form', { 'aria-label': 'Change password', novalidate: true, 'data-guard': '' },
    h('div', { class: 'form-grid' }, current, ...pass.fields), errors, h('div', { class: 'actions' }, save));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearError(errors, form);
    if (!current.input.value) return fieldError(errors, current.input, 'Enter your current password.');
    if (!pass.check(errors)) return;
    try {
      await busy(save, async () => {
        if (!(await currentPasswordIsRight(me.user_name, current.input.value))) {
          current.input.value = '';
          fieldError(errors, current.input, 'The current password is wrong.');
          return;
        }
        await patch('/user', { security: { password: pass.value() } });
        form.reset();
        const done = callout('success', 'Password changed.', h('p', {}, 'Your other sessions were signed out; this one stays signed in.'));
        done.setAttribute('role', 'status');
        errors.replaceChildren(done);
      });
    } catch (err) {
      showError(errors, err, form);
    }
  });
  return card('Password', 'Changing it signs you out of your other sessions.', form);
}

function rolesCard(me) {
  const roles = me.security?.roles || [];
  const perms = me.security?.permissions || [];
  return card('Roles and permissions', external(me) ? 'Your realm\u2019s role mappings give you these roles at every sign-in.' : 'Only a platform admin can change your roles.',
    roles.length
      ? h('div', { class: 'badges' }, roles.map((r) => h('span', { class: 'badge badge-role' }, roleLabel(r))))
      : h('p', { class: 'hint' }, 'You have no roles: you can manage only your own profile and API keys.'),
    h('details', {}, h('summary', {}, `What you may call (${perms.length} API operations)`),
      h('ul', { class: 'perm-list' }, perms.map((p) => h('li', {}, h('code', {}, p))))));
}
