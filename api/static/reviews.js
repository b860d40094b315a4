// The review page (reviewer): what waits for a person, shown by kind (bible, script, shots), and the decision.

import { api, artifactImage, clearProblem, showProblem } from './api.js';
import { $, fmtClock, fmtNumber, fmtWhen, h, replace } from './dom.js';

const POLL_MS = 1500;
const state = { visible: false, reviewId: null, review: null, titles: new Map(), timer: null, count: 0 };
const countListeners = new Set();

export function onCount(fn) {
  countListeners.add(fn);
}

function setCount(n) {
  state.count = n;
  for (const fn of countListeners) fn(n);
}

// --- the list ----------------------------------------------------------------------------------------------------

export async function pollCount() {
  try {
    setCount((await api('/reviews')).length);
  } catch {
    /* the key problem is shown by the banner */
  }
}

async function titles(reviews) {
  if (reviews.every((r) => state.titles.has(r.run_id))) return;
  try {
    for (const run of await api('/series?limit=500')) state.titles.set(run.id, run.title || run.logline);
  } catch {
    /* titles are a nicety; the list still shows */
  }
}

const KIND_LABEL = { bible: 'Series bible', script: 'Script', shots: 'Flagged shots' };

function reviewLabel(r) {
  const parts = [KIND_LABEL[r.kind] || r.kind];
  if (r.episode !== null && r.episode !== undefined) parts.push(`episode ${r.episode}`);
  if (r.kind === 'shots' && Array.isArray(r.payload?.shots)) {
    parts.push(`${r.payload.shots.length} shot${r.payload.shots.length === 1 ? '' : 's'}`);
  }
  return parts.join(' · ');
}

async function refreshList() {
  if (!state.visible) return;
  const list = $('#reviews');
  let reviews;
  try {
    reviews = await api('/reviews');
  } catch (err) {
    replace(list, h('li', { class: 'empty' }, `Reviews could not be read: ${err.message}`));
    return;
  }
  setCount(reviews.length);
  await titles(reviews);
  replace(list, reviews.length ? reviews.map((r) => h('li', {},
    h('a', {
      href: `#/reviews/${encodeURIComponent(r.id)}`, class: `review-item${r.id === state.reviewId ? ' selected' : ''}`,
      'data-testid': 'review-item', dataset: { reviewId: r.id, kind: r.kind, runId: r.run_id },
    },
    h('span', { class: `kind kind-${r.kind}` }, reviewLabel(r)),
    h('span', { class: 'review-item-title' }, state.titles.get(r.run_id) || r.run_id),
    h('span', { class: 'muted' }, `waiting since ${fmtWhen(r.created_at)}`))))
    : h('li', { class: 'empty' }, 'Nothing waits for you. Runs pause here after the bible, each script or for shots QC could not fix, where their checkpoints ask for it.'));
}

function poll() {
  clearTimeout(state.timer);
  if (!state.visible) return;
  refreshList().finally(() => {
    if (state.visible) state.timer = setTimeout(poll, POLL_MS);
  });
}

// --- one review --------------------------------------------------------------------------------------------------

export function show(reviewId) {
  state.visible = true;
  poll();
  if (!reviewId) {
    state.reviewId = null;
    replace($('#review-detail'), h('div', { class: 'card empty-state' },
      h('h2', {}, 'Pick a review'),
      h('p', {}, 'The run waits until you approve, edit or reject what its agents made.')));
    return;
  }
  if (reviewId === state.reviewId && state.review) return;
  state.reviewId = reviewId;
  state.review = null;
  replace($('#review-detail'), h('div', { class: 'card' }, h('p', { class: 'muted' }, 'Loading the review…')));
  load(reviewId);
}

export function hide() {
  state.visible = false;
  clearTimeout(state.timer);
}

async function load(reviewId) {
  let review;
  try {
    review = await api(`/reviews/${encodeURIComponent(reviewId)}`);
  } catch (err) {
    const box = h('div', { class: 'problem', role: 'alert' });
    showProblem(box, err, 'The review could not be read');
    replace($('#review-detail'), h('div', { class: 'card' }, box));
    return;
  }
  if (reviewId !== state.reviewId) return;
  state.review = review;
  await titles([review]);
  render(review);
}

