// The suggestions inbox: memories the AI proposed, waiting for approval.
import { get, post, put } from '../api.js';
import { clear, emptyState, errorBox, h, icon, pageHeader, plural, spinner, toast } from '../ui.js';
import { memoryEditor } from './editor.js';
import { memoryCard } from './memories.js';

export async function mount(root, app) {
  const list = h('div', { class: 'memory-list', id: 'suggestion-list' });
  const summary = h('p', { class: 'list-summary muted small' });
  const toggleNote = h('div', { class: 'callout', hidden: true });
  root.append(pageHeader('Suggestions', 'Things the AI thinks are worth remembering. Nothing is kept until you approve it.', h('button', { type: 'button', class: 'btn btn-ghost', onclick: () => load() }, icon('refresh'), h('span', {}, 'Refresh'))), toggleNote, summary, list);

  get('/api/settings')
    .then((s) => {
      if (s.companion?.suggestions) return;
      toggleNote.hidden = false;
      toggleNote.append(icon('spark'), h('span', {}, 'AI suggestions are off, so the companion proposes nothing new while you chat. '), h('a', { href: '#/settings' }, 'Turn them on in Settings'), '.');
    })
    .catch(() => {});

  async function load() {
    clear(list).append(spinner());
    try {
      const r = await get('/api/suggestions?limit=200');
      clear(list);
      summary.textContent = r.total ? `${plural(r.total, 'suggestion')} waiting` : '';
      for (const m of r.items) list.append(card(m));
      if (!r.items.length) list.append(emptyState('Inbox zero', 'No suggestions are waiting for you.'));
    } catch (e) {
      clear(list).append(errorBox(e));
    }
  }

  function gone(el, message) {
    el.classList.add('removing');
    setTimeout(() => {
      el.remove();
      const left = list.querySelectorAll('.memory-card').length;
      summary.textContent = left ? `${plural(left, 'suggestion')} waiting` : '';
      if (!left) list.append(emptyState('Inbox zero', 'No suggestions are waiting for you.'));
    }, 180);
    toast(message, 'ok');
    app.refreshShell();
  }

  function card(m) {
    const el = memoryCard(
      m,
      [
        h('button', { type: 'button', class: 'btn btn-sm btn-primary approve', 'aria-label': 'Approve suggestion', onclick: () => act(m, el, 'approve') }, icon('check'), h('span', {}, 'Approve')),
        h('button', { type: 'button', class: 'btn btn-sm btn-ghost edit', 'aria-label': 'Edit suggestion', onclick: () => edit(m, el) }, icon('edit'), h('span', {}, 'Edit')),
        h('button', { type: 'button', class: 'btn btn-sm btn-ghost danger reject', 'aria-label': 'Reject suggestion', onclick: () => act(m, el, 'reject') }, icon('x'), h('span', {}, 'Reject')),
      ],
      'suggestion-card',
    );
    return el;
  }

  async function act(m, el, what) {
    for (const b of el.querySelectorAll('button')) b.disabled = true;
    try {
      await post(`/api/suggestions/${encodeURIComponent(m.id)}/${what}`);
      gone(el, what === 'approve' ? 'Approved — it is a memory now.' : 'Suggestion rejected.');
    } catch (e) {
      for (const b of el.querySelectorAll('button')) b.disabled = false;
      toast(e.message, 'error');
    }
  }

  async function edit(m, el) {
    const updated = await memoryEditor({ memory: m, title: 'Edit suggestion', save: (f) => put(`/api/suggestions/${encodeURIComponent(m.id)}`, f) });
    if (updated) el.replaceWith(card(updated));
  }

  await load();
}
