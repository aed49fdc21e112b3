// Status: counts by type and tier, queue lengths, jobs and scheduled runs, provider reachability.
import { get, post } from '../api.js';
import { clear, errorBox, formatBytes, formatDate, formatDuration, h, icon, labelize, pageHeader, spinner } from '../ui.js';

function stat(label, value, hint) {
  return h('div', { class: 'card stat' }, h('span', { class: 'stat-label' }, label), h('span', { class: 'stat-value' }, value), hint ? h('span', { class: 'stat-hint muted small' }, hint) : null);
}

function bars(title, counts, id) {
  const entries = Object.entries(counts || {}).sort((a, b) => b[1] - a[1]);
  const max = Math.max(1, ...entries.map(([, n]) => n));
  return h(
    'section',
    { class: 'card', id },
    h('h2', { class: 'card-title' }, title),
    entries.length
      ? h(
          'ul',
          { class: 'bars' },
          entries.map(([k, n]) => {
            const fill = h('span', { class: `bar-fill bar-${k}` });
            fill.style.width = `${Math.max(2, (n / max) * 100)}%`;
            return h('li', { class: 'bar-row' }, h('span', { class: 'bar-label' }, labelize(k)), h('span', { class: 'bar' }, fill), h('span', { class: 'bar-value' }, String(n)));
          }),
        )
      : h('p', { class: 'muted small' }, 'Nothing stored yet.'),
  );
}

function queueRow(label, n, hint) {
  return h('li', { class: 'queue-row' }, h('span', {}, label, hint ? h('span', { class: 'muted small' }, ` — ${hint}`) : null), h('span', { class: `count ${n ? 'busy' : ''}` }, String(n)));
}

function jobsCard(s, reload) {
  const counts = s.jobs?.by_state || {};
  const attention = s.jobs?.attention || [];
  const runs = s.scheduled_runs || [];
  const retry = async (id) => {
    await post(`/api/jobs/${encodeURIComponent(id)}/retry`);
    reload();
  };
  return h(
    'section',
    { class: 'card', id: 'status-jobs' },
    h('h2', { class: 'card-title' }, 'Jobs'),
    h('ul', { class: 'queues' }, ['queued', 'running', 'failed', 'done'].map((k) => queueRow(labelize(k), counts[k] || 0))),
    attention.length
      ? h(
          'ul',
          { class: 'job-list' },
          attention.map((j) =>
            h(
              'li',
              { class: `job-row job-${j.state}` },
              h('span', { class: 'mono small' }, j.kind),
              h('span', { class: 'muted small' }, ` ${j.state}${j.attempts ? ` · ${j.attempts} attempt(s)` : ''}`),
              j.wait_reason && j.state === 'queued' ? h('p', { class: 'muted small' }, j.wait_reason) : null,
              j.last_error && j.state !== 'done' ? h('p', { class: 'small' }, j.last_error) : null,
              j.state === 'failed' ? h('button', { type: 'button', class: 'btn btn-ghost small', onclick: () => retry(j.id) }, 'Retry') : null,
            ),
          ),
        )
      : h('p', { class: 'muted small' }, 'Nothing waiting.'),
    h('h2', { class: 'card-title sub' }, 'Scheduled runs'),
    runs.length
      ? h(
          'ul',
          { class: 'job-list', id: 'status-runs' },
          runs.map((r) => h('li', { class: 'job-row' }, h('span', { class: 'mono small' }, r.schedule), h('span', { class: 'muted small' }, ` ${r.status} · ${formatDate(r.started_at)}`), r.error ? h('p', { class: 'small' }, r.error) : null)),
        )
      : h('p', { class: 'muted small' }, 'No scheduled run yet.'),
  );
}

export async function mount(root, app) {
  const body = h('div', { class: 'status-body' }, spinner());
  const refresh = h('button', { type: 'button', class: 'btn btn-ghost', onclick: load }, icon('refresh'), h('span', {}, 'Refresh'));
  root.append(pageHeader('Status', 'What Kioku holds and how its parts are doing.', refresh), body);

  async function load() {
    try {
      const s = await get('/api/status');
      clear(body);
      const p = s.provider || {};
      const q = s.queues || {};
      const providerState = !p.configured ? ['off', 'Not configured'] : p.reachable ? ['ok', 'Reachable'] : ['bad', 'Unreachable'];
      body.append(
        h(
          'div',
          { class: 'stats' },
          stat('Memories', String(s.memories), `${s.embeddings} with vectors`),
          stat('Journals', String(s.journals)),
          stat('Database', formatBytes(s.database_bytes)),
          stat('Uptime', formatDuration(s.uptime_s || 0), `v${s.version} · user ${s.user_id}`),
        ),
        h(
          'div',
          { class: 'status-grid' },
          h(
            'section',
            { class: 'card', id: 'status-provider' },
            h('h2', { class: 'card-title' }, 'AI provider'),
            h('p', { class: 'provider-state' }, h('span', { class: `dot dot-${providerState[0]}` }), h('strong', {}, providerState[1]), p.configured ? h('span', { class: 'muted' }, ` · ${p.provider}`) : null),
            p.configured
              ? h('dl', { class: 'kv' }, h('dt', {}, 'Model'), h('dd', {}, p.model || '—'), h('dt', {}, 'URL'), h('dd', { class: 'mono' }, p.url || '—'), p.reachable ? [h('dt', {}, 'Models offered'), h('dd', {}, String(p.models ?? '—'))] : null)
              : h('p', { class: 'muted small' }, 'Choose a provider in ', h('a', { href: '#/settings' }, 'Settings'), ' to chat.'),
            p.error ? h('p', { class: 'alert alert-error' }, p.error) : null,
            h('h2', { class: 'card-title sub' }, 'Embedder'),
            h('p', {}, s.embedder?.model ? h('span', { class: 'mono' }, s.embedder.model) : h('span', { class: 'muted' }, 'None — full-text search only')),
            s.embedder?.notice ? h('p', { class: 'muted small' }, s.embedder.notice) : null,
          ),
          h(
            'section',
            { class: 'card', id: 'status-queues' },
            h('h2', { class: 'card-title' }, 'Queues'),
            h(
              'ul',
              { class: 'queues' },
              queueRow('Memories waiting for vectors', q.embeddings_pending || 0),
              queueRow('Jobs waiting (replies, photos, compiles)', q.jobs_open || 0),
              queueRow('Journals to recompile', q.journals_to_recompile || 0),
              queueRow('Suggestions to review', q.suggestions_pending || 0),
            ),
            h('h2', { class: 'card-title sub' }, 'Journal'),
            s.journal_session
              ? h('p', {}, h('span', { class: 'live-dot' }), ` Session open since ${formatDate(s.journal_session.started_at)} · ${s.journal_session.entries} entries`)
              : h('p', { class: 'muted' }, 'No session open.'),
          ),
          jobsCard(s, load),
          bars('Memories by type', s.by_type, 'status-types'),
          bars('Memories by tier', s.by_tier, 'status-tiers'),
        ),
      );
      app.refreshShell();
    } catch (e) {
      clear(body).append(errorBox(e));
    }
  }
  await load();
  const timer = setInterval(() => {
    if (!document.hidden) load();
  }, 15000);
  return () => clearInterval(timer);
}
