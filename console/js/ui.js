// DOM helpers shared by the pages. Text always goes in through textContent (never innerHTML), so
// nothing the API returns can inject markup.

import { formatDate, exactDate, relative } from './format.js';

const PROPS = new Set(['value', 'disabled', 'readOnly', 'required', 'hidden', 'open']);
// Set as attributes too, so that form.reset() returns to them.
const DEFAULTS = new Set(['checked', 'selected']);

/** h('button', {class: 'btn', onClick: fn}, 'Save') builds an element. */
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2).toLowerCase(), v);
    else if (PROPS.has(k)) el[k] = v;
    else if (DEFAULTS.has(k)) { el.setAttribute(k, ''); el[k] = true; }
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

/** Replaces el's children, skipping null/false (unlike replaceChildren, which prints "null"). */
export function fill(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

let uid = 0;
export const nextId = (prefix = 'f') => `${prefix}-${++uid}`;

/** A labelled input. Returns the wrapper; the input is wrapper.input. */
export function field({ label, name, type = 'text', value = '', hint, required, autocomplete, disabled, maxlength, minlength, placeholder }) {
  const id = nextId(name.replace(/\W/g, '-'));
  const hintId = hint ? `${id}-hint` : null;
  const input = h('input', {
    id, name, type, value, required, disabled, autocomplete, maxlength, minlength, placeholder,
    'data-field': name, 'aria-describedby': hintId,
  });
  input.defaultValue = value; // what form.reset() and the unsaved-changes check compare with
  const wrap = h('div', { class: 'field' }, h('label', { for: id }, label), input, hint && h('span', { class: 'hint', id: hintId }, hint));
  wrap.input = input;
  return wrap;
}

/** A labelled <select> of [value, text] pairs. */
export function selectField({ label, name, options, value, hint }) {
  const id = nextId(name);
  const hintId = hint ? `${id}-hint` : null;
  const select = h('select', { id, name, 'data-field': name, 'aria-describedby': hintId },
    options.map(([v, text]) => h('option', { value: v, selected: v === value }, text)));
  const wrap = h('div', { class: 'field' }, h('label', { for: id }, label), select, hint && h('span', { class: 'hint', id: hintId }, hint));
  wrap.input = select;
  return wrap;
}

export function button(text, { kind = '', type = 'button', onClick, label, small, disabled } = {}) {
  const cls = ['btn', kind && `btn-${kind}`, small && 'btn-sm'].filter(Boolean).join(' ');
  return h('button', { type, class: cls, onClick, 'aria-label': label, disabled }, text);
}

/** Runs fn while the button shows a spinner and is disabled. */
export async function busy(btn, fn) {
  btn.disabled = true;
  btn.setAttribute('aria-busy', 'true');
  try {
    return await fn();
  } finally {
    btn.disabled = false;
    btn.removeAttribute('aria-busy');
  }
}

export function callout(kind, title, ...body) {
  return h('div', { class: `callout callout-${kind}` }, title && h('div', { class: 'callout-title' }, title), ...body);
}

const TITLES = {
  0: "Can't reach the server",
  400: 'That was not accepted',
  401: 'Not signed in',
  403: 'Not allowed',
  404: 'Not found',
  409: 'Already exists',
  413: 'Too large',
  429: 'Too many requests',
};

/** An API error in plain words, with its code. */
export function errorBox(err) {
  const title = TITLES[err.status] || (err.status >= 500 ? 'The server had a problem' : 'Something went wrong');
  const box = callout('danger', title, h('div', {}, err.message),
    err.code && h('div', { class: 'code' }, 'Error code: ', h('code', {}, err.code)));
  box.setAttribute('role', 'alert');
  return box;
}

/** Shows err in slot (an element kept empty otherwise) and marks the form fields it names. */
export function showError(slot, err, form) {
  slot.replaceChildren(errorBox(err));
  if (!form) return;
  for (const name of err.fields || []) {
    const input = form.querySelector(`[data-field="${CSS.escape(name)}"]`);
    if (input) {
      input.setAttribute('aria-invalid', 'true');
      if (input === form.querySelector('[aria-invalid="true"]')) input.focus();
    }
  }
}

/** A check made before calling the API failed: marks input, announces message, focuses input. */
export function fieldError(slot, input, message) {
  input.setAttribute('aria-invalid', 'true');
  const box = callout('danger', message);
  box.setAttribute('role', 'alert');
  slot.replaceChildren(box);
  input.focus();
  return false;
}

/**
 * A new password typed twice. check(slot) verifies the 8-character minimum and that both match,
 * before anything is sent; with optional: true an empty pair is fine (no change).
 */
export function passwordPair({ label = 'New password', optional = false, hint } = {}) {
  const pass = field({ label, name: 'security.password', type: 'password', autocomplete: 'new-password', required: !optional, minlength: 8, maxlength: 128, hint: hint || '8 to 128 characters.' });
  const again = field({ label: `Repeat the ${label.toLowerCase()}`, name: 'confirm_password', type: 'password', autocomplete: 'new-password', required: !optional });
  return {
    fields: [pass, again],
    value: () => pass.input.value,
    reset() { pass.input.value = ''; again.input.value = ''; },
    check(slot) {
      const v = pass.input.value;
      if (optional && !v && !again.input.value) return true;
      if (v.length < 8) return fieldError(slot, pass.input, 'The password must be at least 8 characters.');
      if (v.length > 128) return fieldError(slot, pass.input, 'The password must be at most 128 characters.');
      if (v !== again.input.value) return fieldError(slot, again.input, 'The two passwords don\u2019t match.');
      return true;
    },
  };
}

/** Text with line-break chances after ".", "@", "-" and "_", for emails, user names and ids. */
export function breakable(text) {
  const out = document.createDocumentFragment();
  for (const part of String(text).split(/(?<=[.@_-])/)) out.append(part, document.createElement('wbr'));
  return out;
}

/** A date with its time zone; the exact time is in the title (hover) and the datetime attribute. */
export function when(iso, { rel = false } = {}) {
  if (!iso) return null;
  return h('time', { datetime: iso, title: exactDate(iso) }, rel ? relative(iso) : formatDate(iso));
}

/** When a key expires: "in 3 days" over the date, a badge when expired or never. */
export function expiryCell(iso) {
  if (!iso) return h('span', { class: 'badge badge-warning' }, 'Never');
  const past = Date.parse(iso) <= Date.now();
  return h('span', {},
    past ? h('span', { class: 'badge badge-danger' }, 'Expired') : relative(iso),
    h('span', { class: 'sub' }, when(iso)));
}

export function clearError(slot, form) {
  slot.replaceChildren();
  form?.querySelectorAll('[aria-invalid]').forEach((el) => el.removeAttribute('aria-invalid'));
}

export function toast(message) {
  const region = document.getElementById('toasts');
  const t = h('div', { class: 'toast' }, message);
  region.append(t);
  setTimeout(() => t.remove(), 5000);
}

/**
 * A modal <dialog>: Escape closes it, focus returns to what opened it. build(close) returns the
 * body content; resolves with whatever close() was given (undefined when dismissed).
 */
export function modal(title, build, { describedBy } = {}) {
  return new Promise((resolve) => {
    const opener = document.activeElement;
    const titleId = nextId('dlg');
    const dlg = h('dialog', { 'aria-labelledby': titleId, 'aria-describedby': describedBy });
    let result;
    const close = (value) => { result = value; dlg.close(); };
    dlg.append(h('div', { class: 'dialog-head' }, h('h2', { id: titleId }, title)), ...[build(close)].flat());
    dlg.addEventListener('close', () => {
      dlg.remove();
      if (opener && opener.isConnected) opener.focus();
      resolve(result);
    });
    document.body.append(dlg);
    dlg.showModal();
  });
}

/** Asks to confirm a destructive action; resolves true or false. */
export function confirmDialog({ title, message, confirm = 'Delete', kind = 'danger' }) {
  const msgId = nextId('msg');
  return modal(title, (close) => [
    h('div', { class: 'dialog-body' }, h('p', { id: msgId }, message)),
    h('div', { class: 'dialog-foot' },
      button('Cancel', { onClick: () => close(false) }),
      button(confirm, { kind, onClick: () => close(true) })),
  ], { describedBy: msgId }).then((v) => v === true);
}

/** Page heading; the h1 takes focus after navigation so screen readers announce the page. */
export function pageHead(title, intro, ...actions) {
  actions = actions.filter(Boolean);
  return h('div', { class: 'page-head' },
    h('div', {}, h('h1', { tabindex: '-1' }, title), intro && h('p', {}, intro)),
    actions.length ? h('div', { class: 'actions' }, ...actions) : null);
}

export function card(title, intro, ...body) {
  return h('section', { class: 'card', 'aria-label': title },
    h('div', { class: 'card-head' }, h('div', {}, h('h2', {}, title), intro && h('p', {}, intro))),
    h('div', { class: 'card-body' }, ...body));
}

/** Copies text; falls back to selecting an input for non-secure (plain http, remote) origins. */
export async function copyText(text, input) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    if (!input) return false;
    input.focus();
    input.select();
    try { return document.execCommand('copy'); } catch { return false; }
  }
}
