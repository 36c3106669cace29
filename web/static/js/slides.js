// The slides panel of the talk page: the talk's first PDF rendered with
// pdf.js beside the player, page navigation, and a download link for every
// slide file. Text from the server is set with textContent only.
//
// Page state lives in one place (state below) and changes only through
// show(). Other scripts drive the panel through the 'slides' topic (lib/bus.js):
//   slides.show(n)          go to page n (clamped to the deck)
//   slides.page(), .pages() the page shown, the page count
//   slides.onPageChange(fn) fn(page, pages, source) after every change;
//                                source is 'user' or what show() was given
// so that "follow the speaker" (a page pushed over the websocket) and the
// replay's page turns only call show(n, 'speaker').

import { publish } from './lib/bus.js';
import { formatBytes } from './lib/format.js';
import { t } from './lib/i18n.js';

const POLL_MS = 15000;
const panel = document.getElementById('slides');
const media = document.getElementById('talk-media');
const canvas = document.getElementById('slides-canvas');
const view = document.getElementById('slides-view');
const note = document.getElementById('slides-note');
const nav = document.getElementById('slides-nav');
const pageInput = document.getElementById('slides-page');
const pagesEl = document.getElementById('slides-pages');
const prev = document.getElementById('slides-prev');
const next = document.getElementById('slides-next');
const files = document.getElementById('slides-files');
const status = document.getElementById('slides-status');

const state = {
  pdf: null,        // the deck shown: {name, sha256} of its slide entry
  doc: null,        // pdf.js document
  page: 1,
  pages: 0,
  rendering: null,  // pdf.js render task in progress
  busy: false,      // draw() is running
  again: false,     // draw() was asked for while busy
  listeners: [],
};

let pdfjs = null;

function slideURL(name) {
  return '/archive/talks/' + panel.dataset.talk + '/slides/' + encodeURIComponent(name);
}

function label(type) {
  switch (type) {
    case 'application/pdf': return 'PDF';
    case 'application/vnd.openxmlformats-officedocument.presentationml.presentation': return 'PowerPoint';
    case 'application/vnd.oasis.opendocument.presentation': return t('slides.odp');
    case 'application/vnd.apple.keynote': return 'Keynote';
  }
  return t('slides.file');
}


function setNote(text) {
  note.textContent = text;
  note.hidden = !text;
}

function renderFiles(slides) {
  files.replaceChildren();
  slides.forEach(function (s) {
    const li = document.createElement('li');
    const a = document.createElement('a');
    a.href = slideURL(s.name);
    a.download = s.name;
    a.textContent = s.name;
    const meta = document.createElement('span');
    meta.className = 'slides-meta';
    meta.textContent = label(s.type) + ' · ' + formatBytes(s.size);
    li.append(a, ' ', meta);
    files.append(li);
  });
}

function updateNav() {
  nav.hidden = !state.doc;
  pageInput.max = String(state.pages);
  pageInput.value = String(state.page);
  pagesEl.textContent = String(state.pages);
  prev.disabled = state.page <= 1;
  next.disabled = state.page >= state.pages;
  panel.dataset.page = String(state.page);
  panel.dataset.pages = String(state.pages);
}

// draw renders state.page. One render runs at a time (pdf.js refuses two on
// one canvas); a request meanwhile is drawn when it ends, with the page
// shown by then.
async function draw() {
  if (!state.doc) return;
  if (state.busy) {
    state.again = true;
    return;
  }
  state.busy = true;
  const n = state.page;
  const doc = state.doc;
  try {
    const page = await doc.getPage(n);
    const base = page.getViewport({ scale: 1 });
    const width = Math.max(view.clientWidth, 200);
    const ratio = window.devicePixelRatio || 1;
    const viewport = page.getViewport({ scale: (width / base.width) * ratio });
    canvas.width = Math.floor(viewport.width);
    canvas.height = Math.floor(viewport.height);
    canvas.style.aspectRatio = base.width + ' / ' + base.height;
    state.rendering = page.render({ canvas: canvas, canvasContext: canvas.getContext('2d'), viewport: viewport });
    await state.rendering.promise;
    if (doc === state.doc) {
      panel.dataset.rendered = String(n);
      setNote('');
    }
  } catch (e) {
    if (!e || e.name !== 'RenderingCancelledException') {
      setNote(t('slides.pageFailed'));
    }
  } finally {
    state.rendering = null;
    state.busy = false;
  }
  if (state.again || state.page !== n || doc !== state.doc) {
    state.again = false;
    draw();
  }
}

