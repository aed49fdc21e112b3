// The memory manager: list, search and filter, add, edit, delete (tags and
// importance included), and document upload.
import { del, get, post, put, query } from '../api.js';
import { clear, confirmDialog, emptyState, errorBox, formatDate, h, icon, labelize, pageHeader, plural, spinner, toast } from '../ui.js';
import { uploadButton, uploadFiles } from '../uploader.js';
import { importanceLabel, memoryEditor } from './editor.js';

const PAGE = 40;
const SOURCES = { ai_suggested: 'AI suggested', imported: 'Imported', conversation: 'Conversation', journal: 'Journal' };

function provenanceText(p = {}) {
  const parts = [];
  if (p.file) parts.push(p.file.split(/[\\/]/).pop()); // the name, not the server's path
  if (p.page) parts.push(`page ${p.page}`);
  if (p.sheet) parts.push(`sheet ${p.sheet}`);
  if (p.row) parts.push(`row ${p.row}`);
  if (p.line) parts.push(`line ${p.line}`);
  return parts.join(' · ');
}

export function importanceMeter(v = 0) {
  const meter = h('span', { class: 'importance', title: `Importance ${Number(v).toFixed(2)} (${importanceLabel(v)})` });
  for (let i = 0; i < 5; i++) meter.append(h('i', { class: v >= (i + 0.5) / 5 ? 'on' : '' }));
  return meter;
}

export function tagList(tags = []) {
  if (!tags.length) return null;
  return h('div', { class: 'tags' }, tags.map((t) => h('span', { class: 'tag' }, `#${t}`)));
}

export function memoryCard(m, actions, extraClass = '', inlineActions = false) {
  const content = h('p', { class: 'memory-content' }, m.content);
  const card = h(
    'article',
    { class: `card memory-card ${extraClass}`, dataset: { id: m.id } },
    h(
      'div',
      { class: 'memory-meta' },
      h('span', { class: `badge badge-${m.type}` }, labelize(m.type)),
      m.tier && m.tier !== 'short_term' ? h('span', { class: `badge badge-soft tier-${m.tier}` }, labelize(m.tier)) : null,
      m.source && m.source !== 'manual' && m.source !== 'user' ? h('span', { class: 'badge badge-soft badge-plain' }, SOURCES[m.source] || labelize(m.source)) : null,
      h('time', { class: 'muted small', datetime: m.event_time, title: m.event_time }, formatDate(m.event_time)),
      h('span', { class: 'spacer' }),
      importanceMeter(m.importance),
      actions && inlineActions ? h('div', { class: 'inline-actions' }, actions) : null,
    ),
    content,
    tagList(m.tags),
    provenanceText(m.provenance) ? h('div', { class: 'provenance muted small' }, icon('file'), provenanceText(m.provenance)) : null,
    actions && !inlineActions ? h('div', { class: 'card-actions' }, actions) : null,
  );
  requestAnimationFrame(() => {
    if (content.scrollHeight > content.clientHeight + 4) {
      const more = h('button', { type: 'button', class: 'link-btn more' }, 'Show more');
      more.addEventListener('click', () => {
        const open = content.classList.toggle('expanded');
        more.textContent = open ? 'Show less' : 'Show more';
      });
      content.after(more);
    }
  });
  return card;
}

