// Keyboard seeking for the pages' players: with the player focused (Tab
// reaches it just before the video's own controls), the left and right
// arrows go 5 s back or forward, J and L 10 s, Home and End to the start and
// the end of what can be played (the live edge on a live stage), K and
// Space play or pause. Chromium's own controls take no keys for seeking
// (measured: no key event even reaches the page while they have the focus),
// so the keys live on the player's box around the video.
const STEPS = { ArrowLeft: -5, ArrowRight: 5, j: -10, l: 10 };

// seekKeys wires the keys of box (the .player element) to video.
export function seekKeys(box, video) {
  if (!box || !video) return;
  box.setAttribute('aria-keyshortcuts', 'ArrowLeft ArrowRight Home End K Space');
  box.addEventListener('keydown', function (e) {
    if (e.defaultPrevented || e.ctrlKey || e.metaKey || e.altKey) return;
    if (e.target !== box && e.target !== video) return; // a button inside keeps its keys
    if (e.key === 'k' || e.key === ' ') {
      e.preventDefault();
      if (video.paused) video.play().catch(function () { /* refused: the controls still work */ });
      else video.pause();
      return;
    }
    const r = video.seekable;
    if (!r || !r.length) return;
    const start = r.start(0);
    const end = r.end(r.length - 1);
    let to;
    if (e.key in STEPS) to = video.currentTime + STEPS[e.key];
    else if (e.key === 'Home') to = start;
    else if (e.key === 'End') to = end;
    else return;
    e.preventDefault();
    video.currentTime = Math.min(Math.max(to, start), end);
  });
}