// show is the one way the page changes.
function show(n, source) {
  if (!state.doc) return false;
  n = Math.min(Math.max(1, Math.round(Number(n) || 1)), state.pages);
  const changed = n !== state.page;
  state.page = n;
  updateNav();
  if (changed || panel.dataset.rendered !== String(n)) draw();
  // Screen readers hear the page change (the canvas itself says nothing).
  if (changed && status && source !== 'load') status.textContent = t('slides.status', { Page: state.page, Pages: state.pages });
  if (changed) {
    state.listeners.forEach(function (fn) {
      try { fn(state.page, state.pages, source || 'api'); } catch (e) { console.error(e); }
    });
  }
  return true;
}

async function loadPDF(entry) {
  if (!panel.dataset.pdfjs) return;
  if (state.pdf && state.pdf.name === entry.name && state.pdf.sha256 === entry.sha256) return;
  state.pdf = { name: entry.name, sha256: entry.sha256 };
  try {
    if (!pdfjs) {
      pdfjs = await import(panel.dataset.pdfjs);
      pdfjs.GlobalWorkerOptions.workerSrc = panel.dataset.worker;
    }
    // The sha256 in the URL makes a replaced deck a new URL for the cache.
    const url = slideURL(entry.name) + '?v=' + entry.sha256.slice(0, 12);
    const doc = await pdfjs.getDocument({ url: url, isEvalSupported: false }).promise;
    if (state.doc) state.doc.destroy();
    state.doc = doc;
    state.pages = doc.numPages;
    const keep = Math.min(state.page, state.pages);
    state.page = 0; // so that show() reports the page as new
    show(keep, 'load');
  } catch (e) {
    state.pdf = null;
    setNote(t('slides.failed'));
  }
}

function unloadPDF() {
  if (state.doc) state.doc.destroy();
  state.doc = null;
  state.pdf = null;
  state.pages = 0;
  state.page = 1;
  const ctx = canvas.getContext('2d');
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  updateNav();
}

function update(talk) {
  const slides = talk.slides || [];
  panel.hidden = slides.length === 0;
  if (media) media.classList.toggle('has-slides', slides.length > 0);
  renderFiles(slides);
  const pdf = slides.find(function (s) { return s.type === 'application/pdf'; });
  if (pdf) {
    view.hidden = false;
    loadPDF(pdf);
  } else {
    unloadPDF();
    view.hidden = true;
  }
  return talk;
}

function poll() {
  fetch(panel.dataset.api, { cache: 'no-store' }).then(function (r) {
    if (!r.ok) throw new Error(r.status);
    return r.json();
  }).then(update).then(function (talk) {
    // An ended talk's slides change rarely: stop asking.
    if (!talk.ended) setTimeout(poll, POLL_MS);
  }).catch(function () { setTimeout(poll, POLL_MS); });
}

prev.addEventListener('click', function () { show(state.page - 1, 'user'); });
next.addEventListener('click', function () { show(state.page + 1, 'user'); });
pageInput.addEventListener('change', function () { show(pageInput.value, 'user'); });
view.addEventListener('keydown', function (e) {
  if (e.key === 'ArrowRight' || e.key === 'PageDown' || e.key === ' ') { show(state.page + 1, 'user'); e.preventDefault(); }
  if (e.key === 'ArrowLeft' || e.key === 'PageUp') { show(state.page - 1, 'user'); e.preventDefault(); }
  if (e.key === 'Home') { show(1, 'user'); e.preventDefault(); }
  if (e.key === 'End') { show(state.pages, 'user'); e.preventDefault(); }
});
let resizeTimer = 0;
window.addEventListener('resize', function () {
  clearTimeout(resizeTimer);
  resizeTimer = setTimeout(draw, 150);
});

// The panel's API for slides-follow.js and presenter.js.
publish('slides', {
  show: function (n, source) { return show(n, source || 'api'); },
  page: function () { return state.page; },
  pages: function () { return state.pages; },
  onPageChange: function (fn) { state.listeners.push(fn); },
});

poll();