function render(review) {
  const runTitle = state.titles.get(review.run_id) || review.run_id;
  const head = h('section', { class: 'card review-head' },
    h('div', {},
      h('p', { class: 'eyebrow' }, reviewLabel(review)),
      h('h2', { id: 'review-title' }, runTitle),
      h('p', { class: 'meta' }, `waiting since ${fmtWhen(review.created_at)} · `,
        h('a', { href: `#/runs/${encodeURIComponent(review.run_id)}` }, 'watch the run'))),
    h('span', { class: `badge review-${review.status}` }, review.status));
  const detail = $('#review-detail');
  detail.dataset.kind = review.kind;
  if (review.kind === 'shots') {
    replace(detail, head, shotsView(review));
  } else if (review.kind === 'bible' || review.kind === 'script') {
    const artifact = review.payload?.[review.kind];
    const reading = review.kind === 'bible' ? bibleView(artifact) : scriptView(artifact);
    const content = h('div', { class: 'review-content', id: 'review-content' }, reading);
    replace(detail, head, h('div', { class: 'review-grid' }, content, decisionPanel(review, content, reading)));
  } else {
    replace(detail, head, h('section', { class: 'card' }, h('pre', { class: 'json' }, JSON.stringify(review.payload, null, 2))));
  }
}

function decided(review) {
  return review.status !== 'pending'
    ? h('p', { class: 'notice' }, `This review is ${review.status}; nothing to decide.`) : null;
}

// --- bible and script: approve, edit as JSON, reject with a note ---------------------------------------------------

function decisionPanel(review, content, reading) {
  const kind = review.kind;
  const artifact = review.payload?.[kind];
  const error = h('div', { id: 'review-error', class: 'problem', role: 'alert', 'data-testid': 'review-error', hidden: true });
  const message = h('div', { id: 'review-message', class: 'notice', role: 'status', 'data-testid': 'review-message', hidden: true });
  const what = kind === 'bible' ? 'the director' : 'the writer';
  const note = h('textarea', { id: 'reject-note', rows: 4, placeholder: `What should ${what} change? The step is redone with your note.` });
  const editor = h('textarea', { id: 'edit-json', class: 'json-editor', spellcheck: 'false', 'aria-label': `The ${kind} as JSON` });
  editor.value = JSON.stringify(artifact, null, 2);
  const editTools = h('div', { class: 'edit-tools', hidden: true },
    h('button', { id: 'send-edit', type: 'button', class: 'primary', onclick: sendEdit }, 'Send the edit'),
    h('button', { id: 'cancel-edit', type: 'button', onclick: () => toggleEdit(false) }, 'Back to reading'));
  const editButton = h('button', { id: 'edit-toggle', type: 'button', onclick: () => toggleEdit(true) }, `Edit the ${kind} (JSON)`);
  const buttons = [];

  function toggleEdit(on) {
    replace(content, on ? [h('p', { class: 'muted' }, `Edit the ${kind} below; it is checked before the run goes on, and a wrong field is named.`), editor] : reading);
    editTools.hidden = !on;
    editButton.hidden = on;
    if (on) editor.focus();
  }

  async function decide(body) {
    clearProblem(error);
    buttons.forEach((b) => { b.disabled = true; });
    try {
      await api(`/reviews/${encodeURIComponent(review.id)}`, { method: 'POST', body });
      done(review, body.action, panel, message);
    } catch (err) {
      showProblem(error, err, 'The decision was refused');
      buttons.forEach((b) => { b.disabled = false; });
    }
  }

  function sendEdit() {
    let edited;
    try {
      edited = JSON.parse(editor.value);
    } catch (err) {
      clearProblem(error);
      showProblem(error, { message: err.message }, 'The edit is not valid JSON');
      return;
    }
    decide({ action: 'edit', [kind]: edited });
  }

  const approve = h('button', { id: 'approve', type: 'button', class: 'primary wide', onclick: () => decide({ action: 'approve' }) }, `Approve the ${kind}`);
  const reject = h('button', { id: 'send-reject', type: 'button', class: 'danger', onclick: () => decide({ action: 'reject', note: note.value }) }, 'Reject with this note');
  const sendEditButton = editTools.querySelector('#send-edit');
  buttons.push(approve, reject, sendEditButton, editButton);
  const panel = h('aside', { class: 'card decision', 'data-testid': 'decision' },
    h('h3', {}, 'Your decision'),
    error, message, decided(review),
    review.status === 'pending' ? [
      h('div', { class: 'decision-block' }, approve, h('p', { class: 'hint' }, 'The run goes on with it as it is.')),
      h('div', { class: 'decision-block' }, editButton, editTools,
        h('p', { class: 'hint' }, 'Change it yourself; the run goes on with your version.')),
      h('div', { class: 'decision-block' }, h('label', { for: 'reject-note' }, 'Reject with a note'), note, reject),
    ] : null);
  return panel;
}

