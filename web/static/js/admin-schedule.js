// The console's schedule import (/admin/schedule): the chosen file goes to
// PUT /api/schedule?dry_run=1 first; the page shows the plan (each room
// with a stage picker, what would be created, updated, left alone or is
// gone from the file, warnings); a changed stage checks again; Import sends
// the same file with the same mapping and shows the report.
import { api } from './lib/api.js';
import { el, scrollSmoothly } from './lib/dom.js';
import { t as tr, tn as trn } from './lib/i18n.js';

const $ = (id) => document.getElementById(id);
const errorBox = $('cx-error');
const noteBox = $('cx-note');
const fileInput = $('sched-file');
const planBox = $('sched-plan');
const reportBox = $('sched-report');
const importBtn = $('sched-import');
const STAGE = /^[a-z0-9-]{1,64}$/;
// schedule.MaxSize: a larger file is refused by salon (413) — said before
// sending it over the venue's network.
const MAX_SIZE = 10 << 20;

let init = { stages: [], configured: true };
try {
  init = JSON.parse($('admin-initial').textContent) || init;
} catch (e) { /* the defaults do */ }

const state = {
  file: null,
  rooms: [], // [{room, stage, derived}] of the last plan
  busy: false,
  seq: 0 // the answer of an older check is dropped
};

function showError(msg) {
  errorBox.textContent = msg || '';
  errorBox.hidden = !msg;
  if (msg) errorBox.scrollIntoView({ block: 'nearest', behavior: scrollSmoothly() });
}

function showNote(msg) {
  noteBox.textContent = msg || '';
  noteBox.hidden = !msg;
}

// query is ?room=NAME=stage for every room, plus dry_run when asked.
function query(dryRun) {
  const q = new URLSearchParams();
  for (const r of state.rooms) q.append('room', r.room + '=' + r.stage);
  if (dryRun) q.set('dry_run', '1');
  const s = q.toString();
  return '/api/schedule' + (s ? '?' + s : '');
}

function setBusy(busy) {
  state.busy = busy;
  $('sched-check').disabled = busy;
  $('sched-recheck').disabled = busy;
  importBtn.disabled = busy || !state.file || state.rooms.some((r) => !STAGE.test(r.stage));
}

async function check() {
  if (!state.file) return;
  if (state.file.size > MAX_SIZE) {
    showError(tr('sched.err.tooBig', { Name: state.file.name }));
    planBox.hidden = true;
    return;
  }
  const seq = ++state.seq;
  setBusy(true);
  showNote('');
  try {
    const plan = await api('PUT', query(true), state.file);
    if (seq !== state.seq) return;
    showError('');
    reportBox.hidden = true;
    renderPlan(plan);
  } catch (e) {
    if (seq !== state.seq) return;
    showError(tr('sched.err.cannot', { Name: state.file.name, Error: e.message }));
    if (!state.rooms.length) planBox.hidden = true;
  } finally {
    if (seq === state.seq) setBusy(false);
  }
}

function list(report) {
  return {
    created: report.created || [],
    updated: report.updated || [],
    unchanged: report.unchanged || [],
    removed: report.removed || [],
    warnings: report.warnings || []
  };
}

function summary(box, r, verb) {
  // kind names the chip for scripts and tests, label for people.
  const chip = (n, kind, label, cls) => el('span', { class: 'cx-chip' + (n && cls ? ' ' + cls : ''), dataset: { kind } },
    el('strong', {}, String(n)), ' ' + label);
  const w = r.warnings.length;
  box.replaceChildren(
    verb ? chip(r.created.length, 'created', tr('sched.chip.created'), 'cx-chip-new')
      : chip(r.created.length, 'new', tr('sched.chip.new'), 'cx-chip-new'),
    chip(r.updated.length, 'updated', tr('sched.chip.updated'), 'cx-chip-upd'),
    chip(r.unchanged.length, 'unchanged', tr('sched.chip.unchanged')),
    chip(r.removed.length, 'gone from the file', tr('sched.chip.gone'), 'cx-chip-warn'),
    chip(w, w === 1 ? 'warning' : 'warnings', trn('sched.chip.warnings', w), 'cx-chip-warn'));
}

// item is one talk of a report, linked to its console page once it exists.
function item(t, extra, planned) {
  const title = planned
    ? el('span', { class: 'cx-file', lang: '' }, t.title || t.id)
    : el('a', { class: 'cx-file', href: '/admin/talks/' + encodeURIComponent(t.id), lang: '' }, t.title || t.id);
  return el('li', { dataset: { id: t.id } }, title,
    el('span', { class: 'cx-meta' }, t.id + (extra ? ' · ' + extra : '')));
}

