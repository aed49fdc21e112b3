// Journal: the open session (start, add text, add photo, done, cancel,
// status) and the compiled articles, rendered from markdown.
import { get, mediaUrl, post, uploadFile } from '../api.js';
import { renderMarkdown } from '../markdown.js';
import { clear, confirmDialog, emptyState, errorBox, formatDate, h, icon, pageHeader, plural, spinner, toast } from '../ui.js';
import { progressRow } from '../uploader.js';
import { tagList } from './memories.js';

function photo(entry) {
  const img = h('img', { alt: entry.content || entry.image_description || 'photo', class: 'entry-photo' });
  mediaUrl(entry.media_name)
    .then((u) => {
      img.src = u;
    })
    .catch(() => img.classList.add('missing'));
  return img;
}

function entryView(e) {
  const isPhoto = e.type === 'image' || e.type === 'photo' || Boolean(e.media_name);
  return h(
    'li',
    { class: `entry ${isPhoto ? 'entry-image' : 'entry-text'}` },
    h('time', { class: 'entry-time', datetime: e.timestamp }, formatDate(e.timestamp)),
    h(
      'div',
      { class: 'entry-body' },
      isPhoto ? photo(e) : null,
      e.content ? h('p', {}, e.content) : null,
      e.image_description ? h('p', { class: 'muted small' }, e.image_description) : null,
    ),
  );
}

