// The presenter view on the speaker's page: while the talk is live, turning
// a page here turns it for every viewer (POST /api/talks/{id}/slide). Arrow
// keys, Page Up/Down and Space — what presentation clickers send — and Home
// and End work anywhere on the page.
import { subscribe } from './lib/bus.js';
import { errorText } from './lib/api.js';
import { t } from './lib/i18n.js';

(function () {
  var main = document.getElementById('main');
  var status = document.getElementById('present-status');
  var questions = document.getElementById('questions-link');
  if (!main || !status) return;
  var token = new URLSearchParams(location.search).get('token') || '';
  if (questions && token) questions.href += '#token=' + encodeURIComponent(token);
  var slides = null;

  function say(text, bad) {
    status.textContent = text;
    status.classList.toggle('is-error', !!bad);
  }

  function send(page) {
    fetch(main.dataset.api + '/slide', {
      method: 'POST',
      headers: { Authorization: 'Bearer ' + token, 'Content-Type': 'application/json' },
      body: JSON.stringify({ page: page })
    }).then(function (r) {
      if (r.ok) { say(t('speak.viewersSee', { Page: page })); return null; }
      return r.json().catch(function () { return null; }).then(function (b) { say(errorText(r.status, b && b.error), true); });
    }).catch(function () { say(t('http.unreachable'), true); });
  }

  subscribe('slides', function (api) {
    slides = api;
    slides.onPageChange(function (page, pages, source) {
      if (source === 'user') send(page);
    });
  });

  document.addEventListener('keydown', function (e) {
    if (!slides || e.defaultPrevented || e.altKey || e.ctrlKey || e.metaKey) return;
    var tag = e.target && e.target.tagName;
    if (tag === 'INPUT' || tag === 'TEXTAREA' || tag === 'SELECT' || tag === 'BUTTON') return;
    var p = slides.page();
    var to = 0;
    switch (e.key) {
      case 'ArrowRight': case 'ArrowDown': case 'PageDown': case ' ': to = p + 1; break;
      case 'ArrowLeft': case 'ArrowUp': case 'PageUp': to = p - 1; break;
      case 'Home': to = 1; break;
      case 'End': to = slides.pages(); break;
      default: return;
    }
    e.preventDefault();
    slides.show(to, 'user');
  });
})();
