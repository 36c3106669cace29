// The chat panel's pieces shared by the live panel, the chat replay and the
// questions view: the panel's tabs, the list of questions (most votes first)
// and one chat line. Everything people typed is set with textContent, never
// parsed as HTML. The websocket itself is lib/chat.js.
import { t, tn } from './i18n.js';

// refusal is what a viewer reads when the chat refused a frame
// ({"type":"error","code"}; the frame's message is English, for programs).
export function refusal(code) {
  switch (code) {
    case 'rate_limited': return t('chat.err.rateLimited');
    case 'too_long': return t('chat.err.tooLong');
    case 'banned': return t('chat.err.banned');
    default: return t('chat.err.badRequest');
  }
}

// tabs switches the panel between its chat log and its questions: a click,
// or the arrow keys, Home and End on the tabs (the ARIA tabs pattern: only
// the selected tab is in the Tab order).
export function tabs(root) {
  var pairs = [
    [root.querySelector('#tab-chat'), root.querySelector('#chat-pane-log') || root.querySelector('#chat-log')],
    [root.querySelector('#tab-questions'), root.querySelector('#chat-pane-questions') || root.querySelector('#chat-questions')]
  ].filter(function (p) { return p[0] && p[1]; });
  function select(p, focus) {
    pairs.forEach(function (q) {
      var on = q === p;
      q[0].setAttribute('aria-selected', on ? 'true' : 'false');
      q[0].tabIndex = on ? 0 : -1;
      q[1].hidden = !on;
    });
    if (focus) p[0].focus();
  }
  pairs.forEach(function (p, i) {
    p[0].addEventListener('click', function () { select(p, false); });
    p[0].addEventListener('keydown', function (e) {
      var j = { ArrowRight: i + 1, ArrowLeft: i - 1, Home: 0, End: pairs.length - 1 }[e.key];
      if (j === undefined) return;
      e.preventDefault();
      select(pairs[(j + pairs.length) % pairs.length], true);
    });
  });
}

// announcer tells screen readers about new messages through el, a polite
// live region that holds only the last few: the log itself is not live, so
// a reconnect that redraws the history is not read out again.
export function announcer(el) {
  var KEEP = 5;
  return function (m) {
    if (!el) return;
    var p = document.createElement('p');
    var who = { Name: m.name, Text: m.text };
    p.textContent = m.question ? t('chat.announce.question', who) : t('chat.announce', who);
    el.appendChild(p);
    while (el.children.length > KEEP) el.removeChild(el.firstChild);
  };
}

// questionList keeps ol sorted: open questions by votes (most first, then
// oldest first), answered ones after them. opts.onVote(id) and
// opts.onAnswer(id), when given, add the buttons. opts.onCount(n) hears
// the number of open questions.
export function questionList(ol, opts) {
  var items = {};
  var voted = {};
  function render() {
    var list = Object.keys(items).map(function (id) { return items[id]; });
    list.sort(function (a, b) {
      if (a.m.answered !== b.m.answered) return a.m.answered ? 1 : -1;
      if ((b.m.votes || 0) !== (a.m.votes || 0)) return (b.m.votes || 0) - (a.m.votes || 0);
      return a.m.ts < b.m.ts ? -1 : 1;
    });
    list.forEach(function (it) { ol.appendChild(it.li); });
    if (opts.onCount) opts.onCount(list.filter(function (it) { return !it.m.answered; }).length);
  }
  function paint(it) {
    it.li.className = 'q-item' + (it.m.answered ? ' is-answered' : '');
    it.votes.textContent = String(it.m.votes || 0);
    it.votesLabel.textContent = tn('chat.votes', it.m.votes || 0);
    if (it.vote) it.vote.disabled = !!voted[it.m.id] || !!it.m.answered;
    if (it.answer) it.answer.hidden = !!it.m.answered;
    it.state.textContent = it.m.answered ? t('q.answered') : '';
  }
  function add(m) {
    if (!m.question || items[m.id]) return;
    var it = { m: m, li: document.createElement('li') };
    it.li.dataset.id = m.id;
    it.votes = document.createElement('span');
    it.votes.className = 'q-votes';
    it.votes.title = t('q.votes');
    // The number is for the eyes; screen readers read the label with its
    // plural ("3 votes", "3 票") instead.
    it.votes.setAttribute('aria-hidden', 'true');
    it.votesLabel = document.createElement('span');
    it.votesLabel.className = 'sr-only';
    var body = document.createElement('div');
    body.className = 'q-body';
    var text = document.createElement('p');
    text.className = 'q-text';
    text.dir = 'auto';
    text.id = 'q-text-' + m.id;
    text.textContent = m.text;
    var who = document.createElement('span');
    who.className = 'chat-who';
    who.textContent = m.name;
    it.state = document.createElement('span');
    it.state.className = 'q-state';
    body.appendChild(text);
    body.appendChild(who);
    body.appendChild(it.state);
    it.li.appendChild(it.votes);
    it.li.appendChild(it.votesLabel);
    it.li.appendChild(body);
    if (opts.onVote) {
      it.vote = document.createElement('button');
      it.vote.type = 'button';
      it.vote.className = 'q-vote';
      var arrow = document.createElement('span');
      arrow.setAttribute('aria-hidden', 'true');
      arrow.textContent = '▲ ';
      it.vote.append(arrow, t('q.vote'));
      it.vote.setAttribute('aria-describedby', text.id);
      it.vote.addEventListener('click', function () {
        voted[m.id] = true;
        opts.onVote(m.id);
        paint(it);
      });
      it.li.appendChild(it.vote);
    }
    if (opts.onAnswer) {
      it.answer = document.createElement('button');
      it.answer.type = 'button';
      it.answer.className = 'button q-answer';
      it.answer.textContent = t('q.markAnswered');
      it.answer.addEventListener('click', function () { opts.onAnswer(m.id); });
      it.li.appendChild(it.answer);
    }
    items[m.id] = it;
    paint(it);
    render();
  }
  return {
    add: add,
    clear: function () { items = {}; ol.textContent = ''; render(); },
    votes: function (id, n) { var it = items[id]; if (it) { it.m.votes = n; paint(it); render(); } },
    answered: function (id) { var it = items[id]; if (it) { it.m.answered = true; paint(it); render(); } },
    remove: function (id) { var it = items[id]; if (it) { it.li.remove(); delete items[id]; render(); } }
  };
}

// message builds one chat line.
export function message(m) {
  var li = document.createElement('li');
  li.className = 'chat-msg' + (m.question ? ' is-question' : '');
  li.dataset.id = m.id;
  var who = document.createElement('span');
  who.className = 'chat-who';
  who.dir = 'auto';
  who.textContent = m.name;
  var text = document.createElement('span');
  text.className = 'chat-body';
  text.dir = 'auto';
  text.textContent = m.text;
  li.appendChild(who);
  li.appendChild(text);
  return li;
}
