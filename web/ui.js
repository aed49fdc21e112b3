// Small DOM helpers. Text always goes in as text nodes (never innerHTML), so
// memory content, file names and server messages cannot inject markup.

const SVG_NS = 'http://www.w3.org/2000/svg';

// h('div', {class: 'x', onclick: fn, dataset: {id}}, 'text', child, [more])
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'value') el.value = v;
    else if (k === 'checked') el.checked = Boolean(v);
    else if (k === 'text') el.textContent = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

// Stroke icons (24x24 viewBox), drawn with DOM calls.
const ICONS = {
  send: ['M5 12h13', 'M13 6l6 6-6 6'],
  clip: ['M21 11.5l-8.6 8.6a5.5 5.5 0 0 1-7.8-7.8l9.2-9.2a3.7 3.7 0 0 1 5.2 5.2l-9.2 9.2a1.8 1.8 0 0 1-2.6-2.6l8.5-8.5'],
  plus: ['M12 5v14', 'M5 12h14'],
  edit: ['M4 20h4L19 9l-4-4L4 16z', 'M14 6l4 4'],
  trash: ['M4 7h16', 'M9 7V4h6v3', 'M6 7l1 13h10l1-13'],
  check: ['M5 12.5l4.5 4.5L19 7'],
  x: ['M6 6l12 12', 'M18 6L6 18'],
  search: ['M11 18a7 7 0 1 0 0-14 7 7 0 0 0 0 14z', 'M16.5 16.5L21 21'],
  refresh: ['M20 11a8 8 0 1 0-2.3 5.7', 'M20 5v6h-6'],
  image: ['M4 5h16v14H4z', 'M4 16l5-5 4 4 3-3 4 4', 'M15.5 9.5h.01'],
  book: ['M5 4h11a3 3 0 0 1 3 3v13H8a3 3 0 0 1-3-3z', 'M5 17a3 3 0 0 1 3-3h11'],
  spark: ['M12 3v4', 'M12 17v4', 'M3 12h4', 'M17 12h4', 'M6 6l2.5 2.5', 'M15.5 15.5L18 18', 'M6 18l2.5-2.5', 'M15.5 8.5L18 6'],
  upload: ['M12 16V4', 'M7 9l5-5 5 5', 'M4 16v4h16v-4'],
  file: ['M6 3h8l5 5v13H6z', 'M14 3v5h5'],
  memory: ['M4.5 17a2.5 2.5 0 1 0 5 0a2.5 2.5 0 1 0-5 0', 'M8 6a3 3 0 1 0 6 0a3 3 0 1 0-6 0', 'M16 12a2 2 0 1 0 4 0a2 2 0 1 0-4 0', 'M8.5 15l1.6-6.2', 'M13.6 7.6l3 3', 'M9.4 17l7-4'],
};

export function icon(name, cls = 'icon') {
  const svg = document.createElementNS(SVG_NS, 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('class', cls);
  svg.setAttribute('aria-hidden', 'true');
  for (const d of ICONS[name] || []) {
    const path = document.createElementNS(SVG_NS, 'path');
    path.setAttribute('d', d);
    svg.append(path);
  }
  return svg;
}

// --- toasts ---
export function toast(message, kind = 'info') {
  let host = document.getElementById('toasts');
  if (!host) {
    host = h('div', { id: 'toasts', class: 'toasts', role: 'status', 'aria-live': 'polite' });
    document.body.append(host);
  }
  const t = h('div', { class: `toast toast-${kind}` }, message);
  host.append(t);
  while (host.children.length > 3) host.firstChild.remove();
  setTimeout(() => t.classList.add('leaving'), kind === 'error' ? 5600 : 2600);
  setTimeout(() => t.remove(), kind === 'error' ? 6000 : 3000);
}

// --- modal dialogs (<dialog>) ---
// Opens a dialog with a title, a body (nodes) and buttons; resolves with the
// value of the button pressed (or null when dismissed).
export function modal({ title, body = [], buttons = [], wide = false, onSubmit }) {
  return new Promise((resolve) => {
    const form = h('form', { method: 'dialog', class: 'dialog-form' });
    const dialog = h('dialog', { class: wide ? 'dialog wide' : 'dialog' }, form);
    const footer = h('div', { class: 'dialog-actions' });
    for (const b of buttons) {
      footer.append(
        h('button', { type: b.submit ? 'submit' : 'button', class: `btn ${b.class || ''}`, value: b.value, 'data-action': b.value, onclick: b.submit ? undefined : () => finish(b.value) }, b.label),
      );
    }
    append(form, [h('h2', { class: 'dialog-title' }, title), h('div', { class: 'dialog-body' }, body), footer]);
    let done = false;
    const finish = (value) => {
      if (done) return;
      done = true;
      dialog.close();
      dialog.remove();
      resolve(value);
    };
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      const value = e.submitter?.value || 'ok';
      if (onSubmit) {
        const ok = await onSubmit(value);
        if (ok === false) return;
      }
      finish(value);
    });
    dialog.addEventListener('cancel', (e) => {
      e.preventDefault();
      finish(null);
    });
    document.body.append(dialog);
    dialog.showModal();
    const first = dialog.querySelector('textarea, input:not([type=hidden]), select');
    if (first) first.focus();
  });
}

export async function confirmDialog(title, message, confirmLabel = 'Delete', danger = true) {
  const v = await modal({
    title,
    body: [h('p', { class: 'muted' }, message)],
    buttons: [
      { label: 'Cancel', value: 'cancel', class: 'btn-ghost' },
      { label: confirmLabel, value: 'confirm', class: danger ? 'btn-danger' : 'btn-primary', submit: true },
    ],
  });
  return v === 'confirm';
}

// --- formatting ---
export function formatDate(iso, withTime = true) {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const now = new Date();
  const sameDay = d.toDateString() === now.toDateString();
  const opts = sameDay && withTime ? { hour: '2-digit', minute: '2-digit' } : { year: d.getFullYear() === now.getFullYear() ? undefined : 'numeric', month: 'short', day: 'numeric' };
  if (!sameDay && withTime) Object.assign(opts, { hour: '2-digit', minute: '2-digit' });
  return d.toLocaleString(undefined, opts);
}

export function formatBytes(n) {
  if (!Number.isFinite(n)) return '—';
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${n.toFixed(n < 10 && i ? 1 : 0)} ${units[i]}`;
}

export function formatDuration(s) {
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86400)}d ${Math.floor((s % 86400) / 3600)}h`;
}

export function plural(n, word, many = `${word}s`) {
  return `${n} ${n === 1 ? word : many}`;
}

export function labelize(s) {
  return String(s || '').replace(/_/g, ' ');
}

// A view's standard header.
export function pageHeader(title, subtitle, ...actions) {
  return h('header', { class: 'page-header' }, h('div', { class: 'page-titles' }, h('h1', {}, title), subtitle ? h('p', { class: 'subtitle' }, subtitle) : null), h('div', { class: 'page-actions' }, actions));
}

export function emptyState(title, text, ...actions) {
  return h('div', { class: 'empty' }, h('div', { class: 'empty-mark' }, icon('spark', 'icon icon-lg')), h('h3', {}, title), text ? h('p', {}, text) : null, actions.length ? h('div', { class: 'empty-actions' }, actions) : null);
}

export function errorBox(err) {
  return h('div', { class: 'alert alert-error', role: 'alert' }, err?.message || String(err));
}

export function spinner(label = 'Loading…') {
  return h('div', { class: 'loading' }, h('span', { class: 'spinner', 'aria-hidden': 'true' }), label);
}
