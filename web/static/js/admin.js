// The organiser console's day view (/admin): every stage with its talk on
// stage, buttons, health and timeline, kept current by the server's events
// (GET /admin/events: "talks" when they change, "health" every second and
// at once when a publisher comes or goes).
import { api } from './lib/api.js';
import { el, scrollSmoothly } from './lib/dom.js';
import { dayKey, formatBytes, formatDay, formatMinutes, formatTime } from './lib/format.js';
import { StageCard, talkState } from './admin-stage.js';
import { TalkForm } from './admin-talk-form.js';
import { t as tr } from './lib/i18n.js';

const main = document.getElementById('main');
const zone = main.dataset.zone || undefined;
const stagesBox = document.getElementById('stages');
const alerts = document.getElementById('alerts');
const errorBox = document.getElementById('admin-error');
const noteBox = document.getElementById('admin-note');
const feedStatus = document.getElementById('feed-status');
const archiveStatus = document.getElementById('archive-status');

const state = {
  talks: [],
  health: { stages: [] },
  skew: 0, // server clock minus this browser's, in ms
  talksChanged: true,
  cards: new Map()
};

function now() {
  return Date.now() + state.skew;
}

function showError(msg) {
  errorBox.textContent = msg;
  errorBox.hidden = !msg;
  if (msg) errorBox.scrollIntoView({ block: 'nearest', behavior: scrollSmoothly() });
}

let noteTimer;
function showNote(msg) {
  noteBox.textContent = msg;
  noteBox.hidden = !msg;
  clearTimeout(noteTimer);
  noteTimer = setTimeout(() => { noteBox.hidden = true; }, 6000);
}

// The buttons. A failure stays on screen until the next success.
const ctx = {
  zone,
  async act(kind, stage, talk) {
    let method = 'POST';
    let path;
    if (kind === 'start') path = '/api/talks/' + encodeURIComponent(talk.id) + '/start';
    else if (kind === 'stop') path = '/api/talks/' + encodeURIComponent(talk.id) + '/stop';
    else path = '/api/stages/' + encodeURIComponent(stage) + '/next';
    const card = state.cards.get(stage);
    card.root.classList.add('is-busy');
    try {
      const answer = await api(method, path);
      showError('');
      let done = answer;
      if (answer && answer.id) mergeTalk(answer);
      if (answer && answer.started) { // Next: {"stopped": talk|null, "started": talk}
        if (answer.stopped) mergeTalk(answer.stopped);
        mergeTalk(answer.started);
        done = answer.started;
      }
      const title = done && done.title ? done.title : (talk ? talk.title : '');
      showNote(kind === 'start' ? tr('console.started', { Title: title })
        : kind === 'stop' ? tr('console.stopped', { Title: title })
          : tr('console.nextDone', { Stage: stage, Title: title }));
    } catch (e) {
      showError(kind === 'next' ? tr('console.nextFailed', { Stage: stage, Error: e.message })
        : kind === 'start' ? tr('console.startFailed', { Stage: stage, Error: e.message })
          : tr('console.stopFailed', { Stage: stage, Error: e.message }));
    } finally {
      card.root.classList.remove('is-busy');
      render();
    }
  },
  async setAuto(stage, on, box) {
    box.disabled = true;
    try {
      const answer = await api('PUT', '/api/stages/' + encodeURIComponent(stage) + '/auto', { on });
      const auto = answer && typeof answer.auto === 'boolean' ? answer.auto : on;
      box.checked = auto;
      const info = state.health.stages.find((s) => s.name === stage);
      if (info) info.auto = auto;
      showError('');
      showNote(auto ? tr('console.autoOn', { Stage: stage }) : tr('console.autoOff', { Stage: stage }));
    } catch (e) {
      box.checked = !on;
      showError(on ? tr('console.autoOnFailed', { Stage: stage, Error: e.message })
        : tr('console.autoOffFailed', { Stage: stage, Error: e.message }));
    } finally {
      box.disabled = false;
    }
  },
  edit(talk) {
    form.open(talk, stageNames(), shownDay());
  }
};

const form = new TalkForm(zone, (talk, created) => {
  mergeTalk(talk);
  showError('');
  showNote(created ? tr('console.added', { Title: talk.title }) : tr('console.saved', { Title: talk.title }));
  render();
});
document.getElementById('add-talk').addEventListener('click', () => ctx.edit(undefined));

