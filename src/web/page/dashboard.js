// The live dashboard of `ddpm serve` (web/dashboard_server.h): polls api/runs and each run's new
// log rows every 2 s and draws loss (raw and smoothed), lr, grad norm, images/s and every
// eval_* column against step for the selected runs, their sample grids with a step slider, their
// resolved configs with the differences highlighted, and each run's state with its ETA.
(function () {
  'use strict';
  const POLL_MS = 2000;
  const runs = new Map();  // id → {overview, columns, rows, color, selected, gridIndex, followNewest}
  let nextColor = 0;

  const $ = selector => document.querySelector(selector);
  const el = (tag, attributes = {}, ...children) => {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attributes)) {
      if (k === 'class') e.className = v;
      else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v);
    }
    for (const c of children) e.append(c);
    return e;
  };

  function formatDuration(seconds) {
    if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return '—';
    const s = Math.round(seconds);
    if (s < 60) return `${s} s`;
    if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
    return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
  }

  async function getJson(url) {
    const response = await fetch(url, {cache: 'no-store'});
    if (!response.ok) throw new Error(`${url}: ${response.status}`);
    return response.json();
  }

  async function poll() {
    try {
      const {runs: overviews} = await getJson('api/runs');
      for (const overview of overviews) {
        let run = runs.get(overview.id);
        if (!run) {
          run = {columns: [], rows: [], color: nextColor++, selected: true, gridIndex: -1,
                 followNewest: true};
          runs.set(overview.id, run);
        }
        run.overview = overview;
        if (overview.rows < run.rows.length) run.rows = [];  // log rewritten (a resume cut it)
        if (overview.rows > run.rows.length) {
          const log = await getJson(`api/runs/${encodeURIComponent(overview.id)}/log?from=${run.rows.length}`);
          run.columns = log.columns;
          run.rows.push(...log.rows);
        }
      }
      for (const id of [...runs.keys()])
        if (!overviews.some(o => o.id === id)) runs.delete(id);
      $('#updated').textContent = `updated ${new Date().toLocaleTimeString()}`;
    } catch (error) {
      $('#updated').textContent = `cannot reach ddpm serve (${error.message}); retrying`;
    }
    render();
    setTimeout(poll, POLL_MS);
  }

  function column(run, name) {
    const i = run.columns.indexOf(name);
    if (i < 0) return null;
    return {steps: run.rows.map(r => r[0]), values: run.rows.map(r => (r[i] === null ? NaN : r[i]))};
  }

  function selectedRuns() {
    return [...runs.entries()].filter(([, r]) => r.selected);
  }

  function renderRunTable() {
    const body = $('#runs tbody');
    body.replaceChildren();
    for (const [id, run] of runs) {
      const s = run.overview.state;
      const box = el('input', {type: 'checkbox', onchange: e => { run.selected = e.target.checked; render(); }});
      box.checked = run.selected;
      const swatch = el('span', {class: 'swatch', style: `background:${DdpmCharts.paletteColor(run.color)}`});
      const total = s.total_steps ? ` / ${s.total_steps}` : '';
      body.append(el('tr', {'data-run': id},
        el('td', {}, box), el('td', {title: run.overview.path}, swatch, id),
        el('td', {}, el('span', {class: `state ${s.status}`}, s.status)),
        el('td', {}, `${s.step}${total}`),
        el('td', {}, s.status === 'running' ? formatDuration(s.eta_seconds) : '—'),
        el('td', {}, DdpmCharts.formatNumber(s.images_per_second))));
    }
  }

  // The charts: one per logged quantity that any selected run has.
  function chartSpecs() {
    const smoothing = parseFloat($('#smoothing').value);
    const chosen = selectedRuns();
    const names = new Set();
    for (const [, run] of chosen) for (const c of run.columns) names.add(c);
    const specs = [];
    const lossSeries = [];
    for (const [id, run] of chosen) {
      const loss = column(run, 'loss');
      if (!loss) continue;
      const points = values => loss.steps.map((x, i) => [x, values[i]]);
      lossSeries.push({label: `${id} (raw)`, points: points(loss.values), color: run.color,
                       faint: true, inLegend: false});
      lossSeries.push({label: id, points: points(DdpmCharts.smooth(loss.values, smoothing)),
                       color: run.color});
    }
    if (lossSeries.length)
      specs.push({id: 'loss', title: `loss (raw, and smoothed ${smoothing})`, xLabel: 'step',
                  yLabel: 'loss', logY: $('#log-loss').checked, series: lossSeries});
    const simple = [['lr', 'learning rate'], ['grad_norm', 'gradient norm (before clipping)'],
                    ['images_per_s', 'images / s']];
    for (const name of names)
      if (name.startsWith('eval_')) simple.push([name, `${name.slice(5)} (evaluation)`]);
    for (const [name, title] of simple) {
      const series = [];
      for (const [id, run] of chosen) {
        const c = column(run, name);
        if (!c) continue;
        // Evaluation rows are sparse: only the steps that have a value.
        const points = c.steps.map((x, i) => [x, c.values[i]])
                              .filter(([, y]) => !name.startsWith('eval_') || Number.isFinite(y));
        series.push({label: id, points, color: run.color});
      }
      if (series.length) specs.push({id: name, title, xLabel: 'step', yLabel: name, series});
    }
    return specs;
  }

  function renderCharts() {
    const container = $('#charts');
    const specs = chartSpecs();
    const wanted = new Set(specs.map(s => s.id));
    for (const box of [...container.children])
      if (!wanted.has(box.dataset.chart)) { DdpmCharts.remove(box.dataset.chart); box.remove(); }
    for (const spec of specs) {
      let box = container.querySelector(`[data-chart="${spec.id}"]`);
      if (!box) {
        box = el('div', {class: 'chart', 'data-chart': spec.id}, el('canvas'));
        container.append(box);
      }
      DdpmCharts.draw(box.querySelector('canvas'), spec);
    }
  }

  function renderGrids() {
    const container = $('#grids');
    for (const box of [...container.children])
      if (!runs.has(box.dataset.run) || !runs.get(box.dataset.run).selected) box.remove();
    for (const [id, run] of selectedRuns()) {
      const grids = run.overview.grids;
      let box = container.querySelector(`[data-run="${CSS.escape(id)}"]`);
      if (!box) {
        const slider = el('input', {type: 'range', min: '0', step: '1'});
        slider.addEventListener('input', () => {
          run.gridIndex = parseInt(slider.value, 10);
          run.followNewest = run.gridIndex === run.overview.grids.length - 1;
          renderGrids();
        });
        box = el('figure', {class: 'grid', 'data-run': id},
                 el('figcaption', {}, el('span', {class: 'swatch',
                    style: `background:${DdpmCharts.paletteColor(run.color)}`}), id, ' ',
                    el('span', {class: 'grid-step muted'})),
                 slider, el('img', {alt: `samples of ${id}`}));
        container.append(box);
      }
      const slider = box.querySelector('input');
      const img = box.querySelector('img');
      const caption = box.querySelector('.grid-step');
      if (!grids.length) {
        slider.hidden = true; img.hidden = true;
        caption.textContent = 'no sample grid yet';
        box.dataset.file = '';
        continue;
      }
      if (run.followNewest || run.gridIndex >= grids.length) run.gridIndex = grids.length - 1;
      slider.hidden = false; img.hidden = false;
      slider.max = String(grids.length - 1);
      slider.value = String(run.gridIndex);
      const grid = grids[run.gridIndex];
      const src = `runs/${encodeURIComponent(id)}/${grid.file}`;
      if (img.getAttribute('src') !== src) img.setAttribute('src', src);
      box.dataset.file = grid.file;
      caption.textContent = `step ${grid.step} (${run.gridIndex + 1} of ${grids.length})`;
    }
  }

  function flatten(value, prefix, out) {
    if (value && typeof value === 'object' && !Array.isArray(value)) {
      for (const [k, v] of Object.entries(value)) flatten(v, prefix ? `${prefix}.${k}` : k, out);
    } else {
      out[prefix] = JSON.stringify(value);
    }
    return out;
  }

  let differingKeys = [];
  function renderConfig() {
    const chosen = selectedRuns().filter(([, r]) => r.overview.config);
    const flat = chosen.map(([id, r]) => [id, flatten(r.overview.config, '', {})]);
    const keys = [...new Set(flat.flatMap(([, f]) => Object.keys(f)))].sort();
    differingKeys = keys.filter(k => new Set(flat.map(([, f]) => f[k])).size > 1);
    const only = $('#only-differences').checked && chosen.length > 1;
    const table = el('table', {class: 'config'},
      el('thead', {}, el('tr', {}, el('th', {}, 'key'), ...flat.map(([id]) => el('th', {}, id)))));
    const body = el('tbody');
    for (const k of only ? differingKeys : keys) {
      const differs = differingKeys.includes(k);
      body.append(el('tr', {class: differs ? 'differs' : ''}, el('td', {}, k),
        ...flat.map(([, f]) => el('td', {}, f[k] === undefined ? '—' : f[k]))));
    }
    table.append(body);
    const note = only && !differingKeys.length ? el('p', {class: 'muted'}, 'the selected runs have the same config') : '';
    $('#config').replaceChildren(table, note);
  }

  function render() {
    renderRunTable();
    renderCharts();
    renderGrids();
    renderConfig();
    const summary = {
      runs: [...runs.entries()].map(([id, r]) => ({id, status: r.overview.state.status,
        rows: r.rows.length, grids: r.overview.grids.length, selected: r.selected})),
      charts: DdpmCharts.summary(),
      grids: Object.fromEntries([...document.querySelectorAll('#grids figure')]
                                  .map(f => [f.dataset.run, f.dataset.file])),
      differingKeys,
    };
    $('#ddpm-summary').textContent = JSON.stringify(summary);
  }

  $('#smoothing').addEventListener('input', () => {
    $('#smoothing-value').textContent = $('#smoothing').value;
    renderCharts();
  });
  $('#log-loss').addEventListener('change', renderCharts);
  $('#only-differences').addEventListener('change', renderConfig);
  poll();
})();
