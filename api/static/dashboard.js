// The run dashboard (operator): the runs, a form to start one, and the selected run live from its event stream.

import { api, artifactImage, blobUrl, clearProblem, showProblem, streamEvents } from './api.js';
import { $, fmtClock, fmtCost, fmtNumber, fmtSeconds, fmtWhen, h, replace, sleep, statusBadge } from './dom.js';

const ACTIVE = new Set(['queued', 'running', 'cancelling']);
const TERMINAL = new Set(['finished', 'failed', 'cancelled']);
const REFRESH_MS = 400;  // at most one status read per this interval, however fast events arrive

const state = {
  visible: false,
  runId: null,
  run: null,
  follow: null,         // AbortController of the event stream
  lastRefresh: 0,
  refreshTimer: null,
  refreshing: false,
  refreshAgain: false,
  mediaKey: null,        // which artifacts the media section shows (rebuilt only when they change)
  mediaCheck: null,
  events: 0,
};

// --- the runs list and the start form ---------------------------------------------------------------------------

export async function refreshRuns() {
  if (!state.visible) return;
  const list = $('#runs');
  try {
    const runs = await api('/series?limit=50');
    replace(list, runs.length ? runs.map(runItem) : h('li', { class: 'empty' }, 'No runs yet: start one above.'));
  } catch (err) {
    replace(list, h('li', { class: 'empty' }, `Runs could not be read: ${err.message}`));
  }
}

function runItem(run) {
  return h('li', {},
    h('a', {
      href: `#/runs/${encodeURIComponent(run.id)}`, class: `run-item${run.id === state.runId ? ' selected' : ''}`,
      'data-testid': 'run-item', dataset: { runId: run.id, status: run.status },
    },
    h('span', { class: 'run-item-title' }, run.title || run.logline),
    h('span', { class: 'run-item-meta' }, statusBadge(run.status), h('span', {}, fmtWhen(run.created_at)))));
}

function formValue(id) {
  const raw = $(id).value.trim();
  if (raw === '') return undefined;
  const n = Number(raw);
  return Number.isFinite(n) ? n : raw;  // the API names what is wrong with a value that is not a number
}

export function initForm() {
  const form = $('#new-run');
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const box = $('#new-run-error');
    clearProblem(box);
    const body = {
      logline: $('#logline').value,
      episodes: formValue('#episodes'),
      seconds_per_episode: formValue('#seconds'),
      seed: formValue('#seed'),
      checkpoints: { bible: $('#cp-bible').checked, scripts: $('#cp-scripts').checked, shots: $('#cp-shots').checked },
    };
    const genre = $('#genre').value.trim();
    if (genre) body.genre = genre;
    const button = $('#start-run');
    button.disabled = true;
    try {
      const created = await api('/series', { method: 'POST', body });
      location.hash = `#/runs/${encodeURIComponent(created.id)}`;
      refreshRuns();
    } catch (err) {
      showProblem(box, err, 'The run was not started');
    } finally {
      button.disabled = false;
    }
  });
}

// --- the selected run ------------------------------------------------------------------------------------------

export function show(runId) {
  state.visible = true;
  refreshRuns();
  if (!runId) {
    stopFollowing();
    state.runId = null;
    replace($('#run-detail'), h('div', { class: 'card empty-state' },
      h('h2', {}, 'No run selected'),
      h('p', {}, 'Pick a run on the left, or start one from a logline. Progress appears here live.')));
    return;
  }
  if (runId !== state.runId) {
    stopFollowing();
    state.runId = runId;
    state.run = null;
    state.mediaKey = null;
    state.events = 0;
    buildSkeleton();
  }
  for (const a of document.querySelectorAll('#runs .run-item')) a.classList.toggle('selected', a.dataset.runId === runId);
  refresh();
  if (!state.follow) follow(runId);
}

export function hide() {
  state.visible = false;
  stopFollowing();
}

