// dramafactory web UI: the key, the pages (#/runs/ID, #/reviews/ID) and the problems every page shares.

import { getKey, on, setKey } from './api.js';
import * as dashboard from './dashboard.js';
import { $, h, replace } from './dom.js';
import * as factory from './factory.js';
import * as reviews from './reviews.js';

const COUNT_POLL_MS = 4000;

function banner(message, kind = 'error') {
  const el = $('#global-error');
  if (!message) {
    el.hidden = true;
    el.replaceChildren();
    delete el.dataset.kind;
    return;
  }
  el.hidden = false;
  el.dataset.kind = kind;
  replace(el, message);
}

on('auth', (err) => {
  const key = getKey();
  banner([h('strong', {}, key ? `The API refused this key (HTTP ${err.status}): ` : `An API key is needed (HTTP ${err.status}): `),
    err.message, '. ', h('span', {}, 'Enter a valid key above.')], 'auth');
  $('#key-state').textContent = key ? 'refused' : 'no key';
  $('#key-state').dataset.state = 'bad';
});

on('ok', () => {
  if ($('#global-error').dataset.kind === 'auth') banner(null);
  $('#key-state').textContent = getKey() ? 'key accepted' : 'no key needed';
  $('#key-state').dataset.state = 'ok';
});

function route() {
  const [, page, id] = location.hash.replace(/^#/, '').split('/');
  const current = page === 'reviews' ? 'reviews' : 'runs';
  const ident = id ? decodeURIComponent(id) : null;
  $('#page-runs').hidden = current !== 'runs';
  $('#page-reviews').hidden = current !== 'reviews';
  for (const a of document.querySelectorAll('nav a')) a.classList.toggle('active', a.id === `nav-${current}`);
  if (current === 'runs') {
    reviews.hide();
    dashboard.show(ident);
    factory.show();
  } else {
    dashboard.hide();
    factory.hide();
    reviews.show(ident);
  }
  document.title = current === 'runs' ? 'dramafactory · runs' : 'dramafactory · reviews';
}

function restart() {
  // a new key: everything is read again with it (the pages forget what the old key showed)
  dashboard.hide();
  reviews.hide();
  factory.hide();
  for (const id of ['#runs', '#reviews']) replace($(id));
  const target = location.hash.startsWith('#/reviews') ? '#/reviews' : '#/runs';
  if (location.hash === target) route();
  else location.hash = target;  // hashchange routes
  reviews.pollCount();
}

reviews.onCount((n) => {
  const badge = $('#review-count');
  badge.hidden = n === 0;
  badge.textContent = String(n);
});

function init() {
  const input = $('#api-key');
  input.value = getKey();
  $('#key-form').addEventListener('submit', (event) => {
    event.preventDefault();
    setKey(input.value.trim());
    $('#key-state').textContent = 'checking…';
    delete $('#key-state').dataset.state;
    banner(null);
    restart();
  });
  dashboard.initForm();
  window.addEventListener('hashchange', route);
  route();
  reviews.pollCount();
  setInterval(() => {
    if (!document.hidden) reviews.pollCount();
  }, COUNT_POLL_MS);
  fetch('/health').then((res) => res.json()).then((health) => {  // public: says whether keys are needed
    if (health.auth && !getKey()) {
      banner([h('strong', {}, 'An API key is needed: '), 'this service takes `Authorization: Bearer KEY`. Enter your key above.'], 'auth');
    }
  }, () => banner('The service cannot be reached.'));
}

init();