function done(review, action, panel, message) {
  for (const el of panel.querySelectorAll('.decision-block')) el.remove();
  message.hidden = false;
  replace(message, h('strong', {}, `Decision sent (${action}) at ${fmtClock(Date.now() / 1000)}.`), ' The run goes on. ',
    h('a', { href: `#/runs/${encodeURIComponent(review.run_id)}` }, 'Watch it on the dashboard'), '.');
  state.review = { ...review, status: 'decided' };
  refreshList();
}

function section(title, ...body) {
  return h('section', { class: 'card' }, h('h3', {}, title), body);
}

function kv(rows) {
  return h('dl', { class: 'kv' }, rows.filter(([, v]) => v !== undefined && v !== null && v !== '')
    .map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));
}

function bibleView(bible) {
  if (!bible) return h('p', { class: 'muted' }, 'This review carries no bible.');
  return h('div', { class: 'bible', 'data-testid': 'bible' },
    section('Series',
      h('h2', { class: 'series-title', 'data-testid': 'bible-title' }, bible.title),
      h('p', { class: 'logline' }, bible.logline),
      h('p', { class: 'meta' }, [bible.genre, bible.tone, bible.language].filter(Boolean).join(' · ')),
      h('p', { class: 'synopsis', 'data-testid': 'bible-synopsis' }, bible.synopsis),
      bible.flags?.length ? h('div', { class: 'warning', 'data-testid': 'bible-flags' },
        h('strong', {}, 'For you to check (stock text where the model failed, and choices code made):'),
        h('ul', {}, bible.flags.map((f) => h('li', {}, f)))) : null),
    premiseView(bible),
    section(`Characters (${(bible.characters || []).length})`, h('div', { class: 'characters' }, (bible.characters || []).map(characterCard))),
    section(`Locations (${(bible.locations || []).length})`, h('ul', { class: 'locations' }, (bible.locations || []).map((l) =>
      h('li', { 'data-testid': 'location' }, h('strong', {}, l.name), h('span', { class: 'muted' }, ` ${[l.kind, l.time_of_day, l.setting].filter(Boolean).join(' · ')}`),
        h('p', {}, l.description))))),
    section('Episode outlines', h('ol', { class: 'outlines' }, (bible.episodes || []).map((e) =>
      h('li', { 'data-testid': 'outline' }, h('h4', {}, `Episode ${e.number} · ${e.title}`),
        kv([['Hook', e.hook], ['Conflict', e.conflict], ['Cliffhanger', e.cliffhanger], ['With', (e.characters || []).join(', ')]]))))));
}

// --- the premise: who the logline is about, who else, related how, the discovery and the stakes -----------------

const RELATION_WORDS = { 'same person': 'the same person as', other: 'related to' };

function relationText(person, kind, of) {
  return RELATION_WORDS[kind] ? `${person} is ${RELATION_WORDS[kind]} ${of}` : `${person} is ${of}'s ${kind}`;
}

function premisePerson(p, names, relations, isLead) {
  const who = p.name ? [h('strong', {}, p.name), ` · ${p.phrase}`] : h('strong', {}, p.phrase);
  const ties = relations.filter((r) => r.person === p.key || r.of === p.key)
    .map((r) => relationText(names(r.person), r.kind, names(r.of)));
  const traits = [isLead ? 'protagonist' : null, p.gender, p.generation && `${p.generation} generation`].filter(Boolean);
  return h('li', { class: 'premise-person', 'data-testid': 'premise-person', dataset: { key: p.key } },
    h('p', {}, who, traits.length ? h('span', { class: 'muted' }, ` (${traits.join(', ')})`) : null),
    p.also?.length ? h('p', { class: 'muted' }, `also “${p.also.join('”, “')}”`) : null,
    ties.length ? h('p', { class: 'ties' }, ties.join('; ')) : null);
}