export async function mount(root, app) {
  const state = { q: '', type: '', tier: '', tags: '', order: 'newest', offset: 0, total: 0 };
  const results = h('div', { class: 'memory-list', id: 'memory-list' });
  const summary = h('p', { class: 'list-summary muted small' });
  const more = h('button', { type: 'button', class: 'btn btn-ghost load-more', hidden: true, onclick: () => load(true) }, 'Load more');
  const uploads = h('div', { class: 'upload-list' });

  const search = h('input', { type: 'search', id: 'memory-search', placeholder: 'Search memories…', 'aria-label': 'Search memories', autocomplete: 'off' });
  const typeSel = h('select', { id: 'filter-type', 'aria-label': 'Type' }, h('option', { value: '' }, 'All types'));
  const tierSel = h(
    'select',
    { id: 'filter-tier', 'aria-label': 'Tier' },
    h('option', { value: '' }, 'All tiers'),
    h('option', { value: 'short_term' }, 'Short-term'),
    h('option', { value: 'long_term' }, 'Long-term'),
    h('option', { value: 'persistent' }, 'Persistent'),
  );
  const tagsIn = h('input', { type: 'text', id: 'filter-tags', placeholder: 'Tags', 'aria-label': 'Tags (comma-separated)', autocomplete: 'off' });
  const orderSel = h(
    'select',
    { id: 'filter-order', 'aria-label': 'Order' },
    h('option', { value: 'newest' }, 'Newest first'),
    h('option', { value: 'oldest' }, 'Oldest first'),
    h('option', { value: 'importance' }, 'Most important'),
    h('option', { value: 'updated' }, 'Recently edited'),
  );

  const addBtn = h('button', { type: 'button', class: 'btn btn-primary', id: 'add-memory', onclick: add }, icon('plus'), h('span', {}, 'Add memory'));
  const upBtn = uploadButton({ label: 'Upload', id: 'memory-upload-input', onFiles: (files) => uploadFiles(files, { list: uploads, onResult: () => load(), keepRows: true }) });

  root.append(
    pageHeader('Memories', 'Everything Kioku remembers — search, filter, add and curate.', upBtn, addBtn),
    h(
      'div',
      { class: 'toolbar' },
      h('div', { class: 'search-box' }, icon('search'), search),
      h('div', { class: 'filters' }, typeSel, tierSel, tagsIn, orderSel),
    ),
    uploads,
    summary,
    results,
    more,
  );

  get('/api/status')
    .then((s) => {
      for (const t of Object.keys(s.by_type || {}).sort()) typeSel.append(h('option', { value: t }, `${labelize(t)} (${s.by_type[t]})`));
    })
    .catch(() => {});

  let seq = 0;
  async function load(append = false) {
    const my = ++seq;
    if (!append) state.offset = 0;
    const filters = { type: state.type, tier: state.tier, tags: state.tags };
    if (!append) {
      clear(results).append(spinner());
      more.hidden = true;
    }
    try {
      let items;
      let notice = '';
      if (state.q) {
        const r = await get(`/api/memory/search${query({ q: state.q, ...filters, limit: 100 })}`);
        items = r.items;
        notice = r.notice;
        state.total = items.length;
      } else {
        const r = await get(`/api/memory${query({ ...filters, order: state.order, limit: PAGE, offset: state.offset })}`);
        items = r.items;
        state.total = r.total;
      }
      if (my !== seq) return;
      if (!append) clear(results);
      for (const m of items) results.append(card(m));
      state.offset += items.length;
      more.hidden = Boolean(state.q) || state.offset >= state.total;
      summary.textContent = state.q ? `${plural(items.length, 'match', 'matches')} for “${state.q}”${notice ? ` — ${notice}` : ''}` : `${plural(state.total, 'memory', 'memories')}${state.type || state.tier || state.tags ? ' match the filters' : ''}`;
      if (!results.children.length) {
        results.append(
          state.q || state.type || state.tier || state.tags
            ? emptyState('Nothing found', 'Try other words or fewer filters.')
            : emptyState('No memories yet', 'Add one by hand, upload a document, or just chat.', h('button', { type: 'button', class: 'btn btn-primary', onclick: add }, 'Add a memory')),
        );
      }
    } catch (e) {
      if (my !== seq) return;
      clear(results).append(errorBox(e));
    }
  }

  function card(m) {
    const el = memoryCard(
      m,
      [
        h('button', { type: 'button', class: 'btn btn-sm btn-icon btn-ghost edit', 'aria-label': 'Edit memory', title: 'Edit', onclick: () => edit(m, el) }, icon('edit')),
        h('button', { type: 'button', class: 'btn btn-sm btn-icon btn-ghost danger delete', 'aria-label': 'Delete memory', title: 'Delete', onclick: () => remove(m, el) }, icon('trash')),
      ],
      '',
      true,
    );
    return el;
  }

  async function add() {
    const saved = await memoryEditor({ title: 'Add a memory', saveLabel: 'Add memory', save: (f) => post('/api/memory', f) });
    if (!saved) return;
    const message = saved.spooled
      ? 'Saved. The database is unreachable: the memory is stored as soon as it is back.'
      : saved.created === false
        ? 'Already remembered — nothing new added.'
        : 'Memory added.';
    toast(message, 'ok');
    await load();
    app.refreshShell();
  }

  async function edit(m, el) {
    const updated = await memoryEditor({ memory: m, title: 'Edit memory', save: (f) => put(`/api/memory/${encodeURIComponent(m.id)}`, f) });
    if (!updated) return;
    toast('Memory saved.', 'ok');
    el.replaceWith(card(updated));
  }

  async function remove(m, el) {
    const short = m.content.length > 140 ? `${m.content.slice(0, 140)}…` : m.content;
    if (!(await confirmDialog('Delete this memory?', `“${short}” will be forgotten for good.`))) return;
    try {
      await del(`/api/memory/${encodeURIComponent(m.id)}`);
      el.classList.add('removing');
      setTimeout(() => el.remove(), 180);
      state.total = Math.max(0, state.total - 1);
      toast('Memory deleted.', 'ok');
      app.refreshShell();
    } catch (e) {
      toast(e.message, 'error');
    }
  }

  let timer = 0;
  const debounced = () => {
    clearTimeout(timer);
    timer = setTimeout(load, 250);
  };
  search.addEventListener('input', () => {
    state.q = search.value.trim();
    orderSel.disabled = Boolean(state.q);
    debounced();
  });
  search.addEventListener('keydown', (e) => {
    if (e.key === 'Enter') {
      clearTimeout(timer);
      state.q = search.value.trim();
      load();
    }
  });
  typeSel.addEventListener('change', () => {
    state.type = typeSel.value;
    load();
  });
  tierSel.addEventListener('change', () => {
    state.tier = tierSel.value;
    load();
  });
  tagsIn.addEventListener('input', () => {
    state.tags = tagsIn.value.trim();
    debounced();
  });
  orderSel.addEventListener('change', () => {
    state.order = orderSel.value;
    load();
  });

  await load();
  search.focus();
  return () => clearTimeout(timer);
}
