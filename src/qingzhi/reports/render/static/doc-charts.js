/* qingzhi: draws each report figure's ECharts option, kept in its data-echarts attribute
   (the CSP allows no inline script). Load after echarts.min.js. Without it, or in print,
   the figure's PNG shows. */
(function () {
  'use strict';
  function draw() {
    if (!window.echarts) { return; }
    var figures = document.querySelectorAll('.qz-doc figure[data-echarts]');
    Array.prototype.forEach.call(figures, function (figure) {
      var holder = figure.querySelector('.qz-chart');
      var option;
      try { option = JSON.parse(figure.getAttribute('data-echarts')); } catch (e) { return; }
      if (!holder) { return; }
      figure.classList.add('qz-live');
      var chart = window.echarts.init(holder, null, { renderer: 'svg' });
      chart.setOption(option);
      window.addEventListener('resize', function () { chart.resize(); });
    });
  }
  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', draw);
  } else {
    draw();
  }
}());
