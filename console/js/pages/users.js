// Users (GET/POST /users, PATCH/DELETE /users/{name}). Platform admins manage them; platform
// viewers see the same list without any edit controls.

import { get, post, patch, del, enc } from '../api.js';
import { h, fill, field, button, busy, pageHead, callout, showError, clearError, toast, confirmDialog, modal } from '../ui.js';
import { ROLES, roleLabel, formatDate, relative } from '../format.js';

export async function render(main, ctx) {
  const editable = ctx.can('create-user') && ctx.can('update-user') && ctx.can('delete-user');
  const listSlot = h('div', {}, h('p', { class: 'loading' }, 'Loading users\u2026'));
  const listErrors = h('div', { class: 'card-errors' });
  const fail = (err) => showError(listErrors, err);
  const reload = async () => {
    const { users } = await get('/users?include_disabled=true');
    listErrors.replaceChildren();
    listSlot.replaceChildren(userTable(users || [], ctx, editable, { reload, fail }));
  };
  const create = editable && button('Create user', { kind: 'primary', onClick: () => openCreate(reload) });
  fill(main,
    pageHead('Users', 'People and tools that can sign in to this installation, and their roles.', create || null),
    editable ? null : callout('info', 'Read-only', h('p', {}, 'You can see users but not change them. Ask a platform admin to create, edit or remove users.')),
    h('section', { class: 'card', 'aria-label': 'Users' }, listErrors, listSlot));
  await reload();
}

function statusBadge(u) {
  return u.security?.enabled === false
    ? h('span', { class: 'badge badge-danger' }, 'Disabled')
    : h('span', { class: 'badge badge-success' }, 'Enabled');
}

function userTable(users, ctx, editable, actions) {
  if (!users.length) return h('p', { class: 'empty' }, 'No users.');
  users.sort((a, b) => Number(b.builtin) - Number(a.builtin) || a.user_name.localeCompare(b.user_name));
  const head = ['User', 'Email', 'Roles', 'Status', 'Last sign-in'];
  return h('div', { class: 'table-wrap' }, h('table', { class: 'stack' },
    h('thead', {}, h('tr', {}, head.map((t) => h('th', { scope: 'col' }, t)),
      editable && h('th', { scope: 'col' }, h('span', { class: 'visually-hidden' }, 'Actions')))),
    h('tbody', {}, users.map((u) => {
      const last = u.metadata?.last_login_at;
      return h('tr', { 'data-user': u.user_name },
        h('td', { 'data-label': 'User' }, h('div', {}, h('strong', {}, u.user_name), ' ', u.builtin && h('span', { class: 'badge' }, 'Built-in'),
          u.full_name && h('span', { class: 'sub' }, u.full_name))),
        h('td', { 'data-label': 'Email' }, u.email || '\u2014'),
        h('td', { 'data-label': 'Roles' }, h('div', { class: 'badges' },
          (u.security?.roles || []).map((r) => h('span', { class: 'badge badge-role' }, roleLabel(r))))),
        h('td', { 'data-label': 'Status' }, statusBadge(u)),
        h('td', { 'data-label': 'Last sign-in', title: last ? formatDate(last) : null }, last ? relative(last) : 'Never'),
        editable && h('td', { class: 'actions-cell' }, rowActions(u, ctx, actions)));
    }))));
}

function rowActions(u, ctx, { reload, fail }) {
  if (u.builtin) return h('span', { class: 'hint' }, 'Built-in users can\u2019t be changed here');
  const self = u.user_name === ctx.me.user_name;
  const enabled = u.security?.enabled !== false;
  const edit = button('Edit', { small: true, label: `Edit user ${u.user_name}`, onClick: () => openEdit(u, reload) });
  const toggle = self ? null : button(enabled ? 'Disable' : 'Enable', { small: true, label: `${enabled ? 'Disable' : 'Enable'} user ${u.user_name}` });
  const remove = self ? null : button('Delete', { kind: 'ghost-danger', small: true, label: `Delete user ${u.user_name}` });
  toggle?.addEventListener('click', async () => {
    if (enabled && !(await confirmDialog({
      title: `Disable ${u.user_name}?`,
      message: 'They are signed out everywhere, and they and their API keys are refused until the user is enabled again.',
      confirm: 'Disable user',
    }))) return;
    await busy(toggle, () => patch(`/users/${enc(u.user_name)}`, { security: { enabled: !enabled } }))
      .then(() => { toast(`${u.user_name} ${enabled ? 'disabled' : 'enabled'}.`); return reload(); }, fail);
  });
  remove?.addEventListener('click', async () => {
    if (!(await confirmDialog({
      title: `Delete ${u.user_name}?`,
      message: 'The user, their sessions and their API keys are removed for good. This can\u2019t be undone.',
      confirm: 'Delete user',
    }))) return;
    await busy(remove, () => del(`/users/${enc(u.user_name)}`))
      .then(() => { toast(`${u.user_name} deleted.`); return reload(); }, fail);
  });
  return [edit, toggle, remove];
}

