// The talk page: plays the talk's replay playlist (an EVENT playlist that
// grows while the talk is live, so late viewers can rewind to its start; VOD
// once it ended) and follows the talk's state without a reload.
import { publish } from './lib/bus.js';
import { setBadge } from './lib/dom.js';
import { viewerId } from './lib/ids.js';
import { formatMinutes } from './lib/format.js';
import { t } from './lib/i18n.js';
import { liveCaptions } from './lib/live-captions.js';
import { seekKeys } from './lib/player-keys.js';
import { theater } from './lib/theater.js';

(function () {
  var POLL_MS = 5000;
  var main = document.getElementById('main');
  theater(main, document.getElementById('theater'));
  seekKeys(document.getElementById('player'), document.getElementById('video'));
  var api = main.dataset.api;
  var hasLib = main.dataset.player === 'ready';
  var video = document.getElementById('video');
  var badge = document.getElementById('badge');
  var overlay = document.getElementById('overlay');
  var overlayText = document.getElementById('overlay-text');
  var download = document.getElementById('download');
  var durationEl = document.getElementById('talk-duration');
  var hls = null;
  var loaded = null; // playlist URL the player shows
  var ended = null;
  var cues = null; // the live cues' feed while the talk is live

  function load(url) {
    if (!hasLib || loaded === url) return;
    loaded = url;
    overlay.hidden = true;
    if (hls) { hls.destroy(); hls = null; }
    if (window.Hls && Hls.isSupported()) {
      // The viewer id tells viewers behind one address apart in the
      // viewer count and the statistics.
      const id = viewerId();
      hls = new Hls({
        startPosition: -1,
        // The talk's captions are <track> elements (captions.js): the
        // replay's subtitle renditions are for other players.
        enableWebVTT: false,
        xhrSetup: function (xhr, u) {
          if (u.indexOf('.m3u8') !== -1) xhr.setRequestHeader('X-Salon-Viewer', id);
        }
      });
      hls.loadSource(url);
      hls.attachMedia(video);
    } else if (video.canPlayType('application/vnd.apple.mpegurl')) {
      video.src = url;
    }
  }

  function render(talk) {
    if (talk.live) {
      setBadge(badge, true);
    } else if (talk.ended) {
      setBadge(badge, false, t('badge.replay'));
      durationEl.textContent = formatMinutes(talk.duration);
      download.hidden = false;
      download.href = talk.download_url;
    }
    if (talk.playlist_url) {
      // A talk that just ended keeps its player: hls.js sees ENDLIST on the
      // next reload and the replay becomes seekable to the end.
      load(new URL(talk.playlist_url, location.href).href);
    }
    // While live, the cues posted on the stage since the talk started (the
    // replay playlist has the archived track only once the talk ended).
    if (talk.live && !cues && hls && talk.stage) {
      cues = liveCaptions({
        video: video, stage: talk.stage, since: talk.recording && talk.recording.start,
        dateAt: function () { return hls ? hls.playingDate : null; }
      });
    } else if (!talk.live && cues) {
      cues.stop();
      cues = null;
    }
    ended = talk.ended;
    // The chat panel listens: when the talk ends, it turns into the replay.
    publish('talk', talk);
  }

  function poll() {
    fetch(api, { cache: 'no-store' }).then(function (r) {
      if (!r.ok) throw new Error(r.status);
      return r.json();
    }).then(render).catch(function () { /* keep the page as it is */ })
      .finally(function () { if (!ended) setTimeout(poll, POLL_MS); });
  }
  poll();
})();
