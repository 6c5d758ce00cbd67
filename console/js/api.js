// The ECE API client: JSON in and out, the session's bearer token, errors as ApiError.

import * as session from './session.js';

export class ApiError extends Error {
  constructor(status, code, message, fields = []) {
    super(message);
    this.status = status;
    this.code = code;
    this.fields = fields;
  }
}

/**
 * Calls /api/v1 + path. Throws ApiError with the first entry of the ECE error envelope. A 401 on
 * a request made with the current token ends the session (it was revoked or expired). Every body
 * goes as JSON with `Content-Type: application/json` (the API refuses others with 415).
 * options.token: send this bearer token instead of the session's. options.withHeaders: resolve
 * { body, headers } instead of the body (for x-cloud-resource-version and the like).
 */
export async function api(method, path, body, { auth = true, token: explicit, withHeaders = false } = {}) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const token = explicit ?? (auth ? session.token() : null);
  if (token) headers.Authorization = `Bearer ${token}`;
  let res;
  try {
    res = await fetch(`/api/v1${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'omit',
      cache: 'no-store',
    });
  } catch {
    throw new ApiError(0, 'network_error', 'The server could not be reached. Check that it is running and try again.');
  }
  const text = await res.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { /* not JSON */ }
  if (res.ok) return withHeaders ? { body: data, headers: res.headers } : data;
  const e = data && Array.isArray(data.errors) ? data.errors[0] : null;
  const err = new ApiError(
    res.status,
    e?.code || `http_${res.status}`,
    e?.message || `The server answered ${res.status} ${res.statusText}.`,
    e?.fields || [],
  );
  if (res.status === 401 && token && token === session.token()) session.end('rejected');
  throw err;
}

export const get = (path) => api('GET', path);
export const post = (path, body) => api('POST', path, body ?? {});
export const put = (path, body) => api('PUT', path, body);
export const patch = (path, body) => api('PATCH', path, body);
export const del = (path) => api('DELETE', path);

export const enc = encodeURIComponent;
