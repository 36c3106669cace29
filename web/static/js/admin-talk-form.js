// The console's talk form: add a talk by hand (POST /api/talks) or edit one
// (PATCH /api/talks/{id}). Times are typed in the event's time zone.
import { api } from './lib/api.js';
import { dayKey, inputDate, inputTime, zonedToDate } from './lib/format.js';
import { t as tr } from './lib/i18n.js';

// speakersFrom: "Ada, 王小明\n李雷、韩梅梅" → [{name:"Ada"}, …].
export function speakersFrom(text) {
  return text.split(/[\n,，、;；]+/).map((s) => s.trim()).filter(Boolean).map((name) => ({ name }));
}

export class TalkForm {
  // onSaved(talk) is called with the API's answer.
  constructor(zone, onSaved) {
    this.zone = zone;
    this.onSaved = onSaved;
    this.dialog = document.getElementById('talk-dialog');
    this.form = document.getElementById('talk-form');
    this.error = document.getElementById('tf-error');
    this.heading = document.getElementById('talk-dialog-h');
    this.f = (name) => this.form.elements.namedItem(name);
    document.getElementById('tf-cancel').addEventListener('click', () => this.dialog.close());
    this.form.addEventListener('submit', (e) => {
      e.preventDefault();
      this.save();
    });
    document.getElementById('tf-zone').textContent = zone ? tr('form.zone', { Zone: zone }) : tr('form.zone.browser');
  }

  // open shows the form for talk (undefined: a new talk); stages fill the
  // stage suggestions, day is the day shown by the console.
  open(talk, stages, day) {
    this.talk = talk || null;
    this.heading.textContent = talk ? tr('form.edit', { Title: talk.title }) : tr('console.addTalk');
    this.error.hidden = true;
    document.getElementById('tf-stages').replaceChildren(...stages.map((s) => {
      const o = document.createElement('option');
      o.value = s;
      return o;
    }));
    const t = talk || {};
    this.f('title').value = t.title || '';
    this.f('speakers').value = (t.speakers || []).map((s) => s.name).join('\n');
    this.f('stage').value = t.stage || (stages.length === 1 ? stages[0] : '');
    this.f('day').value = t.starts_at ? inputDate(t.starts_at, this.zone) : day;
    this.f('start').value = inputTime(t.starts_at, this.zone);
    this.f('end').value = inputTime(t.ends_at, this.zone);
    this.f('abstract').value = t.abstract || '';
    this.dialog.showModal();
    this.f('title').focus();
  }

  body() {
    const day = this.f('day').value;
    const start = this.f('start').value;
    const end = this.f('end').value;
    const b = {
      title: this.f('title').value.trim(),
      speakers: speakersFrom(this.f('speakers').value),
      stage: this.f('stage').value.trim(),
      abstract: this.f('abstract').value.trim()
    };
    if ((start || end) && !day) throw new Error(tr('form.err.day'));
    if (start) b.starts_at = zonedToDate(day, start, this.zone).toISOString();
    if (end) {
      let e = zonedToDate(day, end, this.zone);
      if (start && end <= start) { // ends after midnight
        const next = new Date(e.getTime() + 36 * 3600e3);
        e = zonedToDate(dayKey(next, this.zone), end, this.zone);
      }
      b.ends_at = e.toISOString();
    }
    if (!b.title) throw new Error(tr('form.err.title'));
    return b;
  }

  async save() {
    const button = document.getElementById('tf-save');
    this.error.hidden = true;
    let b;
    try {
      b = this.body();
    } catch (e) {
      this.showError(e.message);
      return;
    }
    button.disabled = true;
    try {
      const saved = this.talk
        ? await api('PATCH', '/api/talks/' + encodeURIComponent(this.talk.id), b)
        : await api('POST', '/api/talks', b);
      this.dialog.close();
      this.onSaved(saved, !this.talk);
    } catch (e) {
      this.showError(e.message);
    } finally {
      button.disabled = false;
    }
  }

  showError(msg) {
    this.error.textContent = msg;
    this.error.hidden = false;
  }
}
