// Calls to salon's JSON API from the organiser console: the session cookie
// goes along by itself, state changes carry the CSRF token from
// <meta name="csrf-token">, and every failure becomes an Error whose
// message a person can act on.
import { meta } from './dom.js';
import { t } from './i18n.js';

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

// errorText is what a person reads when a request failed with status: a
// sentence in the page's language by status, with the server's own detail
// (English: API errors are for programs) where only it says what to fix.
export function errorText(status, detail) {
  detail = sentence(detail);
  switch (status) {
    case 0: return t('http.unreachable');
    case 401: return t('http.401');
    case 403: return t('http.403');
    case 404: return t('http.404');
    case 409: return t('http.409', { Detail: detail || '' });
    case 413: return t('http.413');
    case 415: return t('http.415');
    case 429: return t('http.429');
  }
  if (status >= 500) return t('http.5xx', { Status: status });
  return detail ? t('http.refused', { Detail: detail }) : t('http.other', { Status: status });
}

// api(method, path, body?) → the decoded JSON answer (null for 204). body is
// sent as JSON, except FormData (multipart) and a Blob or File, which is
// sent as it is (a schedule file as the PUT body).
export async function api(method, path, body) {
  const headers = { Accept: 'application/json' };
  if (method !== 'GET' && method !== 'HEAD') {
    const csrf = meta('csrf-token');
    if (csrf) headers['X-CSRF-Token'] = csrf;
  }
  let payload;
  if (body instanceof FormData) {
    payload = body;
  } else if (body instanceof Blob) {
    headers['Content-Type'] = body.type || 'application/octet-stream';
    payload = body;
  } else if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    payload = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, { method, headers, body: payload, credentials: 'same-origin', cache: 'no-store' });
  } catch (e) {
    throw new APIError(errorText(0), 0);
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
    let msg;
    if ((res.status === 404 || res.status === 405) && !(data && data.error)) {
      msg = t('http.tooOld', { Request: method + ' ' + path, Status: res.status });
    } else {
      msg = errorText(res.status, data && data.error);
    }
    throw new APIError(msg, res.status);
  }
  return data;
}