function stopFollowing() {
  if (state.follow) state.follow.abort();
  state.follow = null;
  clearTimeout(state.refreshTimer);
  state.refreshTimer = null;
  setStream('off');
}

function setStream(mode) {
  const el = $('#stream-state');
  if (!el) return;
  el.dataset.mode = mode;
  el.textContent = { live: `live · ${state.events} events`, off: 'not following', retry: 'reconnecting…',
    ended: `stream ended · ${state.events} events` }[mode];
}

async function follow(runId) {
  const control = new AbortController();
  state.follow = control;
  let last = 0;
  while (!control.signal.aborted) {
    let ended = false;
    try {
      await streamEvents(`/series/${encodeURIComponent(runId)}/events`, {
        signal: control.signal, lastEventId: last,
        onOpen: () => setStream('live'),
        onEvent: (event) => {
          if (event.id && /^\d+$/.test(event.id)) last = Number(event.id);
          if (event.event === 'status') ended = true;
          state.events += 1;
          setStream('live');
          scheduleRefresh();
        },
      });
    } catch (err) {
      if (control.signal.aborted) return;
      if (err.status && err.status < 500) {  // a refused key or an unknown run: retrying will not help
        showRunProblem(err, 'The event stream was refused');
        setStream('off');
        if (state.follow === control) state.follow = null;
        return;
      }
    }
    if (control.signal.aborted) return;
    if (ended) {  // the run ended: one last read, and the stream is done
      setStream('ended');
      scheduleRefresh();
      refreshRuns();
      if (state.follow === control) state.follow = null;
      return;
    }
    setStream('retry');
    await sleep(1500);
  }
}

function scheduleRefresh() {
  if (state.refreshTimer) return;
  const wait = Math.max(0, state.lastRefresh + REFRESH_MS - Date.now());
  state.refreshTimer = setTimeout(() => {
    state.refreshTimer = null;
    refresh();
  }, wait);
}

async function refresh() {
  if (state.refreshing) {
    state.refreshAgain = true;
    return;
  }
  const runId = state.runId;
  if (!runId) return;
  state.refreshing = true;
  state.lastRefresh = Date.now();
  try {
    const run = await api(`/series/${encodeURIComponent(runId)}`);
    if (runId !== state.runId) return;
    const before = state.run;
    state.run = run;
    render(run);
    const listed = document.querySelector(`#runs .run-item[data-run-id="${CSS.escape(run.id)}"]`);
    if ((before && before.status !== run.status) || (listed && listed.dataset.status !== run.status)) refreshRuns();
  } catch (err) {
    if (runId === state.runId) showRunProblem(err, 'The run could not be read');
  } finally {
    state.refreshing = false;
    if (state.refreshAgain) {
      state.refreshAgain = false;
      scheduleRefresh();
    }
  }
}

function showRunProblem(err, title) {
  const box = $('#run-error');
  if (!box) return;
  showProblem(box, err, title);
  box.dataset.source = 'api';
}

function card(title, id, ...body) {
  return h('section', { class: 'card', 'aria-labelledby': `${id}-title` },
    h('h3', { id: `${id}-title` }, title), h('div', { id }, body));
}

