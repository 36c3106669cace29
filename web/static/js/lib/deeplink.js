// Links to a moment of a replay: /talks/{id}?t=12m30s (the server reads ?t
// and ?slide, web/deeplink.go).

// formatT writes whole seconds as a ?t value: 750 → "12m30s", 3723 →
// "1h2m3s", 42 → "42s".
export function formatT(sec) {
  sec = Math.max(0, Math.floor(Number(sec) || 0));
  const h = Math.floor(sec / 3600);
  const m = Math.floor((sec % 3600) / 60);
  const s = sec % 60;
  let out = '';
  if (h) out += h + 'h';
  if (h || m) out += m + 'm';
  return out + s + 's';
}

// linkAt is href opening at sec: its ?t set, a ?slide taken out, the rest
// of the query (a language, say) kept.
export function linkAt(href, sec) {
  const u = new URL(href);
  u.searchParams.delete('slide');
  u.searchParams.set('t', formatT(sec));
  u.hash = '';
  return u.href;
}
