// One stage of the organiser console: the talk on stage with its clock and
// buttons, the stage's health, its timeline with a line at now, and its
// talks. A StageCard is built once and updated in place every second, so
// focus and scroll positions survive the updates.
import { el, liveBadge, setBadge, sparkline } from './lib/dom.js';
import {
  formatBitrate, formatDuration, formatMinutes, formatTime, trackLine
} from './lib/format.js';
import { t as tr, tn as trn, warningText } from './lib/i18n.js';

// The talk on stage turns amber this many seconds before its end.
const AMBER_SECONDS = 5 * 60;

function ms(d) {
  return d ? new Date(d).getTime() : NaN;
}

// talkState: 'live', 'ended' or 'planned'.
export function talkState(t) {
  if (t.live) return 'live';
  if (t.ended) return 'ended';
  return 'planned';
}

// nextTalk is the first talk of the stage that has not started, by
// scheduled start (a delayed talk stays next until it is started).
export function nextTalk(talks) {
  return talks.find((t) => talkState(t) === 'planned') || null;
}

function speakerLine(t) {
  return (t.speakers || []).map((s) => s.name).filter(Boolean).join('、');
}

export class StageCard {
  // ctx: { zone, act(kind, stage, talk), edit(talk), setAuto(stage, on) }
  constructor(name, ctx) {
    this.name = name;
    this.ctx = ctx;
    this.root = el('section', { class: 'stage-panel', id: 'stage-' + name, 'aria-labelledby': 'stage-h-' + name });
    this.build();
  }

  build() {
    const n = this.name;
    this.badge = liveBadge(false);
    this.autoBox = el('input', {
      type: 'checkbox', role: 'switch', id: 'auto-' + n, class: 'switch',
      onchange: () => this.ctx.setAuto(n, this.autoBox.checked, this.autoBox)
    });
    const head = el('header', { class: 'stage-panel-head' },
      el('h2', { id: 'stage-h-' + n }, n),
      this.badge,
      el('span', { class: 'stage-panel-links' },
        el('label', { class: 'auto', for: 'auto-' + n, title: tr('stage.auto.title') },
          this.autoBox, el('span', {}, tr('stage.auto'))),
        el('a', { href: '/admin/stages/' + encodeURIComponent(n) + '/chat', class: 'link-chat' }, tr('chat.title')),
        el('a', { href: '/live/' + encodeURIComponent(n) + '/room', target: '_blank', rel: 'noopener', class: 'link-room' }, tr('console.roomScreen')),
        el('a', { href: '/live/' + encodeURIComponent(n), target: '_blank', rel: 'noopener' }, tr('console.livePage'))));

    this.banner = el('p', { class: 'stage-banner', role: 'alert', hidden: true });

    // On stage now.
    this.nowTitle = el('a', { class: 'now-title' });
    this.nowSpeakers = el('p', { class: 'now-speakers' });
    this.elapsed = el('span', { class: 'clock-value' });
    this.remaining = el('span', { class: 'clock-value' });
    this.remainingLabel = el('span', { class: 'clock-label' }, tr('stage.remaining'));
    this.progress = el('div', { class: 'progress-bar' });
    this.clock = el('div', { class: 'clock' },
      el('div', {}, el('span', { class: 'clock-label' }, tr('stage.elapsed')), this.elapsed),
      el('div', {}, this.remainingLabel, this.remaining));
    this.nowBox = el('div', { class: 'now-box' },
      el('p', { class: 'eyebrow' }, tr('stage.onStage')), this.nowTitle, this.nowSpeakers, this.clock,
      el('div', { class: 'progress' }, this.progress));
    this.idle = el('p', { class: 'now-idle' }, tr('stage.idle'));
    this.nextLine = el('p', { class: 'next-line' });

    this.btnStart = el('button', { class: 'button button-go', type: 'button', onclick: () => this.press('start') }, tr('stage.start'));
    this.btnStop = el('button', { class: 'button button-stop', type: 'button', onclick: () => this.press('stop') }, tr('stage.stop'));
    this.btnNext = el('button', { class: 'button', type: 'button', onclick: () => this.press('next') }, tr('stage.next'));
    const buttons = el('div', { class: 'stage-buttons' }, this.btnStart, this.btnStop, this.btnNext);

    const onStage = el('div', { class: 'stage-now' }, this.nowBox, this.idle, this.nextLine, buttons);

    // Health.
    this.hPublisher = el('dd');
    this.hVideo = el('dd');
    this.hAudio = el('dd');
    this.hBitrate = el('dd', { class: 'h-bitrate' });
    this.hKeyframe = el('dd');
    this.hDropped = el('dd');
    this.hViewers = el('dd');
    this.hWarnings = el('ul', { class: 'warnings' });
    // Media rows hide while the stage has never had a publisher.
    const row = (label, dd, media) => {
      if (media) dd.classList.add('h-media');
      return [el('dt', { class: media ? 'h-media' : '' }, label), dd];
    };
    this.health = el('div', { class: 'stage-health' },
      el('dl', { class: 'health-list' },
        row(tr('stage.h.publisher'), this.hPublisher), row(tr('stage.h.video'), this.hVideo, true), row(tr('stage.h.audio'), this.hAudio, true),
        row(tr('stage.h.bitrate'), this.hBitrate, true), row(tr('stage.h.keyframes'), this.hKeyframe, true), row(tr('stage.h.dropped'), this.hDropped, true),
        row(tr('stage.h.viewers'), this.hViewers)),
      this.hWarnings);
    const health = this.health;

    this.timeline = el('div', { class: 'timeline', role: 'img' });
    this.timelineWrap = el('div', { class: 'timeline-scroll', tabindex: '0', role: 'region', 'aria-label': tr('stage.timeline.region', { Stage: this.name }) }, this.timeline);
    this.list = el('ol', { class: 'admin-talks' });

    this.root.append(head, this.banner,
      el('div', { class: 'stage-grid' }, onStage, health),
      this.timelineWrap, this.list);
  }

