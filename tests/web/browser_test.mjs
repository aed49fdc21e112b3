// The web app end to end in a real browser: Debian's chromium driven by
// playwright-core against `kioku serve` and a loopback OpenAI-compatible LLM
// server written here. Everything in the page is done through the UI (clicks
// and typing); the API is only used to seed a memory and a suggestion and to
// check what the UI did. Screenshots of every page go to KIOKU_ARTIFACTS.
//
// Environment (set by tests/web/CMakeLists.txt):
//   KIOKU_BINARY        the kioku executable
//   KIOKU_FIXTURES      the web_fixtures executable (writes the PDF and XLSX)
//   KIOKU_ARTIFACTS     where screenshots and logs go
//   KIOKU_NODE_MODULES  tests/node/node_modules (playwright-core)
// Exit 77 (skipped) only when chromium or playwright-core is not installed.

import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../..');
const CHROMIUM = process.env.KIOKU_CHROMIUM || '/usr/bin/chromium';
const NODE_MODULES = process.env.KIOKU_NODE_MODULES || path.join(root, 'tests/node/node_modules');
const BINARY = process.env.KIOKU_BINARY || path.join(root, 'build/src/cli/kioku');
const FIXTURES = process.env.KIOKU_FIXTURES || path.join(root, 'build/tests/web/web_fixtures');
const ARTIFACTS = process.env.KIOKU_ARTIFACTS || path.join(root, 'test-artifacts/web');
const STEP_TIMEOUT = 10_000;

const run = promisify(execFile);
const started = Date.now();
const log = (...a) => console.log(`[${((Date.now() - started) / 1000).toFixed(1).padStart(5)}s]`, ...a);

// --- skip only when the browser tooling is absent ---
if (!fs.existsSync(CHROMIUM)) {
  console.log(`SKIP: ${CHROMIUM} is not installed (apt-get install chromium)`);
  process.exit(77);
}
if (!fs.existsSync(path.join(NODE_MODULES, 'playwright-core'))) {
  console.log(`SKIP: playwright-core is not installed in ${NODE_MODULES} (npm ci in tests/node)`);
  process.exit(77);
}
for (const [name, file] of [
  ['KIOKU_BINARY', BINARY],
  ['KIOKU_FIXTURES', FIXTURES],
]) {
  if (!fs.existsSync(file)) {
    console.error(`FAIL: ${name} ${file} does not exist (build the targets kioku and web_fixtures)`);
    process.exit(1);
  }
}
const require = createRequire(import.meta.url);
const { chromium } = require(path.join(NODE_MODULES, 'playwright-core'));

class TestFailure extends Error {}
function check(cond, message) {
  if (!cond) throw new TestFailure(message);
}
// Runs one named step so a failure says where it happened.
async function step(name, fn) {
  log(`- ${name}`);
  try {
    return await fn();
  } catch (e) {
    e.message = `step "${name}" failed: ${e.message}`;
    throw e;
  }
}

// --- the loopback LLM: OpenAI-compatible, answers from the prompt ---
const llmRequests = [];
function textOf(content) {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) return content.map((p) => (typeof p === 'string' ? p : p.text || '')).join('\n');
  return '';
}
// The chat reply quotes the first memory the context builder put in the
// prompt, so the test can tell the reply is grounded in memory.
function replyFor(messages) {
  const all = messages.map((m) => textOf(m.content)).join('\n');
  if (/journal article/i.test(all)) {
    const notes = (textOf(messages[messages.length - 1].content).match(/^\[[^\]]+\] (.*)$/gm) || []).map((l) => l.replace(/^\[[^\]]+\] /, ''));
    return JSON.stringify({
      title: 'A quiet walk by the canal',
      article: `## Morning\n\nI went out early. ${notes.join(' ')}\n\n**What stayed with me:**\n\n- the *stillness* of the water\n- the heron, patient as ever\n\n> Small moments are worth keeping.\n`,
      tags: ['walk', 'canal', 'birds'],
    });
  }
  const section = all.split('## Memories related to this message')[1] || all.split('## What you know about the user')[1] || '';
  const line = (section.match(/^- \[[^\]]*\] (.*)$/m) || [])[1];
  if (!line) return "I don't have anything about that in your memories yet.";
  return `From what you told me: **${line.trim()}** Anything else you'd like me to remember?`;
}

