// The console's talk page: speaker link (make, revoke, copy), slides
// (upload on the speaker's behalf, remove), and for an ended talk the trim
// player with its in and out handles, and hide / publish. Everything the
// server renders is refreshed by reloading the page after a change; the trim
// is edited in place.
import { api } from './lib/api.js';
import { meta } from './lib/dom.js';
import { formatDuration, zonedParts } from './lib/format.js';
import { t as tr } from './lib/i18n.js';

const main = document.getElementById('main');
const id = main.dataset.id;
const zone = meta('salon-zone') || undefined;
const errorEl = document.getElementById('cx-error');
const noteEl = document.getElementById('cx-note');
const initial = JSON.parse(document.getElementById('talk-initial').textContent || '{}');
const talkPath = '/api/talks/' + encodeURIComponent(id);

function showError(e) {
  noteEl.hidden = true;
  errorEl.textContent = e && e.message ? e.message : String(e);
  errorEl.hidden = false;
}
function showNote(text) {
  errorEl.hidden = true;
  noteEl.textContent = text;
  noteEl.hidden = false;
}

// act runs one change with its button disabled, then reloads the page (the
// server renders the new state) unless keep is set.
async function act(button, fn, keep) {
  if (button) button.disabled = true;
  try {
    await fn();
    if (!keep) location.reload();
  } catch (e) {
    showError(e);
  } finally {
    if (button) button.disabled = false;
  }
}

function on(elId, event, fn) {
  const el = document.getElementById(elId);
  if (el) el.addEventListener(event, fn);
  return el;
}

// Speaker link.
on('make-link', 'click', (ev) => {
  if (document.getElementById('revoke-link') &&
      !confirm(tr('talk.confirmNewLink'))) return;
  act(ev.currentTarget, () => api('POST', talkPath + '/speaker-link'));
});
on('revoke-link', 'click', (ev) => {
  if (!confirm(tr('talk.confirmRevoke'))) return;
  act(ev.currentTarget, () => api('DELETE', talkPath + '/speaker-link'));
});
on('copy-link', 'click', async () => {
  const input = document.getElementById('speaker-url');
  try {
    await navigator.clipboard.writeText(input.value);
    showNote(tr('talk.copied'));
  } catch (e) {
    // Clipboard refused (plain http on another host): select it for Ctrl+C.
    input.focus();
    input.select();
    showNote(tr('talk.pressCopy'));
  }
});

// Slides.
on('slide-form', 'submit', (ev) => {
  ev.preventDefault();
  const file = document.getElementById('slide-file').files[0];
  if (!file) return;
  const fd = new FormData();
  fd.append('file', file);
  showNote(tr('speak.uploading', { Name: file.name }));
  act(document.getElementById('slide-upload'), () => api('POST', talkPath + '/slides', fd));
});
for (const b of document.querySelectorAll('[data-delete-slide]')) {
  b.addEventListener('click', () => {
    const name = b.dataset.deleteSlide;
    if (!confirm(tr('sponsors.confirmRemove', { Name: name }))) return;
    act(b, () => api('DELETE', talkPath + '/slides/' + encodeURIComponent(name)));
  });
}

// Hide / publish.
on('publish', 'click', (ev) => {
  const hidden = ev.currentTarget.dataset.hidden === 'true';
  act(ev.currentTarget, () => api('PATCH', talkPath, { hidden }));
});

// The trim player.
const video = document.getElementById('video');
if (video && initial.preview_url && initial.talk && initial.talk.recording && initial.talk.recording.end) {
  trim(video, initial.talk.recording);
}

function clock(ms) {
  const p = zonedParts(ms, zone);
  return [p.hour, p.minute, p.second].map((n) => String(n).padStart(2, '0')).join(':');
}

