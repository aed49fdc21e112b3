// Kioku's MCP server driven by the official TypeScript SDK client
// (@modelcontextprotocol/sdk 1.x): `kioku mcp` over stdio and /mcp on
// `kioku serve` over Streamable HTTP. Every tool is listed and called; the
// HTTP endpoint refuses a wrong token (401), a foreign Origin (403) and an
// unknown MCP-Protocol-Version (400), answers notifications with 202 and GET
// with 405.
//
// Environment (tests/mcp/CMakeLists.txt): KIOKU_BINARY, KIOKU_NODE_MODULES.
// Exit 77 (skipped) only when the SDK is not installed (npm ci in tests/node).

import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL, fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../..');
const NODE_MODULES = process.env.KIOKU_NODE_MODULES || path.join(root, 'tests/node/node_modules');
const BINARY = process.env.KIOKU_BINARY || path.join(root, 'build/src/cli/kioku');
const sdkDir = path.join(NODE_MODULES, '@modelcontextprotocol/sdk');
if (!fs.existsSync(sdkDir)) {
  console.log(`SKIP: @modelcontextprotocol/sdk is not installed in ${NODE_MODULES} (npm ci in tests/node)`);
  process.exit(77);
}
if (!fs.existsSync(BINARY)) {
  console.error(`FAIL: KIOKU_BINARY ${BINARY} does not exist`);
  process.exit(1);
}
const sdk = (p) => import(pathToFileURL(path.join(sdkDir, 'dist/esm', p)).href);
const { Client } = await sdk('client/index.js');
const { StdioClientTransport } = await sdk('client/stdio.js');
const { StreamableHTTPClientTransport } = await sdk('client/streamableHttp.js');

let failures = 0;
function check(cond, message) {
  if (!cond) {
    failures++;
    console.error(`FAIL: ${message}`);
  }
}
const text = (r) => (r.content || []).map((c) => c.text || '').join('\n');

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'kioku-mcp-'));
const dataDir = path.join(tmp, 'data');
const env = { ...process.env, KIOKU_HOME: dataDir, KIOKU_EMBED_PROVIDER: 'none' };
for (const k of Object.keys(env)) if (/^KIOKU_(LLM|SUGGESTIONS|USER)/.test(k)) delete env[k];
execFileSync(BINARY, ['init'], { env });

const EXPECTED_TOOLS = [
  'core_memory_append', 'core_memory_replace', 'memory_insert', 'memory_rethink', 'archival_memory_insert',
  'archival_memory_search', 'conversation_search', 'add_memory', 'search_memory', 'get_memory', 'update_memory',
  'delete_memory', 'list_journals',
];

