// Chat: streamed replies (POST /api/chat as Server-Sent Events), the memories
// each reply used beside it, history in localStorage and on the server
// (GET /api/chat/history), and a compact upload button by the input.
import { get, streamChat } from '../api.js';
import { renderMarkdown } from '../markdown.js';
import { clear, formatDate, h, icon, labelize, plural } from '../ui.js';
import { uploadButton, uploadFiles } from '../uploader.js';

const STORE_KEY = 'kioku.chat.v1';
const MAX_KEPT = 300;

function loadLocal() {
  try {
    const v = JSON.parse(localStorage.getItem(STORE_KEY) || '[]');
    return Array.isArray(v) ? v : [];
  } catch {
    return [];
  }
}

function saveLocal(messages) {
  const kept = messages.filter((m) => !m.pending).slice(-MAX_KEPT);
  try {
    localStorage.setItem(STORE_KEY, JSON.stringify(kept, (k, v) => (k.startsWith('_') ? undefined : v)));
  } catch {
    /* storage full: the server still has the history */
  }
}

// Memories fetched for replies loaded from the server (ids only there).
const memoryCache = new Map();
function fetchMemory(id) {
  if (!memoryCache.has(id)) {
    const p = get(`/api/memory/${encodeURIComponent(id)}`).catch(() => ({ id, type: 'deleted', content: '(no longer stored)' }));
    memoryCache.set(id, p);
  }
  return memoryCache.get(id);
}

function memoryItem(m) {
  return h('li', { class: 'used-item', title: m.content }, h('span', { class: `badge badge-${m.type}` }, labelize(m.type)), h('span', { class: 'used-text' }, m.content));
}

// The "memories used" panel beside a reply.
function usedPanel(msg) {
  const used = msg.used || [];
  const ids = msg.used_ids || [];
  const count = used.length || ids.length;
  if (!count) return h('aside', { class: 'used used-none' }, h('span', { class: 'used-title' }, icon('memory'), 'No memories used'));
  const list = h('ul', { class: 'used-list' });
  const panel = h('details', { class: 'used used-memories' }, h('summary', { class: 'used-title' }, icon('memory'), `${plural(count, 'memory', 'memories')} used`), list);
  if (used.length) {
    panel.open = true;
    for (const m of used) list.append(memoryItem(m));
  } else {
    let loaded = false;
    panel.addEventListener('toggle', async () => {
      if (!panel.open || loaded) return;
      loaded = true;
      const items = await Promise.all(ids.slice(0, 12).map(fetchMemory));
      for (const m of items) list.append(memoryItem(m));
    });
  }
  return panel;
}

function renderMessage(msg) {
  if (msg.role === 'note') {
    return h('div', { class: `msg msg-note ${msg.error ? 'is-error' : ''}` }, h('span', { class: 'note-icon' }, icon(msg.error ? 'x' : 'file')), h('span', {}, msg.text));
  }
  const time = h('time', { class: 'msg-time', datetime: msg.time }, formatDate(msg.time));
  if (msg.role === 'user') {
    return h('div', { class: 'msg msg-user' }, h('div', { class: 'bubble' }, h('div', { class: 'msg-text plain' }, msg.text)), time);
  }
  const text = h('div', { class: 'msg-text' });
  if (msg.text) text.append(renderMarkdown(msg.text));
  const bubble = h('div', { class: 'bubble' }, text);
  if (msg.pending && !msg.text) bubble.append(h('span', { class: 'typing', 'aria-label': 'Thinking' }, h('i'), h('i'), h('i')));
  if (msg.notice) bubble.append(h('p', { class: `msg-notice ${msg.queued ? 'queued' : ''}` }, msg.notice));
  // Core memory blocks the reply's tool calls changed, each linking to its new version.
  for (const e of msg.edits || [])
    bubble.append(
      h('p', { class: 'memory-edited' }, icon('edit'), h('span', {}, 'Memory edited: '),
        h('a', { href: `#/core/${encodeURIComponent(e.label)}/${e.version}`, class: 'memory-edited-link' }, `${e.label} v${e.version}`)),
    );
  if (msg.error) bubble.append(h('p', { class: 'msg-notice is-error' }, msg.error));
  const el = h(
    'div',
    { class: `msg msg-assistant ${msg.pending ? 'pending' : ''}` },
    h('img', { class: 'avatar', src: '/logo.svg', alt: '' }),
    h('div', { class: 'msg-body' }, bubble, time),
    msg.pending ? h('aside', { class: 'used used-waiting' }) : usedPanel(msg),
  );
  el._text = text;
  el._bubble = bubble;
  return el;
}