function mergeTalk(t) {
  const i = state.talks.findIndex((x) => x.id === t.id);
  if (i >= 0) state.talks[i] = t;
  else state.talks.push(t);
  state.talksChanged = true;
}

function stageNames() {
  const names = new Set(state.health.stages.map((s) => s.name));
  for (const t of state.talks) if (t.stage) names.add(t.stage);
  return [...names].sort();
}

function start(t) {
  return t.starts_at ? new Date(t.starts_at).getTime() : NaN;
}

// shownDay is today in the event's zone when a talk is on today, else the
// next day with talks, else the last one.
function shownDay() {
  const today = dayKey(now(), zone);
  const days = [...new Set(state.talks.filter((t) => t.starts_at).map((t) => dayKey(t.starts_at, zone)))].sort();
  if (!days.length || days.includes(today)) return today;
  return days.find((d) => d > today) || days[days.length - 1];
}

// axis spans the shown day's talks (whole hours, an hour of margin) and now.
function axisFor(day, talks) {
  let lo = Infinity;
  let hi = -Infinity;
  for (const t of talks) {
    const s = start(t);
    const e = t.ends_at ? new Date(t.ends_at).getTime() : s;
    if (!isNaN(s)) lo = Math.min(lo, s);
    if (!isNaN(e)) hi = Math.max(hi, e);
  }
  const n = now();
  if (day === dayKey(n, zone) || lo === Infinity) {
    lo = Math.min(lo, n);
    hi = Math.max(hi, n);
  }
  const hour = 3600e3;
  // Ticks fall on whole hours of UTC: whole hours of the zone too, except in
  // the few zones with a half-hour offset (their ticks read :30).
  const startMs = Math.floor(lo / hour) * hour - hour / 2;
  const endMs = Math.ceil(hi / hour) * hour + hour / 2;
  const firstHour = Math.ceil(startMs / hour) * hour;
  return { start: startMs, end: Math.max(endMs, startMs + 3 * hour), firstHour };
}

function render() {
  const n = now();
  const day = shownDay();
  document.getElementById('admin-day').textContent =
    (day === dayKey(n, zone) ? tr('console.today', { Day: formatDay(Date.parse(day + 'T12:00:00Z'), 'UTC') })
      : tr('console.otherDay', { Day: formatDay(Date.parse(day + 'T12:00:00Z'), 'UTC') }));
  document.getElementById('admin-clock').textContent = formatTime(n, zone) + ' ';
  document.getElementById('admin-zone').textContent = zone ? '(' + zone + ')' : '';

  const ofDay = state.talks.filter((t) => !t.starts_at || dayKey(t.starts_at, zone) === day || t.live);
  const axis = axisFor(day, ofDay.filter((t) => t.starts_at));
  const health = new Map(state.health.stages.map((s) => [s.name, s]));
  const names = stageNames();
  for (const name of names) {
    let card = state.cards.get(name);
    if (!card) {
      card = new StageCard(name, ctx);
      state.cards.set(name, card);
      card.talksChanged = true;
    }
    const talks = ofDay.filter((t) => t.stage === name).sort(byStart);
    const info = health.get(name);
    let next;
    if (info && info.auto !== undefined) { // the programme is there: its Next
      next = info.next ? state.talks.find((t) => t.id === info.next) || null : null;
    }
    card.update(n, talks, info, axis, state.talksChanged || card.talksChanged, next);
    card.talksChanged = false;
  }
  // Keep the cards in name order, without moving the ones in place.
  const want = names.map((nm) => state.cards.get(nm).root);
  if (want.length !== stagesBox.children.length || want.some((r, i) => stagesBox.children[i] !== r)) {
    stagesBox.replaceChildren(...want);
  }
  if (!names.length) {
    stagesBox.replaceChildren(el('div', { class: 'empty' },
      el('h2', {}, tr('console.noStages')),
      el('p', {}, tr('console.noStages.help1'),
        el('a', { href: '/admin/schedule' }, tr('console.noStages.link')), tr('console.noStages.help2'))));
  }
  renderUnassigned(state.talks.filter((t) => !t.stage));
  renderAlerts(n);
  renderArchive();
  state.talksChanged = false;
}

