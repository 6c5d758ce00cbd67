// My API keys (GET/POST /users/auth/keys, DELETE /users/auth/keys/{id}). A new key's secret is
// shown once, right after creation, and kept nowhere but in that panel. Platform admins and
// viewers also see everybody's keys (pages/allkeys.js); #/keys?user=NAME opens them for one user.

import { get, post, del, enc } from '../api.js';
import { h, field, selectField, button, busy, breakable, card, pageHead, callout, showError, clearError, fieldError, toast, confirmDialog, copyText, when, expiryCell } from '../ui.js';
import { EXPIRATIONS } from '../format.js';
import { allKeysCard } from './allkeys.js';

const intro = () => h('span', {}, 'Keys let scripts and tools call the ECE API as you, with your roles. Send one in the header ',
  h('code', {}, 'Authorization: ApiKey <key>'), '.');

export async function render(main, ctx) {
  const listSlot = h('div', {}, h('p', { class: 'loading' }, 'Loading your API keys\u2026'));
  const listErrors = h('div', { class: 'card-errors' });
  const listCard = h('section', { class: 'card card-table', 'aria-labelledby': 'keys-title' },
    h('div', { class: 'card-head' }, h('h2', { id: 'keys-title', tabindex: '-1' }, 'Your keys')), listErrors, listSlot);
  const fail = (err) => showError(listErrors, err);

  let all = null;
  const reloadOwn = async () => {
    try {
      const { keys } = await get('/users/auth/keys');
      listSlot.replaceChildren(keyTable(keys || [], reload, fail));
    } catch (err) {
      fail(err);
    }
  };
  const reload = async () => { await Promise.all([reloadOwn(), all?.reload()]); };
  const user = new URLSearchParams(location.hash.split('?')[1] || '').get('user');
  if (ctx.can('get-users-api-keys')) all = allKeysCard(ctx, { user: user ?? '', onChange: reloadOwn });

  const creator = ctx.me.builtin
    ? callout('info', 'Built-in users can\u2019t have API keys',
      h('p', {}, 'The built-in users (admin, readonly) can\u2019t create API keys. Create a user with the roles the key needs, sign in as that user, and create the key there.'))
    : createCard(reload);

  main.replaceChildren(pageHead('API keys', intro()), creator, listCard, all?.el);
  await reload();
  // Opened from a user's row: go straight to that user's keys.
  if (all && user !== null) {
    all.el.scrollIntoView();
    all.el.querySelector('h2').focus();
  }
}

function createCard(reload) {
  const desc = field({ label: 'Description', name: 'description', required: true, maxlength: 255, hint: 'What the key is for, e.g. "CI deploy pipeline".' });
  const exp = selectField({ label: 'Expires after', name: 'expiration', options: EXPIRATIONS, value: '90d', hint: 'Short lifetimes limit the damage of a leaked key.' });
  const errors = h('div');
  const reveal = h('div');
  const submit = button('Create API key', { kind: 'primary', type: 'submit' });
  const form = h('form', { 'aria-label': 'Create an API key', novalidate: true, 'data-guard': '' }, h('div', { class: 'form-grid' }, desc, exp), errors, h('div', { class: 'actions' }, submit));

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearError(errors, form);
    reveal.replaceChildren();
    const description = desc.input.value.trim();
    if (!description) return fieldError(errors, desc.input, 'Enter a description for the key.');
    try {
      const key = await busy(submit, () => post('/users/auth/keys', { description, expiration: exp.input.value }));
      form.reset();
      reveal.replaceChildren(secretPanel(key, () => reveal.replaceChildren()));
      reveal.querySelector('input').focus();
      reload();
    } catch (err) {
      showError(errors, err, form);
    }
  });
  return card('Create a key', null, reveal, form);
}

/** The one and only display of a key's secret. */
function secretPanel(key, dismiss) {
  const input = h('input', { type: 'text', readOnly: true, value: key.key, 'aria-label': 'Your new API key', 'data-testid': 'new-api-key', spellcheck: 'false', autocomplete: 'off' });
  const status = h('span', { class: 'hint', role: 'status' });
  const copy = button('Copy key', { kind: 'primary', onClick: async () => {
    status.textContent = (await copyText(key.key, input)) ? 'Copied to the clipboard.' : 'Copy failed: select the key and copy it yourself.';
  } });
  const panel = callout('warning', `Copy your new key \u201c${key.description}\u201d now`,
    h('p', {}, h('strong', {}, 'This is the only time the key is shown. '), 'It is not stored anywhere you can read it again: once you leave or reload this page it is gone. If you lose it, delete it and create a new one.'),
    h('div', { class: 'secret-row' }, input, copy),
    status,
    h('div', { class: 'actions' }, button('I have saved it \u2014 hide the key', { onClick: dismiss })));
  panel.setAttribute('data-testid', 'new-key-panel');
  return panel;
}

function keyTable(keys, reload, fail) {
  if (!keys.length) return h('p', { class: 'empty' }, 'You have no API keys yet.');
  keys.sort((a, b) => (b.creation_date || '').localeCompare(a.creation_date || ''));
  const rows = keys.map((k) => {
    const remove = button('Delete', { kind: 'ghost-danger', small: true, label: `Delete API key ${k.description}` });
    remove.addEventListener('click', async () => {
      const ok = await confirmDialog({
        title: 'Delete this API key?',
        message: `\u201c${k.description}\u201d stops working immediately; anything that still uses it will be refused. This can\u2019t be undone.`,
        confirm: 'Delete key',
      });
      if (!ok) return;
      try {
        await busy(remove, () => del(`/users/auth/keys/${enc(k.id)}`));
        toast(`API key \u201c${k.description}\u201d deleted.`);
        const index = rows.indexOf(remove.closest('tr'));
        await reload();
        // Focus the key that took its place, else the list's heading.
        const left = document.querySelectorAll('#own-keys tbody tr');
        (left[Math.min(index, left.length - 1)]?.querySelector('button') || document.getElementById('keys-title')).focus();
      } catch (err) {
        fail(err);
      }
    });
    const cell = (props, ...content) => h('td', props, h('div', { class: 'cell' }, content));
    return h('tr', { 'data-key-id': k.id },
      cell({ 'data-label': 'Description' }, h('strong', { class: 'wrap' }, k.description), h('span', { class: 'sub mono wrap' }, breakable(k.id))),
      cell({ 'data-label': 'Created' }, when(k.creation_date)),
      cell({ 'data-label': 'Expires' }, expiryCell(k.expiration_date)),
      cell({ class: 'actions-cell' }, remove));
  });
  return h('div', { class: 'table-wrap' }, h('table', { class: 'stack data', id: 'own-keys' },
    h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Description'), h('th', { scope: 'col' }, 'Created'), h('th', { scope: 'col' }, 'Expires'), h('th', { scope: 'col' }, h('span', { class: 'visually-hidden' }, 'Actions')))),
    h('tbody', {}, rows)));
}