function premiseView(bible) {
  const premise = bible.premise;
  const relations = bible.relations || [];
  const relationList = relations.length ? h('ul', { class: 'relations', 'data-testid': 'relations' }, relations.map((r) =>
    h('li', { 'data-testid': 'relation' }, relationText(r.person, r.kind, r.of),
      r.words ? h('span', { class: 'muted' }, ` — “${r.words}”`) : null)))
    : h('p', { class: 'muted' }, 'No relations between the characters.');
  if (!premise) {
    return section('Premise', h('p', { class: 'muted', 'data-testid': 'premise' }, 'This bible carries no premise.'),
      h('h4', {}, 'Relations'), relationList);
  }
  const everyone = [premise.protagonist, ...(premise.people || [])].filter(Boolean);
  const byKey = new Map(everyone.map((p) => [p.key, p]));
  const names = (key) => byKey.get(key)?.name || byKey.get(key)?.phrase || key;
  const premiseRelations = premise.relations || [];
  return section('Premise',
    h('div', { class: 'premise', 'data-testid': 'premise' },
      kv([['Discovery', premise.discovery || 'none found in the logline'], ['Stakes', premise.stakes || 'none found in the logline']]),
      h('h4', {}, `People in the logline (${everyone.length})`),
      h('ul', { class: 'premise-people' }, everyone.map((p, i) => premisePerson(p, names, premiseRelations, i === 0))),
      premise.flags?.length ? h('div', { class: 'warning', 'data-testid': 'premise-flags' },
        h('strong', {}, 'What the premise parse could not settle, and how it decided:'),
        h('ul', {}, premise.flags.map((f) => h('li', {}, f)))) : null),
    h('h4', {}, `Relations between the characters (${relations.length})`), relationList,
    h('p', { class: 'hint' }, 'To change the premise or a relation, edit the bible as JSON (premise, relations).'));
}

function characterCard(c) {
  const look = c.look || {};
  const voice = c.voice || {};
  const swatches = (look.palette || []).filter((p) => /^#[0-9a-fA-F]{6}$/.test(p)).map((p) => {
    const swatch = h('span', { class: 'swatch', title: p });
    swatch.style.backgroundColor = p;
    return swatch;
  });
  return h('article', { class: 'character', 'data-testid': 'character' },
    h('header', {}, h('h4', {}, c.name), h('span', { class: 'muted' }, [c.role, c.gender, c.age && `${c.age}`].filter(Boolean).join(' · '))),
    c.description ? h('p', { class: 'muted' }, c.description) : null,
    kv([
      ['Look', [look.hair_color && `${look.hair_color} ${look.hair_style || ''} hair`.replace(/\s+/g, ' '), look.skin_tone && `${look.skin_tone} skin`, look.build, look.face].filter(Boolean).join('; ')],
      ['Palette', swatches.length ? h('span', { class: 'swatches' }, swatches) : null],
      ['Wardrobe', c.wardrobe],
      ['Voice', [voice.description, voice.voice_id && `(${voice.engine} ${voice.voice_id}, pitch ${voice.pitch}, ${voice.rate_wpm} wpm)`].filter(Boolean).join(' ')],
      ['Wants', c.want],
      ['Secret', c.secret],
    ]));
}

