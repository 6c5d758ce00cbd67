// The signed-in session: the bearer token in memory and in sessionStorage (so a reload of this tab
// keeps it; other tabs and a closed browser do not), refreshed before it expires.
//
// Refresh policy: at 80% of the token's remaining life, if the user did something (a key press,
// a click) since the token was issued. An idle console is not kept alive forever: its session
// runs out as the server's idle timeout says, and the next action asks to sign in again. When a
// refresh no longer moves the expiry (the server's maximum session length), refreshing stops.

import { api, ApiError } from './api.js';

const STORAGE_KEY = 'ece-console.session';
const MIN_DELAY = 5_000;
const RETRY_DELAY = 10_000;

let current = null; // { token, expires: ISO string }
let timer = null;
let issuedAt = 0;
let lastActivity = 0;
let refreshDue = false;
let atMaximum = false;
const listeners = new Set();

export const token = () => current?.token ?? null;
export const expires = () => current?.expires ?? null;

/** fn(reason) is called when the session ends: 'signed-out', 'expired'. */
export function onEnd(fn) { listeners.add(fn); }

/** Restores the session of this tab, if any and not expired. */
export function restore() {
  try {
    const saved = JSON.parse(sessionStorage.getItem(STORAGE_KEY) || 'null');
    if (saved?.token && Date.parse(saved.expires) > Date.now()) {
      current = saved;
      issuedAt = Date.now();
      atMaximum = false;
      schedule();
    }
  } catch { /* storage unavailable or corrupt: start signed out */ }
  return current !== null;
}

function start(res) {
  const previous = current?.expires;
  current = { token: res.token, expires: res.session_expiration_time };
  atMaximum = previous !== undefined && Date.parse(current.expires) <= Date.parse(previous) + 1000;
  issuedAt = Date.now();
  refreshDue = false;
  try { sessionStorage.setItem(STORAGE_KEY, JSON.stringify(current)); } catch { /* memory only */ }
  schedule();
}

export async function login(username, password) {
  const res = await api('POST', '/users/auth/_login', { username, password }, { auth: false });
  start(res);
}

/** Exchanges the token for a new one (the old one keeps working for a grace period). */
export async function refresh() {
  if (!current) return;
  const res = await api('POST', '/users/auth/_refresh', {});
  start(res);
}

export async function logout() {
  try {
    if (current) await api('POST', '/users/auth/_logout', {});
  } finally {
    end('signed-out');
  }
}

/** Forgets the session (without telling the server) and notifies the listeners. */
export function end(reason) {
  if (!current) return;
  current = null;
  clearTimeout(timer);
  try { sessionStorage.removeItem(STORAGE_KEY); } catch { /* ignore */ }
  for (const fn of listeners) fn(reason);
}

function schedule(delay) {
  clearTimeout(timer);
  if (!current) return;
  const remaining = Date.parse(current.expires) - Date.now();
  const wait = delay ?? (atMaximum ? remaining : Math.max(MIN_DELAY, remaining * 0.8));
  timer = setTimeout(tick, Math.min(Math.max(wait, 0), 2 ** 31 - 1));
}

async function tick() {
  if (!current) return;
  const remaining = Date.parse(current.expires) - Date.now();
  if (remaining <= 0) return end('expired');
  if (atMaximum) return schedule(remaining);
  if (lastActivity <= issuedAt) {
    // Idle: refresh as soon as the user comes back, or let the session run out.
    refreshDue = true;
    return schedule(remaining);
  }
  await tryRefresh();
}

async function tryRefresh() {
  refreshDue = false;
  try {
    await refresh();
  } catch (e) {
    // A 401 already ended the session (see api.js); otherwise try again shortly.
    if (!(e instanceof ApiError && e.status === 401)) schedule(RETRY_DELAY);
  }
}

function activity() {
  lastActivity = Date.now();
  if (refreshDue && current) tryRefresh();
}
for (const type of ['keydown', 'pointerdown']) {
  window.addEventListener(type, activity, { capture: true, passive: true });
}
