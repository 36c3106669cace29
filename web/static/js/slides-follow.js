// Follow the speaker: the slides panel of a talk's page turns to the page the
// presenter shows. Live, the page comes over the stage's websocket
// ({"type":"slide"}, relayed by chat.js on the 'slide' topic); on the
// replay, from the talk's slide track (slides.vtt), as the video plays and
// seeks. Turning pages by hand stops following; the button resumes it.
import { subscribe } from './lib/bus.js';
import { t } from './lib/i18n.js';

(function () {
  var panel = document.getElementById('slides');
  var btn = document.getElementById('slides-follow');
  var video = document.getElementById('video');
  if (!panel || !btn) return;
  var talk = panel.dataset.talk;
  var follow = true;
  var speakerPage = 0; // the page the speaker shows now, or showed at this point of the video
  var cues = null;     // the replay's track: [{start, end, page}], by start
  var slides = null;

  function paint() {
    btn.hidden = !speakerPage;
    btn.setAttribute('aria-pressed', follow ? 'true' : 'false');
    btn.textContent = follow ? t('slides.following') : t('slides.follow');
  }

  function apply() {
    if (follow && slides && speakerPage) slides.show(speakerPage, 'speaker');
    paint();
  }

  function setSpeakerPage(p) {
    if (p === speakerPage) return;
    speakerPage = p;
    apply();
  }

  btn.addEventListener('click', function () {
    follow = !follow;
    apply();
  });

  subscribe('slides', function (api) {
    slides = api;
    slides.onPageChange(function (page, pages, source) {
      if (source === 'user' && follow && page !== speakerPage) {
        follow = false;
        paint();
      }
      if (source === 'load') apply(); // a deck (re)loaded: back to the speaker's page
    });
    apply();
  });

  // Live: the presenter's page changes.
  function onSlide(s) {
    if (!cues && s && s.talk === talk && s.page > 0) setSpeakerPage(s.page);
  }
  subscribe('slide', onSlide);

  // Replay: parseVTT reads salon's slide track ("Slide N" cues).
  function seconds(ts) {
    var p = ts.split(':');
    var s = 0;
    for (var i = 0; i < p.length; i++) s = s * 60 + parseFloat(p[i]);
    return s;
  }
  function parseVTT(text) {
    var out = [];
    var re = /((?:\d+:)?\d{2}:\d{2}\.\d{3})\s+-->\s+((?:\d+:)?\d{2}:\d{2}\.\d{3})[^\n]*\n[^\n\d]*(\d+)/g;
    var m;
    while ((m = re.exec(text)) !== null) {
      out.push({ start: seconds(m[1]), end: seconds(m[2]), page: parseInt(m[3], 10) });
    }
    return out.sort(function (a, b) { return a.start - b.start; });
  }
  function onTime() {
    var t = video.currentTime;
    var page = 1; // before the speaker's first change: the deck's start
    for (var i = 0; i < cues.length && cues[i].start <= t; i++) page = cues[i].page;
    setSpeakerPage(page);
  }
  function loadTrack(url) {
    if (cues || !video) return;
    cues = [];
    fetch(url, { cache: 'no-store' }).then(function (r) {
      if (!r.ok) throw new Error(r.status);
      return r.text();
    }).then(function (text) {
      cues = parseVTT(text);
      ['timeupdate', 'seeked', 'seeking', 'loadedmetadata'].forEach(function (ev) { video.addEventListener(ev, onTime); });
      onTime();
    }).catch(function () { cues = null; });
  }
  subscribe('talk', function (t) {
    if (t && t.ended && t.slides_track_url) loadTrack(t.slides_track_url);
  });
})();