function scriptView(script) {
  if (!script) return h('p', { class: 'muted' }, 'This review carries no script.');
  return h('div', { class: 'script', 'data-testid': 'script' },
    section('Script',
      h('h2', { class: 'series-title', 'data-testid': 'script-title' }, `Episode ${script.episode} · ${script.title}`),
      script.flags?.length ? h('div', { class: 'warning' }, h('strong', {}, 'Stock text used where the model failed:'),
        h('ul', {}, script.flags.map((f) => h('li', {}, f)))) : null,
      (script.scenes || []).map((scene) => h('article', { class: 'scene', 'data-testid': 'scene' },
        h('h4', {}, `Scene ${scene.number} · ${scene.location}`),
        h('p', { class: 'meta' }, [scene.time_of_day, scene.mood, (scene.characters || []).join(', ')].filter(Boolean).join(' · ')),
        (scene.beats || []).map((beat) => h('div', { class: 'beat' },
          h('p', { class: 'action' }, h('span', { class: 'beat-kind' }, beat.kind), ' ', beat.action),
          (beat.lines || []).map((line) => h('p', { class: `line${line.fallback ? ' fallback' : ''}`, 'data-testid': 'line' },
            h('span', { class: 'speaker' }, line.speaker),
            line.emotion && line.emotion !== 'neutral' ? h('span', { class: 'emotion' }, ` (${line.emotion})`) : null,
            h('span', { class: 'text' }, line.text),
            line.fallback ? h('span', { class: 'flag' }, 'stock line') : null))))))));
}

// --- shots: every take side by side with its QC scores; a decision per shot ------------------------------------------

const SHOT_ACTIONS = [
  ['approve', 'Approve the best take', 'The episode uses the best take as it is.'],
  ['reject', 'Reject with a note', 'The shot is rendered again; the renderer uses your note.'],
  ['edit', 'Edit the prompt', 'The shot is rendered again from your prompt.'],
  ['flag', 'Flag for later', 'The episode uses the best take; the shot stays in the review queue.'],
];

function shotsView(review) {
  const shots = review.payload?.shots || [];
  const error = h('div', { id: 'review-error', class: 'problem', role: 'alert', 'data-testid': 'review-error', hidden: true });
  const message = h('div', { id: 'review-message', class: 'notice', role: 'status', 'data-testid': 'review-message', hidden: true });
  const forms = shots.map((shot) => shotCard(review, shot));
  const send = h('button', { id: 'send-shots', type: 'button', class: 'primary' }, 'Send the decisions');
  const bar = h('div', { class: 'card send-bar decision' },
    h('div', { class: 'send-bar-text' }, error, message, decided(review),
      h('p', { class: 'hint decision-block' }, `${shots.length} shot${shots.length === 1 ? '' : 's'} QC could not fix. Decide each one, then send.`)),
    review.status === 'pending' ? h('div', { class: 'decision-block' }, send) : null);
  send.addEventListener('click', async () => {
    clearProblem(error);
    forms.forEach((f) => f.problems([]));
    const decisions = {};
    for (const f of forms) decisions[f.shot] = f.value();
    send.disabled = true;
    try {
      await api(`/reviews/${encodeURIComponent(review.id)}`, { method: 'POST', body: { action: 'approve', shots: decisions } });
      forms.forEach((f) => f.lock());
      done(review, Object.values(decisions).map((d) => d.action).join(', '), bar, message);
    } catch (err) {
      showProblem(error, err, 'The decisions were refused');
      for (const f of forms) f.problems((err.items || []).filter((i) => i.loc === `shots.${f.shot}` || i.loc.startsWith(`shots.${f.shot}.`)));
      send.disabled = false;
    }
  });
  return h('div', { class: 'shots' }, forms.map((f) => f.el), bar);
}