function lists(box, r, dry) {
  const parts = [];
  const section = (key, heading, hint, items, open) => {
    if (!items.length) return;
    parts.push(el('details', { class: 'cx-sched-list', dataset: { list: key }, open: open },
      el('summary', {}, heading + ' (' + items.length + ')'),
      hint ? el('p', { class: 'cx-hint' }, hint) : null,
      el('ul', { class: 'cx-list' }, items)));
  };
  if (r.warnings.length) {
    parts.push(el('div', { class: 'notice cx-warnings', dataset: { list: 'warnings' } },
      el('strong', {}, tr('sched.warnings')),
      el('ul', {}, r.warnings.map((w) => el('li', {}, w)))));
  }
  section('created', dry ? tr('sched.list.new') : tr('sched.list.created'), '', r.created.map((t) => item(t, '', dry)), true);
  section('updated', dry ? tr('sched.list.wouldChange') : tr('sched.list.updated'), '',
    r.updated.map((t) => item(t, (t.fields || []).join(', '))), true);
  section('removed', tr('sched.list.gone'), tr('sched.list.gone.hint'),
    r.removed.map((t) => item(t)), true);
  section('unchanged', tr('sched.list.unchanged'), '', r.unchanged.map((t) => item(t)), false);
  box.replaceChildren(...parts);
}

function renderRooms() {
  const box = $('sched-rooms');
  if (!state.rooms.length) {
    box.replaceChildren(el('p', { class: 'cx-hint' }, tr('sched.noRooms')));
    return;
  }
  box.replaceChildren(...state.rooms.map((r, i) => {
    const id = 'room-' + i;
    const input = el('input', {
      id, class: 'cx-stage', value: r.stage, list: 'sched-stages', required: true,
      pattern: '[a-z0-9\\-]{1,64}', autocapitalize: 'off', spellcheck: 'false', autocomplete: 'off',
      dataset: { room: r.room }, 'aria-describedby': id + '-hint'
    });
    let timer;
    input.addEventListener('input', () => {
      const v = input.value.trim();
      // A check may have replaced state.rooms since this box was made.
      const cur = state.rooms.find((x) => x.room === r.room) || r;
      cur.stage = v;
      cur.derived = false;
      const ok = STAGE.test(v);
      input.classList.toggle('is-bad', !ok);
      hint.textContent = ok ? '' : tr('sched.room.bad');
      setBusy(state.busy);
      clearTimeout(timer);
      if (ok) timer = setTimeout(check, 500);
    });
    const hint = el('span', { class: 'cx-meta', id: id + '-hint' }, r.derived ? tr('sched.room.derived') : '');
    return el('div', { class: 'cx-room' },
      el('label', { for: id, lang: '' }, r.room),
      el('span', { class: 'cx-arrow', 'aria-hidden': 'true' }, '→'),
      input, hint);
  }));
}

function renderPlan(plan) {
  state.rooms = (plan.rooms || []).map((r) => ({ room: r.room, stage: r.stage, derived: !!r.derived }));
  const known = new Set(init.stages || []);
  for (const r of state.rooms) known.add(r.stage);
  $('sched-stages').replaceChildren(...[...known].sort().map((s) => el('option', { value: s })));
  // Keep the focus in a room's box while it is being edited.
  const active = document.activeElement;
  const editing = active && active.classList.contains('cx-stage') ? active.dataset.room : null;
  if (!editing) renderRooms();
  const r = list(plan);
  summary($('sched-summary'), r, false);
  lists($('sched-lists'), r, true);
  // The mapping this plan was made with (tests wait on it).
  planBox.dataset.mapping = state.rooms.map((x) => x.room + '=' + x.stage).join(';');
  planBox.hidden = false;
  importBtn.textContent = r.created.length + r.updated.length
    ? tr('sched.importButton', { Create: r.created.length, Update: r.updated.length })
    : tr('sched.importNothing');
}

async function doImport() {
  if (!state.file) return;
  const seq = ++state.seq;
  setBusy(true);
  try {
    const report = await api('PUT', query(false), state.file);
    const r = list(report);
    showError('');
    planBox.hidden = true;
    reportBox.hidden = false;
    summary($('sched-report-summary'), r, true);
    lists($('sched-report-lists'), r, false);
    const counts = { Name: state.file.name, Created: r.created.length, Updated: r.updated.length, Unchanged: r.unchanged.length, Gone: r.removed.length };
    showNote(r.removed.length ? tr('sched.done.gone', counts) : tr('sched.done', counts));
    reportBox.scrollIntoView({ block: 'start', behavior: scrollSmoothly() });
  } catch (e) {
    showError(tr('sched.err.failed', { Error: e.message }));
  } finally {
    if (seq === state.seq) setBusy(false);
  }
}

$('sched-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  state.file = fileInput.files[0] || null;
  state.rooms = [];
  check();
});
fileInput.addEventListener('change', () => {
  state.file = fileInput.files[0] || null;
  state.rooms = [];
  reportBox.hidden = true;
  showNote('');
  if (state.file) check();
});
$('sched-recheck').addEventListener('click', check);
importBtn.addEventListener('click', doImport);

if (!init.configured) {
  showError(tr('sched.err.noProgramme'));
  $('sched-check').disabled = true;
}
// The listeners are on: a file chosen from now on is checked (tests wait
// for this; a module runs after the page is shown).
document.getElementById('main').dataset.ready = '1';