// Lists and calls every tool through client; tag keeps the two transports' data apart.
async function exerciseEveryTool(client, tag) {
  const { tools } = await client.listTools();
  const names = tools.map((t) => t.name).sort();
  check(JSON.stringify(names) === JSON.stringify([...EXPECTED_TOOLS].sort()), `${tag}: tools/list gave ${names}`);
  for (const t of tools) check(t.inputSchema && t.inputSchema.type === 'object', `${tag}: ${t.name} has no object inputSchema`);
  const call = async (name, args) => {
    const r = await client.callTool({ name, arguments: args });
    return r;
  };
  const ok = async (name, args) => {
    const r = await call(name, args);
    check(!r.isError, `${tag}: ${name} failed: ${text(r)}`);
    return r;
  };
  const seen = new Set();
  const track = (name) => seen.add(name);

  track('add_memory');
  const added = await ok('add_memory', { content: `${tag}: Hana lives in Osaka and teaches piano`, tags: ['family'] });
  const id = added.structuredContent?.id || JSON.parse(JSON.stringify(added.structuredContent || {})).id;
  check(typeof id === 'string' && id.length > 0, `${tag}: add_memory returned no id (${text(added)})`);
  track('search_memory');
  const found = await ok('search_memory', { query: 'Osaka piano' });
  check(text(found).includes('Hana lives in Osaka'), `${tag}: search_memory did not find the memory: ${text(found)}`);
  track('get_memory');
  check(text(await ok('get_memory', { id })).includes('teaches piano'), `${tag}: get_memory`);
  track('update_memory');
  await ok('update_memory', { id, content: `${tag}: Hana lives in Osaka and teaches violin` });
  check(text(await ok('get_memory', { id })).includes('violin'), `${tag}: update_memory did not change the content`);
  track('archival_memory_insert');
  await ok('archival_memory_insert', { content: `${tag}: Aiko's favourite tea is genmaicha`, tags: ['tea'] });
  track('archival_memory_search');
  const tea = await ok('archival_memory_search', { query: 'genmaicha', top_k: 3 });
  check(text(tea).includes('genmaicha'), `${tag}: archival_memory_search: ${text(tea)}`);
  track('conversation_search');
  await ok('conversation_search', { query: 'anything', limit: 5 });
  track('list_journals');
  check(text(await ok('list_journals', {})).includes('No journals'), `${tag}: list_journals`);
  track('core_memory_append');
  const appended = await ok('core_memory_append', { label: 'human', content: `${tag}: Name is Aiko` });
  check(text(appended).includes('version'), `${tag}: core_memory_append: ${text(appended)}`);
  track('core_memory_replace');
  await ok('core_memory_replace', { label: 'human', old_content: `${tag}: Name is Aiko`, new_content: `${tag}: Name is Aiko Tanaka` });
  track('memory_insert');
  await ok('memory_insert', { label: 'persona', new_str: `${tag}: I speak softly`, insert_line: -1 });
  track('memory_rethink');
  await ok('memory_rethink', { label: 'persona', new_memory: `${tag}: I speak softly and remember everything` });
  track('delete_memory');
  await ok('delete_memory', { id });
  const gone = await call('get_memory', { id });
  check(gone.isError === true, `${tag}: get_memory after delete_memory is not an error`);
  for (const name of EXPECTED_TOOLS) check(seen.has(name), `${tag}: ${name} was not called`);

  // Failures come back as isError results the model can act on.
  const tooBig = await call('memory_rethink', { label: 'system', new_memory: 'x' });
  check(tooBig.isError === true && /read-only/.test(text(tooBig)), `${tag}: editing the read-only system block: ${text(tooBig)}`);
  const over = await call('memory_rethink', { label: 'human', new_memory: 'y'.repeat(3000) });
  check(over.isError === true && /limit of 2048/.test(text(over)), `${tag}: an edit past the limit: ${text(over)}`);
  let unknownRejected = false;
  try {
    const r = await call('no_such_tool', {});
    unknownRejected = r.isError === true;
  } catch (e) {
    unknownRejected = /unknown tool/i.test(String(e));
  }
  check(unknownRejected, `${tag}: an unknown tool was accepted`);

  // Resources: the core blocks and journals.
  const { resources } = await client.listResources();
  const uris = resources.map((r) => r.uri);
  check(uris.includes('kioku://core/human') && uris.includes('kioku://core/persona') && uris.includes('kioku://core/system'),
        `${tag}: resources/list gave ${uris}`);
  const human = await client.readResource({ uri: 'kioku://core/human' });
  check(human.contents[0].text.includes(`${tag}: Name is Aiko Tanaka`), `${tag}: resources/read human: ${JSON.stringify(human)}`);
  await client.ping();
}

async function stdio() {
  const transport = new StdioClientTransport({ command: BINARY, args: ['mcp'], env, stderr: 'pipe' });
  const client = new Client({ name: 'kioku-test', version: '1.0.0' });
  await client.connect(transport);
  check(client.getServerVersion()?.name === 'kioku', `stdio: serverInfo ${JSON.stringify(client.getServerVersion())}`);
  await exerciseEveryTool(client, 'stdio');
  await client.close();
  console.log('stdio: ok');
}

function startServer() {
  const child = spawn(BINARY, ['serve', '--port', '0', '--json', '--quiet'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`kioku serve printed no address (${out})`)), 15_000);
    child.stdout.on('data', (d) => {
      out += d;
      const nl = out.indexOf('\n');
      if (nl < 0) return;
      clearTimeout(timer);
      resolve({ child, port: JSON.parse(out.slice(0, nl)).port });
    });
    child.on('exit', (code) => reject(new Error(`kioku serve exited with ${code}`)));
  });
}

