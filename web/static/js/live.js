// The live page: polls the stage's state and (re)starts the player when the
// stage goes live, so the page never needs a reload.
import { setBadge } from './lib/dom.js';
import { trackLine, viewerText } from './lib/format.js';
import { viewerId as newViewerId } from './lib/ids.js';

(function () {
  var POLL_MS = 3000;
  var RETRY_MS = 2000;
  var OFFLINE = 'Offline — waiting for the stream';

  var main = document.getElementById('main');
  var stage = main.dataset.stage;
  var api = main.dataset.api;
  var playlist = new URL(main.dataset.playlist, location.href).href;
  var hasLib = main.dataset.player === 'ready';

  var video = document.getElementById('video');
  var badge = document.getElementById('badge');
  var viewerCount = document.getElementById('viewer-count');
  var overlay = document.getElementById('overlay');
  var overlayText = document.getElementById('overlay-text');
  var unmute = document.getElementById('unmute');
  var tech = document.getElementById('tech');
  var warnings = document.getElementById('warnings');
  var shareURL = document.getElementById('share-url');

  shareURL.value = playlist;
  shareURL.addEventListener('focus', function () { shareURL.select(); });

  var viewerId = newViewerId();
  var hls = null;
  var loadedRun = null; // "since" of the publish the player is showing

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
        video.play().catch(function () { showOverlay('Press play to start the stream'); });
      });
    }
  }

  function stopPlayer() {
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
      showOverlay('Reconnecting…');
    }
  }

  function startPlayer() {
    stopPlayer();
    if (!hasLib) {
      showOverlay('The player library is missing from this build: run go generate ./web and rebuild salon.');
      return;
    }
    showOverlay('Connecting…');
    if (window.Hls && Hls.isSupported()) {
      hls = new Hls({
        backBufferLength: 30,
        xhrSetup: function (xhr, url) {
          if (url.indexOf('.m3u8') !== -1) xhr.setRequestHeader('X-Salon-Viewer', viewerId);
        }
      });
      hls.on(Hls.Events.ERROR, onHlsError);
      hls.on(Hls.Events.MANIFEST_PARSED, tryPlay);
      hls.loadSource(playlist);
      hls.attachMedia(video);
    } else if (video.canPlayType('application/vnd.apple.mpegurl')) {
      var u = new URL(playlist);
      u.searchParams.set('viewer', viewerId);
      video.src = u.href;
      tryPlay();
    } else {
      showOverlay('This browser cannot play HLS video. Try a current Firefox, Chrome or Safari.');
    }
  }

  function render(info) {
    var live = !!(info && info.live);
    setBadge(badge, live);
    viewerCount.textContent = viewerText(info ? info.viewers : 0);
    viewerCount.parentNode.hidden = !live;
    tech.textContent = info ? trackLine(info.tracks) : '';
    warnings.replaceChildren();
    ((info && info.warnings) || []).forEach(function (w) {
      var li = document.createElement('li');
      li.textContent = w;
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

  video.addEventListener('playing', function () { hideOverlay(); updateUnmute(); });
  video.addEventListener('pause', updateUnmute);
  video.addEventListener('volumechange', updateUnmute);
  unmute.addEventListener('click', function () {
    video.muted = false;
    if (video.volume === 0) video.volume = 1;
    if (video.paused) tryPlay();
    updateUnmute();
  });

  video.muted = true;
  poll();
})();