function buildSkeleton() {
  const detail = $('#run-detail');
  replace(detail,
    h('section', { class: 'card run-head' },
      h('div', { class: 'run-head-text' },
        h('h2', { id: 'run-title' }, 'Loading…'),
        h('p', { class: 'logline', id: 'run-logline' }),
        h('p', { class: 'meta', id: 'run-meta' })),
      h('div', { class: 'run-head-state' },
        h('div', { class: 'state-line' }, h('span', { id: 'run-status-slot' }), h('span', { id: 'stream-state' })),
        h('div', { class: 'stage-now' }, 'Now: ', h('strong', { id: 'run-stage' }, '—')),
        h('div', { class: 'actions' },
          h('a', { id: 'open-review', class: 'button primary', hidden: true, 'data-testid': 'open-review' },
            'Open the waiting review'),
          h('button', { id: 'cancel-run', type: 'button', class: 'danger', onclick: () => control('cancel') },
            'Cancel'),
          h('button', { id: 'resume-run', type: 'button', onclick: () => control('resume') }, 'Resume'))),
      h('div', { id: 'run-error', class: 'problem', role: 'alert', hidden: true })),
    h('section', { id: 'media', class: 'card media', hidden: true }),
    h('div', { class: 'stats' },
      card('Working now', 'run-working'),
      card('Tokens and cost so far', 'run-figures')),
    h('div', { class: 'two-col' },
      card('Timeline', 'run-timeline'),
      card('Shots per episode', 'run-episodes')),
    card('Log', 'run-log'));
  setStream('off');
}

async function control(action) {
  const run = state.run;
  if (!run) return;
  const box = $('#run-error');
  clearProblem(box);
  try {
    await api(`/series/${encodeURIComponent(run.id)}/${action}`, { method: 'POST' });
    await refresh();
    refreshRuns();
    if (action === 'resume' && !state.follow) follow(run.id);
  } catch (err) {
    showRunProblem(err, action === 'cancel' ? 'The run was not cancelled' : 'The run was not resumed');
  }
}

function render(run) {
  $('#run-title').textContent = run.title || 'Untitled series (the director has not named it yet)';
  $('#run-logline').textContent = run.request?.logline || '';
  const req = run.request || {};
  const checkpoints = Object.entries(req.checkpoints || {}).filter(([, on]) => on).map(([k]) => k);
  $('#run-meta').textContent = [
    req.genre, `${req.episodes} episode${req.episodes === 1 ? '' : 's'} × ${req.seconds_per_episode} s`,
    `seed ${req.seed ?? 0}`, `pauses for: ${checkpoints.length ? checkpoints.join(', ') : 'nothing'}`,
    `started ${fmtWhen(run.created_at)}`, `id ${run.id}`,
  ].filter(Boolean).join(' · ');
  replace($('#run-status-slot'), statusBadge(run.status, { id: 'run-status', 'data-testid': 'run-status' }));
  $('#run-stage').textContent = run.stage || (run.status === 'queued' ? 'waiting for a worker' : '—');

  const review = $('#open-review');
  review.hidden = !run.review;
  if (run.review) review.href = `#/reviews/${encodeURIComponent(run.review)}`;
  $('#cancel-run').disabled = !(ACTIVE.has(run.status) || run.status === 'waiting_review') || run.status === 'cancelling';
  $('#resume-run').disabled = !(run.status === 'cancelled' || run.status === 'failed');
  const box = $('#run-error');
  if (run.error) {
    showProblem(box, { message: run.error }, 'The run failed');
    box.dataset.source = 'run';
  } else if (box.dataset.source === 'run') {  // resumed: the old failure no longer applies
    clearProblem(box);
    box.dataset.source = '';
  }

  renderWorking(run);
  renderFigures(run);
  renderTimeline(run);
  renderEpisodes(run);
  renderLog(run);
  checkMedia(run);
}

function renderWorking(run) {
  const w = run.working;
  const rows = w ? [['Agent', w.agent || w.stage], ['Call', w.stage], ['Model', w.model], ['Backend', w.backend]]
    : [['Agent', run.status === 'waiting_review' ? 'paused: a person reviews' : TERMINAL.has(run.status) ? `none (${run.status})` : 'none yet']];
  if (!w && run.summary) rows.length = 0;
  const s = run.summary;
  $('#run-working-title').textContent = s ? 'Summary' : 'Working now';
  if (s) {
    const pct = (x) => (typeof x === 'number' ? `${Math.round(x * 100)}%` : '—');
    rows.push(['Length', (s.episode_seconds || []).map((x) => fmtSeconds(x)).join(', ') || '—'],
      ['Usable', `${pct(s.first_pass_usable_rate)} first pass, ${pct(s.final_usable_rate)} final`],
      ['Takes', `${s.takes ?? '—'} for ${s.shots ?? '—'} shots (${fmtNumber(s.attempts_per_shot)} per shot)`],
      ['To people', String(s.shots_to_humans ?? 0)],
      ['Wall time', fmtSeconds(s.wall_seconds)]);
  }
  replace($('#run-working'), h('dl', { class: 'kv' }, rows.map(([k, v]) => [h('dt', {}, k), h('dd', {}, v ?? '—')])));
}

