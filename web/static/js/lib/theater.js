// Theater mode of the watch pages (live and talk): a toggle button gives the
// video the page's width and puts the chat under it (css/watch.css does the
// layout). The choice is remembered in this browser; the 't' key toggles it
// too, except while typing.
const KEY = 'salon-theater';

// theater wires the page's #theater button to main's 'theater' class.
export function theater(main, button) {
  if (!main || !button) return;
  function set(on, remember) {
    main.classList.toggle('theater', on);
    button.setAttribute('aria-pressed', on ? 'true' : 'false');
    if (remember) {
      try { localStorage.setItem(KEY, on ? '1' : ''); } catch (e) { /* storage disabled */ }
    }
  }
  let saved = false;
  try { saved = localStorage.getItem(KEY) === '1'; } catch (e) { /* storage disabled */ }
  set(saved, false);
  button.addEventListener('click', function () { set(!main.classList.contains('theater'), true); });
  document.addEventListener('keydown', function (e) {
    if (e.key !== 't' || e.ctrlKey || e.metaKey || e.altKey || e.defaultPrevented) return;
    const el = e.target;
    if (el && (el.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName))) return;
    set(!main.classList.contains('theater'), true);
  });
}