  press(kind) {
    const t = kind === 'start' ? this.next : this.current;
    this.ctx.act(kind, this.name, t);
  }

  // update shows the stage at now (ms). talks are the stage's talks of the
  // shown day, by start; info is its health (may be undefined); axis the
  // day's time axis shared by every stage.
  // next is the talk Next would start, as the programme says (undefined:
  // worked out here from the talks).
  update(now, talks, info, axis, talksChanged, next) {
    const zone = this.ctx.zone;
    this.current = talks.find((t) => t.live) || null;
    this.next = next !== undefined ? next : nextTalk(talks);
    const live = !!(info && info.live);
    setBadge(this.badge, live);

    this.updateNow(now);
    if (this.next) {
      const when = this.next.starts_at ? formatTime(this.next.starts_at, zone) + ' · ' : '';
      this.nextLine.replaceChildren(el('span', { class: 'eyebrow' }, tr('room.next') + ' '), when + this.next.title);
    } else {
      this.nextLine.textContent = tr('stage.noneWaiting');
    }
    this.btnStart.disabled = !this.next || !!this.current;
    this.btnStart.title = this.next ? tr('stage.start.title', { Title: this.next.title }) : tr('stage.start.none');
    this.btnStop.disabled = !this.current;
    this.btnNext.disabled = !this.next && !this.current;

    // Publisher lost: loud, in the card (the page also shows a banner on top).
    const down = this.isDown(info);
    this.root.classList.toggle('is-down', down);
    this.banner.hidden = !down;
    if (down) {
      const p = { Stage: this.name, Time: formatTime(info.last_seen, zone), For: formatMinutes((now - ms(info.last_seen)) / 1000) };
      this.banner.textContent = this.current ? tr('stage.down.recording', Object.assign({ Title: this.current.title }, p))
        : tr('stage.down', p);
    }

    // The server's auto state, unless a switch is on its way.
    if (info && typeof info.auto === 'boolean' && !this.autoBox.disabled) this.autoBox.checked = info.auto;
    this.updateHealth(now, info);
    this.drawTimeline(now, talks, axis);
    if (talksChanged) this.drawList(talks);
  }

