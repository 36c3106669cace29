// Replay navigation on the talk page, once the talk has ended:
//  - deep links: ?t=12m30s (the server hands the seconds over as
//    data-start) and ?slide=N (data-slide: the moment slide N was first
//    shown, from the chapters) open the replay there; the slides panel
//    follows the speaker to that slide (slides-follow.js);
//  - a share button that copies a link at the current time;
//  - the slide changes (chapters.vtt) and the questions asked (chat.json)
//    as marks on a strip under the player, and as lists of buttons for the
//    keyboard and screen readers (the strip is for the mouse and the eye);
//  - the chapters as <track kind="chapters"> for players that show them.
// Text from the server is set with textContent only.
import { subscribe } from './lib/bus.js';
import { el } from './lib/dom.js';
import { formatDuration } from './lib/format.js';
import { linkAt } from './lib/deeplink.js';
import { parseVTT } from './lib/vtt.js';
import { t } from './lib/i18n.js';

const root = document.getElementById('replay-nav');
const video = document.getElementById('video');

if (root && video) {
  const marks = document.getElementById('marks');
  const share = document.getElementById('share');
  const shareLink = document.getElementById('share-link');
  const status = document.getElementById('share-status');
  const chaptersBox = document.getElementById('chapters');
  const chapterList = document.getElementById('chapter-list');
  const askedBox = document.getElementById('asked');
  const askedList = document.getElementById('asked-list');

  const state = {
    started: false,
    chapters: null,  // [{start, end, slide, title}] once loaded
    questions: [],   // [{at, name, text, answered}]
    deepLink: {
      start: root.dataset.start !== undefined ? Number(root.dataset.start) : null,
      slide: root.dataset.slide !== undefined ? Number(root.dataset.slide) : null,
      done: false,
    },
    chapterButtons: [],
  };

  const seek = (t) => {
    video.currentTime = Math.max(0, t);
  };

  // The deep link is applied once, when the video knows its length and,
  // for a slide, when the chapters are in. A time past the end, or a slide
  // never shown, is ignored: the replay opens as without the link.
  function applyDeepLink() {
    const d = state.deepLink;
    if (d.done || video.readyState < 1) return;
    let t = d.start;
    if (t === null && d.slide !== null) {
      if (!state.chapters) return;
      const c = state.chapters.find((ch) => ch.slide === d.slide);
      t = c ? c.start : null;
    }
    d.done = true;
    if (t === null || !isFinite(t) || (isFinite(video.duration) && t >= video.duration)) {
      root.dataset.deeplink = 'ignored';
      return;
    }
    seek(t);
    root.dataset.deeplink = String(t);
  }

  function renderMarks() {
    const d = video.duration;
    marks.replaceChildren();
    if (!isFinite(d) || d <= 0) return;
    const pct = (t) => Math.min(100, Math.max(0, (t / d) * 100)) + '%';
    for (const c of state.chapters || []) {
      marks.append(el('span', {
        class: 'mark mark-slide', title: c.title, dataset: { at: c.start },
        style: { left: pct(c.start) }, onclick: () => seek(c.start),
      }));
    }
    for (const q of state.questions) {
      marks.append(el('span', {
        class: 'mark mark-question' + (q.answered ? ' is-answered' : ''),
        title: (q.answered ? t('nav.q.answered', { Text: q.text }) : t('nav.q', { Text: q.text })),
        dataset: { at: q.at }, style: { left: pct(q.at) }, onclick: () => seek(q.at),
      }));
    }
    marks.append(el('span', { class: 'marks-now', id: 'marks-now', style: { left: pct(video.currentTime) } }));
  }

  function renderLists() {
    state.chapterButtons = (state.chapters || []).map((c) => el('button', {
      type: 'button', dataset: { at: c.start }, onclick: () => seek(c.start),
    }, el('span', { class: 'replay-at' }, formatDuration(c.start)), c.title));
    chapterList.replaceChildren(...state.chapterButtons.map((b) => el('li', {}, b)));
    document.getElementById('chapter-count').textContent = String(state.chapterButtons.length);
    chaptersBox.hidden = state.chapterButtons.length === 0;

    askedList.replaceChildren(...state.questions.map((q) => el('li', {}, el('button', {
      type: 'button', dataset: { at: q.at }, onclick: () => seek(q.at),
    }, el('span', { class: 'replay-at' }, formatDuration(q.at)), q.name + ': ' + q.text,
    q.answered ? el('span', { class: 'replay-answered' }, t('nav.answered')) : null))));
    document.getElementById('asked-count').textContent = String(state.questions.length);
    askedBox.hidden = state.questions.length === 0;
  }

  // The chapter playing now is marked in the list; the strip shows where
  // the video is.
  function onTime() {
    const t = video.currentTime;
    let current = -1;
    (state.chapters || []).forEach((c, i) => { if (c.start <= t) current = i; });
    state.chapterButtons.forEach((b, i) => {
      if (i === current) b.setAttribute('aria-current', 'true'); else b.removeAttribute('aria-current');
    });
    const now = document.getElementById('marks-now');
    if (now && isFinite(video.duration) && video.duration > 0) now.style.left = Math.min(100, (t / video.duration) * 100) + '%';
  }

  function loadChapters() {
    return fetch(root.dataset.chapters, { cache: 'no-store' }).then((r) => {
      if (!r.ok) throw new Error('HTTP ' + r.status);
      return r.text();
    }).then((text) => {
      state.chapters = parseVTT(text).map((c) => {
        const m = /^Slide (\d+)$/.exec(c.text.trim());
        return { start: c.start, end: c.end, slide: m ? Number(m[1]) : null, title: c.text.trim() };
      });
    }).catch(() => { state.chapters = []; });
  }

  function loadQuestions() {
    return fetch(root.dataset.chat, { cache: 'no-store' }).then((r) => {
      if (!r.ok) throw new Error('HTTP ' + r.status);
      return r.json();
    }).then((data) => {
      state.questions = (data.messages || []).filter((m) => m.question)
        .map((m) => ({ at: Number(m.at) || 0, name: m.name, text: m.text, answered: !!m.answered }))
        .sort((a, b) => a.at - b.at);
    }).catch(() => { state.questions = []; });
  }

  function addChapterTrack() {
    if (video.querySelector('track[kind="chapters"]')) return;
    video.append(el('track', { kind: 'chapters', label: 'Chapters', src: root.dataset.chapters }));
  }

  // The link goes to the clipboard; where the browser refuses (no secure
  // context, no permission), it is shown selected in a box to copy by hand.
  // Either way the status line, a polite live region, says what happened.
  async function onShare() {
    const url = linkAt(location.href, video.currentTime);
    let copied = false;
    try {
      if (navigator.clipboard && window.isSecureContext) {
        await navigator.clipboard.writeText(url);
        copied = true;
      }
    } catch (e) { /* fall back below */ }
    shareLink.value = url;
    if (!copied) {
      shareLink.hidden = false;
      shareLink.focus();
      shareLink.select();
      try { copied = document.execCommand('copy'); } catch (e) { copied = false; }
    }
    root.dataset.shared = url;
    status.textContent = '';
    status.textContent = copied ? t('nav.copied', { URL: url }) : t('nav.copyThis', { URL: url });
  }

  function start() {
    if (state.started) return;
    state.started = true;
    root.hidden = false;
    addChapterTrack();
    share.addEventListener('click', onShare);
    ['loadedmetadata', 'durationchange'].forEach((ev) => video.addEventListener(ev, () => { renderMarks(); applyDeepLink(); }));
    ['timeupdate', 'seeked'].forEach((ev) => video.addEventListener(ev, onTime));
    Promise.all([loadChapters(), loadQuestions()]).then(() => {
      renderLists();
      renderMarks();
      applyDeepLink();
      onTime();
      root.dataset.ready = 'true';
    });
    applyDeepLink();
  }

  subscribe('talk', (t) => { if (t && t.ended) start(); });
}
