// The home page: keeps the stage list current without a reload.
import { setBadge } from './lib/dom.js';
import { trackLine, viewerText } from './lib/format.js';
import { t } from './lib/i18n.js';

(function () {
  var POLL_MS = 5000;
  var list = document.getElementById('stages');
  var empty = document.getElementById('empty');

  function card(st) {
    var a = document.createElement('a');
    a.className = 'stage-card' + (st.live ? ' is-live' : '');
    a.href = '/live/' + encodeURIComponent(st.name);

    var top = document.createElement('span');
    top.className = 'stage-card-top';
    var name = document.createElement('span');
    name.className = 'stage-name';
    name.textContent = st.name;
    var badge = document.createElement('span');
    setBadge(badge, st.live);
    top.append(name, badge);

    var meta = document.createElement('span');
    meta.className = 'stage-meta';
    if (st.live) {
      var line = trackLine(st.tracks);
      meta.textContent = viewerText(st.viewers) + (line ? ' · ' + line : '');
    } else {
      meta.textContent = t('home.notStreaming');
    }
    a.append(top, meta);

    var li = document.createElement('li');
    li.appendChild(a);
    return li;
  }

  function render(stages) {
    list.replaceChildren.apply(list, stages.map(card));
    empty.hidden = stages.length > 0;
  }

  function poll() {
    fetch('/api/stages', { cache: 'no-store' })
      .then(function (res) {
        if (!res.ok) throw new Error('status ' + res.status);
        return res.json();
      })
      .then(render)
      .catch(function () { /* keep the list as it is */ })
      .finally(function () { setTimeout(poll, POLL_MS); });
  }

  setTimeout(poll, POLL_MS);
})();
