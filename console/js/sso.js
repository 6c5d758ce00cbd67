// Single sign-on (SAML) from the browser's side: the start of the round trip to the identity
// provider and the hand-off back at /sso/token. See docs/realms.md#saml-sign-in.
//
// The server ends a SAML sign-in with a redirect to `/sso/token#<TOKEN>?state=<S>`: whoever can
// send a browser there can sign it in, as anybody whose token they hold (login CSRF). So the
// console only accepts a hand-off that carries the random state this tab made when its sign-in
// button was pressed, kept in this tab's sessionStorage and used once. The token is in the
// fragment (never sent to a server, nor in a Referer); it is read once and wiped from the address
// bar before anything else happens.

const STATE_KEY = 'ece-console.sso-state';
export const HANDOFF_PATH = '/sso/token';

/** A random, URL-safe state of 256 bits. */
function nonce() {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/**
 * Leaves for the identity provider of method (an `sso_methods` entry of GET /users/auth/methods:
 * { name, url } where url already has `?realm_id=`), with a fresh state remembered for the return.
 */
export function start(method) {
  const state = nonce();
  sessionStorage.setItem(STATE_KEY, JSON.stringify({ state, name: method.name }));
  const sep = method.url.includes('?') ? '&' : '?';
  location.assign(`${method.url}${sep}state=${encodeURIComponent(state)}`);
}

/**
 * At /sso/token: reads the hand-off and clears it from the address bar (the page becomes `/`).
 * Returns null elsewhere, { token, name } for a hand-off this tab asked for, or { error } (words
 * for the user) for any other: no token, no state, or a state this tab did not make.
 */
export function takeHandOff() {
  if (location.pathname !== HANDOFF_PATH) return null;
  const fragment = location.hash.slice(1);
  history.replaceState(null, '', '/');
  let expected = null;
  try {
    expected = JSON.parse(sessionStorage.getItem(STATE_KEY) || 'null');
    sessionStorage.removeItem(STATE_KEY); // single use, whatever comes back
  } catch { /* storage unavailable: no state to match */ }

  const q = fragment.indexOf('?');
  const token = q < 0 ? fragment : fragment.slice(0, q);
  const state = q < 0 ? null : new URLSearchParams(fragment.slice(q + 1)).get('state');
  if (!token) {
    return { error: 'The single sign-on ended without a session. Sign in again.' };
  }
  if (!expected?.state || state !== expected.state) {
    return {
      error: 'This single sign-on was not started from this browser tab, so it was refused: '
        + 'someone may have tried to sign you in to their account. Sign in again.',
      token,
    };
  }
  return { token, name: expected.name };
}
