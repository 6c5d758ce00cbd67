// Security realms (GET /platform/configuration/security/realms and the LDAP / Active Directory
// operations): the realms in the order sign-in tries them, and one realm's settings.
//
//   #/realms                          the list; platform admins reorder, add and delete
//   #/realms/new/ldap                 a new LDAP (or active-directory) realm
//   #/realms/ldap/{id}                one realm: a form for admins, the same fields read-only for viewers
//
// Saving sends ?version= with the version the form was loaded at (x-cloud-resource-version), so a
// realm someone else changed in the meantime is a 409 security_realm.version_conflict, shown with
// a way to load their version, instead of their change being silently overwritten.

import { api, get, post, del, enc } from '../api.js';
import { h, fill, button, busy, breakable, pageHead, callout, showError, clearError, errorBox, toast, confirmDialog } from '../ui.js';
import { markClean } from '../guard.js';
import { realmTypeLabel } from '../format.js';
import { TYPES, realmFields } from './realm-form.js';

const BASE = '/platform/configuration/security/realms';
const pathOf = (listedType) => (listedType === 'active_directory' ? 'active-directory' : listedType);

export async function render(main, ctx) {
  const editable = ctx.can('reorder-security-realms') && ctx.can('update-ldap-configuration') && ctx.can('update-active-directory-configuration');
  const parts = location.hash.replace(/^#\/?/, '').split('?')[0].split('/').slice(1).map(decodeURIComponent);
  if (parts[0] === 'new' && TYPES[parts[1]] && editable) return renderEditor(main, parts[1], null, true);
  if (TYPES[parts[0]] && parts[1]) return renderEditor(main, parts[0], parts[1], editable);
  return renderList(main, editable);
}

// ---------- The list ----------

async function renderList(main, editable) {
  const errors = h('div', { class: 'card-errors' });
  const body = h('tbody');
  const add = (kind) => h('a', { class: `btn${kind === 'ldap' ? ' btn-primary' : ''}`, href: `#/realms/new/${kind}` }, `Add ${TYPES[kind].label} realm`);
  fill(main,
    pageHead('Security realms', 'Where people sign in from. Sign-in tries the native users first, then each enabled realm in this order.',
      editable && add('ldap'), editable && add('active-directory'), editable && add('saml')),
    editable ? null : callout('info', 'Read-only', h('p', {}, 'You can see the realms and their settings but not change them. Ask a platform admin to add, edit, reorder or remove realms.')),
    h('section', { class: 'card card-table', 'aria-label': 'Security realms' }, errors,
      h('table', { class: 'stack data realms-table' },
        h('thead', {}, h('tr', {},
          h('th', { class: 'col-order', scope: 'col' }, 'Order'), h('th', { scope: 'col' }, 'Realm'), h('th', { scope: 'col' }, 'Type'),
          h('th', { scope: 'col' }, 'URLs'), h('th', { class: 'col-status', scope: 'col' }, 'Status'),
          h('th', { class: 'actions-cell', scope: 'col' }, h('span', { class: 'visually-hidden' }, 'Actions')))),
        body)));

  const reload = async () => {
    const { realms } = await get(BASE);
    const configured = realms.filter((r) => r.type !== 'native');
    body.replaceChildren(...realms.map((r, i) => row(r, i, configured, editable, { reload, fail: (err) => showError(errors, err) })));
  };
  await reload();
}

function row(r, index, configured, editable, { reload, fail }) {
  const native = r.type === 'native';
  const status = r.enabled === false ? h('span', { class: 'badge badge-danger' }, 'Disabled') : h('span', { class: 'badge badge-success' }, 'Enabled');
  const link = native ? h('strong', {}, r.name) : h('a', { href: `#/realms/${pathOf(r.type)}/${enc(r.id)}` }, h('strong', { class: 'wrap' }, breakable(r.name)));
  // data-label: the column's name, shown next to each value when the table stacks (narrow screens).
  return h('tr', { 'data-realm': r.id },
    h('td', { class: 'col-order', 'data-label': 'Order' }, String(index + 1)),
    h('td', { 'data-label': 'Realm' }, h('div', {}, link, h('span', { class: 'sub wrap' }, native ? 'Always first' : breakable(r.id)))),
    h('td', { 'data-label': 'Type' }, realmTypeLabel(r.type)),
    h('td', { 'data-label': 'URLs' }, r.urls?.length ? h('div', { class: 'wrap' }, r.urls.map((u) => h('div', {}, breakable(u)))) : '\u2014'),
    h('td', { 'data-label': 'Status' }, h('div', {}, status)),
    h('td', { class: 'actions-cell' }, h('div', { class: 'cell' }, native ? null : actions(r, configured, editable, { reload, fail }))));
}

function actions(r, configured, editable, { reload, fail }) {
  const details = h('a', { class: 'btn btn-sm', href: `#/realms/${pathOf(r.type)}/${enc(r.id)}`, 'aria-label': `${editable ? 'Edit' : 'View'} realm ${r.id}` }, editable ? 'Edit' : 'View');
  if (!editable) return details;
  const at = configured.findIndex((c) => c.id === r.id);
  const move = (delta, label) => {
    const target = at + delta;
    const b = button(delta < 0 ? '\u2191' : '\u2193', { small: true, label: `Move realm ${r.id} ${label}`, disabled: target < 0 || target >= configured.length });
    b.addEventListener('click', async () => {
      const ids = configured.map((c) => c.id);
      [ids[at], ids[target]] = [ids[target], ids[at]];
      await busy(b, () => post(`${BASE}/_reorder`, { realms: ids })).then(async () => {
        toast(`${r.name} moved ${label}.`);
        await reload();
        // Keep the keyboard on the realm that moved.
        const again = document.querySelector(`[aria-label="Move realm ${CSS.escape(r.id)} ${label}"]`);
        (again && !again.disabled ? again : document.querySelector(`tr[data-realm="${CSS.escape(r.id)}"] a`))?.focus();
      }, fail);
    });
    return b;
  };
  const remove = button('Delete', { kind: 'ghost-danger', small: true, label: `Delete realm ${r.id}` });
  remove.addEventListener('click', async () => {
    if (!(await confirmDialog({
      title: `Delete realm ${r.name}?`,
      message: 'Its users can no longer sign in through it. Their sessions and API keys end. This can\u2019t be undone.',
      confirm: 'Delete realm',
    }))) return;
    await busy(remove, () => del(`${BASE}/${pathOf(r.type)}/${enc(r.id)}`)).then(async () => {
      toast(`Realm ${r.name} deleted.`);
      await reload();
    }, fail);
  });
  return [move(-1, 'up'), move(1, 'down'), details, remove];
}

// ---------- One realm ----------

function conflictBox(onReload) {
  const box = callout('danger', 'Changed by someone else',
    h('p', {}, 'This realm was changed after you opened it, so your changes were not saved (they would have overwritten the other change). Load the current settings and make your changes again.'),
    h('div', { class: 'code' }, 'Error code: ', h('code', {}, 'security_realm.version_conflict')),
    h('div', { class: 'actions' }, button('Load the current settings', { kind: 'primary', small: true, onClick: onReload })));
  box.setAttribute('role', 'alert');
  return box;
}

async function renderEditor(main, kind, id, editable) {
  const type = TYPES[kind];
  const creating = id === null;
  let settings = {};
  let version = null;
  if (!creating) {
    const res = await api('GET', `${BASE}/${type.path}/${enc(id)}`, undefined, { withHeaders: true });
    settings = res.body || {};
    version = res.headers.get('x-cloud-resource-version');
  }
  const readOnly = !editable;
  const title = creating ? `New ${type.label} realm` : `${settings.name || id}`;
  const back = h('a', { class: 'btn', href: '#/realms' }, 'Back to realms');
  // SAML realms have no form: their whole document is edited as JSON (below, opened).
  const fields = type.jsonOnly ? null : realmFields(kind, settings, { creating, readOnly });
  const errors = h('div', { class: 'form-errors' });
  const save = button(creating ? 'Create realm' : 'Save changes', { kind: 'primary', type: 'submit' });
  const form = fields && h('form', { 'aria-label': 'Realm settings', novalidate: true, 'data-guard': '' },
    fields.el, errors, readOnly ? null : h('div', { class: 'actions' }, save, h('a', { class: 'btn', href: '#/realms' }, 'Cancel')));

  const path = () => `${BASE}/${type.path}${creating ? '' : `/${enc(id)}?version=${enc(version)}`}`;
  const send = async (doc) => {
    const res = await api(creating ? 'POST' : 'PUT', path(), doc, { withHeaders: true });
    version = res.headers.get('x-cloud-resource-version') || version;
    return doc;
  };
  const reloadPage = () => {
    if (form) markClean(form);
    markClean(jsonForm);
    render(main, { can: () => editable }).catch((err) => fill(main, pageHead(title), errorBox(err)));
  };
  const failed = (err, slot, f) => {
    if (err.code === 'security_realm.version_conflict') slot.replaceChildren(conflictBox(reloadPage));
    else showError(slot, err, f);
  };
  const done = (doc) => {
    if (form) markClean(form);
    markClean(jsonForm);
    toast(creating ? `Realm ${doc.name} created.` : `Realm ${doc.name} saved.`);
    location.hash = '#/realms';
  };

  form?.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearError(errors, form);
    try {
      done(await busy(save, () => send(fields.read())));
    } catch (err) {
      failed(err, errors, form);
    }
  });

  // The whole document as JSON, for the fields the form doesn't show.
  const jsonErrors = h('div', { class: 'form-errors' });
  const area = h('textarea', { id: 'realm-json', name: 'json', rows: 16, spellcheck: 'false', class: 'code-area', readOnly, 'aria-describedby': 'realm-json-hint' });
  const template = type.jsonOnly
    ? { id: '', name: '', idp: { entity_id: '', metadata_path: '' }, sp: { entity_id: '', acs: '', logout: '' }, attributes: { principal: '', groups: '' } }
    : { id: '', name: '', urls: [], bind_anonymously: false, ...(kind === 'ldap' ? { bind_type: 'user_templates' } : { domain_name: '' }) };
  area.value = JSON.stringify(creating ? template : settings, null, 2);
  area.defaultValue = area.value;
  const saveJson = button(creating ? 'Create from JSON' : 'Save JSON', { kind: 'primary', type: 'submit' });
  const jsonForm = h('form', { 'aria-label': 'Realm settings as JSON', novalidate: true, 'data-guard': '' },
    h('div', { class: 'field' }, h('label', { for: 'realm-json' }, `${type.label} settings as JSON`), area,
      h('span', { class: 'hint', id: 'realm-json-hint' },
        readOnly ? 'The settings as the API returns them (secrets are never returned).'
          : 'Sent as is. Secrets are never shown: leave bind_password and certificate_url_truststore_password out to keep the stored ones.')),
    jsonErrors, readOnly ? null : h('div', { class: 'actions' }, saveJson));
  jsonForm.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearError(jsonErrors, jsonForm);
    let doc;
    try {
      doc = JSON.parse(area.value);
    } catch (err) {
      area.setAttribute('aria-invalid', 'true');
      jsonErrors.replaceChildren(errorBox({ status: 400, code: null, message: `That is not valid JSON: ${err.message}` }));
      area.focus();
      return;
    }
    try {
      done(await busy(saveJson, () => send(doc)));
    } catch (err) {
      failed(err, jsonErrors, jsonForm);
    }
  });

  const secretsNote = !creating && !readOnly && callout('info', null,
    h('p', {}, 'Passwords are write-only: they are never shown here. Leave a password field empty to keep the stored one.'));
  fill(main,
    pageHead(title, creating ? `Settings of a new ${type.label} realm.` : `${type.label} realm ${id}${version ? ` \u00b7 version ${version}` : ''}`, back),
    readOnly ? callout('info', 'Read-only', h('p', {}, 'You can see this realm\u2019s settings but not change them.')) : secretsNote || null,
    form && h('section', { class: 'card', 'aria-label': 'Settings' }, h('div', { class: 'card-body' }, form)),
    h('section', { class: 'card', 'aria-label': 'JSON' }, h('div', { class: 'card-body' },
      h('details', { class: 'json-editor', open: type.jsonOnly || undefined }, h('summary', {}, readOnly ? 'Show as JSON' : 'Edit as JSON (every field)'), jsonForm))));
  if (creating && fields) fields.focus();
}
