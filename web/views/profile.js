// What Kioku learned about you (seed 004): the emotion read in your recent
// messages, which kinds of support work for you (with how each weight
// changed), which kinds of memories matter to you, and where the
// conversation stands. Every item can be corrected or forgotten here; the
// same document is `kioku profile --json` and GET /api/profile.
import { del, get, put } from '../api.js';
import { clear, errorBox, formatDate, h, icon, pageHeader, spinner, toast } from '../ui.js';

const EMOTIONS = ['joy', 'gratitude', 'sadness', 'anger', 'anxiety', 'loneliness', 'neutral'];
const STRATEGIES = {
  listen_reflect: 'listen and reflect',
  encourage: 'encourage',
  practical_steps: 'give practical steps',
  humour: 'distract with humour',
  check_in_later: 'check in later',
};

const enc = encodeURIComponent;
const fixed = (x, n = 2) => Number(x).toFixed(n);

function select(options, value, attrs = {}) {
  const el = h('select', { class: 'input input-narrow', ...attrs });
  for (const [v, label] of options) el.append(h('option', { value: v }, label));
  el.value = value;
  return el;
}

function forgetButton(label, onClick) {
  return h('button', { type: 'button', class: 'btn btn-sm btn-icon btn-ghost danger forget', title: label, 'aria-label': label, onclick: onClick }, icon('trash'));
}

