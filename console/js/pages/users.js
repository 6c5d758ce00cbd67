// Users (GET/POST /users, PATCH/DELETE /users/{name}). Platform admins manage them; platform
// viewers see the same list without any edit controls.

import { get, post, patch, del, enc } from '../api.js';
import { h, fill, field, button, busy, breakable, pageHead, callout, showError, clearError, fieldError, toast, confirmDialog, modal, passwordPair, when } from '../ui.js';
import { dataTable } from '../table.js';
import { ROLES, roleLabel, externalRealm } from '../format.js';

// Kept across reloads and visits: search, sort, page, status filter.
const state = { sort: 'user', dir: 'asc', show: 'all', size: 25 };

export async function render(main, ctx) {
  const editable = ctx.can('create-user') && ctx.can('update-user') && ctx.can('delete-user');
  const seesKeys = ctx.can('get-user-api-keys') && ctx.can('get-users-api-keys');
  const listErrors = h('div', { class: 'card-errors' });
  const fail = (err) => showError(listErrors, err);
  const show = h('select', { id: 'user-status-filter' },
    [['all', 'All users'], ['enabled', 'Enabled only'], ['disabled', 'Disabled only']].map(([v, t]) => h('option', { value: v, selected: v === state.show }, t)));
  const actions = { reload: null, fail, ctx };
  const table = dataTable(columns(ctx, editable, seesKeys, actions), {
    noun: ['user', 'users'],
    key: (u) => u.user_name,
    text: (u) => `${u.user_name}\n${u.full_name || ''}\n${u.email || ''}`,
    filter: (u) => state.show === 'all' || (state.show === 'enabled') === (u.security?.enabled !== false),
    state,
    searchLabel: 'Search users',
    searchHint: 'Name, full name or email',
    rowAttrs: (u) => ({ 'data-user': u.user_name }),
    toolbar: h('div', { class: 'field' }, h('label', { for: 'user-status-filter' }, 'Show'), show),
  });
  show.addEventListener('change', () => { state.show = show.value; state.page = 0; table.refresh(); });
  const reload = actions.reload = async () => {
    const { users } = await get('/users?include_disabled=true');
    listErrors.replaceChildren();
    table.setRows(users || []);
  };
  actions.table = table;
  const create = editable && button('Create user', { kind: 'primary', onClick: () => openCreate(reload) });
  fill(main,
    pageHead('Users', 'People and tools that can sign in to this installation, and their roles.', create || null),
    editable ? null : callout('info', 'Read-only', h('p', {}, 'You can see users but not change them. Ask a platform admin to create, edit or remove users.')),
    h('section', { class: 'card card-table', 'aria-label': 'Users' }, listErrors, table.el));
  await reload();
}

function statusBadge(u) {
  return u.security?.enabled === false
    ? h('span', { class: 'badge badge-danger' }, 'Disabled')
    : h('span', { class: 'badge badge-success' }, 'Enabled');
}

const dash = () => '\u2014';

