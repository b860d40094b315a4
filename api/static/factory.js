// The factory-wide figures (all tenants: runs by state, shots committed, reuse, retries, queue depth per backend,
// machine time, cost) from GET /factory, the JSON twin of the Prometheus /metrics. Polled while the runs page shows.

import { api } from './api.js';
import { $, fmtCost, fmtNumber, fmtSeconds, h, replace } from './dom.js';

const POLL_MS = 5000;
let timer = null;

function figure(key, label, value, title) {
  return h('div', { class: 'figure', 'data-testid': `factory-${key}`, title },
    h('span', { class: 'figure-value' }, value), h('span', { class: 'figure-label' }, label));
}

function render(f) {
  const runs = f.runs || {};
  const queue = Object.entries(f.queue || {});
  const waiting = queue.reduce((n, [, q]) => n + q.waiting, 0);
  const busy = queue.reduce((n, [, q]) => n + q.running, 0);
  const perRole = queue.map(([role, q]) => `${role}: ${q.running} running, ${q.waiting} waiting`).join('\n');
  replace($('#factory-figures'), h('div', { class: 'figures' },
    figure('running', 'Running', fmtNumber((runs.running || 0) + (runs.cancelling || 0))),
    figure('queued', 'Queued', fmtNumber(runs.queued || 0)),
    figure('waiting', 'Waiting review', fmtNumber(runs.waiting_review || 0)),
    figure('finished', 'Finished', fmtNumber(runs.finished || 0)),
    figure('failed', 'Failed', fmtNumber(runs.failed || 0)),
    figure('cancelled', 'Cancelled', fmtNumber(runs.cancelled || 0)),
    figure('shots', 'Shots committed', fmtNumber(f.shots_committed), `${f.takes_committed} takes committed`),
    figure('reused', 'Takes reused', fmtNumber(f.takes_reused)),
    figure('retries', 'Retries', fmtNumber(f.retries_qc + f.retries_claim),
      `${f.retries_qc} after QC, ${f.retries_claim} after a lost worker`),
    figure('queue', 'Queue', `${busy} / ${waiting}`, `running / waiting per backend role\n${perRole}`),
    figure('cpu', 'CPU', fmtSeconds(f.cpu_seconds)),
    figure('gpu', 'GPU', fmtSeconds(f.gpu_seconds)),
    figure('cost', 'Cost', fmtCost(f.cost_usd))));
}

async function refresh() {
  try {
    render(await api('/factory'));
  } catch (err) {
    replace($('#factory-figures'), h('p', { class: 'empty' }, `The factory figures could not be read: ${err.message}`));
  }
}

export function show() {
  if (timer) return;
  refresh();
  timer = setInterval(() => { if (!document.hidden) refresh(); }, POLL_MS);
}

export function hide() {
  clearInterval(timer);
  timer = null;
}
