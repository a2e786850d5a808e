// One way to draw a chart in ddpm's pages: the live dashboard of `ddpm serve` (dashboard.js) and
// the static pages of `ddpm study` and `ddpm sweep` (report.js) both describe a chart as
//
//   {id, title, xLabel, yLabel, logY, series: [{label, points: [[x, y], ...], color, faint,
//    inLegend}]}
//
// (color: an index into the palette, or css: a CSS colour instead; faint: drawn at 25 % opacity
// behind the others, as TensorBoard draws the raw curve under the smoothed one) and hand it to
// DdpmCharts.draw, which draws it with Chart.js (chart.min.js, served from the page's own
// folder). Non-finite y values
// break the line. DdpmCharts.summary() says what every chart on the page holds (the browser test
// reads it).
(function (global) {
  'use strict';
  // Tab10, matplotlib's default cycle, as io/plot.h's palette_color.
  const PALETTE = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd',
                   '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];
  const charts = new Map();  // id → {chart, spec}

  function paletteColor(i, alpha) {
    const hex = PALETTE[((i % PALETTE.length) + PALETTE.length) % PALETTE.length];
    if (alpha === undefined || alpha >= 1) return hex;
    const n = parseInt(hex.slice(1), 16);
    return `rgba(${n >> 16}, ${(n >> 8) & 255}, ${n & 255}, ${alpha})`;
  }

  // TensorBoard's debiased exponential moving average (training/smoothing.h): non-finite values
  // pass through and do not enter the average; a constant series is returned as is.
  function smooth(values, weight) {
    const finite = values.filter(Number.isFinite);
    if (finite.length && finite.every(v => v === finite[0])) return values.slice();
    let last = 0, n = 0;
    return values.map(v => {
      if (!Number.isFinite(v)) return v;
      last = last * weight + (1 - weight) * v;
      n += 1;
      return last / (1 - Math.pow(weight, n));
    });
  }

  function datasets(spec) {
    return spec.series.map(s => {
      const faint = !!s.faint;
      const color = s.css ? s.css : paletteColor(s.color || 0, faint ? 0.25 : 1);
      return {
        label: s.label,
        data: s.points.map(([x, y]) => ({x, y: Number.isFinite(y) && (!spec.logY || y > 0) ? y : null})),
        borderColor: color,
        backgroundColor: color,
        borderWidth: faint ? 1 : 2,
        pointRadius: s.points.length <= 40 && !faint ? 2 : 0,
        spanGaps: false,
        inLegend: s.inLegend !== false,
        order: faint ? 1 : 0,
      };
    });
  }

  function options(spec) {
    const axisTitle = text => ({display: !!text, text: text || ''});
    return {
      animation: false,
      parsing: false,
      normalized: true,
      responsive: true,
      maintainAspectRatio: false,
      interaction: {mode: 'nearest', axis: 'x', intersect: false},
      scales: {
        x: {type: 'linear', title: axisTitle(spec.xLabel)},
        y: {type: spec.logY ? 'logarithmic' : 'linear', title: axisTitle(spec.yLabel)},
      },
      plugins: {
        title: {display: !!spec.title, text: spec.title || ''},
        legend: {labels: {filter: (item, data) => data.datasets[item.datasetIndex].inLegend,
                          boxWidth: 14}},
        tooltip: {callbacks: {label: c => `${c.dataset.label}: ${formatNumber(c.parsed.y)}`}},
      },
    };
  }

  function formatNumber(v) {
    if (v === null || v === undefined || !Number.isFinite(v)) return '—';
    const a = Math.abs(v);
    return a !== 0 && (a < 1e-3 || a >= 1e5) ? v.toExponential(3) : String(+v.toPrecision(5));
  }

  // Draws `spec` into `canvas` (a <canvas> element), or redraws the chart of the same id.
  function draw(canvas, spec) {
    const known = charts.get(spec.id);
    if (known && known.chart.canvas === canvas) {
      known.chart.data.datasets = datasets(spec);
      Object.assign(known.chart.options.scales.y, {type: spec.logY ? 'logarithmic' : 'linear'});
      known.chart.update('none');
      known.spec = spec;
      return known.chart;
    }
    if (known) known.chart.destroy();
    const chart = new global.Chart(canvas.getContext('2d'),
                                   {type: 'line', data: {datasets: datasets(spec)}, options: options(spec)});
    charts.set(spec.id, {chart, spec});
    return chart;
  }

  function remove(id) {
    const known = charts.get(id);
    if (known) known.chart.destroy();
    charts.delete(id);
  }

  // What every chart holds: {id: {title, series: [{label, points, inLegend}]}}.
  function summary() {
    const out = {};
    for (const [id, {spec}] of charts)
      out[id] = {title: spec.title,
                 series: spec.series.map(s => ({label: s.label, points: s.points.length,
                                                inLegend: s.inLegend !== false}))};
    return out;
  }

  global.DdpmCharts = {draw, remove, smooth, summary, paletteColor, formatNumber};
})(window);