  // isDown: a stage that had a publisher and lost it.
  isDown(info) {
    return !!(info && !info.live && info.last_seen);
  }

  updateNow(now) {
    const t = this.current;
    this.nowBox.hidden = !t;
    this.idle.hidden = !!t;
    if (!t) {
      this.root.classList.remove('is-amber', 'is-over');
      return;
    }
    this.nowTitle.textContent = t.title;
    this.nowTitle.href = '/admin/talks/' + encodeURIComponent(t.id);
    this.nowSpeakers.textContent = speakerLine(t);
    const started = ms(t.recording && t.recording.start);
    const elapsed = Math.max(0, (now - started) / 1000);
    this.elapsed.textContent = formatDuration(elapsed);
    const planned = (ms(t.ends_at) - ms(t.starts_at)) / 1000;
    let amber = false;
    let over = false;
    if (planned > 0) {
      const left = planned - elapsed;
      over = left < 0;
      amber = !over && left <= AMBER_SECONDS;
      this.remainingLabel.textContent = over ? tr('stage.overTime') : tr('stage.remaining');
      this.remaining.textContent = over ? '+' + formatDuration(-left) : formatDuration(left);
      this.progress.style.width = Math.min(100, (elapsed / planned) * 100).toFixed(1) + '%';
    } else {
      this.remainingLabel.textContent = tr('stage.remaining');
      this.remaining.textContent = '—';
      this.progress.style.width = '0';
    }
    this.root.classList.toggle('is-amber', amber);
    this.root.classList.toggle('is-over', over);
  }

  updateHealth(now, info) {
    const zone = this.ctx.zone;
    if (!info) info = { tracks: [], bitrate: [], viewers: 0, viewers_peak: 0 };
    if (info.live) {
      this.hPublisher.textContent = tr('stage.connectedSince', { Time: formatTime(info.since, zone), For: formatMinutes((now - ms(info.since)) / 1000) }) +
        (info.source ? ' · ' + info.source.toUpperCase() : '');
    } else if (info.last_seen) {
      this.hPublisher.textContent = tr('stage.lostAt', { Time: formatTime(info.last_seen, zone) });
    } else {
      this.hPublisher.textContent = tr('stage.notYet');
    }
    this.hPublisher.className = info.live ? 'ok' : (info.last_seen ? 'bad' : '');
    this.health.classList.toggle('is-empty', !info.live && !info.last_seen);
    const video = (info.tracks || []).filter((t) => t.kind === 'video');
    const audio = (info.tracks || []).filter((t) => t.kind === 'audio');
    this.hVideo.textContent = video.length ? trackLine(video.map((t) => Object.assign({}, t, { bitrate: 0 }))) : '—';
    this.hAudio.textContent = audio.length ? trackLine(audio.map((t) => Object.assign({}, t, { bitrate: 0 }))) : '—';

    const total = (info.tracks || []).reduce((a, t) => a + (t.bitrate || 0), 0);
    const hist = info.bitrate || [];
    const label = tr('stage.bitrateChart', { For: formatMinutes(hist.length), Max: formatBitrate(Math.max(0, ...hist)) });
    const chart = hist.some((v) => v > 0) ? sparkline(hist, 120, 28, label) : null;
    this.hBitrate.replaceChildren(el('span', {}, info.live ? formatBitrate(total) : '—'), chart || '');
    this.hBitrate.title = label;

    const kf = video.length ? video[0].keyframe_interval : 0;
    const warnings = info.warning_codes || [];
    const gop = warnings.some((w) => w.code === 'hls.gop_long' && !w.rendition);
    this.hKeyframe.textContent = kf ? (gop ? tr('stage.keyframes.far', { S: Math.round(kf * 10) / 10 }) : tr('stage.keyframes', { S: Math.round(kf * 10) / 10 })) : '—';
    this.hKeyframe.classList.toggle('warn', gop);
    this.hDropped.textContent = trn('stage.units', info.dropped_units || 0);
    this.hDropped.classList.toggle('warn', info.dropped_units > 0);
    this.hViewers.textContent = tr('stage.viewers', { Now: info.viewers || 0, Peak: info.viewers_peak || 0 });
    this.hWarnings.replaceChildren(...warnings.map((w) => el('li', {}, warningText(w))));
  }

