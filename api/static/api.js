// The API client: the bearer key (kept in localStorage), JSON requests, API problems, the server-sent event stream
// read with fetch() (EventSource cannot send an Authorization header) and artifacts loaded as blob URLs (neither can
// <img> nor <video>).

import { h, replace } from './dom.js';

const KEY_STORAGE = 'dramafactory.apiKey';
const listeners = { auth: new Set(), ok: new Set() };

export function getKey() {
  return localStorage.getItem(KEY_STORAGE) || '';
}

export function setKey(key) {
  if (key) localStorage.setItem(KEY_STORAGE, key);
  else localStorage.removeItem(KEY_STORAGE);
  clearBlobs();
}

/** on('auth', fn(err)) when the API refuses the key; on('ok', fn()) when a request succeeds. */
export function on(kind, fn) {
  listeners[kind].add(fn);
}

function emit(kind, arg) {
  for (const fn of listeners[kind]) fn(arg);
}

function authHeaders(extra = {}) {
  const key = getKey();
  return key ? { ...extra, Authorization: `Bearer ${key}` } : { ...extra };
}

/** A 4xx/5xx from the API. `items` are {loc, msg} (a 422 names the field; other problems have no loc). */
export class ApiError extends Error {
  constructor(status, detail) {
    const items = problemItems(detail);
    super(items.map((i) => (i.loc ? `${i.loc}: ${i.msg}` : i.msg)).join('; ') || `HTTP ${status}`);
    this.status = status;
    this.detail = detail;
    this.items = items;
  }
}

function problemItems(detail) {
  if (Array.isArray(detail)) {
    return detail.map((d) => {
      const loc = Array.isArray(d.loc) ? d.loc.filter((part, i) => !(i === 0 && part === 'body')).join('.') : '';
      return { loc, msg: String(d.msg ?? JSON.stringify(d)).replace(/^Value error, /, '') };
    });
  }
  if (detail === null || detail === undefined || detail === '') return [];
  return [{ loc: '', msg: typeof detail === 'string' ? detail : JSON.stringify(detail) }];
}

async function toError(res) {
  let detail;
  try {
    const body = await res.json();
    detail = body && typeof body === 'object' && 'detail' in body ? body.detail : body;
  } catch {
    detail = res.statusText || `HTTP ${res.status}`;
  }
  const err = new ApiError(res.status, detail);
  if (res.status === 401 || res.status === 403) emit('auth', err);
  return err;
}

async function send(path, init) {
  try {
    return await fetch(path, { cache: 'no-store', ...init });
  } catch (err) {
    if (err.name === 'AbortError') throw err;
    throw new ApiError(0, `the service cannot be reached (${err.message})`);
  }
}

export async function api(path, { method = 'GET', body, signal } = {}) {
  const headers = authHeaders({ Accept: 'application/json' });
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await send(path, { method, headers, signal, body: body === undefined ? undefined : JSON.stringify(body) });
  if (!res.ok) throw await toError(res);
  emit('ok');
  const text = await res.text();
  return text ? JSON.parse(text) : null;
}

/** Read a server-sent event stream with fetch(): calls onEvent({event, data, id}) per event; resolves when the
 * server ends the stream. Abort it with `signal`. */
export async function streamEvents(path, { signal, lastEventId, onEvent, onOpen }) {
  const headers = authHeaders({ Accept: 'text/event-stream' });
  if (lastEventId) headers['Last-Event-ID'] = String(lastEventId);
  const res = await send(path, { headers, signal });
  if (!res.ok) throw await toError(res);
  emit('ok');
  if (onOpen) onOpen();
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  let event = { event: '', data: [], id: null };
  const line = (text) => {
    if (text === '') {  // a blank line ends an event
      if (event.data.length) onEvent({ event: event.event || 'message', data: event.data.join('\n'), id: event.id });
      event = { event: '', data: [], id: null };
      return;
    }
    if (text.startsWith(':')) return;  // a comment (keep-alive)
    const colon = text.indexOf(':');
    const field = colon < 0 ? text : text.slice(0, colon);
    let value = colon < 0 ? '' : text.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') event.event = value;
    else if (field === 'data') event.data.push(value);
    else if (field === 'id') event.id = value;
  };
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += value;
    let end;
    while ((end = buffer.indexOf('\n')) >= 0) {
      line(buffer.slice(0, end).replace(/\r$/, ''));
      buffer = buffer.slice(end + 1);
    }
  }
  if (buffer) line(buffer.replace(/\r$/, ''));
  line('');
}

// --- artifacts as blob URLs ---------------------------------------------------------------------------------------

const blobs = new Map();

export function artifactPath(runId, path) {
  return `/series/${encodeURIComponent(runId)}/artifacts/${path.split('/').map(encodeURIComponent).join('/')}`;
}

/** A blob: URL of a run's file, fetched once with the key (`version`, e.g. its size, refetches a changed file). */
export function blobUrl(runId, path, version = '') {
  const cacheKey = `${runId}/${path}#${version}`;
  if (!blobs.has(cacheKey)) {
    const promise = send(artifactPath(runId, path), { headers: authHeaders() }).then(async (res) => {
      if (!res.ok) throw await toError(res);
      return URL.createObjectURL(await res.blob());
    });
    promise.catch(() => blobs.delete(cacheKey));
    blobs.set(cacheKey, promise);
  }
  return blobs.get(cacheKey);
}

export function clearBlobs() {
  for (const promise of blobs.values()) promise.then((url) => URL.revokeObjectURL(url), () => {});
  blobs.clear();
}

/** An <img> of a run's file: a placeholder until the blob arrives, a readable note if it cannot be loaded. */
export function artifactImage(runId, path, attrs = {}) {
  const img = h('img', { alt: path, ...attrs });
  const frame = h('div', { class: 'img-frame loading' }, img);
  blobUrl(runId, path).then((url) => {
    img.src = url;
    frame.classList.remove('loading');
  }, (err) => {
    frame.classList.remove('loading');
    replace(frame, h('div', { class: 'img-missing' }, `could not load ${path}: ${err.message}`));
  });
  return frame;
}

/** An error box next to a form: the HTTP status and each problem, the field (loc) named. */
export function showProblem(box, err, title) {
  box.hidden = false;
  const status = err instanceof ApiError && err.status ? ` (HTTP ${err.status})` : '';
  const items = err instanceof ApiError ? err.items : [{ loc: '', msg: err.message || String(err) }];
  replace(box,
    h('strong', {}, `${title || 'The API refused this'}${status}`),
    h('ul', {}, items.map((i) => h('li', {}, i.loc ? [h('code', {}, i.loc), ' ', i.msg] : i.msg))));
}

export function clearProblem(box) {
  box.hidden = true;
  box.replaceChildren();
}
