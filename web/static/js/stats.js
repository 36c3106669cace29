// The organiser's statistics page (/admin/stats): how the day went, from
// GET /api/stats (the console's session goes along), charted as inline SVG
// in the event's time zone.
import { api } from './lib/api.js';
import { el, svgEl, meta } from './lib/dom.js';
import { formatTime } from './lib/format.js';
import { intl, t as tr, tn as trn } from './lib/i18n.js';

const REFRESH_MS = 30000;

const main = document.getElementById('main');
const path = main.dataset.api;
const zone = main.dataset.zone || meta('salon-zone');
const $ = (id) => document.getElementById(id);
const nf = new Intl.NumberFormat(intl);
const hm = (d) => formatTime(d, zone);

let current = null; // the data shown
let timer = 0;

// about: 1024 → "over 1,000", 472 → "over 470", 64 → "64".
export function about(n) {
  if (n < 100) return nf.format(n);
  const step = Math.pow(10, Math.floor(Math.log10(n)) - 1);
  const floor = Math.floor(n / step) * step;
  return floor === n ? nf.format(n) : tr('stats.over', { N: nf.format(floor) });
}

// summary is the line an organiser pastes in a report.
export function summary(d, room) {
  const parts = [];
  if (room > 0) parts.push(tr('stats.sum.room', { N: nf.format(room) }));
  parts.push(d.live_viewers_peak
    ? tr('stats.sum.onlinePeak', { N: about(d.live_viewers_unique), Peak: nf.format(d.live_viewers_peak) })
    : tr('stats.sum.online', { N: about(d.live_viewers_unique) }));
  if (d.replay_viewers_unique) parts.push(tr('stats.sum.replay', { N: about(d.replay_viewers_unique) }));
  let s = parts.join(tr('stats.sep'));
  const extra = [];
  if (d.chat_messages) extra.push(trn('stats.sum.chat', d.chat_messages, { N: nf.format(d.chat_messages) }));
  if (d.questions) {
    extra.push(d.questions_answered
      ? trn('stats.sum.questionsAnswered', d.questions, { N: nf.format(d.questions), Answered: nf.format(d.questions_answered) })
      : trn('stats.sum.questions', d.questions, { N: nf.format(d.questions) }));
  }
  if (d.downloads) extra.push(trn('stats.sum.downloads', d.downloads, { N: nf.format(d.downloads) }));
  if (extra.length) s += tr('stats.sepMajor') + extra.join(tr('stats.sep'));
  return s + tr('stats.end');
}

function renderCards(d) {
  const peakAt = d.live_viewers_peak_at ? tr('stats.card.peakAt', { Time: hm(d.live_viewers_peak_at) }) : '';
  const cards = [
    [tr('stats.card.live'), nf.format(d.live_viewers_unique), tr('stats.card.distinct')],
    [tr('stats.card.peak'), nf.format(d.live_viewers_peak), peakAt],
    [tr('stats.card.replay'), nf.format(d.replay_viewers_unique), tr('stats.card.distinct')],
    [tr('chat.title'), nf.format(d.chat_messages), trn('stats.card.questions', d.questions || 0, { N: nf.format(d.questions || 0), Answered: nf.format(d.questions_answered || 0) })],
    [tr('stats.col.downloads'), nf.format(d.downloads), tr('stats.card.downloads', { Slides: nf.format(d.downloads_slides), MP4: nf.format(d.downloads_mp4) })],
  ];
  $('stats-cards').replaceChildren(...cards.map(([label, value, note]) =>
    el('li', { class: 'stats-card' }, el('span', { class: 'stats-card-label' }, label),
      el('strong', { class: 'stats-card-value' }, value), el('span', { class: 'stats-card-note' }, note))));
}

const COLORS = ['#ff4d5e', '#7aa7ff', '#3ecf8e', '#f5b544', '#c792ea', '#5fd4e6'];

