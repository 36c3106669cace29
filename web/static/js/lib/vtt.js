// WebVTT cues, read leniently: the tracks salon writes (chapters, slides,
// chat, captions). Cue text is returned as text, never as HTML.

// seconds reads a WebVTT timestamp, "mm:ss.ttt" or "hh:mm:ss.ttt".
export function vttSeconds(ts) {
  const p = ts.trim().split(':');
  if (p.length < 2 || p.length > 3) return NaN;
  let s = 0;
  for (const part of p) s = s * 60 + Number(part);
  return s;
}

// parseVTT returns the cues of a WebVTT file as [{id, start, end, text}],
// sorted by start; blocks without a valid timing line are skipped.
export function parseVTT(text) {
  const cues = [];
  for (const block of String(text).replace(/\r\n?/g, '\n').split(/\n{2,}/)) {
    const lines = block.split('\n');
    const i = lines.findIndex((l) => l.includes('-->'));
    if (i < 0) continue;
    const [a, b] = lines[i].split('-->');
    const start = vttSeconds(a);
    const end = vttSeconds((b || '').trim().split(/\s+/)[0] || '');
    if (!isFinite(start) || !isFinite(end)) continue;
    cues.push({ id: i > 0 ? lines[i - 1] : '', start, end, text: lines.slice(i + 1).join('\n') });
  }
  return cues.sort((x, y) => x.start - y.start);
}