function snippet(body) {
  const text = String(body || '')
    .replace(/!\[[^\]]*\]\([^)]*\)/g, '')
    .replace(/^#.*$/gm, '')
    .replace(/[*_`>#-]/g, '')
    .replace(/\s+/g, ' ')
    .trim();
  return text.length > 180 ? `${text.slice(0, 180)}…` : text;
}

export async function mount(root, app) {
  const session = h('section', { class: 'card session', id: 'journal-session' });
  const articles = h('div', { class: 'articles', id: 'journal-articles' });
  const reader = h('article', { class: 'card reader', id: 'journal-reader', hidden: true });
  const side = h('section', { class: 'journal-side' }, h('h2', { class: 'section-title' }, 'Articles'), articles);
  root.append(pageHeader('Journal', 'Write through the day; Kioku compiles the session into an article.'), h('div', { class: 'journal-grid' }, h('div', { class: 'journal-main' }, session, reader), side));

  async function loadSession() {
    try {
      const s = await get('/api/journal/status');
      renderSession(s);
    } catch (e) {
      clear(session).append(errorBox(e));
    }
  }

  function renderSession(s) {
    clear(session);
    if (!s.open) {
      session.classList.remove('open');
      session.append(
        h(
          'div',
          { class: 'session-closed' },
          h('div', { class: 'session-icon' }, icon('book', 'icon icon-lg')),
          h('div', {}, h('h2', {}, 'No session open'), h('p', { class: 'muted' }, 'Start a session, jot down moments and photos as they happen, then finish to get a written journal entry.')),
          h('button', { type: 'button', class: 'btn btn-primary', id: 'journal-start', onclick: start }, icon('plus'), h('span', {}, 'Start a session')),
        ),
      );
      return;
    }
    session.classList.add('open');
    const text = h('textarea', { id: 'journal-text', rows: '3', placeholder: 'What is happening? (a caption, if you add a photo)' });
    const photoIn = h('input', { type: 'file', accept: 'image/*', class: 'visually-hidden', id: 'journal-photo-input', tabindex: '-1' });
    const progress = h('div', { class: 'upload-list' });
    const addText = async () => {
      const t = text.value.trim();
      if (!t) return text.focus();
      try {
        await post('/api/journal/add', { text: t });
        text.value = '';
        await loadSession();
        document.getElementById('journal-text')?.focus();
      } catch (e) {
        toast(e.message, 'error');
      }
    };
    text.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) addText();
    });
    photoIn.addEventListener('change', async () => {
      const file = photoIn.files?.[0];
      photoIn.value = '';
      if (!file) return;
      const row = progressRow(file);
      progress.append(row.el);
      try {
        await uploadFile('/api/journal/add', file, { text: text.value.trim() }, (f) => row.set(f), 'image');
        row.done(`${file.name} added`);
        text.value = '';
        await loadSession();
      } catch (e) {
        row.fail(`${file.name}: ${e.message}`);
      }
    });
    const entries = h('ol', { class: 'timeline', id: 'journal-entries' }, s.entries.map(entryView));
    session.append(
      h(
        'div',
        { class: 'session-head' },
        h('span', { class: 'live-dot', 'aria-hidden': 'true' }),
        h('div', {}, h('h2', {}, 'Session open'), h('p', { class: 'muted small', id: 'journal-status' }, `Started ${formatDate(s.session.started_at)} · ${plural(s.session.entries, 'entry', 'entries')}`)),
        h('span', { class: 'spacer' }),
        h('button', { type: 'button', class: 'btn btn-ghost danger', id: 'journal-cancel', onclick: cancel }, 'Cancel'),
        h('button', { type: 'button', class: 'btn btn-primary', id: 'journal-done', onclick: done, disabled: !s.entries.length }, icon('check'), h('span', {}, 'Finish & compile')),
      ),
      s.entries.length ? entries : h('p', { class: 'muted empty-line' }, 'No entries yet — write the first one below.'),
      h(
        'div',
        { class: 'session-compose' },
        text,
        h(
          'div',
          { class: 'compose-actions' },
          h('button', { type: 'button', class: 'btn btn-ghost', id: 'journal-add-photo', onclick: () => photoIn.click() }, icon('image'), h('span', {}, 'Add photo')),
          photoIn,
          h('span', { class: 'muted small hint' }, 'Ctrl+Enter adds'),
          h('button', { type: 'button', class: 'btn', id: 'journal-add', onclick: addText }, icon('plus'), h('span', {}, 'Add entry')),
        ),
        progress,
      ),
    );
  }

  async function start() {
    try {
      await post('/api/journal/start');
      await loadSession();
      document.getElementById('journal-text')?.focus();
    } catch (e) {
      toast(e.message, 'error');
      loadSession();
    }
  }

  async function done() {
    const btn = document.getElementById('journal-done');
    if (btn) {
      btn.disabled = true;
      btn.lastChild.textContent = 'Compiling…';
    }
    try {
      const j = await post('/api/journal/done');
      toast('Journal compiled.', 'ok');
      await Promise.all([loadSession(), loadArticles()]);
      openArticle(j);
      app.refreshShell();
    } catch (e) {
      toast(e.message, 'error');
      loadSession();
    }
  }

  async function cancel() {
    if (!(await confirmDialog('Discard this session?', 'Its entries are thrown away and no article is written.', 'Discard'))) return;
    try {
      await post('/api/journal/cancel');
      toast('Session discarded.');
      await loadSession();
    } catch (e) {
      toast(e.message, 'error');
    }
  }

  async function loadArticles() {
    clear(articles).append(spinner());
    try {
      const r = await get('/api/journals?limit=100');
      clear(articles);
      if (!r.items.length) articles.append(emptyState('No articles yet', 'Finished sessions appear here.'));
      for (const j of r.items) {
        articles.append(
          h(
            'button',
            { type: 'button', class: 'article-item', dataset: { id: j.id }, onclick: () => openArticle(j) },
            h('span', { class: 'article-title' }, j.title || 'Untitled'),
            h('span', { class: 'muted small' }, formatDate(j.created_at, false), j.needs_recompile ? ' · will be recompiled' : ''),
            h('span', { class: 'article-snippet' }, snippet(j.body)),
          ),
        );
      }
    } catch (e) {
      clear(articles).append(errorBox(e));
    }
  }

  async function openArticle(j) {
    for (const b of articles.querySelectorAll('.article-item')) b.classList.toggle('active', b.dataset.id === j.id);
    let full = j;
    if (!full.body) {
      try {
        full = await get(`/api/journals/${encodeURIComponent(j.id)}`);
      } catch (e) {
        toast(e.message, 'error');
        return;
      }
    }
    clear(reader);
    reader.hidden = false;
    const body = renderMarkdown(full.body);
    // The body usually starts with the title as a heading: show it once.
    const first = body.firstElementChild;
    if (first && /^H[12]$/.test(first.tagName) && first.textContent.trim() === (full.title || '').trim()) first.remove();
    reader.append(
      h(
        'header',
        { class: 'reader-head' },
        h('div', {}, h('p', { class: 'eyebrow' }, formatDate(full.created_at, false)), h('h2', { class: 'reader-title' }, full.title || 'Untitled')),
        h('button', { type: 'button', class: 'btn btn-icon btn-ghost', 'aria-label': 'Close article', onclick: () => (reader.hidden = true) }, icon('x')),
      ),
      tagList(full.tags),
      body,
    );
    reader.scrollIntoView({ block: 'nearest', behavior: 'smooth' });
  }

  await Promise.all([loadSession(), loadArticles()]);
}
