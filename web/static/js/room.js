// The room's projector screen: the talk on stage and the next one, a QR
// code to the talk's page (the room asks and votes from phones, in the same
// queue as remote viewers), the question the organiser put on screen, and
// the sponsors between talks. The chat websocket says when the talk or the
// question changes; room.json has the rest.
import { el, meta } from './lib/dom.js';
import { formatTime } from './lib/format.js';
import { connectChat } from './lib/chat.js';
import { t, tn } from './lib/i18n.js';

const body = document.body;
const stage = body.dataset.stage;
const zone = meta('salon-zone') || undefined;
const $ = (id) => document.getElementById(id);
const REFRESH_MS = 60000;

let state = null;
let question = null;

function tick() {
  $('room-clock').textContent = formatTime(new Date(), zone);
}
tick();
setInterval(tick, 5000);

function when(t) {
  if (!t) return '';
  return (t.day ? t.day + ' ' : '') + (t.starts || '') + (t.ends && !t.day ? '–' + t.ends : '');
}

function paint() {
  if (!state) return;
  const now = state.now;
  const next = state.next;
  const shown = now || next;
  body.classList.toggle('is-between', !now);
  $('room-now-label').textContent = now ? t('room.now') : (next ? t('room.upNext') : '');
  $('room-title').textContent = shown ? shown.title : t('room.welcome');
  $('room-speakers').textContent = shown ? shown.speakers : '';
  $('room-when').textContent = now ? when(now) : when(next);
  $('room-next').hidden = !(now && next);
  if (now && next) {
    $('room-next-when').textContent = (next.day ? next.day + ' ' : '') + next.starts;
    $('room-next-title').textContent = next.title;
  }
  const qr = $('room-qr');
  const want = '/live/' + encodeURIComponent(stage) + '/room/qr.png?for=' + encodeURIComponent(now ? now.id : 'stage');
  if (qr.getAttribute('src') !== want) qr.setAttribute('src', want);
  $('room-url').textContent = state.join_url;
  const logos = $('room-logos');
  logos.textContent = '';
  for (const sp of state.sponsors || []) logos.append(el('li', {}, el('img', { src: sp.url, alt: sp.name })));
  $('room-sponsors').hidden = !!now || !(state.sponsors || []).length;
  paintQuestion();
}

function paintQuestion() {
  const box = $('room-question');
  box.hidden = !question;
  body.classList.toggle('has-question', !!question);
  if (!question) return;
  $('room-q-text').textContent = question.text;
  $('room-q-name').textContent = question.name;
  const v = question.votes || 0;
  $('room-q-votes').textContent = tn('chat.votes', v);
}

async function refresh() {
  try {
    const res = await fetch('/live/' + encodeURIComponent(stage) + '/room.json', { cache: 'no-store' });
    if (res.ok) { state = await res.json(); paint(); }
  } catch (e) { /* keep what is shown; the next refresh tries again */ }
}
refresh();
setInterval(refresh, REFRESH_MS);

connectChat(stage, {
  onState(s) { $('room-conn').hidden = s === 'open'; },
  onFrame(f) {
    switch (f.type) {
      case 'welcome':
        question = f.onscreen || null;
        paintQuestion();
        refresh();
        break;
      case 'talk': refresh(); break;
      case 'onscreen': question = f.question || null; paintQuestion(); break;
      case 'votes':
        if (question && question.id === f.id) { question.votes = f.count; paintQuestion(); }
        break;
      case 'delete':
        if (question && question.id === f.id) { question = null; paintQuestion(); }
        break;
    }
  }
});
