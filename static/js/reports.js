// Report charts: each element with data-chart reads its figures from the JSON block named by
// data-source (no inline scripts: the page's CSP forbids them) and draws it with the vendored
// ECharts.
(function () {
  "use strict";

  function data(element) {
    var source = document.getElementById(element.dataset.source);
    return source ? JSON.parse(source.textContent) : null;
  }

  function percent(value) {
    return value === null ? null : Math.round(value * 1000) / 10;
  }

  var builders = {
    funnel: function (figures) {
      var steps = figures.steps.map(function (step) {
        return { name: step[1], value: step[2] };
      });
      var max = Math.max(1, steps.length ? steps[0].value : 1);
      return {
        tooltip: { trigger: "item", formatter: "{b}：{c}" },
        series: [{
          type: "funnel", left: "8%", width: "84%", top: 10, bottom: 10, min: 0, max: max,
          sort: "none", gap: 2, label: { show: true, position: "inside", formatter: "{b} {c}" },
          data: steps
        }]
      };
    },
    trend: function (figures) {
      var names = { leads: "线索", communications: "沟通", visits: "到店/预约", deals: "成交" };
      return {
        tooltip: { trigger: "axis" },
        legend: { top: 0 },
        grid: { left: 40, right: 16, top: 32, bottom: 24 },
        xAxis: { type: "category", data: figures.months },
        yAxis: { type: "value", minInterval: 1 },
        series: Object.keys(names).map(function (key) {
          return { name: names[key], type: "line", data: figures[key] };
        })
      };
    },
    conversion: function (figures) {
      return {
        tooltip: { trigger: "axis", valueFormatter: function (v) { return v === null ? "—" : v + "%"; } },
        grid: { left: 40, right: 16, top: 24, bottom: 24 },
        xAxis: { type: "category", data: figures.months },
        yAxis: { type: "value", axisLabel: { formatter: "{value}%" } },
        series: [{
          name: "潜客转化率", type: "line", connectNulls: false, data: figures.rates.map(percent),
          markLine: { symbol: "none", data: [{ yAxis: percent(figures.target), name: "目标" }] }
        }]
      };
    }
  };

  document.querySelectorAll("[data-chart]").forEach(function (element) {
    var build = builders[element.dataset.chart];
    var figures = data(element);
    if (!build || !figures || typeof echarts === "undefined") return;
    var chart = echarts.init(element, null, { renderer: "canvas" });
    chart.setOption(build(figures));
    window.addEventListener("resize", function () { chart.resize(); });
  });
})();
