// Core memory: the blocks that are always in the companion's prompt. Edit a
// block (each save is a new version), read its history, see what each
// version changed (a line diff) and restore an old one. Routes:
// #/core, #/core/LABEL, #/core/LABEL/VERSION (the chat's "memory edited" links).
import { get, post, put } from '../api.js';
import { clear, errorBox, formatDate, h, icon, pageHeader, spinner, toast } from '../ui.js';

export const remountOnHash = true;

function chars(text) {
  return [...text].length;
}

function diffView(diff) {
  const pre = h('pre', { class: 'core-diff', id: 'core-diff' });
  for (const line of diff.split('\n')) {
    if (line === '') continue;
    const kind = line.startsWith('+ ') ? 'add' : line.startsWith('- ') ? 'del' : 'same';
    pre.append(h('span', { class: `diff-line diff-${kind}` }, line), '\n');
  }
  if (!pre.childNodes.length) pre.append(h('span', { class: 'muted' }, '(no change in the text)'));
  return pre;
}

function authorText(v) {
  if (v.author === 'agent') return `agent · ${v.tool_name || 'tool'}${v.note ? ` · ${v.note}` : ''}`;
  return `you${v.note ? ` · ${v.note}` : ''}`;
}

export async function mount(root) {
  const m = location.hash.match(/^#\/core(?:\/([^/]+))?(?:\/(\d+))?/);
  const wanted = m && m[1] ? decodeURIComponent(m[1]) : '';
  const wantedVersion = m && m[2] ? Number(m[2]) : 0;
  const list = h('nav', { class: 'core-blocks', id: 'core-blocks', 'aria-label': 'Blocks' });
  const detail = h('section', { class: 'core-detail', id: 'core-detail' });
  root.append(
    pageHeader('Core memory', 'Always in the companion’s prompt. It edits these blocks itself; every change is a version you can inspect and undo.'),
    h('div', { class: 'core-layout' }, list, detail),
  );
  list.append(spinner());
  let blocks;
  try {
    blocks = (await get('/api/core')).items;
  } catch (e) {
    clear(list).append(errorBox(e));
    return;
  }
  clear(list);
  for (const b of blocks) {
    const over = b.chars > b.limit;
    list.append(
      h('a', { href: `#/core/${encodeURIComponent(b.label)}`, class: `core-block ${b.label === (wanted || 'human') ? 'active' : ''}`, 'data-label': b.label },
        h('span', { class: 'core-block-label' }, b.label, b.read_only ? h('span', { class: 'badge' }, 'read-only') : ''),
        h('span', { class: `core-block-size small ${over ? 'is-over' : 'muted'}` }, `${b.chars}/${b.limit} · v${b.version}`)),
    );
  }
  list.append(newBlockForm());
  const block = blocks.find((b) => b.label === (wanted || 'human')) || blocks[0];
  if (block) await showBlock(block);

  async function showBlock(b) {
    clear(detail);
    const value = h('textarea', { id: 'core-value', class: 'core-value', rows: 12, spellcheck: 'true' });
    value.value = b.value;
    const counter = h('span', { class: 'core-counter small', id: 'core-counter' });
    const count = () => {
      const n = chars(value.value);
      counter.textContent = `${n} / ${b.limit} characters`;
      counter.classList.toggle('is-over', n > b.limit);
    };
    value.addEventListener('input', count);
    count();
    const description = h('input', { type: 'text', id: 'core-description', class: 'input', value: b.description });
    const limit = h('input', { type: 'number', id: 'core-limit', class: 'input input-narrow', min: 1, max: 100000, value: b.limit });
    const readOnly = h('input', { type: 'checkbox', id: 'core-readonly' });
    readOnly.checked = b.read_only;
    const save = h('button', { type: 'submit', class: 'btn btn-primary', id: 'core-save' }, icon('check'), h('span', {}, 'Save as a new version'));
    const form = h('form', { class: 'card core-editor', onsubmit: async (e) => {
      e.preventDefault();
      save.disabled = true;
      try {
        const body = { value: value.value, description: description.value, limit: Number(limit.value), read_only: readOnly.checked, expected_version: b.version };
        const saved = await put(`/api/core/${encodeURIComponent(b.label)}`, body);
        toast(`Saved ${saved.label} as version ${saved.version}.`, 'ok');
        location.hash = `#/core/${encodeURIComponent(saved.label)}/${saved.version}`;
      } catch (err) {
        toast(err.message, 'error');
        save.disabled = false;
      }
    } },
      h('h2', { class: 'card-title' }, b.label, h('span', { class: 'muted small' }, ` version ${b.version} · changed ${formatDate(b.updated_at)}`)),
      value, counter,
      h('label', { class: 'field' }, h('span', { class: 'field-label' }, 'What it is for (the companion reads this)'), description),
      h('div', { class: 'core-options' },
        h('label', { class: 'field' }, h('span', { class: 'field-label' }, 'Limit (characters)'), limit),
        h('label', { class: 'check' }, readOnly, h('span', {}, 'Read-only for the companion'))),
      h('div', { class: 'card-actions' }, save));
    const history = h('ol', { class: 'core-history', id: 'core-history', reversed: true });
    const versionPane = h('div', { class: 'core-version-pane', id: 'core-version-pane' });
    detail.append(form, h('div', { class: 'card' }, h('h2', { class: 'card-title' }, 'History'), history, versionPane));
    let versions = [];
    try {
      versions = (await get(`/api/core/${encodeURIComponent(b.label)}/history`)).items;
    } catch (err) {
      history.append(errorBox(err));
      return;
    }
    for (const v of [...versions].reverse()) {
      history.append(
        h('li', { class: `core-version ${v.version === wantedVersion ? 'active' : ''}`, 'data-version': String(v.version) },
          h('button', { type: 'button', class: 'btn btn-sm btn-ghost', onclick: () => showVersion(b, v.version) }, `v${v.version}`),
          h('span', { class: 'small' }, formatDate(v.created_at)),
          h('span', { class: `small core-author author-${v.author}` }, authorText(v)),
          h('span', { class: 'muted small' }, `${v.chars} chars`)),
      );
    }
    await showVersion(b, wantedVersion && versions.some((v) => v.version === wantedVersion) ? wantedVersion : b.version);
  }

  async function showVersion(b, version) {
    for (const li of detail.querySelectorAll('.core-version')) li.classList.toggle('active', Number(li.dataset.version) === version);
    const pane = detail.querySelector('#core-version-pane');
    clear(pane).append(spinner());
    try {
      const v = await get(`/api/core/${encodeURIComponent(b.label)}/versions/${version}`);
      clear(pane).append(
        h('h3', { class: 'core-version-title' }, `Version ${v.version}`, h('span', { class: 'muted small' }, ` · ${authorText(v)}${v.turn_id ? ' · in a chat turn' : ''}`)),
        diffView(v.diff),
      );
      if (v.version !== b.version)
        pane.append(h('button', { type: 'button', class: 'btn btn-ghost', id: 'core-restore', onclick: async () => {
          try {
            const restored = await post(`/api/core/${encodeURIComponent(b.label)}/rollback`, { version: v.version });
            toast(`Restored version ${v.version} as version ${restored.version}.`, 'ok');
            location.hash = `#/core/${encodeURIComponent(b.label)}/${restored.version}`;
          } catch (err) {
            toast(err.message, 'error');
          }
        } }, icon('refresh'), h('span', {}, `Restore version ${v.version}`)));
    } catch (err) {
      clear(pane).append(errorBox(err));
    }
  }

  function newBlockForm() {
    const label = h('input', { type: 'text', class: 'input', id: 'core-new-label', placeholder: 'new block, e.g. projects', pattern: '[a-z0-9_-]{1,64}' });
    return h('form', { class: 'core-new', onsubmit: async (e) => {
      e.preventDefault();
      if (!label.value) return;
      try {
        const b = await post('/api/core', { label: label.value, value: '', limit: 2048, description: '' });
        location.hash = `#/core/${encodeURIComponent(b.label)}`;
      } catch (err) {
        toast(err.message, 'error');
      }
    } }, label, h('button', { type: 'submit', class: 'btn btn-sm btn-ghost' }, icon('plus'), h('span', {}, 'Add')));
  }
}
