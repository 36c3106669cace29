// A talk's chat on its replay page: the archived messages (GET
// /talks/{id}/chat.json, each with "at", its position in the video) shown
// in step with the video: seek to minute 12 and the panel shows what the
// audience was saying at minute 12. A talk page that was open while the talk
// was live switches to this when the talk ends.
import { publish, subscribe } from './lib/bus.js';
import { message, questionList } from './lib/chat-ui.js';
import { t } from './lib/i18n.js';

(function () {
  var root = document.getElementById('chat');
  var video = document.getElementById('video');
  if (!root || !video || !root.dataset.replay) return;
  var log = document.getElementById('chat-log');
  var status = document.getElementById('chat-status');
  var qCount = document.getElementById('q-count');
  var MAX_SHOWN = 200;
  var msgs = [];
  var shown = -1; // how many of msgs the log shows
  var started = false;

  // upTo is how many messages were sent by media time t (msgs sorted by at).
  function upTo(t) {
    var lo = 0;
    var hi = msgs.length;
    while (lo < hi) {
      var mid = (lo + hi) >> 1;
      if (msgs[mid].at <= t) lo = mid + 1; else hi = mid;
    }
    return lo;
  }

  function update() {
    var n = upTo(video.currentTime + 0.25);
    if (n === shown) return;
    if (n > shown && shown >= 0 && n - shown <= 20) {
      for (var i = shown; i < n; i++) log.appendChild(message(msgs[i]));
      while (log.children.length > MAX_SHOWN) log.removeChild(log.firstChild);
    } else {
      log.textContent = '';
      for (var j = Math.max(0, n - MAX_SHOWN); j < n; j++) log.appendChild(message(msgs[j]));
    }
    shown = n;
    log.dataset.shown = String(n);
    log.scrollTop = log.scrollHeight;
  }

  function start() {
    if (started) return;
    started = true;
    root.dataset.mode = 'replay';
    document.getElementById('chat-form').hidden = true;
    publish('chat-close', true);
    status.textContent = t('chat.loading');
    status.hidden = false;
    fetch(root.dataset.replay, { cache: 'no-store' }).then(function (r) {
      if (!r.ok) throw new Error('HTTP ' + r.status);
      return r.json();
    }).then(function (data) {
      msgs = (data.messages || []).slice().sort(function (a, b) { return a.at - b.at; });
      var questions = questionList(document.getElementById('chat-questions'), {
        onCount: function (n) { qCount.textContent = n ? '(' + n + ')' : ''; }
      });
      msgs.forEach(questions.add);
      status.textContent = msgs.length ? t('chat.replay') : t('chat.replay.empty');
      shown = -1;
      update();
      ['timeupdate', 'seeked', 'seeking', 'loadedmetadata'].forEach(function (ev) { video.addEventListener(ev, update); });
    }).catch(function () {
      status.textContent = t('chat.replay.failed');
      started = false;
    });
  }

  if (root.dataset.mode === 'replay') start();
  subscribe('talk', function (t) {
    if (t && t.ended) start();
  });
})();