function startLlm() {
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', async () => {
      const url = req.url.replace(/\/+$/, '');
      if (req.method === 'GET' && url.endsWith('/models')) {
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify({ object: 'list', data: [{ id: 'tiny-test-model', object: 'model' }, { id: 'tiny-test-model-large', object: 'model' }] }));
        return;
      }
      if (req.method === 'POST' && url.endsWith('/chat/completions')) {
        let j;
        try {
          j = JSON.parse(body);
        } catch {
          res.writeHead(400).end('{"error":{"message":"bad json"}}');
          return;
        }
        llmRequests.push(j);
        // The agent loop: asked to remember a name, the model edits the human
        // core memory block with a tool call, then answers once the result is back.
        const msgs = j.messages || [];
        const lastUser = [...msgs].reverse().find((m) => m.role === 'user');
        const offered = (j.tools || []).some((t) => t.function?.name === 'core_memory_append');
        if (offered && lastUser && /call me Aiko/.test(lastUser.content) && !msgs.some((m) => m.role === 'tool')) {
          const call = { index: 0, id: 'call_aiko', type: 'function', function: { name: 'core_memory_append', arguments: JSON.stringify({ label: 'human', content: 'Prefers to be called Aiko' }) } };
          if (!j.stream) {
            res.writeHead(200, { 'Content-Type': 'application/json' });
            res.end(JSON.stringify({ choices: [{ index: 0, message: { role: 'assistant', content: null, tool_calls: [call] }, finish_reason: 'tool_calls' }] }));
            return;
          }
          res.writeHead(200, { 'Content-Type': 'text/event-stream' });
          res.write(`data: ${JSON.stringify({ choices: [{ index: 0, delta: { tool_calls: [call] } }] })}\n\n`);
          res.write(`data: ${JSON.stringify({ choices: [{ index: 0, delta: {}, finish_reason: 'tool_calls' }] })}\n\n`);
          res.end('data: [DONE]\n\n');
          return;
        }
        const reply = msgs.some((m) => m.role === 'tool' && /Aiko/.test(m.content)) ? 'Noted, Aiko. I will remember that.' : replyFor(msgs);
        if (!j.stream) {
          res.writeHead(200, { 'Content-Type': 'application/json' });
          res.end(JSON.stringify({ id: 'x', object: 'chat.completion', model: j.model, choices: [{ index: 0, message: { role: 'assistant', content: reply }, finish_reason: 'stop' }], usage: { prompt_tokens: 10, completion_tokens: 10 } }));
          return;
        }
        res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache' });
        const words = reply.split(/(?<= )/);
        const chunks = [];
        for (let i = 0; i < words.length; i += 3) chunks.push(words.slice(i, i + 3).join(''));
        for (const c of chunks) {
          res.write(`data: ${JSON.stringify({ choices: [{ index: 0, delta: { content: c } }] })}\n\n`);
          await new Promise((r) => setTimeout(r, 90)); // slow enough to see the stream in the page
        }
        res.write(`data: ${JSON.stringify({ choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] })}\n\n`);
        res.end('data: [DONE]\n\n');
        return;
      }
      res.writeHead(404, { 'Content-Type': 'application/json' }).end('{"error":{"message":"no such route"}}');
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

// --- kioku ---
function childEnv(dataDir) {
  const env = { ...process.env, KIOKU_HOME: dataDir };
  for (const k of Object.keys(env)) if (/^KIOKU_(LLM|EMBED|SUGGESTIONS|PERSONA|USER)/.test(k)) delete env[k];
  return env;
}

