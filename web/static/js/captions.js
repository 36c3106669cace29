// Captions on a page with a video (#video): the talk's caption tracks as
// <track kind="subtitles"> elements (GET /api/talks/{id}/captions/{lang},
// WebVTT rendered by the browser as text, never as HTML), the live cues'
// tracks (lib/live-captions.js; Safari's own, from the live HLS's subtitle
// rendition), and the CC button (#cc) that shows or hides them. The chosen language is kept for the next page.
import { subscribe } from './lib/bus.js';
import { langName } from './lib/lang-name.js';

const STORE_KEY = 'salon-captions';

export { langName };

// subtitleTracks are the video's caption and subtitle tracks, but for the
// live cues' tracks of a talk that has ended (lib/live-captions.js).
export function subtitleTracks(video) {
  return Array.from(video.textTracks).filter((t) => (t.kind === 'subtitles' || t.kind === 'captions') && !t.salonRetired);
}

(function () {
  const video = document.getElementById('video');
  const cc = document.getElementById('cc');
  if (!video || !cc) return;
  const main = document.getElementById('main');
  let on = false;
  let want = '';
  try {
    const saved = JSON.parse(localStorage.getItem(STORE_KEY) || '{}');
    on = !!saved.on;
    want = saved.lang || '';
  } catch (e) { /* nothing saved */ }

  function save() {
    try { localStorage.setItem(STORE_KEY, JSON.stringify({ on: on, lang: want })); } catch (e) { /* private mode */ }
  }

  // chosen is the track CC shows: the language chosen last, else the page's, else the first.
  function chosen() {
    const tracks = subtitleTracks(video);
    const page = (document.documentElement.lang || '').toLowerCase();
    return tracks.find((t) => t.language === want) ||
      tracks.find((t) => t.language && t.language.toLowerCase().startsWith(page.split('-')[0])) ||
      tracks[0] || null;
  }

  function apply() {
    const tracks = subtitleTracks(video);
    cc.hidden = tracks.length === 0;
    const pick = chosen();
    for (const t of tracks) {
      // Hidden, not disabled: the cues load (the transcript reads them).
      const mode = on && t === pick ? 'showing' : 'hidden';
      if (t.mode !== mode) t.mode = mode;
    }
    cc.setAttribute('aria-pressed', on && pick ? 'true' : 'false');
  }

  cc.addEventListener('click', function () {
    on = !on;
    const pick = chosen();
    if (pick) want = pick.language;
    save();
    apply();
  });
  // A track added (ours, or hls.js's subtitle rendition) or chosen in the
  // browser's own menu.
  video.textTracks.addEventListener('addtrack', apply);
  video.textTracks.addEventListener('change', function () {
    const showing = subtitleTracks(video).find((t) => t.mode === 'showing');
    if (showing && showing.language !== want) {
      want = showing.language;
      on = true;
      save();
    }
    cc.setAttribute('aria-pressed', showing ? 'true' : 'false');
  });

  // The talk page: one <track> per caption track of the talk.
  const api = main && main.dataset.api;
  if (api && api.startsWith('/api/talks/')) {
    const base = api + '/captions/';
    subscribe('talk', function (t) {
      const have = new Map(Array.from(video.querySelectorAll('track[data-lang]')).map((n) => [n.dataset.lang, n]));
      for (const c of (t && t.captions) || []) {
        const src = base + encodeURIComponent(c.lang) + '?v=' + encodeURIComponent(c.updated_at || '');
        const old = have.get(c.lang);
        have.delete(c.lang);
        if (old && old.dataset.src === src) continue;
        if (old) old.remove();
        const tr = document.createElement('track');
        tr.kind = 'subtitles';
        tr.srclang = c.lang;
        tr.label = langName(c.lang);
        tr.src = src;
        tr.dataset.lang = c.lang;
        tr.dataset.src = src;
        video.appendChild(tr);
      }
      for (const n of have.values()) n.remove(); // deleted since
      apply();
    });
  }
  apply();
})();
