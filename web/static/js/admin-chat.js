// The console's chat page for one stage: the chat as it happens with delete
// and ban on each message, slow mode, and the questions by votes with "on
// screen" (the room's projector) and "answered". It reads the stage's chat
// websocket like a viewer and acts through the moderation API.
import { api } from './lib/api.js';
import { el, meta } from './lib/dom.js';
import { formatTime } from './lib/format.js';
import { connectChat } from './lib/chat.js';
import { refusal } from './lib/chat-ui.js';
import { t as tr, tn as trn } from './lib/i18n.js';

const main = document.getElementById('main');
const stage = main.dataset.stage;
const zone = meta('salon-zone') || undefined;
const base = '/api/stages/' + encodeURIComponent(stage) + '/chat';
const errorEl = document.getElementById('cx-error');
const messagesEl = document.getElementById('messages');
const questionsEl = document.getElementById('questions');
const qEmpty = document.getElementById('q-empty');
const qCount = document.getElementById('q-count');
const connEl = document.getElementById('chat-conn');
const viewersEl = document.getElementById('chat-viewers');
const talkEl = document.getElementById('chat-talk');
const slowEl = document.getElementById('slow-mode');
const onscreenBox = document.getElementById('onscreen-box');
const onscreenText = document.getElementById('onscreen-text');
const MAX_MESSAGES = 300;

let messages = new Map(); // id → {m, li}
let questions = new Map(); // id → {m, li, parts}
let onScreen = null; // id of the question on screen

function showError(e) {
  errorEl.textContent = e && e.message ? e.message : String(e);
  errorEl.hidden = false;
}
async function run(button, fn) {
  if (button) button.disabled = true;
  errorEl.hidden = true;
  try { await fn(); } catch (e) { showError(e); } finally { if (button) button.disabled = false; }
}
const msgPath = (id) => base + '/messages/' + encodeURIComponent(id);

function del(id, button) {
  run(button, () => api('DELETE', msgPath(id)));
}
function ban(m, button) {
  if (!confirm(tr('console.chat.confirmBan', { Name: m.name }))) return;
  run(button, () => api('POST', msgPath(m.id) + '/ban'));
}

// The chat, newest at the bottom.
function addMessage(m) {
  if (messages.has(m.id)) return;
  const atEnd = messagesEl.scrollHeight - messagesEl.scrollTop - messagesEl.clientHeight < 40;
  const li = el('li', { class: 'cx-msg' + (m.question ? ' is-question' : ''), dataset: { id: m.id } },
    el('div', { class: 'cx-msg-top' },
      el('span', { class: 'cx-who', text: m.name, dir: 'auto' }),
      el('time', { class: 'cx-meta', datetime: m.ts, text: formatTime(m.ts, zone) }),
      m.question ? el('span', { class: 'cx-tag', text: tr('chat.ask') }) : null),
    el('p', { class: 'cx-text', text: m.text, dir: 'auto' }),
    el('div', { class: 'cx-msg-actions' },
      el('button', { class: 'cx-btn cx-btn-small', type: 'button', onclick: (ev) => del(m.id, ev.currentTarget) }, tr('speak.delete')),
      el('button', { class: 'cx-btn cx-btn-small cx-btn-danger', type: 'button', onclick: (ev) => ban(m, ev.currentTarget) }, tr('console.chat.ban'))));
  messagesEl.append(li);
  messages.set(m.id, { m, li });
  while (messages.size > MAX_MESSAGES) {
    const [first] = messages.keys();
    messages.get(first).li.remove();
    messages.delete(first);
  }
  if (atEnd) messagesEl.scrollTop = messagesEl.scrollHeight;
}

// The questions: open ones by votes (then oldest first), answered last.
function addQuestion(m) {
  if (!m.question || questions.has(m.id)) return;
  const votes = el('span', { class: 'cx-votes', title: tr('q.votes') });
  const state = el('span', { class: 'cx-tag' });
  const screen = el('button', { class: 'cx-btn cx-btn-small', type: 'button', dataset: { onscreen: m.id } });
  screen.addEventListener('click', () => run(screen, () =>
    api('PUT', base + '/onscreen', { id: onScreen === m.id ? null : m.id })));
  const answer = el('button', { class: 'cx-btn cx-btn-small cx-btn-quiet', type: 'button', dataset: { answer: m.id } }, tr('q.answered'));
  answer.addEventListener('click', () => run(answer, () => api('POST', msgPath(m.id) + '/answered')));
  const li = el('li', { class: 'cx-q', dataset: { id: m.id } }, votes,
    el('div', { class: 'cx-q-body' },
      el('p', { class: 'cx-text', text: m.text, dir: 'auto' }),
      el('span', { class: 'cx-who', text: m.name, dir: 'auto' }), ' ', state),
    el('div', { class: 'cx-q-actions' }, screen, answer,
      el('button', { class: 'cx-btn cx-btn-small cx-btn-danger', type: 'button', onclick: (ev) => del(m.id, ev.currentTarget) }, tr('speak.delete'))));
  questions.set(m.id, { m, li, parts: { votes, state, screen, answer } });
  paintQuestions();
}

