// The live page: polls the stage's state and (re)starts the player when the
// stage goes live, so the page never needs a reload. The player is hls.js in
// low-latency mode (parts, blocking reloads), or Safari's own HLS, which does
// Low-Latency HLS natively; under it, how far behind live the viewer is and a
// "Go live" button when that is more than a few seconds.
import { setBadge } from './lib/dom.js';
import { trackLine, viewerText } from './lib/format.js';
import { viewerId as newViewerId } from './lib/ids.js';
import { t, warningText } from './lib/i18n.js';
import { liveCaptions } from './lib/live-captions.js';
import { seekKeys } from './lib/player-keys.js';
import { theater } from './lib/theater.js';

(function () {
  var POLL_MS = 3000;
  var RETRY_MS = 2000;
  var OFFLINE = t('live.waiting');
  var EDGE_MS = 500; // how often the distance to live is shown
  var BEHIND_S = 3; // this far past where the player aims to be, offer "Go live"

  var main = document.getElementById('main');
  theater(main, document.getElementById('theater'));
  seekKeys(document.getElementById('player'), document.getElementById('video'));
  var stage = main.dataset.stage;
  var api = main.dataset.api;
  var playlist = new URL(main.dataset.playlist, location.href).href;
  var hasLib = main.dataset.player === 'ready';
  var cues = null; // the live cues' feed, once a player runs

  var video = document.getElementById('video');
  var badge = document.getElementById('badge');
  var viewerCount = document.getElementById('viewer-count');
  var overlay = document.getElementById('overlay');
  var overlayText = document.getElementById('overlay-text');
  var unmute = document.getElementById('unmute');
  var tech = document.getElementById('tech');
  var warnings = document.getElementById('warnings');
  var shareURL = document.getElementById('share-url');
  var edgeBar = document.getElementById('live-edge');
  var behindText = document.getElementById('behind-text');
  var llTag = document.getElementById('ll-tag');
  var goLive = document.getElementById('go-live');

  shareURL.value = playlist;
  shareURL.addEventListener('focus', function () { shareURL.select(); });

  var viewerId = newViewerId();
  var hls = null;
  var loadedRun = null; // "since" of the publish the player is showing
  var edgeTimer = null;
  var partsLoaded = 0; // parts hls.js fetched since the player started
  // stalled is set while playback waits for data it did not choose to wait
  // for (the start, a network stall); see the 'playing' listener.
  var stalled = true;

  // A random id per tab, sent with playlist requests so that viewers behind
  // one address are counted apart.
  function showOverlay(text) {
    overlayText.textContent = text;
    overlay.hidden = false;
    main.classList.remove('is-playing');
  }

  function hideOverlay() {
    overlay.hidden = true;
    main.classList.add('is-playing');
  }

  function updateUnmute() {
    unmute.hidden = !(video.muted && !video.paused && loadedRun !== null);
  }

  function tryPlay() {
    var p = video.play();
    if (p && p.catch) {
      p.catch(function () {
        // Autoplay with sound was refused: retry muted.
        video.muted = true;
        video.play().catch(function () { showOverlay(t('live.pressPlay')); });
      });
    }
  }

  // behindLive is how many seconds the picture is behind the live edge, or
  // null when unknown. hls.js measures it against the playlist's edge
  // (hls.latency), so a viewer's wrong clock does not matter; Safari's own
  // player exposes the edge as the end of the seekable range.
  function behindLive() {
    if (hls) {
      var l = hls.latency;
      return typeof l === 'number' && isFinite(l) && l > 0 ? l : null;
    }
    var r = video.seekable;
    if (r && r.length) return Math.max(0, r.end(r.length - 1) - video.currentTime);
    return null;
  }

  // behindLimit is how far behind the edge counts as "behind": BEHIND_S past
  // where the player means to be. hls.js aims ~0.6 s behind a Low-Latency
  // playlist and ~6 s (three segments) behind a classic one
  // (hls.targetLatency); a classic stage is not "behind" at 6 s.
  function behindLimit() {
    var t = hls && hls.targetLatency;
    return typeof t === 'number' && isFinite(t) && t > 0 ? t + BEHIND_S : BEHIND_S;
  }

  function jumpToLive() {
    if (hls && hls.liveSyncPosition != null) {
      video.currentTime = hls.liveSyncPosition;
    } else if (video.seekable && video.seekable.length) {
      video.currentTime = Math.max(0, video.seekable.end(video.seekable.length - 1) - 1);
    }
    if (video.paused) tryPlay();
  }

  function showEdge() {
    var b = behindLive();
    if (b === null || loadedRun === null || video.readyState < 2) {
      edgeBar.hidden = true;
      return;
    }
    edgeBar.hidden = false;
    var far = b > behindLimit();
    behindText.textContent = t('live.behind', { Seconds: b.toFixed(1) });
    edgeBar.classList.toggle('is-behind', far);
    goLive.hidden = !far;
    edgeBar.dataset.behind = b.toFixed(2);
    edgeBar.dataset.parts = String(partsLoaded);
  }

  function stopPlayer() {
    if (edgeTimer) {
      clearInterval(edgeTimer);
      edgeTimer = null;
    }
    edgeBar.hidden = true;
    llTag.hidden = true;
    if (hls) {
      hls.destroy();
      hls = null;
    }
    if (video.getAttribute('src')) {
      video.removeAttribute('src');
      video.load();
    }
    updateUnmute();
  }

  function onHlsError(event, data) {
    if (!data.fatal || !hls) return;
    var h = hls;
    if (data.type === Hls.ErrorTypes.NETWORK_ERROR) {
      setTimeout(function () { if (h === hls && loadedRun !== null) h.startLoad(); }, RETRY_MS);
    } else if (data.type === Hls.ErrorTypes.MEDIA_ERROR) {
      h.recoverMediaError();
    } else {
      // Unrecoverable: the next poll starts a fresh player.
      stopPlayer();
      loadedRun = null;
      showOverlay(t('room.reconnecting'));
    }
  }

  function startPlayer() {
    stopPlayer();
    if (!hasLib) {
      showOverlay(t('player.missing'));
      return;
    }
    showOverlay(t('live.connecting'));
    partsLoaded = 0;
    stalled = true;
    edgeTimer = setInterval(showEdge, EDGE_MS);
    // Safari plays Low-Latency HLS itself; elsewhere hls.js does.
    var appleNative = /Apple/.test(navigator.vendor || '') && video.canPlayType('application/vnd.apple.mpegurl');
    if (!appleNative && window.Hls && Hls.isSupported()) {
      hls = new Hls({
        lowLatencyMode: true,
        // The live cues are the page's own tracks (lib/live-captions.js),
        // fed whether or not the stage had cues when the player started.
        enableWebVTT: false,
        backBufferLength: 30,
        // After a stall, catch up with the edge by playing up to 1.5x
        // instead of staying behind.
        maxLiveSyncPlaybackRate: 1.5,
        xhrSetup: function (xhr, url) {
          if (url.indexOf('.m3u8') !== -1) xhr.setRequestHeader('X-Salon-Viewer', viewerId);
        }
      });
      hls.on(Hls.Events.ERROR, onHlsError);
      hls.on(Hls.Events.MANIFEST_PARSED, tryPlay);
      hls.on(Hls.Events.FRAG_LOADED, function (event, data) {
        if (data.part) partsLoaded++;
      });
      hls.on(Hls.Events.LEVEL_UPDATED, function (event, data) {
        llTag.hidden = !(data.details && data.details.partList && data.details.partList.length);
      });
      hls.loadSource(playlist);
      hls.attachMedia(video);
      if (!cues) {
        cues = liveCaptions({ video: video, stage: stage, dateAt: function () { return hls ? hls.playingDate : null; } });
      }
    } else if (video.canPlayType('application/vnd.apple.mpegurl')) {
      var u = new URL(playlist);
      u.searchParams.set('viewer', viewerId);
      video.src = u.href;
      tryPlay();
    } else {
      showOverlay(t('player.noHLS'));
    }
  }

  function render(info) {
    var live = !!(info && info.live);
    setBadge(badge, live);
    viewerCount.textContent = viewerText(info ? info.viewers : 0);
    viewerCount.parentNode.hidden = !live;
    tech.textContent = info ? trackLine(info.tracks) : '';
    warnings.replaceChildren();
    ((info && info.warning_codes) || []).forEach(function (w) {
      var li = document.createElement('li');
      li.textContent = warningText(w);
      warnings.appendChild(li);
    });
    document.title = (live ? '● ' : '') + stage + ' · salon';

    if (live) {
      var run = info.since || 'live';
      if (loadedRun !== run) {
        loadedRun = run;
        startPlayer();
      }
    } else {
      if (loadedRun !== null) {
        loadedRun = null;
        stopPlayer();
      }
      if (hasLib) showOverlay(OFFLINE);
    }
  }

  function poll() {
    fetch(api, { cache: 'no-store', headers: { Accept: 'application/json' } })
      .then(function (res) {
        if (res.status === 404) return null;
        if (!res.ok) throw new Error('status ' + res.status);
        return res.json();
      })
      .then(render)
      .catch(function () { /* server unreachable: keep the current state */ })
      .finally(function () { setTimeout(poll, POLL_MS); });
  }

  // Catching up: a small lag after a stall hls.js makes up by playing a
  // little faster (maxLiveSyncPlaybackRate); a stall (or a slow start) that
  // left the picture more than a few seconds behind jumps back to the edge
  // when playback resumes. A viewer who paused stays where they are and
  // gets the "Go live" button instead.
  video.addEventListener('waiting', function () { if (!video.paused) stalled = true; });
  video.addEventListener('playing', function () {
    hideOverlay();
    updateUnmute();
    if (stalled) {
      stalled = false;
      var b = behindLive();
      if (b !== null && b > behindLimit()) jumpToLive();
    }
  });
  video.addEventListener('pause', updateUnmute);
  video.addEventListener('volumechange', updateUnmute);
  goLive.addEventListener('click', jumpToLive);
  unmute.addEventListener('click', function () {
    video.muted = false;
    if (video.volume === 0) video.volume = 1;
    if (video.paused) tryPlay();
    updateUnmute();
  });

  video.muted = true;
  // A stage that was live when the page was made starts playing at once,
  // without waiting for the first poll (a round trip on a slow phone); the
  // poll then finds the same publish (since, as the API's JSON writes it).
  if (main.dataset.since && hasLib) {
    loadedRun = main.dataset.since;
    startPlayer();
  }
  poll();
})();
