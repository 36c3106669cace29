// Calls to salon's JSON API from the organiser console: the session cookie
// goes along by itself, state changes carry the CSRF token from
// <meta name="csrf-token">, and every failure becomes an Error whose
// message a person can act on.
import { meta } from './dom.js';

export class APIError extends Error {
  constructor(message, status) {
    super(message);
    this.status = status;
  }
}

function sentence(s) {
  s = String(s || '').trim();
  if (!s) return s;
  s = s.charAt(0).toUpperCase() + s.slice(1);
  return /[.!?。！？]$/.test(s) ? s : s + '.';
}

// api(method, path, body?) → the decoded JSON answer (null for 204).
export async function api(method, path, body) {
  const headers = { Accept: 'application/json' };
  if (method !== 'GET' && method !== 'HEAD') {
    const csrf = meta('csrf-token');
    if (csrf) headers['X-CSRF-Token'] = csrf;
  }
  let payload;
  if (body instanceof FormData) {
    payload = body;
  } else if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    payload = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, { method, headers, body: payload, credentials: 'same-origin', cache: 'no-store' });
  } catch (e) {
    throw new APIError('Salon did not answer (' + e.message + '). Check the network and try again.', 0);
  }
  if (res.status === 204) return null;
  let data = null;
  const text = await res.text();
  try {
    data = text ? JSON.parse(text) : null;
  } catch (e) {
    data = null;
  }
  if (!res.ok) {
    let msg = data && data.error ? sentence(data.error) : '';
    if (!msg) {
      if (res.status === 404) msg = 'Salon does not know ' + method + ' ' + path + ' (404): this server may be older than the console.';
      else if (res.status === 405) msg = 'Salon does not allow ' + method + ' ' + path + ' (405): this server may be older than the console.';
      else msg = 'Salon answered ' + res.status + ' ' + res.statusText + ' to ' + method + ' ' + path + '.';
    }
    if (res.status === 401) msg += ' Your session may have ended: reload the page to log in again.';
    throw new APIError(msg, res.status);
  }
  return data;
}