  drawTimeline(now, talks, axis) {
    const span = axis.end - axis.start;
    const pct = (t) => (((t - axis.start) / span) * 100).toFixed(3) + '%';
    const width = (d) => ((d / span) * 100).toFixed(3) + '%';
    const items = [];
    for (let h = axis.firstHour; h <= axis.end; h += 3600e3) {
      items.push(el('span', { class: 'tick', style: { left: pct(h) } }, formatTime(h, this.ctx.zone)));
    }
    for (const t of talks) {
      const s = ms(t.starts_at);
      const e = ms(t.ends_at);
      if (isNaN(s) || isNaN(e) || e <= s) continue;
      const cls = 'tl-talk tl-' + talkState(t) + (t === this.next ? ' tl-next' : '');
      items.push(el('a', {
        class: cls, href: '/admin/talks/' + encodeURIComponent(t.id),
        style: { left: pct(s), width: width(e - s) },
        title: formatTime(s, this.ctx.zone) + '–' + formatTime(e, this.ctx.zone) + ' ' + t.title
      }, el('span', {}, t.title)));
    }
    if (now >= axis.start && now <= axis.end) {
      items.push(el('span', { class: 'now-line', style: { left: pct(now) }, title: tr('room.now'), 'data-label': tr('room.now') }));
    }
    this.timeline.style.minWidth = Math.round((span / 3600e3) * 180) + 'px';
    this.timeline.setAttribute('aria-label', tr('stage.timeline', { Stage: this.name }));
    this.timeline.replaceChildren(...items);
    if (this.scrolledWidth !== this.timelineWrap.clientWidth && now >= axis.start && now <= axis.end) {
      this.scrolledWidth = this.timelineWrap.clientWidth; // again after a resize
      const w = this.timelineWrap;
      requestAnimationFrame(() => {
        w.scrollLeft = Math.max(0, ((now - axis.start) / span) * w.scrollWidth - w.clientWidth / 3);
      });
    }
  }

  drawList(talks) {
    const zone = this.ctx.zone;
    this.list.replaceChildren(...talks.map((t) => {
      const state = talkState(t);
      const time = t.starts_at ? formatTime(t.starts_at, zone) + (t.ends_at ? '–' + formatTime(t.ends_at, zone) : '') : tr('console.noTime');
      const status = state === 'live' ? el('span', { class: 'badge badge-live' }, tr('badge.live'))
        : state === 'ended' ? el('span', { class: 'badge badge-offline' }, tr('badge.ended')) : null;
      return el('li', { class: 'admin-talk is-' + state, dataset: { talk: t.id } },
        el('span', { class: 'admin-talk-time' }, time),
        el('span', { class: 'admin-talk-main' },
          el('a', { href: '/admin/talks/' + encodeURIComponent(t.id), class: 'admin-talk-title' }, t.title),
          el('span', { class: 'admin-talk-speakers' }, speakerLine(t)),
          t.do_not_record ? el('span', { class: 'chip' }, tr('stage.notRecorded')) : null),
        el('span', { class: 'admin-talk-actions' }, status,
          // Out of order: start this one (refused while another is live).
          state === 'planned' ? el('button', {
            type: 'button', class: 'button button-small button-quiet', title: tr('stage.startNow'),
            onclick: () => this.ctx.act('start', this.name, t)
          }, tr('stage.start')) : null,
          el('button', { type: 'button', class: 'button button-small button-quiet', onclick: () => this.ctx.edit(t) }, tr('console.edit'))));
    }));
  }
}
