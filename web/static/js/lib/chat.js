// The stage chat's websocket for ES module pages (the console's chat page,
// the room screen): DESIGN.md "Contract: chat" and docs/chat.md. It
// reconnects with back-off until close() or a ban.

// viewerKey is this browser's random key, sent in hello (kept in
// localStorage): it lets the organiser ban one browser.
export function viewerKey() {
  let k = null;
  try { k = localStorage.getItem('salon-viewer'); } catch (e) { /* storage disabled */ }
  if (!k || !/^[A-Za-z0-9_-]{16,64}$/.test(k)) {
    const a = new Uint8Array(18);
    crypto.getRandomValues(a);
    k = Array.from(a, (b) => b.toString(16).padStart(2, '0')).join('');
    try { localStorage.setItem('salon-viewer', k); } catch (e) { /* storage disabled */ }
  }
  return k;
}

// connectChat opens /ws/chat/{stage}. onFrame gets every frame; onState
// hears 'open', 'closed' (reconnecting) or 'banned'. hello, when given, is
// sent on every (re)connection: an object of fields, or a function that
// returns them then (the name typed so far).
export function connectChat(stage, { onFrame, onState, hello }) {
  let ws = null;
  let retry = 1000;
  let stopped = false;
  function open() {
    const url = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/ws/chat/' + encodeURIComponent(stage);
    ws = new WebSocket(url);
    ws.onopen = () => {
      retry = 1000;
      if (hello) ws.send(JSON.stringify(Object.assign({ type: 'hello' }, typeof hello === 'function' ? hello() : hello)));
      if (onState) onState('open');
    };
    ws.onmessage = (ev) => {
      let f;
      try { f = JSON.parse(ev.data); } catch (e) { return; }
      if (f.type === 'error' && f.code === 'banned') stopped = true;
      onFrame(f);
    };
    ws.onclose = () => {
      if (onState) onState(stopped ? 'banned' : 'closed');
      if (stopped) return;
      setTimeout(open, retry);
      retry = Math.min(retry * 2, 30000);
    };
  }
  open();
  return {
    send(v) {
      if (!ws || ws.readyState !== 1) return false;
      ws.send(JSON.stringify(v));
      return true;
    },
    close() { stopped = true; if (ws) ws.close(); }
  };
}
