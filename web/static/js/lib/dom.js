// Small DOM helpers shared by every page. Text from the server is set with
// textContent only, never parsed as HTML.
import { t } from './i18n.js';

// el('button', {class: 'x', onclick: fn, dataset: {id: 1}, style: {left: '5%'}}, 'text', child…)
// style is an object set through CSSOM: the CSP forbids style attributes.
export function el(tag, attrs, ...children) {
  const n = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') n.className = v;
    else if (k === 'dataset') Object.assign(n.dataset, v);
    else if (k === 'style') Object.assign(n.style, v);
    else if (k.startsWith('on') && typeof v === 'function') n.addEventListener(k.slice(2), v);
    else if (k === 'text') n.textContent = v;
    else if (v === true) n.setAttribute(k, '');
    else n.setAttribute(k, String(v));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    n.append(c instanceof Node ? c : String(c));
  }
  return n;
}

// svgEl: the same for SVG elements.
export function svgEl(tag, attrs, ...children) {
  const n = document.createElementNS('http://www.w3.org/2000/svg', tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v !== undefined && v !== null) n.setAttribute(k, String(v));
  }
  for (const c of children.flat()) if (c) n.append(c);
  return n;
}

// setBadge makes el the "Live" badge, or the quiet one reading offLabel
// ("Offline" by default; a talk page says "Replay").
export function setBadge(el, live, offLabel) {
  el.textContent = live ? t('badge.live') : (offLabel || t('badge.offline'));
  el.className = 'badge ' + (live ? 'badge-live' : 'badge-offline');
}

// liveBadge is a new badge element.
export function liveBadge(live) {
  const b = document.createElement('span');
  setBadge(b, live);
  return b;
}

// meta reads <meta name=NAME content=…>.
export function meta(name) {
  const m = document.querySelector('meta[name="' + name + '"]');
  return m ? m.content : '';
}

// sparkline draws values (oldest first) as an inline SVG polyline scaled to
// its largest value; width and height in SVG units.
export function sparkline(values, width, height, label) {
  const max = Math.max(1, ...values);
  const n = values.length;
  const step = n > 1 ? width / (n - 1) : width;
  const pts = values.map((v, i) =>
    (i * step).toFixed(1) + ',' + (height - 1 - (v / max) * (height - 2)).toFixed(1)).join(' ');
  const svg = svgEl('svg', {
    class: 'spark', viewBox: '0 0 ' + width + ' ' + height, preserveAspectRatio: 'none',
    role: 'img', 'aria-label': label || ''
  });
  if (n > 1) {
    svg.append(svgEl('polyline', { points: '0,' + height + ' ' + pts + ' ' + width + ',' + height, class: 'spark-fill' }));
    svg.append(svgEl('polyline', { points: pts, class: 'spark-line' }));
  }
  return svg;
}

// scrollSmoothly is the scrollIntoView behaviour that honours the viewer's
// prefers-reduced-motion: no animated scroll for those who asked for less
// motion.
export function scrollSmoothly() {
  return window.matchMedia && window.matchMedia('(prefers-reduced-motion: reduce)').matches ? 'auto' : 'smooth';
}
