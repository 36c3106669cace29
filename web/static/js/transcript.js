// The transcript beside the replay: every cue of a caption track as a line
// (a button: click or Enter plays from there), a search box that filters the
// lines and marks the matches, and the line being spoken highlighted as the
// video plays. Cue text is read as text (the browser's WebVTT parser,
// getCueAsHTML().textContent) and put in the page with textContent only.
import { el } from './lib/dom.js';
import { langName, subtitleTracks } from './captions.js';

// clock is m:ss or h:mm:ss.
export function clock(s) {
  s = Math.max(0, Math.floor(s));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = String(s % 60).padStart(2, '0');
  return h ? h + ':' + String(m).padStart(2, '0') + ':' + sec : m + ':' + sec;
}

// cueText is a cue's words without markup.
function cueText(cue) {
  try {
    return cue.getCueAsHTML().textContent.replace(/\s+/g, ' ').trim();
  } catch (e) {
    return String(cue.text || '').replace(/<[^>]*>/g, '').trim();
  }
}

// highlight appends text to node with each occurrence of q (lower case) in a <mark>.
function highlight(node, text, q) {
  if (!q) {
    node.append(text);
    return;
  }
  const lower = text.toLowerCase();
  let at = 0;
  for (let i = lower.indexOf(q); i !== -1; i = lower.indexOf(q, at)) {
    node.append(text.slice(at, i), el('mark', {}, text.slice(i, i + q.length)));
    at = i + q.length;
  }
  node.append(text.slice(at));
}

(function () {
  const panel = document.getElementById('transcript');
  const video = document.getElementById('video');
  if (!panel || !video) return;
  const list = document.getElementById('transcript-lines');
  const search = document.getElementById('transcript-search');
  const status = document.getElementById('transcript-status');
  const langSel = document.getElementById('transcript-lang');
  let track = null;
  let lines = []; // {start, end, text, node}
  let current = null;

  function pickTrack() {
    const tracks = subtitleTracks(video);
    panel.hidden = tracks.length === 0;
    langSel.hidden = tracks.length < 2;
    const langs = tracks.map((t) => t.language);
    if (langSel.dataset.langs !== langs.join(',')) {
      langSel.dataset.langs = langs.join(',');
      langSel.textContent = '';
      for (const t of tracks) langSel.append(el('option', { value: t.language }, t.label || langName(t.language)));
    }
    const want = track && tracks.includes(track) ? track
      : tracks.find((t) => t.mode === 'showing') || tracks[0] || null;
    if (want !== track) {
      track = want;
      if (track) langSel.value = track.language;
      build();
    }
  }

  function build() {
    lines = [];
    current = null;
    list.textContent = '';
    if (!track) return;
    if (track.mode === 'disabled') track.mode = 'hidden'; // load its cues
    const cues = track.cues ? Array.from(track.cues) : [];
    if (cues.length === 0) {
      status.textContent = panel.dataset.loading;
      return;
    }
    for (const cue of cues) {
      const text = cueText(cue);
      if (!text) continue;
      const line = { start: cue.startTime, end: cue.endTime, text: text, node: null };
      line.node = el('li', {}, el('button', {
        type: 'button', class: 'transcript-line', dataset: { start: cue.startTime.toFixed(3) },
        onclick: function () { seek(line); }
      }, el('span', { class: 'transcript-time' }, clock(cue.startTime)), el('span', { class: 'transcript-text' })));
      lines.push(line);
    }
    render();
    follow();
  }

  function seek(line) {
    video.currentTime = line.start + 0.001;
    if (video.paused) video.play().catch(function () { /* autoplay refused: stays paused there */ });
  }

  function render() {
    const q = search.value.trim().toLowerCase();
    const frag = document.createDocumentFragment();
    let shown = 0;
    for (const line of lines) {
      const text = line.node.querySelector('.transcript-text');
      text.textContent = '';
      highlight(text, line.text, q);
      const match = !q || line.text.toLowerCase().includes(q);
      line.node.hidden = !match;
      if (match) shown++;
      frag.append(line.node);
    }
    list.textContent = '';
    list.append(frag);
    list.dataset.shown = String(shown);
    status.textContent = shown === 0 && lines.length ? panel.dataset.empty : '';
  }

  // follow highlights the line being spoken.
  function follow() {
    const t = video.currentTime;
    let now = null;
    for (const line of lines) {
      if (line.start > t) break;
      if (t < line.end) now = line;
    }
    if (now === current) return;
    if (current) current.node.firstChild.removeAttribute('aria-current');
    current = now;
    if (!now) return;
    now.node.firstChild.setAttribute('aria-current', 'true');
    // Keep it in view inside the panel, unless the viewer is reading a search.
    if (!search.value && !now.node.hidden && !panel.contains(document.activeElement)) {
      const top = now.node.offsetTop - list.offsetTop;
      if (top < list.scrollTop || top > list.scrollTop + list.clientHeight - now.node.offsetHeight) {
        list.scrollTop = Math.max(0, top - list.clientHeight / 3);
      }
    }
  }

  search.addEventListener('input', render);
  langSel.addEventListener('change', function () {
    track = subtitleTracks(video).find((t) => t.language === langSel.value) || null;
    build();
  });
  video.addEventListener('timeupdate', follow);
  video.addEventListener('seeked', follow);
  video.textTracks.addEventListener('addtrack', pickTrack);
  video.textTracks.addEventListener('removetrack', pickTrack);
  // The live cues' tracks say when their cues changed (lib/live-captions.js).
  video.addEventListener('salon-cues', function (e) {
    pickTrack();
    if (e.detail === track) build();
  });
  // A <track> element's cues arrive with its load event (it does not bubble).
  video.addEventListener('load', function (e) {
    if (e.target.tagName === 'TRACK' && e.target.track === track) build();
  }, true);
  pickTrack();
})();