function columns(ctx, editable, seesKeys, actions) {
  const cols = [
    { id: 'user', label: 'User', className: 'col-user', sort: (u) => u.user_name,
      cell: (u) => [h('strong', { class: 'wrap' }, breakable(u.user_name)), u.builtin && [' ', h('span', { class: 'badge' }, 'Built-in')],
        externalRealm(u) && [' ', h('span', { class: 'badge', title: `Signs in through the realm ${externalRealm(u).id}` }, `Realm ${externalRealm(u).id}`)],
        u.full_name && h('span', { class: 'sub wrap' }, u.full_name)] },
    { id: 'email', label: 'Email', className: 'col-email', sort: (u) => u.email || '\uffff',
      cell: (u) => (u.email ? h('span', { class: 'wrap' }, breakable(u.email)) : dash()) },
    { id: 'roles', label: 'Roles', className: 'col-roles', sort: (u) => (u.security?.roles || []).map(roleLabel).sort().join(', ') || '\uffff',
      cell: (u) => {
        const roles = u.security?.roles || [];
        return roles.length ? h('div', { class: 'badges' }, roles.map((r) => h('span', { class: 'badge badge-role' }, roleLabel(r)))) : dash();
      } },
    { id: 'status', label: 'Status', className: 'col-status', sort: (u) => (u.security?.enabled === false ? 1 : 0), cell: statusBadge },
    { id: 'created', label: 'Created', className: 'col-date', sort: (u) => u.metadata?.created_at || '',
      cell: (u) => [when(u.metadata?.created_at) || dash(), u.metadata?.created_by && h('span', { class: 'sub wrap' }, 'by ', breakable(u.metadata.created_by))] },
    { id: 'last', label: 'Last sign-in', className: 'col-date', sort: (u) => u.metadata?.last_login_at || '',
      cell: (u) => when(u.metadata?.last_login_at, { rel: true }) || 'Never' },
  ];
  if (editable || seesKeys) {
    cols.push({ id: 'actions', label: 'Actions', hideLabel: true, className: 'actions-cell',
      cell: (u) => rowActions(u, ctx, editable, seesKeys, actions) });
  }
  return cols;
}

function rowActions(u, ctx, editable, seesKeys, { reload, fail, table }) {
  if (u.builtin) return h('span', { class: 'hint' }, editable ? 'Built-in users can\u2019t be changed here' : null);
  // The directory owns external users: the API refuses edits with user.cannot_modify_external.
  if (externalRealm(u)) {
    const keys = seesKeys && h('a', { class: 'btn btn-sm', href: `#/keys?user=${enc(u.user_name)}`, 'aria-label': `API keys of ${u.user_name}` }, 'Keys');
    return [editable ? h('span', { class: 'hint' }, 'Managed by its realm') : null, keys];
  }
  const self = u.user_name === ctx.me.user_name;
  const enabled = u.security?.enabled !== false;
  const keys = seesKeys && h('a', { class: 'btn btn-sm', href: `#/keys?user=${enc(u.user_name)}`, 'aria-label': `API keys of ${u.user_name}` }, 'Keys');
  if (!editable) return keys;
  const edit = button('Edit', { small: true, label: `Edit user ${u.user_name}`, onClick: () => openEdit(u, ctx, reload) });
  const toggle = self ? null : button(enabled ? 'Disable' : 'Enable', { small: true, label: `${enabled ? 'Disable' : 'Enable'} user ${u.user_name}` });
  const remove = self ? null : button('Delete', { kind: 'ghost-danger', small: true, label: `Delete user ${u.user_name}` });
  // After a reload the row is rebuilt: put focus back on the same control, or on a neighbour.
  const refocus = (label) => {
    const again = document.querySelector(`tr[data-user="${CSS.escape(u.user_name)}"] [aria-label="${label}"]`);
    if (again) again.focus();
  };
  toggle?.addEventListener('click', async () => {
    if (enabled && !(await confirmDialog({
      title: `Disable ${u.user_name}?`,
      message: 'They are signed out everywhere, and they and their API keys are refused until the user is enabled again.',
      confirm: 'Disable user',
    }))) return;
    await busy(toggle, () => patch(`/users/${enc(u.user_name)}`, { security: { enabled: !enabled } }))
      .then(async () => {
        toast(`${u.user_name} ${enabled ? 'disabled' : 'enabled'}.`);
        await reload();
        refocus(`${enabled ? 'Enable' : 'Disable'} user ${u.user_name}`);
      }, fail);
  });
  remove?.addEventListener('click', async () => {
    if (!(await confirmDialog({
      title: `Delete ${u.user_name}?`,
      message: 'The user, their sessions and their API keys are removed for good. This can\u2019t be undone.',
      confirm: 'Delete user',
    }))) return;
    const index = [...remove.closest('tbody').rows].indexOf(remove.closest('tr'));
    await busy(remove, () => del(`/users/${enc(u.user_name)}`))
      .then(async () => {
        toast(`${u.user_name} deleted.`);
        await reload();
        table.focusRow(index); // the row that took its place, else the search box
      }, fail);
  });
  return [edit, toggle, remove, keys];
}

