// The cues posted live on a stage, shown by the page's own player: a text
// track per language (kind "subtitles", so the CC button and the transcript
// treat it as any other), filled from GET /api/stages/{stage}/captions.
// The cues come in wall-clock time; dateAt() is the wall-clock time the
// player shows now (hls.js's playingDate, from the playlist's
// EXT-X-PROGRAM-DATE-TIMEs), which puts them on the video's timeline. When
// that mapping moves (a new player after the publisher came back), every cue
// is placed again. Cue text goes into VTTCue, which the browser renders as
// WebVTT cue text, never as HTML.
import { langName } from './lang-name.js';

const POLL_MS = 2000;
const RESYNC_S = 0.25; // re-place the cues when the mapping moves more than this

// liveCaptions starts feeding video's text tracks with stage's live cues
// posted since `since` (a Date; null: the last two minutes). It returns
// {stop()}: the tracks are emptied and marked retired (a text track added
// by script cannot be removed), so the talk's archived tracks take over.
export function liveCaptions({ video, stage, dateAt, since }) {
  const tracks = new Map(); // lang → TextTrack
  const cues = new Map(); // lang + start → {lang, start, end, text, cue}
  let offset = null; // video time − wall-clock seconds
  let from = since ? new Date(since) : null;
  let timer = null;
  let stopped = false;

  function track(lang) {
    let tr = tracks.get(lang);
    if (!tr) {
      tr = video.addTextTrack('subtitles', langName(lang), lang);
      tr.mode = 'hidden'; // captions.js shows the one chosen
      tracks.set(lang, tr);
    }
    return tr;
  }

  function currentOffset() {
    const d = dateAt();
    if (!d || isNaN(d.getTime()) || video.readyState < 1) return null;
    return video.currentTime - d.getTime() / 1000;
  }

  function place(c) {
    const tr = track(c.lang);
    if (c.cue) tr.removeCue(c.cue);
    const start = c.start / 1000 + offset;
    const end = Math.max(c.end / 1000 + offset, start + 0.001);
    c.cue = new VTTCue(start, end, c.text);
    tr.addCue(c.cue);
  }

  function changed(langs) {
    for (const lang of langs) {
      video.dispatchEvent(new CustomEvent('salon-cues', { detail: tracks.get(lang) }));
    }
  }

  function apply(list) {
    const o = currentOffset();
    if (o === null) return; // the player has not started: the next poll places them
    const touched = new Set();
    if (offset === null || Math.abs(o - offset) > RESYNC_S) {
      offset = o;
      for (const c of cues.values()) {
        place(c);
        touched.add(c.lang);
      }
    }
    for (const raw of list) {
      const start = Date.parse(raw.start);
      const end = Date.parse(raw.end);
      if (isNaN(start) || isNaN(end) || typeof raw.text !== 'string' || typeof raw.lang !== 'string') continue;
      const key = raw.lang + ' ' + start;
      const had = cues.get(key);
      if (had && had.end === end && had.text === raw.text) continue;
      const c = had || { lang: raw.lang, start: start, cue: null };
      c.end = end;
      c.text = raw.text;
      cues.set(key, c);
      place(c);
      touched.add(c.lang);
      if (!from || start > from.getTime()) from = new Date(start);
    }
    changed(touched);
  }

  function poll() {
    if (stopped) return;
    const u = new URL('/api/stages/' + encodeURIComponent(stage) + '/captions', location.href);
    // Ask again from the newest cue's start: its end may have moved.
    if (from) u.searchParams.set('since', from.toISOString());
    fetch(u, { cache: 'no-store' }).then(function (r) {
      if (!r.ok) throw new Error('HTTP ' + r.status);
      return r.json();
    }).then(function (body) {
      // Until the player has started nothing is placed, and since stays:
      // the next answer has the same cues again.
      if (!stopped) apply(body.cues || []);
    }).catch(function () { /* no live captions here, or offline: ask again */ })
      .finally(function () { if (!stopped) timer = setTimeout(poll, POLL_MS); });
  }
  poll();

  return {
    stop: function () {
      stopped = true;
      clearTimeout(timer);
      for (const tr of tracks.values()) {
        for (const c of cues.values()) if (c.cue && tracks.get(c.lang) === tr) tr.removeCue(c.cue);
        tr.salonRetired = true;
        tr.mode = 'disabled';
      }
      changed(tracks.keys());
    }
  };
}