function renderFigures(run) {
  const f = run.figures || {};
  const items = [['Tokens', fmtNumber(f.tokens)], ['Text calls', fmtNumber(f.text_calls)], ['Renders', fmtNumber(f.renders)],
    ['CPU', fmtSeconds(f.cpu_seconds)], ['GPU', fmtSeconds(f.gpu_seconds)], ['Cost', fmtCost(f.cost_usd)]];
  replace($('#run-figures'), h('div', { class: 'figures' },
    items.map(([k, v]) => h('div', { class: 'figure', 'data-testid': `figure-${k.toLowerCase().replace(' ', '-')}` },
      h('span', { class: 'figure-value' }, v), h('span', { class: 'figure-label' }, k)))));
}

function renderTimeline(run) {
  const spans = run.timeline || [];
  const el = $('#run-timeline');
  if (!spans.length) {
    replace(el, h('p', { class: 'empty' }, 'Nothing has started yet.'));
    return;
  }
  const live = ACTIVE.has(run.status);
  const now = Math.max(Date.now() / 1000, ...spans.map((s) => s.started));
  const t0 = Math.min(...spans.map((s) => s.started));
  const ends = spans.map((s) => (s.seconds !== null ? s.started + s.seconds : live ? now : s.started));
  const span = Math.max(0.001, Math.max(...ends) - t0);
  replace(el, h('ol', { class: 'timeline' }, spans.map((s, i) => {
    const running = s.seconds === null;
    const seconds = running ? (live ? Math.max(0, now - s.started) : null) : s.seconds;
    const left = ((s.started - t0) / span) * 100;
    const width = Math.max(0.8, ((ends[i] - s.started) / span) * 100);
    return h('li', { class: `tl-row${running ? ' running' : ''}`, 'data-testid': 'timeline-row', dataset: { stage: s.stage } },
      h('span', { class: 'tl-stage' }, s.stage, s.episode !== null ? h('span', { class: 'tl-ep' }, ` ep ${s.episode}`) : null),
      h('span', { class: 'tl-track' }, h('span', { class: `tl-bar stage-${s.stage}`, style: `left:${left.toFixed(2)}%;width:${Math.min(width, 100 - left).toFixed(2)}%` })),
      h('span', { class: 'tl-secs' }, running ? (live ? `${fmtSeconds(seconds)} …` : 'stopped') : fmtSeconds(seconds)));
  })));
}

function renderEpisodes(run) {
  const eps = run.episodes || [];
  replace($('#run-episodes'), h('table', { class: 'table', 'data-testid': 'episodes-table' },
    h('thead', {}, h('tr', {}, [['Episode', ''], ['Shots', 'shots planned'], ['Passed', 'takes that passed QC'], ['Retried', 'takes that were retries'],
      ['Flagged', 'shots QC could not fix (sent to people)'], ['Cut', 'episode assembled']].map(([t, title]) => h('th', { title }, t)))),
    h('tbody', {}, eps.map((e) => h('tr', { dataset: { episode: e.episode } },
      h('td', {}, String(e.episode)), h('td', {}, String(e.shots)), h('td', {}, String(e.passed)),
      h('td', {}, String(e.retried)), h('td', { class: e.flagged ? 'warn' : '' }, String(e.flagged)),
      h('td', {}, e.assembled ? 'yes' : '—'))))));
}

