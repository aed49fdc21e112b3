// The memory editor dialog (add, edit, edit a suggestion): content, type,
// tier, tags and importance.
import { h, modal } from '../ui.js';

const TYPES = ['note', 'fact', 'preference', 'person', 'event', 'task', 'document', 'chat', 'journal', 'photo'];
const TIERS = [
  ['short_term', 'Short-term (default)'],
  ['long_term', 'Long-term'],
  ['persistent', 'Persistent (always in context)'],
];

export function importanceLabel(v) {
  if (v >= 0.85) return 'Essential';
  if (v >= 0.65) return 'High';
  if (v >= 0.35) return 'Medium';
  if (v > 0.1) return 'Low';
  return 'Minimal';
}

// Resolves with the fields to send ({content, type, tier, tags, importance}),
// or null when cancelled. save(fields) may throw: the error is shown and the
// dialog stays open.
export function memoryEditor({ memory = null, title, saveLabel = 'Save', save }) {
  const m = memory || { content: '', type: 'note', tier: 'short_term', tags: [], importance: 0.5 };
  const content = h('textarea', { id: 'memory-content', name: 'content', rows: '6', required: true, placeholder: 'Something worth remembering…', value: m.content });
  const types = new Set(TYPES);
  if (m.type) types.add(m.type);
  const type = h('select', { id: 'memory-type', name: 'type' }, [...types].map((t) => h('option', { value: t, selected: t === m.type }, t)));
  const tier = h('select', { id: 'memory-tier', name: 'tier' }, TIERS.map(([v, l]) => h('option', { value: v, selected: v === m.tier }, l)));
  const tags = h('input', { id: 'memory-tags', name: 'tags', type: 'text', placeholder: 'family, travel, work', value: (m.tags || []).join(', '), autocomplete: 'off' });
  const importance = h('input', { id: 'memory-importance', name: 'importance', type: 'range', min: '0', max: '1', step: '0.05', value: String(m.importance ?? 0.5) });
  const impValue = h('output', { class: 'range-value', for: 'memory-importance' });
  const showImp = () => {
    const v = Number(importance.value);
    impValue.textContent = `${v.toFixed(2)} · ${importanceLabel(v)}`;
    importance.style.setProperty('--fill', `${v * 100}%`);
  };
  importance.addEventListener('input', showImp);
  showImp();
  const error = h('p', { class: 'alert alert-error', role: 'alert', hidden: true });
  const fields = () => ({
    content: content.value.trim(),
    type: type.value,
    tier: tier.value,
    tags: tags.value.split(',').map((t) => t.trim()).filter(Boolean),
    importance: Number(importance.value),
  });
  let result = null;
  return modal({
    title,
    wide: true,
    body: [
      h('label', { class: 'field' }, h('span', { class: 'field-label' }, 'Content'), content),
      h(
        'div',
        { class: 'field-row' },
        h('label', { class: 'field' }, h('span', { class: 'field-label' }, 'Type'), type),
        h('label', { class: 'field' }, h('span', { class: 'field-label' }, 'Tier'), tier),
      ),
      h('label', { class: 'field' }, h('span', { class: 'field-label' }, 'Tags'), tags, h('span', { class: 'field-help' }, 'Comma-separated.')),
      h('label', { class: 'field' }, h('span', { class: 'field-label' }, 'Importance ', impValue), importance),
      error,
    ],
    buttons: [
      { label: 'Cancel', value: 'cancel', class: 'btn-ghost' },
      { label: saveLabel, value: 'save', class: 'btn-primary', submit: true },
    ],
    onSubmit: async () => {
      const f = fields();
      if (!f.content) {
        error.hidden = false;
        error.textContent = 'The content is empty.';
        return false;
      }
      try {
        result = save ? await save(f) : f;
        return true;
      } catch (e) {
        error.hidden = false;
        error.textContent = e.message;
        return false;
      }
    },
  }).then((v) => (v === 'save' ? result : null));
}
