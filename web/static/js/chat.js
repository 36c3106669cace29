// The stage's live chat: a websocket to /ws/chat/{stage} (DESIGN.md,
// "Contract: chat"). Everything people typed is shown with textContent, never
// as HTML. The display name is kept in this browser.
'use strict';

(function () {
  var root = document.getElementById('chat');
  if (!root || !window.WebSocket) return;
  var log = document.getElementById('chat-log');
  var status = document.getElementById('chat-status');
  var form = document.getElementById('chat-form');
  var nameInput = document.getElementById('chat-name');
  var textInput = document.getElementById('chat-text');
  var now = document.getElementById('chat-now');
  var MAX_SHOWN = 300;
  var ws = null;
  var retry = 1000;
  var byId = {};

  try { nameInput.value = localStorage.getItem('salon-name') || ''; } catch (e) { /* storage disabled */ }

  function setStatus(text) {
    status.textContent = text;
    status.hidden = !text;
  }

  function showTalk(talk) {
    if (talk && talk.title) {
      now.textContent = 'Now on stage: ' + talk.title;
      now.hidden = false;
    } else {
      now.hidden = true;
    }
  }

  function add(m) {
    var li = document.createElement('li');
    li.className = 'chat-msg' + (m.question ? ' is-question' : '');
    var who = document.createElement('span');
    who.className = 'chat-who';
    who.textContent = m.name;
    var text = document.createElement('span');
    text.className = 'chat-body';
    text.textContent = m.text;
    li.appendChild(who);
    li.appendChild(text);
    var stick = log.scrollTop + log.clientHeight >= log.scrollHeight - 24;
    log.appendChild(li);
    byId[m.id] = li;
    while (log.children.length > MAX_SHOWN) log.removeChild(log.firstChild);
    if (stick) log.scrollTop = log.scrollHeight;
  }

  function hello() {
    var name = nameInput.value.trim();
    if (name && ws && ws.readyState === 1) ws.send(JSON.stringify({ type: 'hello', name: name }));
  }

  function connect() {
    var url = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + root.dataset.ws;
    ws = new WebSocket(url);
    ws.onopen = function () { retry = 1000; setStatus(''); hello(); };
    ws.onmessage = function (ev) {
      var m;
      try { m = JSON.parse(ev.data); } catch (e) { return; }
      switch (m.type) {
        case 'welcome':
          log.textContent = '';
          byId = {};
          (m.history || []).forEach(add);
          showTalk(m.talk);
          break;
        case 'chat': add(m); break;
        case 'delete':
          if (byId[m.id]) { byId[m.id].remove(); delete byId[m.id]; }
          break;
        case 'talk': showTalk(m.talk); break;
        case 'error': setStatus(m.message || m.code); break;
      }
    };
    ws.onclose = function () {
      setStatus('Chat disconnected — reconnecting…');
      setTimeout(connect, retry);
      retry = Math.min(retry * 2, 30000);
    };
  }

  nameInput.addEventListener('change', function () {
    try { localStorage.setItem('salon-name', nameInput.value.trim()); } catch (e) { /* storage disabled */ }
    hello();
  });
  form.addEventListener('submit', function (ev) {
    ev.preventDefault();
    var text = textInput.value.trim();
    if (!text || !ws || ws.readyState !== 1) return;
    ws.send(JSON.stringify({ type: 'chat', text: text }));
    textInput.value = '';
    setStatus('');
  });
  connect();
})();