function byStart(a, b) {
  const x = start(a);
  const y = start(b);
  if (isNaN(x) !== isNaN(y)) return isNaN(x) ? 1 : -1;
  return (x - y) || a.id.localeCompare(b.id);
}

function renderUnassigned(talks) {
  const box = document.getElementById('unassigned');
  box.hidden = !talks.length;
  if (!state.talksChanged) return;
  document.getElementById('unassigned-list').replaceChildren(...talks.map((t) =>
    el('li', { class: 'admin-talk is-' + talkState(t) },
      el('span', { class: 'admin-talk-time' }, t.starts_at ? formatTime(t.starts_at, zone) : tr('console.noTime')),
      el('span', { class: 'admin-talk-main' },
        el('a', { class: 'admin-talk-title', href: '/admin/talks/' + encodeURIComponent(t.id) }, t.title)),
      el('span', { class: 'admin-talk-actions' },
        el('button', { type: 'button', class: 'button button-small button-quiet', onclick: () => ctx.edit(t) }, tr('console.edit'))))));
}

// renderAlerts: a red banner on top for every stage whose publisher dropped.
function renderAlerts(n) {
  const items = [];
  for (const s of state.health.stages) {
    if (s.live || !s.last_seen) continue;
    const lost = new Date(s.last_seen).getTime();
    items.push(el('p', { class: 'alert-down', dataset: { stage: s.name } },
      el('strong', {}, tr('console.lost', { Stage: s.name })),
      ' ' + tr('console.lost.help', { Time: formatTime(lost, zone), Ago: formatMinutes((n - lost) / 1000) })));
  }
  const key = items.map((i) => i.textContent).join('|');
  if (alerts.dataset.key !== key) {
    alerts.dataset.key = key;
    alerts.replaceChildren(...items);
  }
}

function renderArchive() {
  const a = state.health.archive;
  if (!a) {
    archiveStatus.textContent = tr('console.archive.none');
    archiveStatus.className = 'chip';
    return;
  }
  const spool = a.spool_max ? tr('console.spoolOf', { Used: formatBytes(a.spool_bytes), Max: formatBytes(a.spool_max) })
    : formatBytes(a.spool_bytes);
  let text;
  let cls = 'chip chip-ok';
  if (!a.bucket_reachable) {
    text = tr('console.bucketDown', { Time: formatTime(a.failing_since, zone), Spool: spool });
    cls = 'chip chip-bad';
  } else {
    text = tr('console.bucketOK', { Spool: spool, Lag: formatMinutes(a.upload_lag || 0) });
    if (a.upload_lag > 30 || (a.spool_max && a.spool_bytes > 0.9 * a.spool_max)) cls = 'chip chip-warn';
  }
  archiveStatus.textContent = text;
  archiveStatus.className = cls;
}

// The server's events. EventSource reconnects by itself; a lost feed is
// said on the page, since the health it shows is then old.
function connect() {
  const es = new EventSource('/admin/events');
  es.addEventListener('open', () => {
    feedStatus.textContent = tr('console.feed.live');
    feedStatus.className = 'chip chip-conn chip-ok';
  });
  es.addEventListener('error', () => {
    feedStatus.textContent = tr('room.reconnecting');
    feedStatus.className = 'chip chip-conn chip-bad';
    if (es.readyState === EventSource.CLOSED) {
      // A refusal (the session ended) closes for good: log in again.
      showError(tr('console.feed.lost'));
    }
  });
  es.addEventListener('talks', (e) => {
    state.talks = JSON.parse(e.data) || [];
    state.talksChanged = true;
    render();
  });
  es.addEventListener('health', (e) => {
    state.health = JSON.parse(e.data);
    state.health.stages = state.health.stages || [];
    state.skew = new Date(state.health.now).getTime() - Date.now();
    render();
  });
}

// First paint from the data the page came with, then the events.
try {
  const init = JSON.parse(document.getElementById('admin-initial').textContent);
  state.talks = init.talks || [];
  if (init.health) {
    state.health = init.health;
    state.health.stages = state.health.stages || [];
    state.skew = new Date(init.health.now).getTime() - Date.now();
  }
} catch (e) {
  showError(tr('console.noData'));
}
render();
connect();
// The clocks run between snapshots too.
setInterval(() => {
  for (const card of state.cards.values()) card.updateNow(now());
  document.getElementById('admin-clock').textContent = formatTime(now(), zone) + ' ';
}, 1000);
