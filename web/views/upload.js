// Import: documents into memories, by drop or file picker, with progress.
import { h, icon, pageHeader } from '../ui.js';
import { DOC_ACCEPT, uploadFiles } from '../uploader.js';

const FORMATS = [
  ['PDF', 'text per page'],
  ['XLSX', 'one memory per row'],
  ['CSV', 'rows, contacts'],
  ['JSON', 'chat exports, notes'],
  ['MD / TXT', 'notes by paragraph'],
];

export async function mount(root, app) {
  const list = h('div', { class: 'upload-list', id: 'upload-results' });
  const input = h('input', { type: 'file', accept: DOC_ACCEPT, multiple: true, class: 'visually-hidden', id: 'upload-input', tabindex: '-1' });
  const tags = h('input', { type: 'text', id: 'upload-tags', placeholder: 'Optional tags for everything imported, e.g. work, 2024', autocomplete: 'off' });
  const run = (files) => {
    if (!files.length) return;
    uploadFiles(files, { list, tags: tags.value.trim(), onResult: () => app.refreshShell() });
  };
  const zone = h(
    'div',
    { class: 'dropzone', tabindex: '0', role: 'button', 'aria-label': 'Choose documents to import', onclick: () => input.click() },
    h('div', { class: 'dropzone-icon' }, icon('upload', 'icon icon-lg')),
    h('p', { class: 'dropzone-title' }, 'Drop documents here'),
    h('p', { class: 'muted' }, 'or ', h('span', { class: 'link-like' }, 'choose files'), ' — up to 25 MB each'),
  );
  zone.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' || e.key === ' ') {
      e.preventDefault();
      input.click();
    }
  });
  for (const ev of ['dragenter', 'dragover']) {
    zone.addEventListener(ev, (e) => {
      e.preventDefault();
      zone.classList.add('dragging');
    });
  }
  for (const ev of ['dragleave', 'drop']) zone.addEventListener(ev, () => zone.classList.remove('dragging'));
  zone.addEventListener('drop', (e) => {
    e.preventDefault();
    run(Array.from(e.dataTransfer?.files || []));
  });
  input.addEventListener('change', () => {
    const files = Array.from(input.files || []);
    input.value = '';
    run(files);
  });

  root.append(
    pageHeader('Import', 'Turn documents into searchable memories. The text is read on your machine; nothing leaves it.'),
    h(
      'div',
      { class: 'import-grid' },
      h(
        'div',
        {},
        zone,
        input,
        h('label', { class: 'field' }, h('span', { class: 'field-label' }, 'Tags'), tags),
        h('h2', { class: 'section-title' }, 'Uploads'),
        list,
        h('p', { class: 'muted small empty-line upload-empty' }, 'Nothing uploaded in this visit yet.'),
      ),
      h(
        'aside',
        { class: 'card formats' },
        h('h3', {}, 'Supported formats'),
        h('ul', {}, FORMATS.map(([f, d]) => h('li', {}, h('span', { class: 'badge badge-soft' }, f), h('span', { class: 'muted small' }, d)))),
        h('p', { class: 'muted small' }, 'Every memory keeps where it came from (file, page, sheet and row), so search results point back to the source. Importing the same text twice keeps one copy.'),
      ),
    ),
  );
}
