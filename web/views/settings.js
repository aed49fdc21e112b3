// Settings: the AI provider (with the fields it needs and its model list),
// the suggestion toggle and the persona. The API key is write-only: the page
// only ever learns whether one is set.
import { get, put } from '../api.js';
import { clear, errorBox, h, icon, pageHeader, spinner, toast } from '../ui.js';

const ENV_VARS = {
  'llm.provider': 'KIOKU_LLM_PROVIDER',
  'llm.url': 'KIOKU_LLM_URL',
  'llm.model': 'KIOKU_LLM_MODEL',
  'llm.api_key': 'KIOKU_LLM_API_KEY',
  'companion.suggestions': 'KIOKU_SUGGESTIONS',
  'companion.persona': 'KIOKU_PERSONA',
};

function envNote(settings, key) {
  if (!(settings.env_overrides || []).includes(key)) return null;
  return h('span', { class: 'field-help warn' }, `Set by ${ENV_VARS[key]} in the environment; that value wins over this one.`);
}

export async function mount(root, app) {
  const body = h('div', { class: 'settings' }, spinner());
  root.append(pageHeader('Settings', 'Your AI provider, the companion, and what it may suggest.'), body);
  let settings;
  try {
    settings = await get('/api/settings');
  } catch (e) {
    clear(body).append(errorBox(e));
    return;
  }
  render();

  function render() {
    clear(body);
    body.append(providerCard(), companionCard());
  }

  function providerCard() {
    const llm = settings.llm || {};
    const providers = settings.providers || [];
    const provider = h(
      'select',
      { id: 'setting-provider', name: 'provider' },
      h('option', { value: '' }, 'None (memory only, no chat)'),
      providers.map((p) => h('option', { value: p.id, selected: p.id === llm.provider }, p.label)),
    );
    const url = h('input', { id: 'setting-url', type: 'url', value: llm.url || '', autocomplete: 'off', spellcheck: 'false' });
    const model = h('input', { id: 'setting-model', type: 'text', value: llm.model || '', autocomplete: 'off', spellcheck: 'false', list: 'model-options' });
    const options = h('datalist', { id: 'model-options' });
    const modelList = h('div', { class: 'model-list', id: 'model-list' });
    const key = h('input', { id: 'setting-api-key', type: 'password', autocomplete: 'new-password', spellcheck: 'false', placeholder: llm.api_key_set ? 'Leave empty to keep the saved key' : 'Paste the API key' });
    const keyState = h('span', { class: `badge badge-plain ${llm.api_key_set ? 'badge-ok' : 'badge-soft'}`, id: 'api-key-state' }, llm.api_key_set ? 'set' : 'not set');
    const removeKey = h('input', { type: 'checkbox', id: 'setting-remove-key' });
    const vision = h('input', { type: 'checkbox', id: 'setting-vision', checked: llm.vision });
    const urlField = h('label', { class: 'field' }, h('span', { class: 'field-label' }, 'Server URL'), url, envNote(settings, 'llm.url'));
    const keyField = h(
      'div',
      { class: 'field' },
      h('label', { class: 'field-label', for: 'setting-api-key' }, 'API key ', keyState),
      key,
      llm.api_key_set ? h('label', { class: 'check small' }, removeKey, ' Remove the saved key') : null,
      h('span', { class: 'field-help' }, 'Hosted services need one; local servers usually do not. Stored in config.toml (readable by you only) and never shown again.'),
      envNote(settings, 'llm.api_key'),
    );
    const modelField = h(
      'div',
      { class: 'field' },
      h('label', { class: 'field-label', for: 'setting-model' }, 'Model'),
      h('div', { class: 'input-with-btn' }, model, h('button', { type: 'button', class: 'btn', id: 'load-models', onclick: loadModels }, icon('refresh'), h('span', {}, 'Models'))),
      options,
      modelList,
      envNote(settings, 'llm.model'),
    );
    const detailFields = h('div', { class: 'provider-fields' }, urlField, modelField, keyField, h('label', { class: 'check' }, vision, ' The model understands images (journal photos get descriptions)'));

    const sync = () => {
      const p = providers.find((x) => x.id === provider.value);
      detailFields.hidden = !p;
      if (!p) return;
      keyField.hidden = !p.needs_key;
      url.placeholder = p.default_url;
      clear(modelList);
    };
    provider.addEventListener('change', () => {
      const p = providers.find((x) => x.id === provider.value);
      if (p && provider.value !== llm.provider) url.value = p.default_url;
      sync();
    });
    sync();

    async function loadModels() {
      clear(modelList).append(spinner('Asking the provider…'));
      clear(options);
      if (provider.value !== (llm.provider || '') || url.value !== (llm.url || '')) {
        clear(modelList).append(h('p', { class: 'alert alert-info' }, 'Save the provider settings first; the list comes from the saved provider.'));
        return;
      }
      try {
        const r = await get('/api/models/available');
        clear(modelList);
        if (!r.models.length) modelList.append(h('p', { class: 'muted small' }, 'The provider lists no models.'));
        for (const m of r.models) {
          options.append(h('option', { value: m.name }));
          modelList.append(
            h(
              'button',
              {
                type: 'button',
                class: `chip ${m.name === model.value ? 'active' : ''}`,
                onclick: (e) => {
                  model.value = m.name;
                  for (const c of modelList.querySelectorAll('.chip')) c.classList.toggle('active', c === e.currentTarget);
                },
              },
              m.name,
            ),
          );
        }
      } catch (e) {
        clear(modelList).append(h('p', { class: 'alert alert-error', id: 'models-error' }, e.message));
      }
    }

    const save = h('button', { type: 'submit', class: 'btn btn-primary', id: 'save-provider' }, 'Save provider');
    const form = h(
      'form',
      { class: 'card settings-card', id: 'provider-form' },
      h('div', { class: 'card-head' }, h('h2', {}, 'AI provider'), h('p', { class: 'muted small' }, 'Kioku talks to a chat model you choose: local (llama.cpp, Ollama, LM Studio) or hosted.')),
      h('label', { class: 'field' }, h('span', { class: 'field-label' }, 'Provider'), provider, envNote(settings, 'llm.provider')),
      detailFields,
      h('div', { class: 'form-actions' }, save),
    );
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      const patch = { provider: provider.value || 'none' };
      if (provider.value) {
        patch.url = url.value.trim();
        patch.model = model.value.trim();
        patch.vision = vision.checked;
        const p = providers.find((x) => x.id === provider.value);
        if (p?.needs_key) {
          if (removeKey.checked) patch.api_key = '';
          else if (key.value) patch.api_key = key.value;
        }
      }
      save.disabled = true;
      try {
        settings = await put('/api/settings', { llm: patch });
        toast('Provider saved.', 'ok');
        render();
        app.refreshShell();
      } catch (err) {
        toast(err.message, 'error');
        save.disabled = false;
      }
    });
    return form;
  }

  function companionCard() {
    const c = settings.companion || {};
    const suggestions = h('input', { type: 'checkbox', id: 'setting-suggestions', class: 'switch-input', checked: c.suggestions, role: 'switch' });
    const persona = h('select', { id: 'setting-persona' }, (settings.personas || []).map((p) => h('option', { value: p.id, selected: p.id === c.persona }, p.name || p.id)));
    const saveCompanion = async (patch, message) => {
      try {
        settings = await put('/api/settings', { companion: patch });
        toast(message, 'ok');
      } catch (e) {
        toast(e.message, 'error');
        render();
      }
    };
    suggestions.addEventListener('change', () => saveCompanion({ suggestions: suggestions.checked }, suggestions.checked ? 'Suggestions on: the companion may propose memories.' : 'Suggestions off.'));
    persona.addEventListener('change', () => saveCompanion({ persona: persona.value }, 'Persona saved.'));
    return h(
      'section',
      { class: 'card settings-card' },
      h('div', { class: 'card-head' }, h('h2', {}, 'Companion')),
      h(
        'label',
        { class: 'switch-row', for: 'setting-suggestions' },
        h('div', {}, h('span', { class: 'field-label' }, 'AI memory suggestions'), h('span', { class: 'field-help' }, 'While you chat, the companion proposes things worth remembering. They wait in Suggestions until you approve them. Off by default.')),
        suggestions,
        h('span', { class: 'switch', 'aria-hidden': 'true' }),
      ),
      envNote(settings, 'companion.suggestions'),
      h('label', { class: 'field' }, h('span', { class: 'field-label' }, 'Persona'), persona, h('span', { class: 'field-help' }, 'Who you are talking to: their voice and manner. Saved as soon as you pick one.'), envNote(settings, 'companion.persona')),
    );
  }
}
