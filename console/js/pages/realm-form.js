// The form of one LDAP or Active Directory realm (LdapSettings / ActiveDirectorySettings of
// spec/ece-realms-swagger.json): the commonly needed fields, and the whole document as JSON for
// the rest. Fields the form does not show are carried over from the settings it was opened with.
//
// Secrets (bind_password, certificate_url_truststore_password) are write-only: the API never
// returns them, so their inputs start empty, and an empty input is left out of the request,
// which keeps the stored secret.

import { h, field, selectField, nextId } from '../ui.js';
import { ROLES } from '../format.js';

export const TYPES = {
  ldap: { label: 'LDAP', path: 'ldap', listed: 'ldap' },
  'active-directory': { label: 'Active Directory', path: 'active-directory', listed: 'active_directory' },
  // SAML realms: configured as JSON only (no form yet; SAML sign-in itself is not served yet).
  saml: { label: 'SAML', path: 'saml', listed: 'saml', jsonOnly: true },
};

const SCOPES = [['', 'Default (sub_tree)'], ['sub_tree', 'Sub-tree'], ['one_level', 'One level'], ['base', 'Base object']];
const BALANCE = [['', 'Default (failover)'], ['failover', 'Failover'], ['round_robin', 'Round robin'], ['dns_failover', 'DNS failover'], ['dns_round_robin', 'DNS round robin']];
const TRUST = [['', 'Default'], ['PKCS12', 'PKCS#12'], ['jks', 'Java keystore (jks)']];

/** A labelled <textarea> (one value a line); wrapper.input is the textarea. */
function linesField({ label, name, lines = [], hint, disabled }) {
  const id = nextId(name.replace(/\W/g, '-'));
  const hintId = hint ? `${id}-hint` : null;
  const input = h('textarea', { id, name, rows: Math.max(2, lines.length), disabled, 'data-field': name, 'aria-describedby': hintId, spellcheck: 'false' });
  input.value = lines.join('\n');
  input.defaultValue = input.value;
  const wrap = h('div', { class: 'field' }, h('label', { for: id }, label), input, hint && h('span', { class: 'hint', id: hintId }, hint));
  wrap.input = input;
  return wrap;
}

function checkbox({ label, name, checked, hint, disabled }) {
  const input = h('input', { type: 'checkbox', name, checked, disabled, 'data-field': name });
  const wrap = h('label', { class: 'check' }, input, h('span', {}, h('strong', {}, label), hint && h('span', { class: 'hint' }, hint)));
  wrap.input = input;
  return wrap;
}

const SECRET_HINT_NEW = 'Write-only: it is stored encrypted and never shown again.';
const SECRET_HINT_EDIT = 'Write-only: never shown. Leave empty to keep the stored one; type a new one to replace it.';

function roleChecks(name, selected, disabled) {
  return ROLES.map(([id, label]) => h('label', { class: 'check check-inline' },
    h('input', { type: 'checkbox', name, value: id, checked: selected.includes(id), disabled }), h('span', {}, label)));
}

/** One role-mapping rule: type, DN, roles; remove() takes it out. */
function ruleRow(rule, index, disabled) {
  const n = index;
  const type = selectField({ label: 'Match', name: `rule-${n}-type`, value: rule.type || 'group_dn', options: [['group_dn', 'Group DN'], ['user_dn', 'User DN']] });
  type.input.disabled = disabled;
  const value = field({ label: 'Distinguished name', name: `rule-${n}-value`, value: rule.value || '', disabled, placeholder: 'cn=admins,ou=groups,dc=example,dc=com' });
  const roles = h('fieldset', { class: 'fieldset' }, h('legend', {}, 'Roles'), roleChecks(`rule-${n}-roles`, rule.roles || [], disabled));
  const row = h('div', { class: 'rule-row', 'data-rule': '' }, h('div', { class: 'form-grid' }, type, value), roles);
  row.read = () => ({
    type: type.input.value,
    value: value.input.value.trim(),
    roles: [...roles.querySelectorAll('input:checked')].map((i) => i.value),
  });
  return row;
}

/**
 * Builds the form's fields for settings (an existing document, or {} for a new realm).
 * Returns { el, read() -> the settings document to send }.
 */