// niceMax rounds a chart's top up to 1, 2 or 5 × a power of ten.
function niceMax(v) {
  if (v <= 4) return 4;
  const p = Math.pow(10, Math.floor(Math.log10(v)));
  for (const m of [1, 2, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

// chart draws series [{name, color, points:[{at,count}]}] sharing one time
// axis as an SVG that scales with its box. opts.small: a sparkline.
export function chart(series, opts = {}) {
  const small = !!opts.small;
  // The big chart is drawn at its box's own width, so that its labels keep
  // their size on a phone; the sparklines stretch.
  const W = small ? 160 : Math.max(300, Math.round(opts.width || 800));
  const H = small ? 36 : (W < 600 ? 220 : 260);
  const pad = small ? { l: 1, r: 1, t: 3, b: 3 } : { l: 44, r: 12, t: 12, b: 28 };
  const svg = svgEl('svg', { viewBox: `0 0 ${W} ${H}`, class: small ? 'spark' : 'chart', role: 'img', preserveAspectRatio: 'none' });
  const all = series.flatMap((s) => s.points);
  if (all.length === 0) {
    svg.setAttribute('aria-label', tr('stats.chart.nobody'));
    if (!small) {
      const t = svgEl('text', { x: W / 2, y: H / 2, 'text-anchor': 'middle', class: 'chart-empty' });
      t.textContent = tr('stats.chart.nobodyYet');
      svg.append(t);
    } else {
      svg.append(svgEl('line', { x1: 0, x2: W, y1: H - 2, y2: H - 2, class: 'spark-base' }));
    }
    return svg;
  }
  const t0 = Math.min(...all.map((p) => Date.parse(p.at)));
  const t1 = Math.max(...all.map((p) => Date.parse(p.at)));
  const top = niceMax(Math.max(...all.map((p) => p.count)));
  const x = (t) => pad.l + (t1 === t0 ? (W - pad.l - pad.r) / 2 : (t - t0) / (t1 - t0) * (W - pad.l - pad.r));
  const y = (v) => H - pad.b - v / top * (H - pad.t - pad.b);
  if (!small) {
    for (let i = 0; i <= 4; i++) {
      const v = top * i / 4;
      svg.append(svgEl('line', { x1: pad.l, x2: W - pad.r, y1: y(v), y2: y(v), class: 'grid' }));
      const lab = svgEl('text', { x: pad.l - 6, y: y(v) + 4, 'text-anchor': 'end', class: 'axis' });
      lab.textContent = nf.format(v);
      svg.append(lab);
    }
    const ticks = Math.min(W < 600 ? 3 : 6, Math.max(1, Math.round((t1 - t0) / 60000)));
    for (let i = 0; i <= ticks; i++) {
      const t = t0 + (t1 - t0) * i / ticks;
      const lab = svgEl('text', { x: x(t), y: H - 8, 'text-anchor': i === 0 ? 'start' : i === ticks ? 'end' : 'middle', class: 'axis' });
      lab.textContent = hm(t);
      svg.append(lab);
    }
  }
  const labels = [];
  for (const s of series) {
    if (s.points.length === 0) continue;
    const pts = s.points.map((p) => `${x(Date.parse(p.at)).toFixed(1)},${y(p.count).toFixed(1)}`);
    if (s.points.length === 1) pts.push(pts[0]);
    if (s.fill) {
      const first = x(Date.parse(s.points[0].at)), last = x(Date.parse(s.points[s.points.length - 1].at));
      svg.append(svgEl('polygon', { points: `${first},${y(0)} ${pts.join(' ')} ${last},${y(0)}`, fill: s.color, class: 'area' }));
    }
    svg.append(svgEl('polyline', { points: pts.join(' '), stroke: s.color, class: 'line', 'vector-effect': 'non-scaling-stroke' }));
    const peak = Math.max(...s.points.map((p) => p.count));
    labels.push(tr('stats.chart.series', { Name: s.name, Peak: nf.format(peak) }));
  }
  svg.setAttribute('aria-label', labels.join('; '));
  return svg;
}

function renderChart(d) {
  const series = [{ name: tr('stats.chart.all'), color: COLORS[0], points: d.viewers, fill: true }];
  if (d.stages.length > 1) {
    d.stages.forEach((s, i) => series.push({ name: s.stage, color: COLORS[(i + 1) % COLORS.length], points: s.viewers }));
  }
  const box = $('stats-chart');
  box.replaceChildren(chart(series, { width: box.clientWidth - 16 }));
  $('stats-legend').replaceChildren(...series.filter((s) => s.points.length).map((s) =>
    el('span', { class: 'legend-item' }, el('span', { class: 'swatch', style: { background: s.color } }), s.name)));
}

function cell(label, value, cls) {
  return el('td', { 'data-label': label, class: cls || '' }, value);
}

function renderTalks(d) {
  const rows = d.talks.map((t) => {
    const when = t.start ? hm(t.start) + (t.end ? '–' + hm(t.end) : '') : '';
    const title = el('td', { class: 'talk-cell' },
      el('a', { href: '/talks/' + encodeURIComponent(t.id) }, t.title || t.id),
      el('span', { class: 'talk-meta' }, [t.stage, when, t.live ? tr('stats.liveNow') : ''].filter(Boolean).join(' · ')));
    const q = nf.format(t.questions) + (t.questions ? ' (' + nf.format(t.questions_answered) + ' ✓)' : '');
    return el('tr', {}, title,
      cell(tr('stats.col.live'), nf.format(t.live_viewers_unique), 'num'),
      cell(tr('stats.col.peak'), nf.format(t.live_viewers_peak), 'num'),
      cell(tr('badge.replay'), nf.format(t.replay_viewers_unique), 'num'),
      cell(tr('chat.title'), t.chat_unavailable ? '?' : nf.format(t.chat_messages), 'num'),
      cell(tr('chat.tab.questions'), t.chat_unavailable ? '?' : q, 'num'),
      cell(tr('stats.col.downloads'), nf.format(t.downloads), 'num'),
      cell(tr('stage.h.viewers'), chart([{ name: t.title || t.id, color: COLORS[1], points: t.viewers, fill: true }], { small: true }), 'spark-cell'));
  });
  if (rows.length === 0) {
    rows.push(el('tr', {}, el('td', { colspan: '8', class: 'empty-row' }, tr('stats.noTalk'))));
  }
  $('stats-talks').tBodies[0].replaceChildren(...rows);
}

function roomKey(date) { return 'salon-room-' + date; }

function renderSummary() {
  if (!current) return;
  const room = parseInt($('stats-room').value, 10) || 0;
  $('stats-summary').textContent = summary(current, room);
}

function renderDays(d) {
  const sel = $('stats-date');
  const days = d.days && d.days.length ? d.days : [d.date];
  sel.replaceChildren(...days.slice().reverse().map((day) => el('option', { value: day }, day)));
  sel.value = d.date;
}

function render(d) {
  current = d;
  $('stats-error').hidden = true;
  $('stats-body').hidden = false;
  renderDays(d);
  renderCards(d);
  $('stats-room').value = localStorage.getItem(roomKey(d.date)) || '';
  renderSummary();
  renderChart(d);
  renderTalks(d);
  updateLinks();
}

function showError(msg) {
  $('stats-error').textContent = msg;
  $('stats-error').hidden = false;
}

function query(extra) {
  const p = new URLSearchParams(extra || {});
  const date = $('stats-date').value;
  if (date && current && date !== current.days[current.days.length - 1]) p.set('date', date);
  const s = p.toString();
  return path + (s ? '?' + s : '');
}

async function load() {
  clearTimeout(timer);
  try {
    render(await api('GET', query()));
  } catch (e) {
    showError(e.message);
  }
  timer = setTimeout(load, REFRESH_MS);
}

// The CSV links follow the day chosen; the session cookie goes along.
function updateLinks() {
  $('csv-talks').href = query({ format: 'csv' });
  $('csv-viewers').href = query({ format: 'csv', table: 'viewers' });
}

$('stats-date').addEventListener('change', load);
$('stats-room').addEventListener('input', () => {
  if (current) localStorage.setItem(roomKey(current.date), $('stats-room').value);
  renderSummary();
});
$('stats-copy').addEventListener('click', async () => {
  const text = $('stats-summary').textContent;
  const btn = $('stats-copy');
  try {
    await navigator.clipboard.writeText(text);
    btn.textContent = tr('stats.copied');
  } catch (e) {
    const r = document.createRange();
    r.selectNodeContents($('stats-summary'));
    getSelection().removeAllRanges();
    getSelection().addRange(r);
    btn.textContent = tr('stats.selected');
  }
  setTimeout(() => { btn.textContent = tr('stats.copy'); }, 2000);
});

// Redraw the chart at its new width when the window changes size.
let resizeTimer = 0;
let lastWidth = 0;
window.addEventListener('resize', () => {
  clearTimeout(resizeTimer);
  resizeTimer = setTimeout(() => {
    const w = $('stats-chart').clientWidth;
    if (current && w !== lastWidth) {
      lastWidth = w;
      renderChart(current);
    }
  }, 150);
});

load();
