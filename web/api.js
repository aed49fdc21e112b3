// The HTTP API client: the token, JSON calls, the chat event stream, uploads
// with progress, and media as blob: URLs. Every /api call sends
// Authorization: Bearer <token>; a 401 clears the token and calls the
// handler set with onUnauthorized() (the app shows the token screen).

const TOKEN_KEY = 'kioku.token';

let unauthorizedHandler = () => {};

export class ApiError extends Error {
  constructor(message, status = 0, code = '') {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export function getToken() {
  return localStorage.getItem(TOKEN_KEY) || '';
}

export function setToken(token) {
  if (token) localStorage.setItem(TOKEN_KEY, token.trim());
  else localStorage.removeItem(TOKEN_KEY);
}

export function onUnauthorized(handler) {
  unauthorizedHandler = handler;
}

// Takes "#token=..." from the address (it never reaches the server: browsers
// do not send the fragment), keeps it, and removes it from the URL and history.
export function takeTokenFromLocation() {
  const hash = location.hash.replace(/^#/, '');
  if (!hash.includes('token=')) return false;
  const params = new URLSearchParams(hash);
  const token = params.get('token');
  if (token) setToken(token);
  history.replaceState(null, '', location.pathname + location.search + '#/chat');
  return Boolean(token);
}

function authHeaders(extra = {}) {
  return { Authorization: `Bearer ${getToken()}`, ...extra };
}

function unauthorized(message) {
  setToken('');
  unauthorizedHandler(message);
  return new ApiError(message || 'The API token was not accepted.', 401, 'unauthorized');
}

async function errorFrom(res) {
  let message = `${res.status} ${res.statusText}`;
  let code = '';
  try {
    const body = await res.json();
    if (body && body.error) message = body.error;
    if (body && body.code) code = body.code;
  } catch {
    /* not JSON */
  }
  if (res.status === 401) return unauthorized(message);
  return new ApiError(message, res.status, code);
}

export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined || v === null || v === '') continue;
    q.set(k, String(v));
  }
  const s = q.toString();
  return s ? `?${s}` : '';
}

export async function api(method, path, body) {
  const init = { method, headers: authHeaders() };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, init);
  } catch (e) {
    throw new ApiError(`Kioku is not reachable (${e.message}). Is \`kioku serve\` running?`, 0, 'network');
  }
  if (!res.ok) throw await errorFrom(res);
  if (res.status === 204) return {};
  return res.json();
}

export const get = (path) => api('GET', path);
export const post = (path, body) => api('POST', path, body);
export const put = (path, body) => api('PUT', path, body);
export const del = (path) => api('DELETE', path);

// One chat turn as Server-Sent Events. handlers: onDelta(text),
// onDone({reply, used_memories, queued, notice, ...}), onError(ApiError).
export async function streamChat(message, { onDelta, onDone, onError, signal } = {}) {
  let res;
  try {
    res = await fetch('/api/chat', {
      method: 'POST',
      headers: authHeaders({ 'Content-Type': 'application/json', Accept: 'text/event-stream' }),
      body: JSON.stringify({ message }),
      signal,
    });
  } catch (e) {
    onError?.(new ApiError(`Kioku is not reachable (${e.message}).`, 0, 'network'));
    return;
  }
  if (!res.ok) {
    onError?.(await errorFrom(res));
    return;
  }
  const type = res.headers.get('Content-Type') || '';
  if (!type.includes('text/event-stream')) {
    const body = await res.json();
    onDone?.(body);
    return;
  }
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  let finished = false;
  const dispatch = (frame) => {
    let event = 'message';
    const data = [];
    for (const line of frame.split('\n')) {
      if (line.startsWith('event:')) event = line.slice(6).trim();
      else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
    }
    if (!data.length) return;
    let payload;
    try {
      payload = JSON.parse(data.join('\n'));
    } catch {
      return;
    }
    if (event === 'delta') onDelta?.(payload.text || '');
    else if (event === 'done') {
      finished = true;
      onDone?.(payload);
    } else if (event === 'error') {
      finished = true;
      onError?.(new ApiError(payload.error || 'The reply failed.', 0, payload.code || 'error'));
    }
  };
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true }).replace(/\r\n?/g, '\n');
      let end;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        dispatch(buffer.slice(0, end));
        buffer = buffer.slice(end + 2);
      }
    }
    if (buffer.trim()) dispatch(buffer);
  } catch (e) {
    if (!finished) onError?.(new ApiError(`The stream broke off (${e.message}).`, 0, 'network'));
    return;
  }
  if (!finished) onError?.(new ApiError('The reply ended without an answer.', 0, 'incomplete'));
}

// Multipart upload through XMLHttpRequest, for upload progress.
// onProgress(fraction 0..1). Resolves with the JSON body; rejects with ApiError.
export function uploadFile(path, file, fields = {}, onProgress = () => {}, fieldName = 'file') {
  return new Promise((resolve, reject) => {
    const form = new FormData();
    for (const [k, v] of Object.entries(fields)) if (v !== undefined && v !== '') form.append(k, v);
    form.append(fieldName, file, file.name);
    const xhr = new XMLHttpRequest();
    xhr.open('POST', path);
    xhr.setRequestHeader('Authorization', `Bearer ${getToken()}`);
    xhr.responseType = 'json';
    xhr.upload.addEventListener('progress', (e) => {
      if (e.lengthComputable) onProgress(e.loaded / e.total);
    });
    xhr.addEventListener('load', () => {
      const body = xhr.response || {};
      if (xhr.status >= 200 && xhr.status < 300) {
        onProgress(1);
        resolve(body);
      } else if (xhr.status === 401) {
        reject(unauthorized(body.error));
      } else {
        reject(new ApiError(body.error || `Upload failed (${xhr.status})`, xhr.status, body.code || ''));
      }
    });
    xhr.addEventListener('error', () => reject(new ApiError('The upload could not reach Kioku.', 0, 'network')));
    xhr.addEventListener('abort', () => reject(new ApiError('The upload was cancelled.', 0, 'aborted')));
    xhr.send(form);
  });
}

// Media need the Bearer header, so <img src> cannot load them directly:
// fetch as a blob and hand out a blob: URL (cached per name).
const mediaCache = new Map();
export function mediaUrl(name) {
  if (!name) return Promise.reject(new ApiError('no media name'));
  if (!mediaCache.has(name)) {
    const p = fetch(`/api/media/${encodeURIComponent(name)}`, { headers: authHeaders() }).then(async (res) => {
      if (!res.ok) throw await errorFrom(res);
      return URL.createObjectURL(await res.blob());
    });
    p.catch(() => mediaCache.delete(name));
    mediaCache.set(name, p);
  }
  return mediaCache.get(name);
}
