// The static pages `ddpm study` and `ddpm sweep` write (web/report_page.h): their charts are
// described in <script type="application/json" id="ddpm-report">{"charts": [spec, ...]}</script>
// and drawn by charts.js into each <div class="chart" data-chart="ID">, the dashboard's way.
(function () {
  'use strict';
  const data = JSON.parse(document.getElementById('ddpm-report').textContent);
  for (const spec of data.charts) {
    let box = document.querySelector(`[data-chart="${spec.id}"]`);
    if (!box) {
      box = document.createElement('div');
      box.className = 'chart';
      box.dataset.chart = spec.id;
      document.querySelector('.report').append(box);
    }
    const canvas = document.createElement('canvas');
    box.replaceChildren(canvas);
    DdpmCharts.draw(canvas, spec);
  }
  const summary = document.getElementById('ddpm-summary');
  if (summary) summary.textContent = JSON.stringify({charts: DdpmCharts.summary()});
})();
