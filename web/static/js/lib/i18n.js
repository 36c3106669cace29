// The page's language: the same message catalog the server renders the page
// with (web/i18n, served as /static/i18n/{lang}.json), plural forms by
// Intl.PluralRules (CLDR, as go-i18n on the server) and dates by
// Intl.DateTimeFormat in the event's time zone. Every string a script shows
// a person goes through t or tn. Messages hold {{.Name}} placeholders only.

function metaContent(name) {
  const m = document.querySelector('meta[name="' + name + '"]');
  return m ? m.content : '';
}

// lang is the page's language tag ("en", "zh-CN"), from <html lang>.
export const lang = document.documentElement.lang || 'en';

let catalog = { lang, intl: lang === 'en' ? 'en-GB' : lang, messages: {} };
try {
  const res = await fetch(metaContent('salon-i18n') || '/static/i18n/' + encodeURIComponent(lang) + '.json');
  if (!res.ok) throw new Error('HTTP ' + res.status);
  catalog = await res.json();
} catch (e) {
  console.error('salon: the message catalog did not load (' + e.message + '); showing message keys');
}

// The switcher's links leave out a speaker's ?token= (the server never
// repeats it in a page): the speaker page keeps it when switching language.
const token = new URLSearchParams(location.search).get('token');
if (token) {
  for (const a of document.querySelectorAll('.lang-switch a[href]')) {
    const u = new URL(a.href, location.href);
    u.searchParams.set('token', token);
    a.href = u.pathname + u.search;
  }
}

// intl is the locale dates and numbers are written in ("en-GB", "zh-CN").
export const intl = catalog.intl;

const plurals = new Intl.PluralRules(intl);

function fill(s, params) {
  return s.replace(/\{\{\s*\.([A-Za-z][A-Za-z0-9]*)\s*\}\}/g,
    (m, k) => (params && params[k] !== undefined ? String(params[k]) : m));
}

// t: the message key with its placeholders filled from params, e.g.
// t('error.status', {Status: 404}). A missing key shows as itself.
export function t(key, params) {
  const m = catalog.messages[key];
  if (m === undefined) return key;
  return fill(typeof m === 'string' ? m : m.other, params);
}

// tn: the plural form of key for n (CLDR rules of the language), with
// {{.Count}} = n, e.g. tn('stage.watching', 3).
export function tn(key, n, params) {
  const m = catalog.messages[key];
  if (m === undefined) return key;
  const s = typeof m === 'string' ? m : (m[plurals.select(Number(n) || 0)] || m.other);
  return fill(s, Object.assign({ Count: n }, params));
}

// warningText: a stage warning as the API and the console feed send it
// ({code, params, rendition}, "warning_codes") in the page's language, from
// the catalog's "warning." + code (web/stage_warnings.go does the same).
export function warningText(w) {
  const key = 'warning.' + w.code;
  const s = t(key, w.params);
  return w.rendition ? t('warning.rendition', { Name: w.rendition, Warning: s }) : s;
}

// The date styles the server writes too (web/i18n/localizer.go DateStyle);
// a browser test checks both write the same text.
const styles = {
  time: { hour: '2-digit', minute: '2-digit', hourCycle: 'h23' },
  day: { weekday: 'short', day: 'numeric', month: 'short', year: 'numeric' },
  dayTime: { weekday: 'short', day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' },
  longDay: { weekday: 'long', day: 'numeric', month: 'long', year: 'numeric' },
  dayShort: { weekday: 'short', day: 'numeric', month: 'short' }
};

// A zone name the browser does not know falls back to the browser's own.
function zoneOpt(zone) {
  if (!zone) return undefined;
  try {
    new Intl.DateTimeFormat('en', { timeZone: zone });
    return zone;
  } catch (e) {
    return undefined;
  }
}

const formatters = new Map();

// formatDate writes d (a Date, ISO string or ms) in style ('time', 'day',
// 'dayTime', 'longDay', 'dayShort') in zone (default: the event's, from the page).
export function formatDate(d, style, zone) {
  if (d === undefined || d === null || d === '') return '';
  const z = zone === undefined ? metaContent('salon-zone') : zone;
  const key = style + '|' + z;
  let f = formatters.get(key);
  if (!f) {
    f = new Intl.DateTimeFormat(intl, Object.assign({ timeZone: zoneOpt(z) }, styles[style] || styles.dayTime));
    formatters.set(key, f);
  }
  return f.format(new Date(d));
}

// formatNumber: 12345 → "12,345" in the language.
export function formatNumber(n) {
  return new Intl.NumberFormat(intl).format(Number(n) || 0);
}
