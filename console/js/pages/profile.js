// My profile (GET/PATCH /user): name, email, password; my roles and what they allow.

import { patch } from '../api.js';
import { h, field, button, busy, card, pageHead, callout, showError, clearError, toast } from '../ui.js';
import { roleLabel, formatDate } from '../format.js';

export async function render(main, ctx) {
  const me = ctx.me;
  main.replaceChildren(
    pageHead('My profile', `Signed in as ${me.user_name}.`),
    detailsCard(me, ctx),
    passwordCard(),
    rolesCard(me));
}

function detailsCard(me, ctx) {
  const full = field({ label: 'Full name', name: 'full_name', value: me.full_name || '', autocomplete: 'name', disabled: me.builtin });
  const email = field({ label: 'Email', name: 'email', type: 'email', value: me.email || '', autocomplete: 'email', disabled: me.builtin });
  const errors = h('div');
  const save = button('Save profile', { kind: 'primary', type: 'submit' });
  const form = h('form', { 'aria-label': 'Profile' },
    h('div', { class: 'form-grid' },
      field({ label: 'User name', name: 'user_name', value: me.user_name, disabled: true, hint: 'User names can\u2019t be changed.' }),
      full, email),
    errors,
    me.builtin
      ? callout('info', null, h('p', {}, 'Built-in users keep their name and email. You can still change the password below.'))
      : h('div', { class: 'actions' }, save));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearError(errors, form);
    try {
      await busy(save, () => patch('/user', { full_name: full.input.value.trim() || null, email: email.input.value.trim() || null }));
      toast('Profile saved.');
      await ctx.reloadMe();
    } catch (err) {
      showError(errors, err, form);
    }
  });
  const meta = me.metadata || {};
  return card('Details', null, form,
    h('dl', { class: 'facts' },
      meta.created_at && [h('dt', {}, 'Created'), h('dd', {}, formatDate(meta.created_at))],
      meta.last_login_at && [h('dt', {}, 'Last sign-in'), h('dd', {}, formatDate(meta.last_login_at))]));
}

function passwordCard() {
  const pass = field({ label: 'New password', name: 'security.password', type: 'password', autocomplete: 'new-password', required: true, hint: '8 to 128 characters.' });
  const again = field({ label: 'Repeat the new password', name: 'confirm', type: 'password', autocomplete: 'new-password', required: true });
  const errors = h('div');
  const save = button('Change password', { kind: 'primary', type: 'submit' });
  const form = h('form', { 'aria-label': 'Change password' }, h('div', { class: 'form-grid' }, pass, again), errors, h('div', { class: 'actions' }, save));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearError(errors, form);
    if (pass.input.value.length < 8) {
      pass.input.setAttribute('aria-invalid', 'true');
      errors.replaceChildren(callout('danger', 'The new password must be at least 8 characters.'));
      pass.input.focus();
      return;
    }
    if (pass.input.value !== again.input.value) {
      again.input.setAttribute('aria-invalid', 'true');
      errors.replaceChildren(callout('danger', 'The two passwords don\u2019t match.'));
      again.input.focus();
      return;
    }
    try {
      await busy(save, () => patch('/user', { security: { password: pass.input.value } }));
      form.reset();
      errors.replaceChildren(callout('success', 'Password changed.', h('p', { role: 'status' }, 'Your other sessions were signed out; this one stays signed in.')));
    } catch (err) {
      showError(errors, err, form);
    }
  });
  return card('Password', 'Changing it signs you out of your other sessions.', form);
}

function rolesCard(me) {
  const roles = me.security?.roles || [];
  const perms = me.security?.permissions || [];
  return card('Roles and permissions', 'Only a platform admin can change your roles.',
    roles.length
      ? h('div', { class: 'badges' }, roles.map((r) => h('span', { class: 'badge badge-role' }, roleLabel(r))))
      : h('p', { class: 'hint' }, 'You have no roles: you can manage only your own profile and API keys.'),
    h('details', {}, h('summary', {}, `What you may call (${perms.length} API operations)`),
      h('ul', { class: 'perm-list' }, perms.map((p) => h('li', {}, h('code', {}, p))))));
}
