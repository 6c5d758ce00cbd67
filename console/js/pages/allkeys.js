// Everybody's API keys (GET /users/auth/keys/_all), for platform admins and viewers: owner,
// description, dates, a filter by user. Admins revoke one key (DELETE /users/{user}/auth/keys/{id})
// or several at once (DELETE /users/auth/keys/_all), always after a confirmation.

import { api, get, enc } from '../api.js';
import { h, button, busy, breakable, showError, toast, confirmDialog, when, expiryCell } from '../ui.js';
import { dataTable } from '../table.js';

const state = { sort: 'created', dir: 'desc', user: '', size: 25 };
const keyOf = (k) => `${k.user_id}\n${k.id}`;

/** The card; reload() fetches the list again. onChange runs after a revoke. */
export function allKeysCard(ctx, { user, onChange }) {
  const canRevoke = ctx.can('delete-user-api-key') && ctx.can('delete-users-api-keys');
  if (user !== undefined) { state.user = user; state.page = 0; }
  const errors = h('div', { class: 'card-errors' });
  const fail = (err) => showError(errors, err);
  const owner = h('select', { id: 'key-owner-filter' });
  const bulk = canRevoke ? button('Revoke selected', { kind: 'danger', small: true, disabled: true }) : null;
  let table;

  const reload = async () => {
    try {
      const { keys } = await get('/users/auth/keys/_all');
      errors.replaceChildren();
      const owners = [...new Set([...(keys || []).map((k) => k.user_id), state.user].filter(Boolean))].sort();
      owner.replaceChildren(h('option', { value: '' }, 'All users'),
        ...owners.map((u) => h('option', { value: u, selected: u === state.user }, u)));
      table.setRows(keys || []);
    } catch (err) {
      fail(err);
    }
  };
  const changed = async () => { await reload(); onChange?.(); };

  const revokeOne = async (k, btn) => {
    const ok = await confirmDialog({
      title: 'Revoke this API key?',
      message: `\u201c${k.description}\u201d of ${k.user_id} stops working immediately; anything that still uses it will be refused. This can\u2019t be undone.`,
      confirm: 'Revoke key',
    });
    if (!ok) return;
    const index = [...btn.closest('tbody').rows].indexOf(btn.closest('tr'));
    try {
      await busy(btn, () => api('DELETE', `/users/${enc(k.user_id)}/auth/keys/${enc(k.id)}`));
      toast(`API key \u201c${k.description}\u201d of ${k.user_id} revoked.`);
      await changed();
      table.focusRow(index);
    } catch (err) {
      fail(err);
    }
  };

  const columns = [
    { id: 'owner', label: 'Owner', className: 'col-owner', sort: (k) => k.user_id, cell: (k) => h('span', { class: 'wrap' }, breakable(k.user_id)) },
    { id: 'description', label: 'Description', className: 'col-desc', sort: (k) => k.description,
      cell: (k) => [h('strong', { class: 'wrap' }, k.description), h('span', { class: 'sub mono wrap' }, breakable(k.id))] },
    { id: 'created', label: 'Created', className: 'col-date', sort: (k) => k.creation_date || '', cell: (k) => when(k.creation_date) },
    { id: 'expires', label: 'Expires', className: 'col-date', sort: (k) => k.expiration_date || '\uffff', cell: (k) => expiryCell(k.expiration_date) },
  ];
  if (canRevoke) {
    columns.push({ id: 'actions', label: 'Actions', hideLabel: true, className: 'actions-cell',
      cell: (k) => {
        const btn = button('Revoke', { kind: 'ghost-danger', small: true, label: `Revoke API key ${k.description} of ${k.user_id}` });
        btn.addEventListener('click', () => revokeOne(k, btn));
        return btn;
      } });
  }
  table = dataTable(columns, {
    noun: ['key', 'keys'],
    key: keyOf,
    text: (k) => `${k.user_id}\n${k.description}\n${k.id}`,
    filter: (k) => !state.user || k.user_id === state.user,
    state,
    searchLabel: 'Search keys',
    searchHint: 'Owner, description or id',
    rowAttrs: (k) => ({ 'data-key-id': k.id, 'data-owner': k.user_id }),
    selectable: canRevoke ? () => true : null,
    selectLabel: (k) => `Select API key ${k.description} of ${k.user_id}`,
    onSelect: (n) => { if (bulk) { bulk.disabled = n === 0; bulk.textContent = n ? `Revoke selected (${n})` : 'Revoke selected'; } },
    toolbar: [h('div', { class: 'field' }, h('label', { for: 'key-owner-filter' }, 'User'), owner), bulk && h('div', { class: 'bulk' }, bulk)],
  });
  owner.addEventListener('change', () => { state.user = owner.value; state.page = 0; table.refresh(); });

  bulk?.addEventListener('click', async () => {
    const picked = table.selected();
    if (!picked.length) return;
    const people = [...new Set(picked.map((k) => k.user_id))];
    const ok = await confirmDialog({
      title: `Revoke ${picked.length} API key${picked.length === 1 ? '' : 's'}?`,
      message: `The selected keys of ${people.length === 1 ? people[0] : `${people.length} users`} stop working immediately. This can\u2019t be undone.`,
      confirm: `Revoke ${picked.length} key${picked.length === 1 ? '' : 's'}`,
    });
    if (!ok) return;
    try {
      await busy(bulk, () => api('DELETE', '/users/auth/keys/_all', {
        user_api_keys: picked.map((k) => ({ user_id: k.user_id, api_key_id: k.id })),
      }));
      toast(`${picked.length} API key${picked.length === 1 ? '' : 's'} revoked.`);
      table.clearSelection();
      await changed();
      table.search.focus();
    } catch (err) {
      fail(err);
    }
  });

  const el = h('section', { class: 'card card-table', 'aria-labelledby': 'all-keys-title', id: 'all-keys' },
    h('div', { class: 'card-head' }, h('div', {},
      h('h2', { id: 'all-keys-title', tabindex: '-1' }, 'Everybody\u2019s API keys'),
      h('p', {}, canRevoke
        ? 'Every user\u2019s keys. Revoking one stops it at once; its owner can create a new one.'
        : 'Every user\u2019s keys, read-only: only platform admins can revoke them.'))),
    errors, table.el);
  return { el, reload };
}