function renderLog(run) {
  const el = $('#run-log');
  const stick = el.scrollHeight - el.scrollTop - el.clientHeight < 24;
  replace(el, h('ol', { class: 'log' }, (run.log || []).map((l) =>
    h('li', { class: /failed|error/.test(l.text) ? 'bad' : '' }, h('time', {}, fmtClock(l.ts)), h('span', {}, l.text)))));
  el.classList.add('log-box');
  if (stick) el.scrollTop = el.scrollHeight;
}

// --- the finished episodes: video and contact sheet --------------------------------------------------------------

function checkMedia(run) {
  const assembled = (run.episodes || []).filter((e) => e.assembled).length;
  const key = `${run.id}:${assembled}:${run.status}`;
  if (!assembled || key === state.mediaCheck) return;
  state.mediaCheck = key;
  loadMedia(run.id);
}

async function loadMedia(runId) {
  let artifacts;
  try {
    artifacts = await api(`/series/${encodeURIComponent(runId)}/artifacts`);
  } catch (err) {
    showRunProblem(err, 'The files could not be listed');
    return;
  }
  if (runId !== state.runId) return;
  const byPath = new Map(artifacts.map((a) => [a.path, a]));
  const videos = artifacts.filter((a) => /^episodes\/\d+\/episode\.mp4$/.test(a.path));
  const key = videos.map((v) => `${v.path}:${v.bytes}`).join('|');
  if (key === state.mediaKey) return;
  state.mediaKey = key;
  const section = $('#media');
  section.hidden = !videos.length;
  const files = artifacts.filter((a) => !/\/(takes|audio)\//.test(a.path) && !a.path.endsWith('.wav'));
  replace(section,
    h('h3', {}, videos.length === 1 ? 'The episode' : 'The episodes'),
    h('div', { class: 'episodes-media' }, videos.map((v) => {
      const dir = v.path.replace(/episode\.mp4$/, '');
      const number = Number(dir.split('/')[1]);
      const video = h('video', { controls: true, preload: 'metadata', playsinline: true, 'data-testid': 'episode-video',
        dataset: { episode: number } });
      blobUrl(runId, v.path, v.bytes).then((url) => { video.src = url; }, (err) => showRunProblem(err, 'The video could not be loaded'));
      const sheet = byPath.get(`${dir}contact_sheet.png`);
      return h('div', { class: 'episode-media', dataset: { episode: number } },
        h('figure', { class: 'video' }, video, h('figcaption', {}, `Episode ${number}`)),
        sheet ? contactSheet(runId, sheet.path, number) : null);
    })),
    h('details', { class: 'files' }, h('summary', {}, `Files (${files.length} shown; takes and audio left out)`),
      h('ul', {}, files.map((f) => h('li', {}, h('button', { type: 'button', class: 'link', onclick: () => download(runId, f.path) }, f.path),
        h('span', { class: 'muted' }, ` ${fmtNumber(f.bytes)} bytes`))))));
}

function contactSheet(runId, path, number) {
  const link = h('a', { target: '_blank', rel: 'noopener', title: 'Open at full size' },
    artifactImage(runId, path, { 'data-testid': 'contact-sheet', alt: `Contact sheet of episode ${number}` }));
  blobUrl(runId, path).then((url) => { link.href = url; }, () => {});
  return h('figure', { class: 'sheet' }, link, h('figcaption', {}, 'Contact sheet · click for full size'));
}

async function download(runId, path) {
  try {
    const url = await blobUrl(runId, path);
    const a = h('a', { href: url, download: path.split('/').pop() });
    document.body.append(a);
    a.click();
    a.remove();
  } catch (err) {
    showRunProblem(err, `${path} could not be downloaded`);
  }
}

// running stages count up between events
setInterval(() => {
  if (state.visible && state.run && ACTIVE.has(state.run.status) && $('#run-timeline')) renderTimeline(state.run);
}, 1000);