function rolesFieldset(selected) {
  return h('fieldset', { class: 'fieldset', 'data-field': 'security.roles' }, h('legend', {}, 'Roles'),
    ROLES.map(([id, label, about]) => h('label', { class: 'check' },
      h('input', { type: 'checkbox', name: 'roles', value: id, checked: selected.includes(id) }),
      h('span', {}, h('strong', {}, label), h('span', { class: 'hint' }, about)))));
}

const checkedRoles = (form) => [...form.querySelectorAll('input[name="roles"]:checked')].map((i) => i.value);

/**
 * A form inside a dialog: check(errors) may refuse before anything is sent; submit(form) returns
 * a promise; errors show inside the dialog.
 */
function dialogForm(title, fields, submitText, submit, check = () => true) {
  return modal(title, (close) => {
    const errors = h('div');
    const ok = button(submitText, { kind: 'primary', type: 'submit' });
    const form = h('form', { 'aria-label': title, novalidate: true }, h('div', { class: 'dialog-body' }, ...fields, errors),
      h('div', { class: 'dialog-foot' }, button('Cancel', { onClick: () => close() }), ok));
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      clearError(errors, form);
      if (!check(errors)) return;
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
  const pass = passwordPair({ label: 'Password' });
  const enabled = h('label', { class: 'check' }, h('input', { type: 'checkbox', name: 'enabled', checked: true }), h('span', {}, h('strong', {}, 'Enabled'), h('span', { class: 'hint' }, 'The user can sign in right away.')));
  const check = (errors) => (name.input.value.trim() ? pass.check(errors) : fieldError(errors, name.input, 'Enter a user name.'));
  const created = await dialogForm('Create user', [name, full, email, ...pass.fields, rolesFieldset([]), enabled], 'Create user', (form) => {
    const body = {
      user_name: name.input.value.trim(),
      security: { password: pass.value(), roles: checkedRoles(form), enabled: form.elements.enabled.checked },
    };
    if (full.input.value.trim()) body.full_name = full.input.value.trim();
    if (email.input.value.trim()) body.email = email.input.value.trim();
    return post('/users', body);
  }, check);
  if (created) {
    toast(`User ${created.user_name} created.`);
    await reload();
  }
}

/**
 * Editing: your own account offers no role checkboxes and no password (the API refuses your own
 * roles here, and your password changes on My profile, where the current one is asked for).
 */
async function openEdit(u, ctx, reload) {
  const self = u.user_name === ctx.me.user_name;
  const full = field({ label: 'Full name', name: 'full_name', value: u.full_name || '', autocomplete: 'off' });
  const email = field({ label: 'Email', name: 'email', type: 'email', value: u.email || '', autocomplete: 'off' });
  const pass = passwordPair({ optional: true, hint: 'Leave both empty to keep the current password. Setting one signs the user out everywhere.' });
  const roles = u.security?.roles || [];
  const parts = self
    ? [full, email, h('div', { class: 'field' }, h('span', { class: 'label' }, 'Roles'),
      roles.length ? h('div', { class: 'badges' }, roles.map((r) => h('span', { class: 'badge badge-role' }, roleLabel(r)))) : dash(),
      h('span', { class: 'hint' }, 'You can\u2019t change your own roles: another platform admin can. Change your password on My profile.'))]
    : [full, email, rolesFieldset(roles), ...pass.fields];
  const updated = await dialogForm(`Edit ${u.user_name}`, parts, 'Save changes', (form) => {
    const body = { full_name: full.input.value.trim() || null, email: email.input.value.trim() || null };
    if (!self) {
      body.security = { roles: checkedRoles(form) };
      if (pass.value()) body.security.password = pass.value();
    }
    return patch(`/users/${enc(u.user_name)}`, body);
  }, (errors) => self || pass.check(errors));
  if (updated) {
    toast(`${u.user_name} saved.`);
    await reload();
  }
}
