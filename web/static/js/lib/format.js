// Formatting shared by every page: sizes, bitrates, durations, stage
// descriptions and times in the event's time zone, in the page's language
// (lib/i18n.js). Pure functions only.

import { t, tn, formatDate } from './i18n.js';

// formatBytes: 1234567 → "1.2 MB".
export function formatBytes(n) {
  n = Number(n) || 0;
  if (n >= 1e9) return (n / 1e9).toFixed(1) + ' GB';
  if (n >= 1e6) return (n / 1e6).toFixed(1) + ' MB';
  if (n >= 1e3) return Math.floor(n / 1e3) + ' kB';
  return tn('size.bytes', n);
}

// formatBitrate: 2600000 → "2.6 Mbit/s" (mirrors formatBitrate in pages.go).
export function formatBitrate(bps) {
  bps = Number(bps) || 0;
  if (bps >= 1e6) return (bps / 1e6).toFixed(1) + ' Mbit/s';
  if (bps >= 1000) return Math.floor(bps / 1000) + ' kbit/s';
  return bps + ' bit/s';
}

function sig3(n) {
  return String(Number(n.toPrecision(3)));
}

// trackLine mirrors trackLine in pages.go, e.g.
// "H264 1280×720 30 fps · AAC 48 kHz stereo · 2.6 Mbit/s".
export function trackLine(tracks) {
  const parts = [];
  let total = 0;
  for (const tk of tracks || []) {
    total += tk.bitrate || 0;
    let p = tk.codec;
    if (tk.kind === 'video') {
      if (tk.width > 0 && tk.height > 0) p += ' ' + tk.width + '×' + tk.height;
      if (tk.frame_rate > 0) p += ' ' + sig3(tk.frame_rate) + ' fps';
    } else if (tk.kind === 'audio') {
      if (tk.sample_rate > 0) p += ' ' + sig3(tk.sample_rate / 1000) + ' kHz';
      if (tk.channels === 1) p += ' ' + t('track.mono');
      else if (tk.channels === 2) p += ' ' + t('track.stereo');
      else if (tk.channels > 2) p += ' ' + t('track.channels', { N: tk.channels });
    }
    parts.push(p);
  }
  if (total > 0) parts.push(formatBitrate(total));
  return parts.join(' · ');
}

// viewerText: 1 → "1 watching".
export function viewerText(n) {
  return tn('stage.watching', n || 0);
}

// formatDuration: seconds → "1:02:03" or "12:34" (negative: "-0:42").
export function formatDuration(sec) {
  sec = Math.round(Number(sec) || 0);
  const sign = sec < 0 ? '-' : '';
  sec = Math.abs(sec);
  const h = Math.floor(sec / 3600);
  const m = Math.floor((sec % 3600) / 60);
  const s = sec % 60;
  const mm = h > 0 ? String(m).padStart(2, '0') : String(m);
  return sign + (h > 0 ? h + ':' : '') + mm + ':' + String(s).padStart(2, '0');
}

// formatMinutes: seconds → "25 min", "1 h 05 min", "40 s" (as the server's
// formatDuration).
export function formatMinutes(sec) {
  sec = Math.abs(Math.round(Number(sec) || 0));
  if (sec < 60) return t('dur.seconds', { S: sec });
  const m = Math.round(sec / 60);
  if (m < 60) return t('dur.minutes', { M: m });
  return t('dur.hours', { H: Math.floor(m / 60), M: String(m % 60).padStart(2, '0') });
}

// The wall-clock fields below are read in a fixed locale (en-GB); what
// people read goes through formatDate in their language.
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
function formatter(zone, opts) {
  const key = zone + JSON.stringify(opts);
  let f = formatters.get(key);
  if (!f) {
    f = new Intl.DateTimeFormat('en-GB', Object.assign({ timeZone: zoneOpt(zone) }, opts));
    formatters.set(key, f);
  }
  return f;
}

// formatTime: a Date or ISO string → "14:05" in zone.
export function formatTime(d, zone) {
  if (!d) return '';
  return formatDate(d, 'time', zone || '');
}

// formatDay: → "Wed, 2 Dec 2026" (2026年12月2日周三) in zone.
export function formatDay(d, zone) {
  if (!d) return '';
  return formatDate(d, 'day', zone || '');
}

// formatWhen: → "Wed 2 Dec, 14:05" (12月2日周三 14:05) in zone, as the
// pages' "when".
export function formatWhen(d, zone) {
  if (!d) return '';
  return formatDate(d, 'dayTime', zone || '');
}

// zonedParts: the wall-clock fields of d in zone (month 1-12).
export function zonedParts(d, zone) {
  const parts = {};
  for (const p of formatter(zone, {
    year: 'numeric', month: '2-digit', day: '2-digit',
    hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23'
  }).formatToParts(new Date(d))) {
    if (p.type !== 'literal') parts[p.type] = Number(p.value);
  }
  return parts;
}

// dayKey: "2026-12-02", the day of d in zone.
export function dayKey(d, zone) {
  const p = zonedParts(d, zone);
  return p.year + '-' + String(p.month).padStart(2, '0') + '-' + String(p.day).padStart(2, '0');
}

// zonedToDate: the instant that is "YYYY-MM-DD" and "HH:MM" on the wall
// clocks of zone (what a person types into the talk form).
export function zonedToDate(day, hm, zone) {
  const [y, mo, d] = day.split('-').map(Number);
  const [h, mi] = hm.split(':').map(Number);
  const want = Date.UTC(y, mo - 1, d, h, mi);
  let t = want;
  // Two rounds settle the offset, also next to a DST change.
  for (let i = 0; i < 2; i++) {
    const p = zonedParts(t, zone);
    const seen = Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second);
    t += want - seen;
  }
  return new Date(t);
}

// inputDate, inputTime: values for <input type=date|time> in zone.
export function inputDate(d, zone) {
  return d ? dayKey(d, zone) : '';
}
export function inputTime(d, zone) {
  if (!d) return '';
  const p = zonedParts(d, zone);
  return String(p.hour).padStart(2, '0') + ':' + String(p.minute).padStart(2, '0');
}