function shotCard(review, shot) {
  const takes = shot.takes || [];
  const best = takes.find((t) => t.attempt === shot.best_take) || takes[takes.length - 1] || {};
  const name = `decision-${shot.shot}`;
  const note = h('textarea', { rows: 2, 'data-testid': 'shot-note', 'aria-label': `Note for ${shot.shot}`, placeholder: 'What is wrong with the take? The renderer uses your note.' });
  const prompt = h('textarea', { rows: 4, 'data-testid': 'shot-prompt', 'aria-label': `Prompt for ${shot.shot}` });
  prompt.value = best.prompt || '';
  const noteField = h('label', { class: 'field', hidden: true }, h('span', {}, 'Note'), note);
  const promptField = h('label', { class: 'field', hidden: true }, h('span', {}, 'New prompt'), prompt);
  const explain = h('p', { class: 'hint' }, SHOT_ACTIONS[0][2]);
  const radios = SHOT_ACTIONS.map(([value, label, hint]) => {
    const input = h('input', { type: 'radio', name, value, 'data-testid': `shot-${value}`, checked: value === 'approve' });
    input.addEventListener('change', () => {
      noteField.hidden = !['reject', 'flag', 'edit'].includes(value);
      promptField.hidden = value !== 'edit';
      explain.textContent = hint;
    });
    return h('label', { class: `choice choice-${value}`, title: hint }, input, h('span', {}, label));
  });
  const shotError = h('div', { class: 'problem', role: 'alert', 'data-testid': 'shot-error', hidden: true });
  const fieldset = h('fieldset', { class: 'shot-decision' }, h('legend', {}, `Decision for ${shot.shot}`),
    h('div', { class: 'choices' }, radios), explain, noteField, promptField, shotError);
  const el = h('article', { class: 'card shot', 'data-testid': 'shot', dataset: { shot: shot.shot } },
    h('header', { class: 'shot-head' },
      h('h3', {}, shot.shot),
      h('span', { class: 'muted' }, `${shot.attempts ?? takes.length} attempt${(shot.attempts ?? takes.length) === 1 ? '' : 's'} · best take ${shot.best_take ?? '—'}`)),
    shot.reason ? h('p', { class: 'reason' }, h('strong', {}, 'QC: '), shot.reason) : null,
    h('div', { class: 'takes', 'data-testid': 'takes' }, takes.map((t) => takeCard(review.run_id, t, t.attempt === shot.best_take))),
    review.status === 'pending' ? fieldset : null);
  return {
    el,
    shot: shot.shot,
    value() {
      const action = fieldset.querySelector(`input[name="${name}"]:checked`)?.value || 'approve';
      const decision = { action };
      if (action !== 'approve' && note.value.trim()) decision.note = note.value;
      if (action === 'edit') decision.prompt = prompt.value;
      return decision;
    },
    lock() {
      fieldset.disabled = true;
    },
    problems(items) {  // the API's complaints about this shot, next to its decision
      shotError.hidden = !items.length;
      replace(shotError, items.map((i) => h('div', {}, i.msg)));
    },
  };
}

function takeCard(runId, take, isBest) {
  const qc = take.qc || {};
  const scores = qc.scores || [];
  return h('figure', { class: `take${qc.passed ? ' passed' : ' failed'}${isBest ? ' best' : ''}`, 'data-testid': 'take', dataset: { attempt: take.attempt } },
    take.asset ? artifactImage(runId, take.asset, { alt: `Take ${take.attempt}`, 'data-testid': 'take-image' })
      : h('div', { class: 'img-frame' }, h('div', { class: 'img-missing' }, 'no image')),
    h('figcaption', {},
      h('strong', {}, `Take ${take.attempt}`),
      isBest ? h('span', { class: 'tag best' }, 'best') : null,
      h('span', { class: `tag ${qc.passed ? 'ok' : 'bad'}` }, qc.passed ? 'QC passed' : 'QC failed')),
    scores.length ? h('table', { class: 'scores', 'data-testid': 'qc-scores' },
      h('thead', {}, h('tr', {}, h('th', {}, 'Check'), h('th', {}, 'Score'), h('th', {}, 'Limit'), h('th', { 'aria-label': 'passed' }, ''))),
      h('tbody', {}, scores.map((s) => {
        const value = s.value ?? s.score;
        const why = s.detail ?? s.reason;
        const judged = s.judged !== false;
        return [
          h('tr', { class: !judged ? 'unjudged' : s.passed ? 'ok' : 'bad' },
            h('td', {}, s.scorer), h('td', { class: 'num' }, fmtNumber(value)), h('td', { class: 'num' }, fmtNumber(s.threshold)),
            h('td', { class: 'mark' }, !judged ? '–' : s.passed ? '✓' : '✗')),
          !s.passed && why ? h('tr', { class: 'why' }, h('td', { colspan: 4 }, typeof why === 'string' ? why : JSON.stringify(why))) : null,
        ];
      }))) : h('p', { class: 'muted' }, 'No QC scores.'),
    take.prompt ? h('details', { class: 'prompt' }, h('summary', {}, 'Prompt'), h('p', {}, take.prompt)) : null);
}
