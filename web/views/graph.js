// Knowledge graph: the entities Kioku knows and the facts that connected them
// at a chosen date (GET /api/graph?at=), drawn with Cytoscape.js (npm,
// embedded at build time under /vendor/). Facts with a literal value and the
// selected entity's facts are listed beside the drawing, so the page is
// readable without the canvas too.
import { get, query } from '../api.js';
import { clear, emptyState, errorBox, h, pageHeader, spinner } from '../ui.js';

const KIND_COLOURS = {
  person: '#d9485f',
  place: '#2f9e44',
  organisation: '#1971c2',
  thing: '#868e96',
  event: '#e8590c',
  topic: '#7048e8',
};

function today() {
  return new Date().toISOString().slice(0, 10);
}

async function loadCytoscape() {
  // Cytoscape adds an inline <style> for its container unless an element
  // with this id exists; the page's CSP forbids inline styles, and style.css
  // carries the same rule (.__________cytoscape_container).
  if (!document.getElementById('__________cytoscape_stylesheet')) {
    document.head.append(h('meta', { id: '__________cytoscape_stylesheet', name: 'cytoscape-style', content: 'style.css' }));
  }
  try {
    return (await import('/vendor/cytoscape.esm.min.mjs')).default;
  } catch {
    return null; // not installed at build time: the lists still work
  }
}

export async function mount(root) {
  const date = h('input', { type: 'date', id: 'graph-date', value: today(), 'aria-label': 'Facts true on' });
  const canvas = h('div', { id: 'graph-canvas', class: 'graph-canvas card', role: 'img', 'aria-label': 'Knowledge graph' });
  const side = h('aside', { class: 'graph-side card' });
  const body = h('div', { class: 'graph-body' }, canvas, side);
  root.append(
    pageHeader('Graph', 'People, places and things Kioku has learned about, and how they were connected on a date.',
      h('label', { class: 'graph-date-label' }, h('span', { class: 'muted small' }, 'True on '), date)),
    body,
  );
  const cytoscape = await loadCytoscape();
  let cy = null;
  let data = { entities: [], facts: [] };

  function factList(facts, title) {
    return h('section', {}, h('h2', { class: 'card-title' }, title),
      facts.length
        ? h('ul', { class: 'graph-facts', id: 'graph-facts' }, facts.map((f) => h('li', { 'data-predicate': f.predicate }, f.text)))
        : h('p', { class: 'muted small', id: 'graph-facts-empty' }, 'No facts on this date.'));
  }

  function showSide(selectedId) {
    clear(side);
    if (!selectedId) {
      side.append(factList(data.facts, `Facts on ${date.value || today()}`));
      return;
    }
    const e = data.entities.find((x) => x.id === selectedId);
    const facts = data.facts.filter((f) => f.subject_id === selectedId || f.object_id === selectedId);
    side.append(
      h('h2', { class: 'card-title', id: 'graph-selected' }, e ? `${e.name} (${e.kind})` : selectedId),
      e && e.aliases.length > 1 ? h('p', { class: 'muted small' }, `Also: ${e.aliases.filter((a) => a !== e.name).join(', ')}`) : null,
      e && e.summary ? h('p', {}, e.summary) : null,
      factList(facts, 'Facts'),
      h('button', { type: 'button', class: 'btn btn-ghost', onclick: () => showSide(null) }, 'All facts'),
    );
  }

  function draw() {
    canvas.dataset.nodes = String(data.entities.length);
    canvas.dataset.edges = String(data.facts.filter((f) => f.object_id).length);
    if (!data.entities.length) {
      clear(canvas);
      canvas.append(emptyState('No entities yet', 'Run kioku maintain --hourly (or wait for the hourly job) to extract them from your memories.'));
      return;
    }
    if (!cytoscape) {
      clear(canvas);
      canvas.append(h('p', { class: 'muted' }, 'The graph library is not installed in this build (run ./scripts/setup); the facts are listed beside.'));
      return;
    }
    const known = new Set(data.entities.map((e) => e.id));
    const elements = [
      ...data.entities.map((e) => ({ data: { id: e.id, label: e.name, kind: e.kind } })),
      ...data.facts
        .filter((f) => f.object_id && known.has(f.subject_id) && known.has(f.object_id))
        .map((f) => ({ data: { id: f.id, source: f.subject_id, target: f.object_id, label: f.predicate.replace(/_/g, ' ') } })),
    ];
    if (cy) cy.destroy();
    clear(canvas);
    cy = cytoscape({
      container: canvas,
      elements,
      layout: { name: 'cose', animate: false, randomize: false, nodeRepulsion: 9000 },
      style: [
        { selector: 'node', style: { label: 'data(label)', 'background-color': (n) => KIND_COLOURS[n.data('kind')] || '#868e96', color: '#495057', 'font-size': 11, 'text-valign': 'bottom', 'text-margin-y': 4, width: 22, height: 22 } },
        { selector: 'edge', style: { label: 'data(label)', 'font-size': 9, color: '#868e96', width: 1.5, 'line-color': '#ced4da', 'target-arrow-color': '#ced4da', 'target-arrow-shape': 'triangle', 'curve-style': 'bezier', 'text-rotation': 'autorotate' } },
        { selector: ':selected', style: { 'border-width': 3, 'border-color': '#212529' } },
      ],
    });
    cy.on('tap', 'node', (evt) => showSide(evt.target.id()));
    window.kiokuGraph = cy; // for the browser test and the curious
  }

  async function load() {
    side.replaceChildren(spinner());
    try {
      data = await get(`/api/graph${query({ at: date.value || today() })}`);
      draw();
      showSide(null);
      root.dataset.loadedAt = data.at;
    } catch (e) {
      clear(side);
      side.append(errorBox(e));
    }
  }
  date.addEventListener('change', load);
  await load();
  return () => {
    if (cy) cy.destroy();
    cy = null;
  };
}