function trim(video, rec) {
  const inEl = document.getElementById('trim-in');
  const outEl = document.getElementById('trim-out');
  const inAt = document.getElementById('trim-in-at');
  const outAt = document.getElementById('trim-out-at');
  const range = document.getElementById('trim-range');
  const playhead = document.getElementById('trim-playhead');
  const lengthEl = document.getElementById('trim-length');
  const save = document.getElementById('trim-save');
  const reset = document.getElementById('trim-reset');
  let frags = []; // {start, dur, pdt}: the preview's segments on both clocks
  let total = 0;
  let saved = { start: Date.parse(rec.start), end: Date.parse(rec.end) };

  // toWall: a position in the player → wall-clock milliseconds.
  function toWall(t) {
    let f = frags[0];
    for (const g of frags) if (g.start <= t) f = g;
    return f.pdt + (Math.min(t, f.start + f.dur) - f.start) * 1000;
  }
  // toMedia: wall-clock milliseconds → a position in the player (a gap in
  // the recording maps to the next segment).
  function toMedia(ms) {
    for (const f of frags) {
      if (ms < f.pdt) return f.start;
      if (ms < f.pdt + f.dur * 1000) return f.start + (ms - f.pdt) / 1000;
    }
    return total;
  }

  function paint() {
    const a = Number(inEl.value);
    const b = Number(outEl.value);
    range.style.left = (a / total * 100) + '%';
    range.style.width = (Math.max(0, b - a) / total * 100) + '%';
    inAt.textContent = clock(toWall(a));
    outAt.textContent = clock(toWall(b));
    const changed = Math.abs(toWall(a) - saved.start) > 500 || Math.abs(toWall(b) - saved.end) > 500;
    const bad = b - a < 1;
    lengthEl.textContent = bad ? tr('talk.trim.bad')
      : changed ? tr('talk.trim.lengthUnsaved', { Length: formatDuration(b - a) })
        : tr('talk.trim.length', { Length: formatDuration(b - a) });
    save.disabled = !changed || bad;
    reset.disabled = !changed;
  }
  function setHandles(startMs, endMs) {
    inEl.value = toMedia(startMs).toFixed(1);
    outEl.value = toMedia(endMs).toFixed(1);
    paint();
  }

  function ready(fragments) {
    const first = !frags.length;
    frags = fragments.filter((f) => f.programDateTime).map((f) => ({ start: f.start, dur: f.duration, pdt: f.programDateTime }));
    if (!frags.length) {
      showError(tr('talk.trim.noPDT'));
      return;
    }
    const last = frags[frags.length - 1];
    total = last.start + last.dur;
    for (const el of [inEl, outEl]) el.max = total.toFixed(1);
    if (!first) { paint(); return; } // a reload of a playlist still growing
    setHandles(saved.start, saved.end);
    video.currentTime = Number(inEl.value);
  }

  for (const el of [inEl, outEl]) {
    el.addEventListener('input', () => { video.currentTime = Number(el.value); paint(); });
  }
  document.getElementById('set-in').addEventListener('click', () => { inEl.value = video.currentTime.toFixed(1); paint(); });
  document.getElementById('set-out').addEventListener('click', () => { outEl.value = video.currentTime.toFixed(1); paint(); });
  reset.addEventListener('click', () => setHandles(saved.start, saved.end));
  video.addEventListener('timeupdate', () => {
    if (total) playhead.style.left = (video.currentTime / total * 100) + '%';
  });
  save.addEventListener('click', () => act(save, async () => {
    const start = new Date(Math.round(toWall(Number(inEl.value)))).toISOString();
    const end = new Date(Math.round(toWall(Number(outEl.value)))).toISOString();
    const t = await api('PATCH', talkPath, { recording: { start, end } });
    saved = { start: Date.parse(t.recording.start), end: Date.parse(t.recording.end) };
    paint();
    showNote(tr('talk.trim.saved', { Start: clock(saved.start), End: clock(saved.end) }));
  }, true));

  const src = new URL(initial.preview_url, location.href).href;
  if (main.dataset.player === 'ready' && window.Hls && window.Hls.isSupported()) {
    const hls = new window.Hls({ startPosition: 0 });
    hls.on(window.Hls.Events.LEVEL_LOADED, (_, data) => ready(data.details.fragments));
    hls.loadSource(src);
    hls.attachMedia(video);
  } else {
    showError(tr('talk.trim.noPlayer'));
  }
}
