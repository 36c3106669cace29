// The questions view: a stage's audience questions, most votes first, for
// the speaker's screen. For an organiser logged in to the console (the page
// then carries the session's CSRF token), or with the organiser's token in
// the address's fragment (#token=…, never sent to the server), each open
// question gets a button that marks it answered for everyone.
import { connectChat } from './lib/chat.js';
import { questionList } from './lib/chat-ui.js';
import { t } from './lib/i18n.js';

(function () {
  var main = document.getElementById('main');
  if (!window.WebSocket) return;
  var status = document.getElementById('q-status');
  var title = document.getElementById('q-talk');
  var hint = document.getElementById('q-hint');

  var token = '';
  var m = /(?:^#|&)token=([^&]+)/.exec(location.hash);
  try {
    if (m) {
      token = decodeURIComponent(m[1]);
      sessionStorage.setItem('salon-questions-token', token);
      // Keep the token off the projector and out of the history.
      history.replaceState(null, '', location.pathname + location.search);
    } else {
      token = sessionStorage.getItem('salon-questions-token') || '';
    }
  } catch (e) { /* storage disabled */ }
  // Logged in to the console: the session and its CSRF token do instead.
  var csrfMeta = document.querySelector('meta[name="csrf-token"]');
  var csrf = csrfMeta ? csrfMeta.content : '';
  if (token || csrf) hint.hidden = true;

  var list = questionList(document.getElementById('questions'), {
    onAnswer: token || csrf ? answer : null,
    onCount: function (n) { status.textContent = n === 1 ? '1 open question' : n + ' open questions'; }
  });

  function answer(id) {
    fetch(main.dataset.api + encodeURIComponent(id) + '/answered', {
      method: 'POST',
      credentials: 'same-origin',
      headers: token ? { Authorization: 'Bearer ' + token } : { 'X-CSRF-Token': csrf }
    }).then(function (r) {
      if (r.status === 401 || r.status === 403) {
        status.textContent = token ? t('questions.tokenRefused') : t('questions.sessionEnded');
      } else if (!r.ok) {
        status.textContent = t('questions.answerFailed', { Status: r.status });
      }
    }).catch(function () { status.textContent = t('http.unreachable'); });
  }

  function showTalk(talk) {
    title.textContent = talk && talk.title ? talk.title : t('questions.heading');
  }

  connectChat(main.dataset.stage, {
    onFrame: function (f) {
      switch (f.type) {
        case 'welcome':
          list.clear();
          (f.questions || []).forEach(list.add);
          showTalk(f.talk);
          break;
        case 'chat': list.add(f); break;
        case 'votes': list.votes(f.id, f.count); break;
        case 'answered': list.answered(f.id); break;
        case 'delete': list.remove(f.id); break;
        case 'talk': showTalk(f.talk); break;
        case 'error': status.textContent = f.message || f.code; break;
      }
    },
    onState: function (state) { if (state === 'closed') status.textContent = t('chat.reconnecting'); }
  });
})();