function paintQuestions() {
  const list = [...questions.values()];
  list.sort((a, b) => {
    if (!!a.m.answered !== !!b.m.answered) return a.m.answered ? 1 : -1;
    if ((b.m.votes || 0) !== (a.m.votes || 0)) return (b.m.votes || 0) - (a.m.votes || 0);
    return a.m.ts < b.m.ts ? -1 : 1;
  });
  for (const q of list) {
    const shown = q.m.id === onScreen;
    q.li.className = 'cx-q' + (q.m.answered ? ' is-answered' : '') + (shown ? ' is-onscreen' : '');
    q.parts.votes.textContent = String(q.m.votes || 0);
    q.parts.state.textContent = q.m.answered ? tr('q.answered') : '';
    q.parts.screen.textContent = shown ? tr('console.chat.offscreen') : tr('console.chat.onscreenButton');
    q.parts.screen.setAttribute('aria-pressed', shown ? 'true' : 'false');
    q.parts.answer.hidden = !!q.m.answered;
    questionsEl.append(q.li);
  }
  const open = list.filter((q) => !q.m.answered).length;
  qCount.textContent = list.length ? tr('console.chat.open', { Count: open }) : '';
  qEmpty.hidden = list.length > 0;
}

function setOnScreen(q) {
  onScreen = q ? q.id : null;
  onscreenBox.hidden = !q;
  onscreenText.textContent = q ? q.text : '';
  paintQuestions();
}

function remove(id) {
  const m = messages.get(id);
  if (m) { m.li.remove(); messages.delete(id); }
  const q = questions.get(id);
  if (q) { q.li.remove(); questions.delete(id); paintQuestions(); }
}

function showTalk(t) {
  talkEl.textContent = t && t.title ? t.title : tr('console.chat.noTalk');
}

document.getElementById('onscreen-clear').addEventListener('click', (ev) =>
  run(ev.currentTarget, () => api('PUT', base + '/onscreen', { id: null })));

slowEl.addEventListener('change', () => run(slowEl, () =>
  api('PUT', base + '/slow-mode', { seconds: Number(slowEl.value) })));

async function loadModeration() {
  try {
    const st = await api('GET', base + '/moderation');
    const v = String(st.slow_mode_seconds || 0);
    if (![...slowEl.options].some((o) => o.value === v)) slowEl.append(el('option', { value: v }, v + ' s'));
    slowEl.value = v;
  } catch (e) {
    showError(e);
  }
}

connectChat(stage, {
  onState(state) {
    connEl.textContent = state === 'open' ? tr('console.chat.connected') : state === 'banned' ? tr('console.chat.banned') : tr('room.reconnecting');
    connEl.classList.toggle('cx-chip-warn', state !== 'open');
    if (state === 'open') loadModeration();
  },
  onFrame(f) {
    switch (f.type) {
      case 'welcome':
        messages = new Map();
        questions = new Map();
        messagesEl.textContent = '';
        questionsEl.textContent = '';
        for (const m of f.history || []) addMessage(m);
        for (const q of f.questions || []) addQuestion(q);
        viewersEl.textContent = trn('console.chat.inChat', f.viewers || 0);
        showTalk(f.talk);
        setOnScreen(f.onscreen || null);
        messagesEl.scrollTop = messagesEl.scrollHeight;
        break;
      case 'chat': addMessage(f); addQuestion(f); break;
      case 'votes': {
        const q = questions.get(f.id);
        if (q) { q.m.votes = f.count; paintQuestions(); }
        break;
      }
      case 'answered': {
        const q = questions.get(f.id);
        if (q) { q.m.answered = true; paintQuestions(); }
        break;
      }
      case 'onscreen': setOnScreen(f.question || null); break;
      case 'delete': remove(f.id); break;
      case 'viewers': viewersEl.textContent = trn('console.chat.inChat', f.count || 0); break;
      case 'talk': showTalk(f.talk); break;
      case 'error': showError(refusal(f.code)); break;
    }
  }
});
