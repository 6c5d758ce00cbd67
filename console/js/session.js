// The signed-in session: the bearer token in memory and in sessionStorage (so a reload of this tab
// keeps it; other tabs and a closed browser do not), refreshed before it expires.
//
// Refresh policy: half-way through the token's life, if the user did something (a key press, a
// click) since it was issued; an idle console is not kept alive, and its session runs out at the
// server's idle timeout. Shortly before the end (2 minutes, less for short sessions) listeners are
// warned, so the page can offer to stay signed in. The idle length is the life the server gave
// at sign-in; when a refresh gives less than that, the session's absolute end is near and can't
// be pushed back ("at maximum"): the warning says so and refreshing stops.

import { api, ApiError } from './api.js';

const STORAGE_KEY = 'ece-console.session';
const WARN_LEAD = 120_000;
const RETRY_DELAY = 10_000;
const SLACK = 5_000;

let current = null; // { token, expires: ISO, user, life: ms the server gave at sign-in }
let timer = null;
let issuedAt = 0;
let lastActivity = 0;
let refreshDue = false;
let refreshed = false; // the refresh of this token is done, under way, or waiting for a retry
let retryAt = 0; // when a refresh that failed is tried again (0: none waiting)
let warned = false;
let atMaximum = false;
let inFlight = null;
const endListeners = new Set();
const warnListeners = new Set();

export const token = () => current?.token ?? null;
export const expires = () => current?.expires ?? null;
export const user = () => current?.user ?? null;

/** fn(reason) when the session ends: 'signed-out', 'idle', 'maximum' or 'revoked'. */
export function onEnd(fn) { endListeners.add(fn); }

/**
 * fn(info) before the end: { expires, atMaximum, refreshFailed }, or null once a refresh pushed
 * the end back. refreshFailed: the last refresh failed (not a 401) and is being tried again.
 */
export function onWarn(fn) { warnListeners.add(fn); }

const emitWarn = (info) => { for (const fn of warnListeners) fn(info); };

/** Restores the session of this tab, if any and not expired. */
export function restore() {
  try {
    const saved = JSON.parse(sessionStorage.getItem(STORAGE_KEY) || 'null');
    if (saved?.token && Date.parse(saved.expires) > Date.now()) {
      current = saved;
      atMaximum = saved.atMaximum === true;
      begin();
    }
  } catch { /* storage unavailable or corrupt: start signed out */ }
  return current !== null;
}

function begin() {
  issuedAt = Date.now();
  refreshDue = false;
  refreshed = false;
  retryAt = 0;
  if (warned) { warned = false; emitWarn(null); }
  try { sessionStorage.setItem(STORAGE_KEY, JSON.stringify({ ...current, atMaximum })); } catch { /* memory only */ }
  schedule();
}

export async function login(username, password) {
  const res = await api('POST', '/users/auth/_login', { username, password }, { auth: false });
  const life = Date.parse(res.session_expiration_time) - Date.now();
  current = { token: res.token, expires: res.session_expiration_time, user: username, life };
  atMaximum = false;
  begin();
}

/**
 * Signs in with a token handed over by single sign-on (/sso/token). It is exchanged at once for
 * the next token of its session (POST /users/auth/_refresh): that gives the session's end, as
 * _login's reply does, and the token that was in the address bar stops working after the grace
 * period. Then it is kept exactly as a password sign-in's.
 */
export async function adopt(handed) {
  const res = await api('POST', '/users/auth/_refresh', {}, { token: handed });
  const me = await api('GET', '/user', undefined, { token: res.token });
  const life = Date.parse(res.session_expiration_time) - Date.now();
  current = { token: res.token, expires: res.session_expiration_time, user: me.user_name, life };
  atMaximum = false;
  begin();
}

/** Exchanges the token for a new one (the old one keeps working for a grace period). */
export function refresh() {
  if (!current) return Promise.resolve();
  inFlight ??= (async () => {
    refreshed = true;
    refreshDue = false;
    try {
      const res = await api('POST', '/users/auth/_refresh', {});
      if (!current) return;
      const remaining = Date.parse(res.session_expiration_time) - Date.now();
      atMaximum = remaining < current.life - Math.min(SLACK, current.life * 0.1);
      current = { ...current, token: res.token, expires: res.session_expiration_time };
      begin();
    } finally {
      inFlight = null;
    }
  })();
  return inFlight;
}

export async function logout() {
  try {
    if (current) await api('POST', '/users/auth/_logout', {});
  } finally {
    end('signed-out');
  }
}

/**
 * Forgets the session (without telling the server) and tells the listeners why. 'rejected' (the
 * API answered 401) becomes 'idle' or 'maximum' at the expected end, 'revoked' before it.
 */
export function end(reason) {
  if (!current) return;
  if (reason === 'rejected' || reason === 'expired') {
    const early = Date.now() < Date.parse(current.expires) - SLACK;
    reason = early ? 'revoked' : atMaximum ? 'maximum' : 'idle';
  }
  current = null;
  retryAt = 0;
  clearTimeout(timer);
  if (warned) { warned = false; emitWarn(null); }
  try { sessionStorage.removeItem(STORAGE_KEY); } catch { /* ignore */ }
  for (const fn of endListeners) fn(reason);
}

function moments() {
  const endAt = Date.parse(current.expires);
  const life = Math.max(0, endAt - issuedAt);
  return { endAt, refreshAt: issuedAt + life * 0.5, warnAt: endAt - Math.min(WARN_LEAD, life * 0.4) };
}

// One timer, set for the earliest moment still ahead: the end, the refresh, the warning, or the
// retry of a refresh that failed. A retry waiting never hides the warning or the end: the
// session may run out before the server answers again, and the user must be told first.
function schedule() {
  clearTimeout(timer);
  if (!current) return;
  const now = Date.now();
  const { endAt, refreshAt, warnAt } = moments();
  const next = [endAt, !refreshed && !atMaximum && refreshAt, !warned && warnAt, retryAt]
    .filter((t) => t && t > now);
  const wait = next.length ? Math.min(...next) - now : 0;
  timer = setTimeout(tick, Math.min(Math.max(wait, 0), 2 ** 31 - 1));
}

function warnIfDue() {
  if (!warned && current && Date.now() >= moments().warnAt) {
    warned = true;
    emitWarn({ expires: current.expires, atMaximum, refreshFailed: retryAt !== 0 });
  }
}

async function tick() {
  if (!current) return;
  const now = Date.now();
  const { endAt, refreshAt } = moments();
  if (now >= endAt) return end('expired');
  if (retryAt && now >= retryAt) return tryRefresh();
  if (!refreshed && !atMaximum && now >= refreshAt) {
    if (lastActivity > issuedAt) return tryRefresh();
    refreshDue = true; // idle: refresh as soon as the user comes back
  }
  warnIfDue();
  schedule();
}

/**
 * Refreshes now. On a failure other than a 401 (which ended the session) it is tried again in
 * RETRY_DELAY, and the warning is shown if its moment came while the request was out.
 */
export async function tryRefresh() {
  retryAt = 0;
  try {
    await refresh();
  } catch (e) {
    if (current && !(e instanceof ApiError && e.status === 401)) {
      retryAt = Date.now() + RETRY_DELAY;
      warnIfDue();
      schedule();
    }
  }
}

function activity() {
  lastActivity = Date.now();
  if (refreshDue && current && !atMaximum) tryRefresh();
}
for (const type of ['keydown', 'pointerdown']) {
  window.addEventListener(type, activity, { capture: true, passive: true });
}