function configure(dataDir, llmPort) {
  const file = path.join(dataDir, 'config.toml');
  let toml = fs.readFileSync(file, 'utf8');
  // Hashing embedder: no model download, vectors made in process.
  const embed = /(\[embed\][^[]*?)provider\s*=\s*"[^"]*"/;
  check(embed.test(toml), 'config.toml written by kioku init has no [embed] provider line');
  toml = toml.replace(embed, '$1provider = "hashing"');
  check(/^\[llm\]\s*$/m.test(toml), 'config.toml written by kioku init has no [llm] table');
  toml = toml.replace(/^\[llm\]\s*$/m, `[llm]\nprovider = "openai"\nurl = "http://127.0.0.1:${llmPort}/v1"\nmodel = "tiny-test-model"`);
  fs.writeFileSync(file, toml);
}

function startServer(dataDir, logFile) {
  const child = spawn(BINARY, ['serve', '--data-dir', dataDir, '--port', '0', '--json', '--quiet'], { env: childEnv(dataDir), stdio: ['ignore', 'pipe', 'pipe'] });
  const errLog = fs.createWriteStream(logFile);
  child.stderr.pipe(errLog);
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new TestFailure(`kioku serve printed no address within 15 s (stdout: ${out})`)), 15_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new TestFailure(`kioku serve exited early with code ${code}; see ${logFile}`));
    });
    child.stdout.on('data', (d) => {
      out += d;
      const nl = out.indexOf('\n');
      if (nl < 0) return;
      clearTimeout(timer);
      try {
        const j = JSON.parse(out.slice(0, nl));
        resolve({ child, url: j.url, port: j.port });
      } catch {
        reject(new TestFailure(`kioku serve --json printed ${out.slice(0, nl)}`));
      }
    });
  });
}

