// The console's sponsors page: add a logo, remove one. The page is
// rendered by the server; it reloads after each change.
import { api } from './lib/api.js';
import { t } from './lib/i18n.js';

const errorEl = document.getElementById('cx-error');

async function act(button, fn) {
  button.disabled = true;
  errorEl.hidden = true;
  try {
    await fn();
    location.reload();
  } catch (e) {
    errorEl.textContent = e.message;
    errorEl.hidden = false;
  } finally {
    button.disabled = false;
  }
}

document.getElementById('sponsor-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const fd = new FormData();
  fd.append('name', document.getElementById('sponsor-name').value);
  fd.append('file', document.getElementById('sponsor-file').files[0]);
  act(document.getElementById('sponsor-add'), () => api('POST', '/api/sponsors', fd));
});

for (const b of document.querySelectorAll('[data-delete-sponsor]')) {
  b.addEventListener('click', () => {
    if (!confirm(t('sponsors.confirmRemove', { Name: b.dataset.name }))) return;
    const id = b.dataset.deleteSponsor.split('/').pop();
    act(b, () => api('DELETE', '/api/sponsors/' + encodeURIComponent(id)));
  });
}