// Server history (user/assistant turns) merged with what only this browser
// knows: used memory contents, upload notes, errors.
function merge(serverItems, local) {
  const byId = new Map(local.filter((m) => m.id).map((m) => [m.id, m]));
  const merged = serverItems.map((it) => {
    const l = byId.get(it.id);
    return {
      id: it.id,
      role: it.role === 'assistant' ? 'assistant' : 'user',
      text: it.content,
      time: it.event_time,
      used_ids: it.used_memory_ids || [],
      used: l?.used || [],
      notice: l?.notice || '',
      edits: it.memory_edits || l?.edits || [],
    };
  });
  const first = merged.length ? merged[0].time : '';
  const serverIds = new Set(merged.map((m) => m.id));
  // Local-only entries newer than the oldest server turn (notes, failed turns).
  const extra = local.filter((m) => (!m.id || !serverIds.has(m.id)) && (m.role === 'note' || m.error) && (!first || m.time >= first));
  return [...merged, ...extra].sort((a, b) => (a.time < b.time ? -1 : a.time > b.time ? 1 : 0));
}

const STARTERS = ['What do you remember about me?', 'What did I plan for this week?', 'Summarise my latest journal'];

export async function mount(root, app) {
  let messages = loadLocal();
  let busy = false;
  let persona = 'Kioku';

  const list = h('div', { class: 'messages', id: 'messages', 'aria-live': 'polite' });
  const scroller = h('div', { class: 'chat-scroll' }, list);
  const uploads = h('div', { class: 'chat-uploads' });
  const input = h('textarea', { id: 'chat-input', rows: '1', placeholder: 'Message Kioku…', 'aria-label': 'Message', autocomplete: 'off' });
  const send = h('button', { type: 'submit', class: 'btn btn-primary btn-icon send', id: 'chat-send', 'aria-label': 'Send', title: 'Send (Enter)' }, icon('send'));
  const attach = uploadButton({
    compact: true,
    label: 'Upload a document',
    id: 'chat-upload-input',
    onFiles: (files) =>
      uploadFiles(files, {
        list: uploads,
        keepRows: false,
        onResult: (r) => addNote(`Imported ${r.file}: ${plural(r.added, 'memory', 'memories')} added${r.duplicates ? `, ${r.duplicates} already known` : ''}.`),
        onError: (e, f) => addNote(`Could not import ${f.name}: ${e.message}`, true),
      }),
  });
  const form = h('form', { class: 'composer', id: 'chat-form' }, attach, input, send);
  const title = h('h1', {}, 'Chat');
  const subtitle = h('p', { class: 'subtitle' }, 'Replies are grounded in your memories.');
  const header = h('header', { class: 'page-header chat-header' }, h('div', { class: 'page-titles' }, title, subtitle));
  root.append(header, scroller, h('div', { class: 'composer-wrap' }, uploads, form, h('p', { class: 'composer-hint' }, 'Enter to send · Shift+Enter for a new line · the clip imports a document into your memories')));

  const atBottom = () => scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 80;
  const scrollDown = () => {
    scroller.scrollTop = scroller.scrollHeight;
  };

  function renderAll() {
    clear(list);
    if (!messages.length) {
      list.append(
        h(
          'div',
          { class: 'chat-empty' },
          h('img', { src: '/logo.svg', alt: '', class: 'chat-empty-logo' }),
          h('h2', {}, `Hi, I'm ${persona}.`),
          h('p', { class: 'muted' }, 'Ask me anything — I answer from what you have told me, your notes, documents and journals.'),
          h('div', { class: 'starters' }, STARTERS.map((s) => h('button', { type: 'button', class: 'chip', onclick: () => submit(s) }, s))),
        ),
      );
      return;
    }
    let lastDay = '';
    for (const m of messages) {
      const day = m.time ? new Date(m.time).toDateString() : '';
      if (day && day !== lastDay) {
        list.append(h('div', { class: 'day-sep' }, h('span', {}, formatDate(m.time, false))));
        lastDay = day;
      }
      const el = renderMessage(m);
      m._el = el;
      list.append(el);
    }
  }

  function addNote(text, error = false) {
    messages.push({ role: 'note', text, time: new Date().toISOString(), error });
    saveLocal(messages);
    renderAll();
    scrollDown();
  }

  async function submit(textArg) {
    const text = (textArg ?? input.value).trim();
    if (!text || busy) return;
    busy = true;
    send.disabled = true;
    input.value = '';
    autosize();
    const now = new Date().toISOString();
    const userMsg = { role: 'user', text, time: now };
    const reply = { role: 'assistant', text: '', time: now, pending: true };
    messages.push(userMsg, reply);
    renderAll();
    scrollDown();
    let frame = 0;
    const paint = () => {
      frame = 0;
      const stick = atBottom();
      const el = reply._el;
      clear(el._text).append(renderMarkdown(reply.text));
      el._bubble.querySelector('.typing')?.remove();
      if (stick) scrollDown();
    };
    await streamChat(text, {
      onDelta: (d) => {
        reply.text += d;
        if (!frame) frame = requestAnimationFrame(paint);
      },
      onDone: (r) => {
        reply.text = r.reply || reply.text;
        reply.used = r.used_memories || [];
        reply.used_ids = reply.used.map((m) => m.id);
        reply.queued = Boolean(r.queued);
        reply.notice = r.notice || (r.queued ? 'The AI provider is not reachable; your message is queued and will be answered later.' : '');
        reply.id = r.reply_memory_id || undefined;
        reply.edits = r.memory_edits || [];
        userMsg.id = r.user_memory_id || undefined;
        if (r.queued && !r.reply) reply.role = 'note';
        if (reply.role === 'note') reply.text = reply.notice;
      },
      onError: (e) => {
        reply.error = e.message;
        if (e.status === 401) return;
      },
    });
    if (frame) cancelAnimationFrame(frame);
    reply.pending = false;
    reply.time = new Date().toISOString();
    if (!reply.text && !reply.error && !reply.notice) reply.error = 'No reply came back.';
    saveLocal(messages);
    renderAll();
    scrollDown();
    busy = false;
    send.disabled = false;
    input.focus();
    app.refreshShell();
  }

  function autosize() {
    input.style.height = 'auto';
    input.style.height = `${Math.min(input.scrollHeight, 220)}px`;
  }

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    submit();
  });
  input.addEventListener('input', autosize);
  input.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      submit();
    }
  });

  renderAll();
  scrollDown();
  input.focus();

  // Persona name for the greeting, and the server's history.
  get('/api/settings')
    .then((s) => {
      const p = (s.personas || []).find((x) => x.id === s.companion?.persona);
      if (p?.name) {
        persona = p.name;
        title.textContent = `Chat with ${p.name}`;
        input.placeholder = `Message ${p.name}…`;
        if (!messages.length) renderAll();
      }
    })
    .catch(() => {});
  try {
    const hist = await get('/api/chat/history?limit=200');
    if (!busy && hist.items && hist.items.length) {
      messages = merge(hist.items, messages);
      saveLocal(messages);
      renderAll();
      scrollDown();
    }
  } catch (e) {
    if (e.status !== 401 && messages.length) subtitle.textContent = `Showing this browser's copy of the history (${e.message}).`;
  }
}