export function realmFields(kind, settings, { creating, readOnly }) {
  const ldap = kind === 'ldap';
  const s = settings;
  const dis = readOnly || undefined;
  const f = (label, name, value, more = {}) => field({ label, name, value: value ?? '', disabled: dis, autocomplete: 'off', ...more });
  const sel = (label, name, options, value, hint) => {
    const w = selectField({ label, name, options, value: value ?? '', hint });
    w.input.disabled = !!readOnly;
    return w;
  };

  const id = f('Id', 'id', s.id, { required: true, disabled: dis || !creating, hint: creating ? 'Letters, digits, "-" and "_". Can\u2019t be changed later.' : 'Can\u2019t be changed.' });
  const name = f('Name', 'name', s.name, { required: true });
  const urls = linesField({ label: 'URLs', name: 'urls', lines: s.urls || [], disabled: dis, hint: 'One a line: ldap://host:389 or ldaps://host:636 (not both kinds).' });
  const enabled = checkbox({ label: 'Enabled', name: 'enabled', checked: s.enabled !== false, disabled: dis, hint: 'Disabled realms are skipped at sign-in.' });
  const balance = sel('Load balancing', 'load_balance.type', BALANCE, s.load_balance?.type);
  const domain = !ldap && f('Domain name', 'domain_name', s.domain_name, { required: true, hint: 'The forest root domain, e.g. corp.example.com.' });

  const bindType = ldap && sel('Bind type', 'bind_type', [['user_templates', 'User DN templates'], ['user_search', 'User search']], s.bind_type || 'user_templates');
  const templates = ldap && linesField({ label: 'User DN templates', name: 'user_dn_templates', lines: s.user_dn_templates || [], disabled: dis, hint: 'One a line; {0} is the user name, e.g. uid={0},ou=people,dc=example,dc=com.' });
  const anon = checkbox({ label: 'Bind anonymously', name: 'bind_anonymously', checked: s.bind_anonymously === true, disabled: dis, hint: 'Search without a bind DN and password.' });
  const bindDn = f('Bind DN', 'bind_dn', s.bind_dn);
  const bindPassword = f('Bind password', 'bind_password', '', { type: 'password', autocomplete: 'new-password', hint: creating ? SECRET_HINT_NEW : SECRET_HINT_EDIT });
  const userBase = f('User search base DN', 'user_search.base_dn', s.user_search?.base_dn);
  const userScope = sel('User search scope', 'user_search.scope', SCOPES, s.user_search?.scope);
  const userFilter = f('User search filter', 'user_search.filter', s.user_search?.filter, { hint: ldap ? 'Default (uid={0}).' : 'Default: sAMAccountName or userPrincipalName.' });

  const groupBase = f('Group search base DN', 'group_search.base_dn', s.group_search?.base_dn);
  const groupScope = sel('Group search scope', 'group_search.scope', SCOPES, s.group_search?.scope);
  const groupFilter = ldap && f('Group search filter', 'group_search.filter', s.group_search?.filter, { hint: 'Default: group, groupOfNames, groupOfUniqueNames or posixGroup membership.' });
  const groupAttr = ldap && f('Group search user attribute', 'group_search.user_attribute', s.group_search?.user_attribute, { hint: 'Passed as {0} to the filter; default: the user DN.' });
  const userGroupAttr = ldap && f('User group attribute', 'user_group_attribute', s.user_group_attribute, { hint: 'Used when no group search base DN is set; default memberOf.' });

  const certUrl = f('CA certificate URL', 'certificate_url', s.certificate_url, { hint: 'A bundle with the CA that signed the directory\u2019s certificate.' });
  const trustType = sel('Truststore type', 'certificate_url_truststore_type', TRUST, s.certificate_url_truststore_type);
  const trustPassword = f('Truststore password', 'certificate_url_truststore_password', '', { type: 'password', autocomplete: 'new-password', hint: creating ? SECRET_HINT_NEW : SECRET_HINT_EDIT });

  const mappings = s.role_mappings || { default_roles: [], rules: [] };
  const defaults = h('fieldset', { class: 'fieldset' }, h('legend', {}, 'Default roles'),
    h('p', { class: 'hint' }, 'Every user of this realm gets these. A user who gets no role at all can\u2019t sign in.'), h('div', {}, roleChecks('default_roles', mappings.default_roles || [], dis)));
  const rules = h('div', { class: 'rules' });
  let ruleCount = 0;
  const addRule = (rule) => {
    const row = ruleRow(rule, ruleCount++, readOnly);
    if (!readOnly) {
      row.append(h('button', { type: 'button', class: 'btn btn-sm btn-ghost-danger', onClick: () => { row.remove(); } }, 'Remove rule'));
    }
    rules.append(row);
    return row;
  };
  (mappings.rules || []).forEach(addRule);
  const addBtn = !readOnly && h('button', { type: 'button', class: 'btn btn-sm', onClick: () => addRule({}).querySelector('select').focus() }, 'Add rule');

  // Bind type decides which of the user-finding fields apply.
  const templatesBox = ldap && h('div', {}, templates);
  const searchBox = h('div', { class: 'form-grid' }, userBase, userScope, userFilter);
  const syncBind = () => {
    if (!ldap) return;
    const search = bindType.input.value === 'user_search';
    templatesBox.hidden = search;
    searchBox.hidden = !search;
  };
  if (ldap) bindType.input.addEventListener('change', syncBind);
  syncBind();

  const section = (title, ...body) => h('fieldset', { class: 'fieldset section' }, h('legend', {}, title), ...body);
  const el = h('div', { class: 'realm-fields' },
    section('Realm', h('div', { class: 'form-grid' }, id, name, domain || null), urls, h('div', { class: 'form-grid' }, balance), enabled),
    section('Finding and binding users',
      ldap && h('div', { class: 'form-grid' }, bindType),
      templatesBox || null, searchBox,
      anon, h('div', { class: 'form-grid' }, bindDn, bindPassword)),
    section('Groups', h('div', { class: 'form-grid' }, groupBase, groupScope, groupFilter || null, groupAttr || null, userGroupAttr || null)),
    section('TLS', h('div', { class: 'form-grid' }, certUrl, trustType, trustPassword)),
    section('Role mappings', defaults, h('h3', { class: 'subhead' }, 'Rules'),
      h('p', { class: 'hint' }, 'Users whose DN, or one of whose groups, matches a rule get its roles.'), rules, addBtn || null));

  const text = (w) => w.input.value.trim();
  const lines = (w) => w.input.value.split('\n').map((l) => l.trim()).filter(Boolean);
  const setOrDrop = (obj, key, value) => {
    if (value === '' || value === undefined || (Array.isArray(value) && !value.length)) delete obj[key];
    else obj[key] = value;
  };
  const nested = (doc, key, parts) => {
    const o = { ...(doc[key] || {}) };
    for (const [k, w] of parts) if (w) setOrDrop(o, k, text(w));
    if (Object.keys(o).length) doc[key] = o; else delete doc[key];
  };

  function read() {
    const doc = structuredClone(settings);
    delete doc.order; // the list's up and down buttons change the order
    doc.id = creating ? text(id) : settings.id;
    doc.name = text(name);
    doc.urls = lines(urls);
    doc.enabled = enabled.input.checked;
    doc.bind_anonymously = anon.input.checked;
    if (!ldap) doc.domain_name = text(domain);
    setOrDrop(doc, 'bind_dn', text(bindDn));
    // Secrets: only a typed value is sent; leaving it out keeps the stored one.
    delete doc.bind_password;
    delete doc.certificate_url_truststore_password;
    if (bindPassword.input.value) doc.bind_password = bindPassword.input.value;
    if (trustPassword.input.value) doc.certificate_url_truststore_password = trustPassword.input.value;
    if (ldap) {
      doc.bind_type = bindType.input.value;
      if (doc.bind_type === 'user_templates') {
        setOrDrop(doc, 'user_dn_templates', lines(templates));
        delete doc.user_search;
      } else {
        delete doc.user_dn_templates;
        nested(doc, 'user_search', [['base_dn', userBase], ['scope', userScope], ['filter', userFilter]]);
      }
      setOrDrop(doc, 'user_group_attribute', text(userGroupAttr));
    } else {
      nested(doc, 'user_search', [['base_dn', userBase], ['scope', userScope], ['filter', userFilter]]);
    }
    nested(doc, 'group_search', [['base_dn', groupBase], ['scope', groupScope], ['filter', groupFilter], ['user_attribute', groupAttr]]);
    const lb = { ...(doc.load_balance || {}) };
    setOrDrop(lb, 'type', balance.input.value);
    if (Object.keys(lb).length) doc.load_balance = lb; else delete doc.load_balance;
    setOrDrop(doc, 'certificate_url', text(certUrl));
    setOrDrop(doc, 'certificate_url_truststore_type', trustType.input.value);
    doc.role_mappings = {
      default_roles: [...defaults.querySelectorAll('input:checked')].map((i) => i.value),
      rules: [...rules.querySelectorAll('[data-rule]')].map((r) => r.read()),
    };
    return doc;
  }
  return { el, read, focus: () => (creating ? id.input : name.input).focus() };
}
