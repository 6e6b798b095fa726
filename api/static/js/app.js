// The workspace's one script: the viewer's time zone for sign-in, and every chart.
// Figures are JSON built on the server (plotly) in <script type="application/json">.
"use strict";
(function () {
  function fillTimeZone() {
    var zone = "UTC";
    try { zone = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC"; } catch (e) { zone = "UTC"; }
    document.querySelectorAll("input.js-time-zone").forEach(function (input) { input.value = zone; });
  }

  function drawCharts(root) {
    if (typeof Plotly === "undefined") { return; }
    root.querySelectorAll("script.figure-data").forEach(function (data) {
      var box = document.querySelector('div.chart[data-figure="' + data.id + '"]');
      if (!box || box.dataset.drawn === "yes") { return; }
      var figure = JSON.parse(data.textContent);
      box.dataset.drawn = "yes";
      Plotly.newPlot(box, figure.data, figure.layout || {}, { displaylogo: false, responsive: true });
    });
  }

  function start() {
    fillTimeZone();
    drawCharts(document);
  }

  document.addEventListener("DOMContentLoaded", start);
  document.addEventListener("htmx:afterSettle", function (event) { drawCharts(event.target); });
})();
