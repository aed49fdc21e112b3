// The app shell: token hand-over, the token screen, hash routing between the
// views, and the sidebar's provider light and suggestion badge.
import { get, getToken, onUnauthorized, setToken, takeTokenFromLocation } from './api.js';
import { clear, errorBox } from './ui.js';
import * as chat from './views/chat.js';
import * as memories from './views/memories.js';
import * as suggestions from './views/suggestions.js';
import * as journal from './views/journal.js';
import * as graph from './views/graph.js';
import * as upload from './views/upload.js';
import * as settings from './views/settings.js';
import * as status from './views/status.js';
import * as core from './views/core.js';
import * as profile from './views/profile.js';

const VIEWS = { chat, core, memories, suggestions, journal, graph, upload, settings, status, profile };
const TITLES = { chat: 'Chat', core: 'Core memory', memories: 'Memories', suggestions: 'Suggestions', journal: 'Journal', graph: 'Graph', upload: 'Import', settings: 'Settings', status: 'Status', profile: 'About you' };

const $ = (id) => document.getElementById(id);
let cleanup = null;
let current = '';
let mountSeq = 0;

function showAuth(message) {
  if (cleanup) cleanup();
  cleanup = null;
  current = '';
  const first = $('auth').hidden;
  $('shell').hidden = true;
  $('auth').hidden = false;
  const err = $('auth-error');
  err.hidden = !message;
  err.textContent = message || '';
  if (first) {
    // Several requests may fail at once: clear and focus only the first time.
    $('auth-token').value = '';
    $('auth-token').focus();
  }
  document.title = 'Kioku — connect';
}

function routeName() {
  const m = location.hash.match(/^#\/([a-z]+)/);
  return m && VIEWS[m[1]] ? m[1] : 'chat';
}

export const app = {
  // Sidebar badges and the provider light; views call this after changes.
  async refreshShell() {
    try {
      const s = await get('/api/status');
      const n = s.queues?.suggestions_pending || 0;
      const badge = $('suggestion-count');
      badge.hidden = n === 0;
      badge.textContent = String(n);
      const p = s.provider || {};
      const dot = $('provider-dot');
      dot.className = `dot ${p.configured ? (p.reachable ? 'dot-ok' : 'dot-bad') : 'dot-off'}`;
      $('provider-label').textContent = p.configured ? `${p.model || p.provider} · ${p.reachable ? 'online' : 'offline'}` : 'No AI provider set';
    } catch {
      /* the views show errors; the shell stays quiet */
    }
  },
  navigate(name) {
    location.hash = `#/${name}`;
  },
};

async function render() {
  if (!getToken()) return showAuth();
  $('auth').hidden = true;
  $('shell').hidden = false;
  const name = routeName();
  const view = $('view');
  for (const a of document.querySelectorAll('.nav a')) a.classList.toggle('active', a.dataset.view === name);
  if (name === current && !(VIEWS[name].remountOnHash)) return;
  if (cleanup) cleanup();
  cleanup = null;
  current = name;
  document.title = `${TITLES[name]} · Kioku`;
  clear(view);
  view.className = `view view-${name}`;
  const seq = ++mountSeq;
  try {
    const c = await VIEWS[name].mount(view, app);
    if (seq === mountSeq) cleanup = typeof c === 'function' ? c : null;
    else if (typeof c === 'function') c();
  } catch (e) {
    if (e.status === 401) return;
    view.append(errorBox(e));
  }
}

$('auth-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const token = $('auth-token').value.trim();
  if (!token) return;
  setToken(token);
  try {
    await get('/api/status');
  } catch (err) {
    if (err.status !== 401) {
      $('auth-error').hidden = false;
      $('auth-error').textContent = err.message;
    }
    return;
  }
  if (!location.hash.startsWith('#/')) history.replaceState(null, '', '#/chat');
  render();
  app.refreshShell();
});

onUnauthorized(() => showAuth('That token was not accepted. Run `kioku token` and paste the token it prints.'));
takeTokenFromLocation();
window.addEventListener('hashchange', render);
render();
if (getToken()) app.refreshShell();
setInterval(() => {
  if (getToken() && !document.hidden) app.refreshShell();
}, 30000);