async function http() {
  const { child, port } = await startServer();
  const token = execFileSync(BINARY, ['token'], { env }).toString().trim();
  const url = new URL(`http://127.0.0.1:${port}/mcp`);
  try {
    const client = new Client({ name: 'kioku-test', version: '1.0.0' });
    const transport = new StreamableHTTPClientTransport(url, { requestInit: { headers: { Authorization: `Bearer ${token}` } } });
    await client.connect(transport);
    check(transport.protocolVersion === '2025-11-25' || client.getServerVersion()?.name === 'kioku', 'http: initialize');
    await exerciseEveryTool(client, 'http');
    await client.close();

    // A wrong token: the SDK client cannot connect; the status is 401.
    let refused = '';
    try {
      const bad = new Client({ name: 'intruder', version: '1' });
      await bad.connect(new StreamableHTTPClientTransport(url, { requestInit: { headers: { Authorization: 'Bearer wrong' } } }));
    } catch (e) {
      refused = String(e);
    }
    check(/401|unauthori[sz]ed|wrong API token/i.test(refused), `http: a wrong token was not refused with 401 (${refused})`);
    const post = (headers, body) =>
      fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream', ...headers }, body: JSON.stringify(body) });
    const ping = { jsonrpc: '2.0', id: 1, method: 'ping' };
    const auth = { Authorization: `Bearer ${token}` };
    check((await post({ Authorization: 'Bearer wrong' }, ping)).status === 401, 'http: wrong token is not 401');
    check((await post({}, ping)).status === 401, 'http: no token is not 401');
    const foreign = await post({ ...auth, Origin: 'http://evil.example' }, ping);
    check(foreign.status === 403, `http: a foreign Origin got ${foreign.status}`);
    const sameOrigin = await post({ ...auth, Origin: `http://127.0.0.1:${port}` }, ping);
    check(sameOrigin.status === 200, `http: its own origin got ${sameOrigin.status}`);
    const badVersion = await post({ ...auth, 'MCP-Protocol-Version': '1900-01-01' }, ping);
    check(badVersion.status === 400, `http: an unknown MCP-Protocol-Version got ${badVersion.status}`);
    for (const v of ['2025-11-25', '2025-06-18', '2025-03-26']) {
      const r = await post({ ...auth, 'MCP-Protocol-Version': v }, ping);
      check(r.status === 200, `http: MCP-Protocol-Version ${v} got ${r.status}`);
    }
    const note = await post(auth, { jsonrpc: '2.0', method: 'notifications/initialized' });
    check(note.status === 202 && (await note.text()) === '', `http: a notification got ${note.status}`);
    const get = await fetch(url, { headers: { ...auth, Accept: 'text/event-stream' } });
    check(get.status === 405, `http: GET /mcp got ${get.status}`);
    const old = await post({ ...auth }, { jsonrpc: '2.0', id: 7, method: 'initialize', params: { protocolVersion: '2025-03-26', capabilities: {}, clientInfo: { name: 'old', version: '1' } } });
    check((await old.json()).result?.protocolVersion === '2025-03-26', 'http: 2025-03-26 was not negotiated');
    const sse = await post(auth, { jsonrpc: '2.0', id: 8, method: 'tools/call', params: { name: 'list_journals', arguments: {} } });
    check((sse.headers.get('content-type') || '').startsWith('text/event-stream'), 'http: tools/call did not answer with SSE');
    check((await sse.text()).includes('"id":8'), 'http: the SSE answer lacks the response');
    console.log('http: ok');
  } finally {
    child.kill('SIGTERM');
  }
}

const deadline = setTimeout(() => {
  console.error('FAIL: timed out');
  process.exit(1);
}, 90_000);
try {
  await stdio();
  await http();
} catch (e) {
  failures++;
  console.error(`FAIL: ${e.stack || e}`);
}
clearTimeout(deadline);
fs.rmSync(tmp, { recursive: true, force: true });
if (failures) {
  console.error(`${failures} check(s) failed`);
  process.exit(1);
}
console.log('mcp_sdk: all checks passed');