function rolesFieldset(selected) {
  return h('fieldset', { class: 'fieldset', 'data-field': 'security.roles' }, h('legend', {}, 'Roles'),
    ROLES.map(([id, label, about]) => h('label', { class: 'check' },
      h('input', { type: 'checkbox', name: 'roles', value: id, checked: selected.includes(id) }),
      h('span', {}, h('strong', {}, label), h('span', { class: 'hint' }, about)))));
}

const checkedRoles = (form) => [...form.querySelectorAll('input[name="roles"]:checked')].map((i) => i.value);

/** A form inside a dialog: submit(form) returns a promise; errors show inside the dialog. */
function dialogForm(title, fields, submitText, submit) {
  return modal(title, (close) => {
    const errors = h('div');
    const ok = button(submitText, { kind: 'primary', type: 'submit' });
    const form = h('form', { 'aria-label': title }, h('div', { class: 'dialog-body' }, ...fields, errors),
      h('div', { class: 'dialog-foot' }, button('Cancel', { onClick: () => close() }), ok));
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      clearError(errors, form);
      try {
        close(await busy(ok, () => submit(form)));
      } catch (err) {
        showError(errors, err, form);
      }
    });
    return form;
  });
}

async function openCreate(reload) {
  const name = field({ label: 'User name', name: 'user_name', required: true, autocomplete: 'off', hint: 'Letters, digits, ".", "_", "-" or "@". Can\u2019t be changed later.' });
  const full = field({ label: 'Full name', name: 'full_name', autocomplete: 'off' });
  const email = field({ label: 'Email', name: 'email', type: 'email', autocomplete: 'off' });
  const pass = field({ label: 'Password', name: 'security.password', type: 'password', required: true, autocomplete: 'new-password', hint: 'At least 8 characters.' });
  const enabled = h('label', { class: 'check' }, h('input', { type: 'checkbox', name: 'enabled', checked: true }), h('span', {}, h('strong', {}, 'Enabled'), h('span', { class: 'hint' }, 'The user can sign in right away.')));
  const created = await dialogForm('Create user', [name, full, email, pass, rolesFieldset([]), enabled], 'Create user', (form) => {
    const body = {
      user_name: name.input.value.trim(),
      security: { password: pass.input.value, roles: checkedRoles(form), enabled: form.elements.enabled.checked },
    };
    if (full.input.value.trim()) body.full_name = full.input.value.trim();
    if (email.input.value.trim()) body.email = email.input.value.trim();
    return post('/users', body);
  });
  if (created) {
    toast(`User ${created.user_name} created.`);
    await reload();
  }
}

async function openEdit(u, reload) {
  const full = field({ label: 'Full name', name: 'full_name', value: u.full_name || '', autocomplete: 'off' });
  const email = field({ label: 'Email', name: 'email', type: 'email', value: u.email || '', autocomplete: 'off' });
  const pass = field({ label: 'New password', name: 'security.password', type: 'password', autocomplete: 'new-password', hint: 'Leave empty to keep the current password. Setting one signs the user out everywhere.' });
  const updated = await dialogForm(`Edit ${u.user_name}`, [full, email, rolesFieldset(u.security?.roles || []), pass], 'Save changes', (form) => {
    const body = { security: { roles: checkedRoles(form) } };
    body.full_name = full.input.value.trim() || null;
    body.email = email.input.value.trim() || null;
    if (pass.input.value) body.security.password = pass.input.value;
    return patch(`/users/${enc(u.user_name)}`, body);
  });
  if (updated) {
    toast(`${u.user_name} saved.`);
    await reload();
  }
}
