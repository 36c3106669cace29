// The browser's viewer id: random, kept for the tab (sessionStorage), sent
// as X-Salon-Viewer with playlist requests so that salon tells viewers
// behind one address apart. It identifies nobody: salon hashes it with the
// address and keeps no copy past the day.
export function viewerId() {
  let id = null;
  try { id = sessionStorage.getItem('salon-viewer'); } catch (e) { /* storage disabled */ }
  if (id && /^[A-Za-z0-9_-]{1,64}$/.test(id)) return id;
  const b = new Uint8Array(12);
  crypto.getRandomValues(b);
  id = Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
  try { sessionStorage.setItem('salon-viewer', id); } catch (e) { /* storage disabled */ }
  return id;
}
