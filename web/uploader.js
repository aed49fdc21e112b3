// Document upload (POST /api/upload) shared by the chat input, the memory
// manager and the import page: a compact button, a hidden file input, and a
// progress row per file that turns into the result message.
import { uploadFile } from './api.js';
import { h, icon, plural } from './ui.js';

export const DOC_ACCEPT = '.txt,.md,.markdown,.json,.csv,.pdf,.xlsx';

export function uploadSummary(r) {
  const parts = [`${plural(r.added, 'memory', 'memories')} added`];
  if (r.duplicates) parts.push(`${r.duplicates} already known`);
  return `${r.file} (${(r.format || '').toUpperCase()}): ${parts.join(', ')}`;
}

// A row showing one upload: name, bar, then the outcome.
export function progressRow(file) {
  const bar = h('span', { class: 'progress-fill' });
  const pct = h('span', { class: 'progress-pct' }, '0%');
  const message = h('span', { class: 'progress-msg' }, file.name);
  const el = h(
    'div',
    { class: 'upload-row uploading', role: 'status' },
    h('span', { class: 'upload-icon' }, icon('file')),
    h('div', { class: 'upload-main' }, h('div', { class: 'upload-line' }, message, pct), h('div', { class: 'progress' }, bar)),
  );
  return {
    el,
    set(fraction) {
      const p = Math.round(Math.max(0, Math.min(1, fraction)) * 100);
      bar.style.width = `${p}%`;
      pct.textContent = p === 100 ? 'reading…' : `${p}%`;
    },
    done(text, warnings = []) {
      el.classList.remove('uploading');
      el.classList.add('ok');
      message.textContent = text;
      pct.textContent = '';
      el.querySelector('.upload-icon').replaceChildren(icon('check'));
      if (warnings.length) el.querySelector('.upload-main').append(h('div', { class: 'upload-warn' }, warnings.slice(0, 3).join(' · ')));
    },
    fail(text) {
      el.classList.remove('uploading');
      el.classList.add('failed');
      message.textContent = text;
      pct.textContent = '';
      el.querySelector('.upload-icon').replaceChildren(icon('x'));
    },
  };
}

// Uploads files one after another; each gets a row in `list` (if given).
// onResult(result, file) after each success; returns the results.
export async function uploadFiles(files, { list, tags, onResult, onError, keepRows = true } = {}) {
  const results = [];
  for (const file of files) {
    const row = progressRow(file);
    if (list) list.prepend(row.el);
    try {
      const r = await uploadFile('/api/upload', file, { tags }, (f) => row.set(f));
      row.done(uploadSummary(r), r.warnings || []);
      results.push(r);
      onResult?.(r, file);
    } catch (e) {
      row.fail(`${file.name}: ${e.message}`);
      onError?.(e, file);
      if (e.status === 401) break;
    }
    if (!keepRows) setTimeout(() => row.el.remove(), 6000);
  }
  return results;
}

// A compact "attach" button with its hidden input.
export function uploadButton({ label = 'Upload', compact = false, onFiles, id } = {}) {
  const input = h('input', { type: 'file', accept: DOC_ACCEPT, multiple: true, class: 'visually-hidden', id, tabindex: '-1', 'aria-hidden': 'true' });
  const button = h(
    'button',
    { type: 'button', class: compact ? 'btn btn-icon btn-ghost' : 'btn', title: 'Upload a document (txt, md, json, csv, pdf, xlsx)', 'aria-label': label, onclick: () => input.click() },
    icon(compact ? 'clip' : 'upload'),
    compact ? null : h('span', {}, label),
  );
  input.addEventListener('change', () => {
    const files = Array.from(input.files || []);
    input.value = '';
    if (files.length) onFiles(files);
  });
  return h('span', { class: 'upload-btn' }, button, input);
}