export async function mount(root) {
  const body = h('div', { class: 'profile-sections', id: 'profile' });
  const eraseAll = h('button', { type: 'button', class: 'btn btn-danger', id: 'profile-erase-all' }, icon('trash'), h('span', {}, 'Erase everything'));
  root.append(
    pageHeader('What Kioku learned about you', 'How you feel, what kind of support helps you, which memories matter to you. Correct or erase any of it.', eraseAll),
    body,
  );

  async function act(promise, message) {
    try {
      await promise;
      if (message) toast(message, 'ok');
    } catch (e) {
      toast(e.message, 'error');
    }
    await load();
  }

  eraseAll.addEventListener('click', () => {
    if (!window.confirm('Erase everything Kioku learned about you? Your memories and chats stay.')) return;
    act(del('/api/profile/all'), 'Erased what was learned.');
  });

  async function load() {
    clear(body).append(spinner());
    let doc;
    try {
      doc = await get('/api/profile?recent=30');
    } catch (e) {
      clear(body).append(errorBox(e));
      return;
    }
    clear(body).append(feelings(doc), strategies(doc), patterns(doc), conversation(doc));
  }

  function section(id, title, part, ...children) {
    const erase = part
      ? h('button', { type: 'button', class: 'btn btn-sm btn-ghost', 'data-erase': part, onclick: () => act(del(`/api/profile/${part}`), `Forgot ${part}.`) }, 'Forget all')
      : '';
    return h('section', { class: 'card', id }, h('h2', { class: 'card-title' }, title, erase), ...children);
  }

  function feelings(doc) {
    const e = doc.emotions;
    const now = e.current
      ? h('p', { id: 'profile-current' }, 'Now: ', h('strong', {}, e.current.emotion), ` (intensity ${fixed(e.current.intensity)}, read by ${e.current.detector}, ${formatDate(e.current.at)})`)
      : h('p', { id: 'profile-current', class: 'muted' }, 'Nothing read yet: chat with your companion.');
    const list = h('ul', { class: 'profile-list', id: 'profile-emotions' });
    for (const r of e.recent) {
      const pick = select(EMOTIONS.map((x) => [x, x]), r.emotion, { 'aria-label': 'Emotion', 'data-message': r.message_id });
      pick.addEventListener('change', () => act(put(`/api/profile/emotions/${enc(r.message_id)}`, { emotion: pick.value, intensity: r.intensity || 0.6 }), 'Corrected.'));
      list.append(h('li', { class: 'profile-emotion', 'data-message': r.message_id },
        h('span', { class: 'small muted' }, formatDate(r.at)), ' ', pick,
        h('span', { class: 'small muted' }, ` ${fixed(r.intensity)} · ${r.detector}`),
        forgetButton('Forget this reading', () => act(del(`/api/profile/emotions/${enc(r.message_id)}`), 'Forgotten.'))));
    }
    return section('profile-feelings', 'How you feel', 'emotions', now, list);
  }

  function strategies(doc) {
    const table = h('table', { class: 'profile-table', id: 'profile-strategies' },
      h('thead', {}, h('tr', {}, h('th', {}, 'When you feel'), h('th', {}, 'Support'), h('th', {}, 'Works'), h('th', {}, 'How it changed'), h('th', {}, ''))));
    const rows = h('tbody');
    for (const s of doc.strategies) {
      const weight = h('input', { type: 'number', class: 'input input-narrow', min: 0, max: 1, step: 0.05, value: fixed(s.weight), 'aria-label': 'Weight' });
      weight.addEventListener('change', () => act(put(`/api/profile/strategies/${enc(s.emotion)}/${enc(s.strategy)}`, { weight: Number(weight.value) }), 'Saved.'));
      const trail = s.history.map((c) => fixed(c.after)).join(' → ');
      rows.append(h('tr', { class: 'profile-strategy', 'data-key': `${s.emotion}/${s.strategy}` },
        h('td', {}, s.emotion), h('td', {}, s.label), h('td', {}, weight),
        h('td', { class: 'small muted profile-trail' }, trail ? `${fixed(s.history[0]?.before ?? s.weight)} → ${trail}` : '', ` (${s.uses} outcomes)`),
        h('td', {}, forgetButton('Forget this strategy', () => act(del(`/api/profile/strategies/${enc(s.emotion)}/${enc(s.strategy)}`), 'Forgotten.')))));
    }
    table.append(rows);
    const emotion = select(EMOTIONS.filter((x) => !['joy', 'gratitude', 'neutral'].includes(x)).map((x) => [x, x]), 'sadness', { id: 'profile-new-emotion', 'aria-label': 'Emotion' });
    const strategy = select(Object.entries(STRATEGIES), 'listen_reflect', { id: 'profile-new-strategy', 'aria-label': 'Strategy' });
    const weight = h('input', { type: 'number', class: 'input input-narrow', id: 'profile-new-weight', min: 0, max: 1, step: 0.05, value: '0.8', 'aria-label': 'Weight' });
    const form = h('form', { class: 'profile-form', onsubmit: (ev) => {
      ev.preventDefault();
      act(put(`/api/profile/strategies/${enc(emotion.value)}/${enc(strategy.value)}`, { weight: Number(weight.value) }), 'Saved.');
    } }, 'When I feel ', emotion, ', ', strategy, ' works ', weight, ' ', h('button', { type: 'submit', class: 'btn btn-sm btn-primary', id: 'profile-new-save' }, 'Save'));
    return section('profile-support', 'What helps you', 'strategies',
      doc.strategies.length ? table : h('p', { class: 'muted' }, 'Nothing learned yet: rate replies, or tell your companion what helped.'), form);
  }

  function patterns(doc) {
    const list = h('ul', { class: 'profile-list', id: 'profile-patterns' });
    for (const p of doc.importance_patterns.slice(0, 60)) {
      list.append(h('li', { class: 'profile-pattern', 'data-key': `${p.kind}/${p.value}` },
        h('span', { class: 'badge' }, p.kind), ' ', h('strong', {}, p.value),
        h('span', { class: 'small muted' }, ` affinity ${p.affinity >= 0 ? '+' : ''}${fixed(p.affinity)} · searched ${p.searched}× · used ${p.used}× · rated ${p.rated}×`),
        forgetButton('Forget this pattern', () => act(del(`/api/profile/patterns/${enc(p.kind)}/${enc(p.value)}`), 'Forgotten.'))));
    }
    return section('profile-importance', 'What matters to you', 'patterns',
      h('p', { class: 'small muted' }, 'Learned from what you search for, open and rate; new memories get their importance from it.'),
      doc.importance_patterns.length ? list : h('p', { class: 'muted' }, 'Nothing learned yet.'));
  }

  function conversation(doc) {
    const c = doc.conversation;
    const text = c
      ? h('p', { id: 'profile-conversation' }, `${c.turns} messages so far; the last from ${c.channel}, ${formatDate(c.updated_at)}${c.last_reply_id ? '' : ' (reply pending)'}.`)
      : h('p', { id: 'profile-conversation', class: 'muted' }, 'Not started.');
    return section('profile-chat', 'Conversation', 'conversation', text);
  }

  await load();
}