async function stopServer(child) {
  if (!child || child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const t = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(t);
}

// --- main ---
let server;
let llm;
let browser;
let page;
let tmp;
let failed = false;
const pageErrors = [];

async function main() {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  for (const f of fs.readdirSync(ARTIFACTS)) if (/\.(png|log|txt)$/.test(f)) fs.rmSync(path.join(ARTIFACTS, f));
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'kioku-web-'));
  const dataDir = path.join(tmp, 'data');
  const docs = path.join(tmp, 'docs');

  await step('write the PDF and XLSX fixtures', () => run(FIXTURES, [docs]));
  const pdf = path.join(docs, 'field-notes.pdf');
  const xlsx = path.join(docs, 'garden-plan.xlsx');
  check(fs.existsSync(pdf) && fs.existsSync(xlsx), 'web_fixtures wrote no documents');

  llm = await startLlm();
  const llmPort = llm.address().port;
  await step('kioku init + config', async () => {
    await run(BINARY, ['init', '--data-dir', dataDir], { env: childEnv(dataDir) });
    configure(dataDir, llmPort);
  });
  let url;
  await step('kioku serve', async () => {
    const s = await startServer(dataDir, path.join(ARTIFACTS, 'server.log'));
    server = s.child;
    url = s.url;
  });
  const token = (await run(BINARY, ['token', '--data-dir', dataDir], { env: childEnv(dataDir) })).stdout.trim();
  check(/^\S{16,}$/.test(token), `kioku token printed "${token}"`);
  const base = url.replace(/\/$/, '');
  const api = async (method, p, body) => {
    const res = await fetch(base + p, { method, headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' }, body: body ? JSON.stringify(body) : undefined });
    const text = await res.text();
    let json = null;
    try {
      json = JSON.parse(text);
    } catch {
      /* not JSON */
    }
    return { status: res.status, body: json, text };
  };

  const seeded = await api('POST', '/api/memory', { content: 'My sister Hana lives in Osaka and teaches piano.', tags: ['family'], importance: 0.8 });
  check(seeded.status === 201, `seeding a memory answered ${seeded.status}: ${seeded.text}`);

  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
  });
  const context = await browser.newContext({ viewport: { width: 1320, height: 880 }, deviceScaleFactor: 1, colorScheme: 'light' });
  page = await context.newPage();
  page.setDefaultTimeout(STEP_TIMEOUT);
  page.on('pageerror', (e) => pageErrors.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    const t = m.text();
    if (m.type() === 'error' && !/status of 4\d\d|Failed to load resource/.test(t)) pageErrors.push(`console error: ${t}`);
    if (/Content[- ]Security[- ]Policy/i.test(t)) pageErrors.push(`CSP violation: ${t}`);
  });
  const shot = (name) => page.screenshot({ path: path.join(ARTIFACTS, name), fullPage: false });
  const nav = async (view) => {
    await page.click(`.nav a[data-view="${view}"]`);
    await page.waitForSelector(`.view-${view}`);
  };

  await step('open the app with #token= and see the token leave the address', async () => {
    await page.goto(`${url}#token=${token}`);
    await page.waitForSelector('#shell:not([hidden])');
    check(!page.url().includes(token), `the token is still in the address: ${page.url()}`);
    const stored = await page.evaluate(() => localStorage.getItem('kioku.token'));
    check(stored === token, 'the token was not kept in localStorage');
    await page.waitForSelector('.view-chat #chat-input');
  });

  await step('chat: a streamed, memory-grounded reply with the used memory beside it', async () => {
    await page.fill('#chat-input', 'Where does my sister Hana live?');
    await page.press('#chat-input', 'Enter');
    // Streaming: text shows while the reply is still pending.
    await page.waitForSelector('.msg-assistant.pending .msg-text p', { timeout: STEP_TIMEOUT });
    const done = page.locator('.msg-assistant:not(.pending)').last();
    await done.waitFor();
    const text = await done.locator('.msg-text').innerText();
    check(/Osaka/.test(text), `the reply does not mention the memory: "${text}"`);
    const used = await done.locator('.used-memories .used-item').allInnerTexts();
    check(used.some((u) => /Hana lives in Osaka/.test(u)), `the used memories beside the reply are ${JSON.stringify(used)}`);
    const streamed = llmRequests.some((r) => r.stream === true);
    check(streamed, 'the LLM was never asked for a streamed reply');
    const local = await page.evaluate(() => JSON.parse(localStorage.getItem('kioku.chat.v1') || '[]'));
    check(local.some((m) => m.role === 'assistant' && /Osaka/.test(m.text)), 'the chat was not kept in localStorage');
    const hist = await api('GET', '/api/chat/history');
    check(hist.body.items.some((m) => m.role === 'assistant' && /Osaka/.test(m.content)), 'the reply is not in the server history');
  });

  await step('chat: history survives a reload', async () => {
    await page.reload();
    await page.waitForSelector('.msg-assistant .msg-text >> text=Osaka');
    await shot('chat.png');
  });

  await step('chat: the agent edits core memory and the reply links to the new version', async () => {
    await page.fill('#chat-input', 'Please call me Aiko from now on');
    await page.press('#chat-input', 'Enter');
    const link = page.locator('.msg-assistant:not(.pending) .memory-edited-link').last();
    await link.waitFor({ timeout: STEP_TIMEOUT });
    const label = await link.innerText();
    check(label === 'human v2', `the "memory edited" link says "${label}"`);
    const human = await api('GET', '/api/core/human');
    check(human.body.value === 'Prefers to be called Aiko' && human.body.version === 2, `the human block is ${JSON.stringify(human.body)}`);
    check(llmRequests.some((r) => (r.messages || []).some((m) => m.role === 'tool')), 'the tool result never went back to the model');
    await link.click();
    await page.waitForSelector('.view-core #core-value');
    check((await page.inputValue('#core-value')).includes('Aiko'), 'the core page does not show the edited block');
    await page.waitForSelector('#core-diff .diff-add >> text=Prefers to be called Aiko');
    check(await page.locator('.core-version.active[data-version="2"]').count() === 1, 'version 2 is not the one shown');
  });

  await step('core memory: edit a block, read the history and diff, restore an old version', async () => {
    await page.fill('#core-value', 'Prefers to be called Aiko\nLikes green tea');
    await page.waitForSelector('#core-counter >> text=/41 \\/ 2048/');
    await page.click('#core-save');
    await page.waitForSelector('.core-version.active[data-version="3"]');
    await page.waitForSelector('#core-diff .diff-add >> text=Likes green tea');
    const hist = await api('GET', '/api/core/human/history');
    check(hist.body.items.length === 3 && hist.body.items[1].author === 'agent' && hist.body.items[2].author === 'user',
          `the history is ${JSON.stringify(hist.body.items.map((v) => [v.version, v.author]))}`);
    await shot('core-memory.png');
    await page.click('.core-version[data-version="2"] button');
    await page.waitForSelector('#core-restore');
    await page.click('#core-restore');
    await page.waitForSelector('.core-version.active[data-version="4"]');
    const now = await api('GET', '/api/core/human');
    check(now.body.value === 'Prefers to be called Aiko' && now.body.version === 4, `after restoring: ${JSON.stringify(now.body)}`);
    // Another block from the list.
    await page.click('.core-block[data-label="system"]');
    await page.waitForSelector('.view-core #core-readonly:checked');
    await nav('chat');
  });

  await step('upload the PDF with the button by the chat input', async () => {
    await page.setInputFiles('#chat-upload-input', pdf);
    await page.waitForSelector('.msg-note >> text=/Imported field-notes\\.pdf: \\d+ memor/');
  });

  await step('upload the XLSX on the import page', async () => {
    await nav('upload');
    await page.setInputFiles('#upload-input', xlsx);
    const row = page.locator('#upload-results .upload-row.ok');
    await row.waitFor();
    const t = await row.innerText();
    check(/garden-plan\.xlsx/.test(t) && /added/.test(t), `the upload result says "${t}"`);
    await page.waitForTimeout(300); // let the row's entry animation finish
    await shot('upload.png');
  });

  let memoryId;
  await step('memories: add one through the editor', async () => {
    await nav('memories');
    await page.waitForSelector('#memory-list .memory-card');
    await page.click('#add-memory');
    await page.fill('#memory-content', 'Our neighbour’s cat Mochi loves the blue cushion.');
    await page.fill('#memory-tags', 'pets, home');
    await page.click('dialog button[value="save"]');
    const card = page.locator('#memory-list .memory-card', { hasText: 'Mochi loves the blue cushion' });
    await card.waitFor();
    memoryId = await card.getAttribute('data-id');
    check(memoryId, 'the new memory card has no id');
    const r = await api('GET', `/api/memory/${memoryId}`);
    check(r.status === 200 && r.body.tags.includes('pets'), `the API does not have the new memory: ${r.text}`);
  });

  await step('memories: edit content, tags and importance', async () => {
    const card = page.locator(`#memory-list .memory-card[data-id="${memoryId}"]`);
    await card.locator('button.edit').click();
    await page.fill('#memory-content', 'Our neighbour’s cat Mochi loves the green cushion.');
    await page.fill('#memory-tags', 'pets, neighbours');
    await page.locator('#memory-importance').evaluate((el) => {
      el.value = '0.9';
      el.dispatchEvent(new Event('input', { bubbles: true }));
    });
    await page.click('dialog button[value="save"]');
    await page.waitForSelector(`#memory-list .memory-card[data-id="${memoryId}"] >> text=green cushion`);
    await page.waitForSelector(`#memory-list .memory-card[data-id="${memoryId}"] >> text=#neighbours`);
    const r = await api('GET', `/api/memory/${memoryId}`);
    check(/green cushion/.test(r.body.content), `content not saved: ${r.body.content}`);
    check(JSON.stringify(r.body.tags) === '["pets","neighbours"]', `tags not saved: ${JSON.stringify(r.body.tags)}`);
    check(Math.abs(r.body.importance - 0.9) < 1e-6, `importance not saved: ${r.body.importance}`);
  });

  await step('memories: find the PDF and XLSX text by search', async () => {
    await page.fill('#memory-search', 'quokka');
    await page.waitForSelector('#memory-list .memory-card >> text=/quokka colony on Rottnest/');
    const pdfCard = await page.locator('#memory-list .memory-card', { hasText: 'quokka' }).first().innerText();
    check(/field-notes\.pdf/.test(pdfCard), `the PDF result does not show its source file: ${pdfCard}`);
    await page.fill('#memory-search', 'heliotrope');
    await page.waitForSelector('#memory-list .memory-card >> text=/Marigold heliotrope/');
    const xlsxCard = await page.locator('#memory-list .memory-card', { hasText: 'heliotrope' }).first().innerText();
    check(/garden-plan\.xlsx/.test(xlsxCard), `the XLSX result does not show its source file: ${xlsxCard}`);
    await page.fill('#memory-search', '');
    await page.waitForSelector(`#memory-list .memory-card[data-id="${memoryId}"]`);
    await page.waitForTimeout(250); // the "show more" check runs a frame later
    await shot('memories.png');
  });

  await step('memories: delete through the confirm dialog', async () => {
    await page.locator(`#memory-list .memory-card[data-id="${memoryId}"] button.delete`).click();
    await page.click('dialog button[value="confirm"]');
    await page.locator(`#memory-list .memory-card[data-id="${memoryId}"]`).waitFor({ state: 'detached' });
    const r = await api('GET', `/api/memory/${memoryId}`);
    check(r.status === 404, `the deleted memory still answers ${r.status}`);
  });

  await step('suggestions: approve one', async () => {
    const s = await api('POST', '/api/memory/suggest', { content: 'You enjoy early morning swims at the lake.', tags: ['habits'], importance: 0.6 });
    check(s.status === 201, `suggest answered ${s.status}: ${s.text}`);
    await api('POST', '/api/memory/suggest', { content: 'Your favourite tea is genmaicha.', tags: ['preferences'], importance: 0.4 });
    await nav('suggestions');
    const card = page.locator(`#suggestion-list .memory-card[data-id="${s.body.id}"]`);
    await card.waitFor();
    await shot('suggestions.png');
    await card.locator('button.approve').click();
    await card.waitFor({ state: 'detached' });
    const r = await api('GET', `/api/memory/${s.body.id}`);
    check(r.status === 200 && r.body.approved === true, `the suggestion is not approved: ${r.text}`);
  });

  await step('journal: start, add text, finish, read the article', async () => {
    await nav('journal');
    await page.click('#journal-start');
    await page.fill('#journal-text', 'Walked along the canal at dawn and watched a grey heron fishing.');
    await page.click('#journal-add');
    await page.waitForSelector('#journal-entries .entry >> text=grey heron');
    const st = await api('GET', '/api/journal/status');
    check(st.body.open && st.body.entries.length === 1, `journal status after add: ${st.text}`);
    await page.click('#journal-done');
    await page.waitForSelector('#journal-reader:not([hidden]) .reader-title');
    const title = await page.locator('#journal-reader .reader-title').innerText();
    check(/canal/i.test(title), `the article title is "${title}"`);
    check((await page.locator('#journal-reader .markdown strong').count()) > 0, 'the article markdown was not rendered (no <strong>)');
    check((await page.locator('#journal-reader .markdown li').count()) === 2, 'the article list was not rendered');
    await page.waitForSelector('#journal-articles .article-item');
    // A second session stays open, so the screenshot shows both halves.
    await page.click('#journal-start');
    await page.fill('#journal-text', 'Tea with Hana in the afternoon; she played the new piano piece.');
    await page.click('#journal-add');
    await page.waitForSelector('#journal-entries .entry >> text=new piano piece');
    await shot('journal.png');
  });

  await step('settings: models from the provider; the suggestion toggle persists', async () => {
    await nav('settings');
    check((await page.locator('#setting-provider').inputValue()) === 'openai', 'the provider select does not show openai');
    check(!(await page.locator('#setting-suggestions').isChecked()), 'suggestions should be off by default');
    await page.click('#load-models');
    await page.waitForSelector('#model-list .chip >> text=tiny-test-model-large');
    const saved = page.waitForResponse((r) => r.url().endsWith('/api/settings') && r.request().method() === 'PUT');
    await page.click('label.switch-row .switch');
    check((await saved).status() === 200, 'saving the suggestion toggle failed');
    await page.reload();
    await page.waitForSelector('.view-settings #setting-suggestions');
    check(await page.locator('#setting-suggestions').isChecked(), 'the suggestion toggle did not persist across a reload');
    const r = await api('GET', '/api/settings');
    check(r.body.companion.suggestions === true, `GET /api/settings says suggestions=${r.body.companion.suggestions}`);
    check(!('api_key' in r.body.llm), 'GET /api/settings returned the api key field');
    await page.click('#load-models');
    await page.waitForSelector('#model-list .chip.active >> text="tiny-test-model"');
    await shot('settings.png');
  });

  await step('graph: entities drawn with Cytoscape, facts change with the date', async () => {
    for (const [content, at] of [
      ['Kenji Sato moved to Osaka in 2019.', '2020-01-05T10:00:00Z'],
      ['Kenji Sato moved from Osaka to Kyoto in April 2024.', '2024-04-10T10:00:00Z'],
    ]) {
      const r = await api('POST', '/api/memory', { content, event_time: at });
      check(r.status === 201, `adding "${content}" answered ${r.status}: ${r.text}`);
    }
    const m = await run(BINARY, ['maintain', '--hourly', '--json', '--data-dir', dataDir], { env: childEnv(dataDir) });
    check(JSON.parse(m.stdout).memories_extracted >= 2, `kioku maintain --hourly: ${m.stdout}`);
    await nav('graph');
    await page.waitForSelector('#graph-facts >> text=Kenji Sato lives in Kyoto');
    await page.waitForSelector('#graph-canvas canvas');
    const nodes = await page.evaluate(() => window.kiokuGraph.nodes().map((n) => n.data('label')));
    check(['Kenji Sato', 'Osaka', 'Kyoto'].every((n) => nodes.includes(n)), `graph nodes: ${nodes}`);
    const edges = await page.evaluate(() => window.kiokuGraph.edges().length);
    check(edges >= 1, `graph edges: ${edges}`);
    await shot('graph.png');
    await page.fill('#graph-date', '2023-06-01');
    await page.dispatchEvent('#graph-date', 'change');
    await page.waitForSelector('#graph-facts >> text=Kenji Sato lives in Osaka');
    const facts = await page.locator('#graph-facts').innerText();
    check(!/lives in Kyoto/.test(facts), `Kyoto is not true in 2023: ${facts}`);
    await page.fill('#graph-date', '2018-06-01');
    await page.dispatchEvent('#graph-date', 'change');
    await page.waitForFunction(() => !/lives in Osaka/.test(document.querySelector('.graph-side').innerText));
    await shot('graph-2018.png');
  });

  await step('status: counts, queues, provider reachable', async () => {
    await nav('status');
    await page.waitForSelector('#status-provider strong >> text="Reachable"');
    const types = await page.locator('#status-types').innerText();
    check(/document/i.test(types) && /note/i.test(types), `counts by type: ${types}`);
    await page.waitForSelector('#status-queues >> text=Suggestions to review');
    // The background loop has run the scheduled upkeep at least once.
    await page.waitForSelector('#status-jobs >> text=Scheduled runs');
    await page.waitForSelector('#status-runs >> text=prune-jobs', { timeout: 40000 });
    await shot('status.png');
  });

  await step('profile: what Kioku learned is shown, corrected and erased', async () => {
    // A sad message is read (the lexicon: this model answers prose) and gets
    // a support strategy; "that helped" teaches it.
    const sad = await api('POST', '/api/chat', { message: 'I am so sad and lonely today' });
    check(sad.status === 200, `chat answered ${sad.status}: ${sad.text}`);
    check((await api('POST', '/api/chat', { message: 'thanks, that helped' })).status === 200, 'second chat failed');
    await nav('profile');
    await page.waitForSelector('#profile-current >> text=gratitude');
    const row = page.locator('.profile-strategy[data-key="sadness/listen_reflect"]');
    await row.waitFor();
    check(/→/.test(await row.locator('.profile-trail').innerText()), 'the strategy row shows no weight history');
    await shot('profile.png');
    // Correct a weight.
    await row.locator('input[type="number"]').fill('0.3');
    await row.locator('input[type="number"]').dispatchEvent('change');
    await page.waitForFunction(() => document.querySelector('.profile-strategy[data-key="sadness/listen_reflect"] input')?.value === '0.30');
    let doc = (await api('GET', '/api/profile')).body;
    check(doc.strategies.find((x) => x.emotion === 'sadness' && x.strategy === 'listen_reflect').weight === 0.3, 'the weight was not saved');
    // Correct an emotion reading.
    const first = sad.body.user_memory_id;
    await page.selectOption(`#profile-emotions select[data-message="${first}"]`, 'anger');
    await page.waitForSelector('#profile-emotions .profile-emotion >> text=user');
    doc = (await api('GET', '/api/profile')).body;
    check(doc.emotions.recent.some((r) => r.message_id === first && r.emotion === 'anger' && r.detector === 'user'), 'the correction was not saved');
    // Add a strategy by hand, then forget it.
    await page.selectOption('#profile-new-emotion', 'anxiety');
    await page.selectOption('#profile-new-strategy', 'practical_steps');
    await page.fill('#profile-new-weight', '0.9');
    await page.click('#profile-new-save');
    const added = page.locator('.profile-strategy[data-key="anxiety/practical_steps"]');
    await added.waitFor();
    await added.locator('button.forget').click();
    await added.waitFor({ state: 'detached' });
    // Erase everything (after a confirmation).
    page.once('dialog', (d) => d.accept());
    await page.click('#profile-erase-all');
    await page.waitForSelector('#profile-current >> text=Nothing read yet');
    doc = (await api('GET', '/api/profile')).body;
    check(doc.strategies.length === 0 && doc.emotions.recent.length === 0, 'erasing left something behind');
  });

  await step('dark mode renders (screenshots for review)', async () => {
    await page.emulateMedia({ colorScheme: 'dark' });
    await nav('chat');
    await page.waitForSelector('.msg-assistant');
    await shot('chat-dark.png');
    await nav('memories');
    await page.waitForSelector('#memory-list .memory-card');
    await shot('memories-dark.png');
    await page.emulateMedia({ colorScheme: 'light' });
  });

  await step('a wrong token leads back to the token screen; pasting the right one works', async () => {
    await page.evaluate(() => localStorage.setItem('kioku.token', 'not-the-token'));
    await page.reload();
    await page.waitForSelector('#auth:not([hidden])');
    await page.waitForSelector('#auth-error:not([hidden])');
    await shot('token.png');
    await page.fill('#auth-token', token);
    await page.click('#auth-form button[type="submit"]');
    await page.waitForSelector('#shell:not([hidden])');
  });

  await step('narrow screen layout', async () => {
    await page.setViewportSize({ width: 420, height: 860 });
    await nav('chat');
    await page.waitForSelector('.msg-assistant');
    await shot('chat-mobile.png');
  });

  check(pageErrors.length === 0, `the page reported errors:\n  ${pageErrors.join('\n  ')}`);
}

try {
  await main();
  log(`PASS (${((Date.now() - started) / 1000).toFixed(1)} s); screenshots in ${ARTIFACTS}`);
} catch (e) {
  failed = true;
  console.error(`FAIL: ${e.message}`);
  if (!(e instanceof TestFailure) && e.stack) console.error(e.stack);
  if (pageErrors.length) console.error(`page errors:\n  ${pageErrors.join('\n  ')}`);
  if (page) await page.screenshot({ path: path.join(ARTIFACTS, 'failure.png'), timeout: 5000 }).catch((err) => console.error(`no failure screenshot: ${err.message.split('\n')[0]}`));
} finally {
  if (browser) await browser.close().catch(() => {});
  await stopServer(server).catch(() => {});
  if (llm) llm.close();
  if (tmp && !failed) fs.rmSync(tmp, { recursive: true, force: true });
  else if (tmp) console.error(`data kept in ${tmp}`);
}
process.exit(failed ? 1 : 0);
