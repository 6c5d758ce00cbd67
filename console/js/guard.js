// Unsaved input: forms marked data-guard are "dirty" when a field differs from the value it was
// rendered with. The shell asks before leaving a page with a dirty form, and when a session ends
// it keeps the page's typed input (never passwords) in this tab's sessionStorage, to put back
// after the same user signs in again.

const DRAFT_KEY = 'ece-console.draft';

const guarded = (root) => [...root.querySelectorAll('form[data-guard]')];

function changed(el) {
  if (el.type === 'checkbox' || el.type === 'radio') return el.checked !== el.defaultChecked;
  if (el.tagName === 'SELECT') return [...el.options].some((o) => o.selected !== o.defaultSelected);
  return el.value !== el.defaultValue;
}

const fields = (form) => [...form.elements].filter((el) => el.name && !el.disabled && el.type !== 'submit' && el.type !== 'button');

/** Whether a guarded form under root has unsaved changes. */
export function isDirty(root) {
  return guarded(root).some((form) => fields(form).some(changed));
}

/** Takes the current values as the saved ones (after a successful save). */
export function markClean(form) {
  for (const el of fields(form)) {
    if (el.type === 'checkbox' || el.type === 'radio') el.defaultChecked = el.checked;
    else if (el.tagName === 'SELECT') for (const o of el.options) o.defaultSelected = o.selected;
    else el.defaultValue = el.value;
  }
}

/** Keeps the changed, non-secret fields of root's guarded forms for user at hash. */
export function saveDraft(root, user, hash) {
  const forms = {};
  for (const form of guarded(root)) {
    const values = {};
    for (const el of fields(form)) {
      if (el.type === 'password' || !changed(el)) continue;
      values[el.name] = el.type === 'checkbox' ? el.checked : el.value;
    }
    if (Object.keys(values).length) forms[form.getAttribute('aria-label')] = values;
  }
  try {
    if (Object.keys(forms).length) sessionStorage.setItem(DRAFT_KEY, JSON.stringify({ user, hash, forms }));
  } catch { /* storage unavailable: nothing kept */ }
  return Object.keys(forms).length > 0;
}

/** The kept draft for user (removing it), or null. */
export function takeDraft(user) {
  try {
    const draft = JSON.parse(sessionStorage.getItem(DRAFT_KEY) || 'null');
    sessionStorage.removeItem(DRAFT_KEY);
    return draft && draft.user === user ? draft : null;
  } catch {
    return null;
  }
}

/** Puts a draft's values back into root's guarded forms; returns how many fields. */
export function applyDraft(root, draft) {
  let n = 0;
  for (const form of guarded(root)) {
    const values = draft.forms[form.getAttribute('aria-label')];
    if (!values) continue;
    for (const el of fields(form)) {
      if (!(el.name in values)) continue;
      if (el.type === 'checkbox') el.checked = values[el.name];
      else el.value = values[el.name];
      el.dispatchEvent(new Event(el.type === 'checkbox' ? 'change' : 'input', { bubbles: true }));
      n += 1;
    }
  }
  return n;
}
