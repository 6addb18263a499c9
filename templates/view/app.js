// cosmo view's page. Data reaches the document only as text (textContent, option values): never as
// markup, so a sample holding <script> or an onerror attribute shows as the characters it is.
'use strict';

const state = { page: 0, size: 20, info: null };
const $ = (id) => document.getElementById(id);

function el(tag, props = {}, children = []) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === 'text') e.textContent = v;
    else if (k === 'class') e.className = v;
    else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c);
  return e;
}

function params() {
  const p = new URLSearchParams({ page: String(state.page), size: String(state.size) });
  const q = $('q').value.trim();
  if (q) p.set('q', q);
  if ($('sort').value) p.set('sort', $('sort').value);
  for (const s of document.querySelectorAll('select[data-facet]')) if (s.value) p.set(s.dataset.facet, s.value);
  return p;
}

async function getJson(url, init) {
  const res = await fetch(url, init);
  const body = await res.json();
  if (!res.ok) throw new Error(body.error || `HTTP ${res.status}`);
  return body;
}

function renderSample(r) {
  const box = el('article', { class: `sample${r.flag ? ` ${r.flag.verdict}` : ''}`, 'data-id': r.id });
  const meta = el('div', { class: 'meta' });
  for (const k of ['format', 'audience', 'topic', 'template_id', 'seed_source', 'language', 'model', 'token_length', 'finish_reason']) {
    if (r[k] !== undefined && r[k] !== null) meta.append(el('span', { text: `${k}: ${r[k]}` }));
  }
  box.append(meta, el('div', { class: 'text', text: r.text ?? '' }));
  if (r.prompt) box.append(el('details', {}, [el('summary', { text: 'prompt' }), el('pre', { text: r.prompt })]));
  const prov = ['id', 'seed_id', 'seed_data', 'created_at'].filter((k) => r[k]).map((k) => `${k}: ${r[k]}`).join('\n');
  box.append(el('details', {}, [el('summary', { text: 'provenance' }), el('pre', { text: prov })]));

  const reason = el('select', { 'aria-label': 'reason' }, state.info.reasons.map((x) => el('option', { value: x, text: x })));
  const status = el('span', { class: 'status', text: r.flag ? `${r.flag.verdict === 'bad' ? `flagged: ${r.flag.reason}` : 'marked good'} by ${r.flag.who}` : '' });
  const send = async (verdict) => {
    try {
      const { flag } = await getJson('/api/flag', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ id: r.id, verdict, reason: reason.value }) });
      box.className = `sample ${flag.verdict}`;
      status.textContent = `${flag.verdict === 'bad' ? `flagged: ${flag.reason}` : 'marked good'} by ${flag.who}`;
    } catch (err) {
      status.textContent = `not saved: ${err.message}`;
    }
  };
  const flagButton = el('button', { type: 'button', class: 'flag', text: 'Flag' });
  flagButton.addEventListener('click', () => send('bad'));
  const goodButton = el('button', { type: 'button', class: 'good', text: 'Good' });
  goodButton.addEventListener('click', () => send('good'));
  box.append(el('div', { class: 'review' }, [reason, flagButton, goodButton, status]));
  return box;
}

async function load() {
  const p = params();
  const data = await getJson(`/api/rows?${p}`);
  $('rows').replaceChildren(...data.rows.map(renderSample));
  $('prev').disabled = state.page === 0;
  $('next').disabled = !data.more;
  const first = state.page * state.size;
  $('position').textContent = data.rows.length ? `${first + 1}–${first + data.rows.length}` : 'no samples';
  // The total comes after the page: counting every match can take longer than showing the first ones.
  getJson(`/api/count?${p}`).then((c) => {
    if (params().toString() === p.toString()) $('position').textContent += ` of ${c.total.toLocaleString('en-US')}`;
  }, () => undefined);
}

function reset() {
  state.page = 0;
  load().catch(showError);
}

function showError(err) {
  $('rows').replaceChildren(el('p', { class: 'error', text: `Could not load samples: ${err.message}` }));
}

/** The summary line, with the catalog's progress while the viewer builds it (searches and sorts are slower until then). */
function showCatalog(catalog) {
  const base = `from ${state.info.source}; flags are saved as ${state.info.reviewer}`;
  if (catalog.state !== 'building') return ($('summary').textContent = catalog.state === 'failed' ? `${base}; no catalog (see the viewer log): searches read every sample` : base);
  const pct = catalog.total ? Math.floor((100 * catalog.done) / catalog.total) : 0;
  $('summary').textContent = `${base}; cataloguing for fast search and sort: ${pct}%`;
  setTimeout(() => getJson('/api/info').then((i) => showCatalog(i.catalog), showError), 2000);
}

async function start() {
  state.info = await getJson('/api/info');
  $('title').textContent = `${state.info.title}: ${state.info.rows.toLocaleString('en-US')} samples`;
  showCatalog(state.info.catalog);
  for (const [facet, values] of Object.entries(state.info.facets)) {
    const s = el('select', { 'data-facet': facet, 'aria-label': facet }, [el('option', { value: '', text: `all ${facet}` }), ...values.map((v) => el('option', { value: v.value, text: `${v.value} (${v.n})` }))]);
    s.addEventListener('change', reset);
    $('facets').append(s);
  }
  let timer;
  $('q').addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(reset, 250);
  });
  $('controls').addEventListener('submit', (e) => {
    e.preventDefault();
    reset();
  });
  $('sort').addEventListener('change', reset);
  $('prev').addEventListener('click', () => {
    state.page = Math.max(0, state.page - 1);
    load().catch(showError);
  });
  $('next').addEventListener('click', () => {
    state.page += 1;
    load().catch(showError);
  });
  await load();
}

start().catch(showError);
