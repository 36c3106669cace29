// The chat panel on the live page and on a live talk's page: the stage's
// chat over its websocket, with questions and votes. The display name is
// kept in this browser. The 'chat-close' topic ends it (the talk page's chat
// replay publishes it when the talk ends, and shows the replayed chat).
import { publish, subscribe } from './lib/bus.js';
import { connectChat, viewerKey } from './lib/chat.js';
import { announcer, message, questionList, refusal, tabs } from './lib/chat-ui.js';
import { t } from './lib/i18n.js';
import { viewerText } from './lib/format.js';

(function () {
  var root = document.getElementById('chat');
  if (!root || !window.WebSocket) return;
  tabs(root);
  if (root.dataset.mode !== 'live') return;

  var log = document.getElementById('chat-log');
  var status = document.getElementById('chat-status');
  var form = document.getElementById('chat-form');
  var nameInput = document.getElementById('chat-name');
  var textInput = document.getElementById('chat-text');
  var ask = document.getElementById('chat-ask');
  var now = document.getElementById('chat-now');
  var viewers = document.getElementById('chat-viewers');
  var qCount = document.getElementById('q-count');
  var announce = announcer(document.getElementById('chat-announce'));
  var MAX_SHOWN = 300;
  var byId = {};
  var conn = null;

  // maxlength counts UTF-16 units, so an emoji counts twice and the box would
  // stop at 250 of the 500 characters the server takes. Count characters
  // (code points) as the server does: data-max-chars, the server's limit.
  function limitChars(input) {
    var max = Number(input.dataset.maxChars);
    if (!max) return;
    input.addEventListener('input', function () {
      var chars = Array.from(input.value);
      if (chars.length > max) input.value = chars.slice(0, max).join('');
    });
  }
  limitChars(nameInput);
  limitChars(textInput);

  try { nameInput.value = localStorage.getItem('salon-name') || ''; } catch (e) { /* storage disabled */ }

  function setStatus(text) {
    status.textContent = text;
    status.hidden = !text;
  }

  var questions = questionList(document.getElementById('chat-questions'), {
    onVote: function (id) { conn.send({ type: 'vote', id: id }); },
    onCount: function (n) { qCount.textContent = n ? '(' + n + ')' : ''; }
  });

  function showTalk(talk) {
    // The sponsors are thanked between talks (live.html).
    var sponsors = document.getElementById('live-sponsors');
    if (sponsors) sponsors.hidden = !!(talk && talk.title);
    if (talk && talk.title) {
      // The talk's page has its slides, following the speaker.
      now.textContent = t('chat.nowOnStage') + ' ';
      var link = document.createElement(talk.page_url ? 'a' : 'span');
      if (talk.page_url) link.href = talk.page_url;
      link.textContent = talk.title;
      now.appendChild(link);
      now.hidden = false;
    } else {
      now.hidden = true;
    }
  }

  function showViewers(n) {
    viewers.textContent = viewerText(n);
    viewers.hidden = false;
  }

  function add(m) {
    var stick = log.scrollTop + log.clientHeight >= log.scrollHeight - 24;
    var li = message(m);
    log.appendChild(li);
    byId[m.id] = li;
    while (log.children.length > MAX_SHOWN) {
      delete byId[log.firstChild.dataset.id];
      log.removeChild(log.firstChild);
    }
    if (stick) log.scrollTop = log.scrollHeight;
    questions.add(m);
  }

  // slide relays the presenter's page to the slides panel (slides-follow.js).
  function slide(m) {
    publish('slide', { talk: m.talk, page: m.page });
  }

  function helloFields() {
    var msg = { viewer: viewerKey() };
    var name = nameInput.value.trim();
    if (name) msg.name = name;
    return msg;
  }

  conn = connectChat(root.dataset.stage, {
    hello: helloFields,
    onState: function (state) {
      if (state === 'open') setStatus('');
      else if (state === 'banned') setStatus(refusal('banned'));
      else setStatus(state === 'closed' ? t('chat.reconnecting') : status.textContent || t('chat.closed'));
    },
    onFrame: function (m) {
      switch (m.type) {
        case 'welcome':
          log.textContent = '';
          byId = {};
          questions.clear();
          (m.history || []).forEach(add);
          (m.questions || []).forEach(questions.add);
          showTalk(m.talk);
          showViewers(m.viewers);
          if (m.slide) slide(m.slide);
          break;
        case 'slide': slide(m); break;
        case 'chat': add(m); announce(m); break;
        case 'delete':
          if (byId[m.id]) { byId[m.id].remove(); delete byId[m.id]; }
          questions.remove(m.id);
          break;
        case 'votes': questions.votes(m.id, m.count); break;
        case 'answered': questions.answered(m.id); break;
        case 'viewers': showViewers(m.count); break;
        case 'talk': showTalk(m.talk); break;
        case 'error': setStatus(refusal(m.code)); break;
      }
    }
  });
  subscribe('chat-close', function () { conn.close(); });

  nameInput.addEventListener('change', function () {
    try { localStorage.setItem('salon-name', nameInput.value.trim()); } catch (e) { /* storage disabled */ }
    conn.send(Object.assign({ type: 'hello' }, helloFields()));
  });
  form.addEventListener('submit', function (ev) {
    ev.preventDefault();
    var text = textInput.value.trim();
    if (!text) return;
    if (!conn.send({ type: ask.checked ? 'question' : 'chat', text: text })) return;
    textInput.value = '';
    ask.checked = false;
    setStatus('');
  });
})();
