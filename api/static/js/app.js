// The workspace's one script: the viewer's time zone for sign-in, every chart, and the
// deadlines' countdowns.
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

  // A deadline's countdown, from the server's clock: the page carries the database's "now"
  // and the deadline; the time elapsed since the page loaded (a monotonic clock) is added
  // to that "now", so a browser whose clock is wrong still counts the server's time.
  // Without script the plain time (with its zone) stays as it is.
  function spell(ms) {
    var s = Math.ceil(ms / 1000);
    var d = Math.floor(s / 86400), h = Math.floor(s % 86400 / 3600);
    var m = Math.floor(s % 3600 / 60), sec = s % 60;
    function two(n) { return (n < 10 ? "0" : "") + n; }
    return (d > 0 ? d + " d " : "") + two(h) + ":" + two(m) + ":" + two(sec);
  }

  function startCountdowns(root) {
    root.querySelectorAll(".countdown[data-closes-at][data-now]").forEach(function (box) {
      if (box.dataset.counting === "yes") { return; }
      var left = Date.parse(box.dataset.closesAt) - Date.parse(box.dataset.now);
      if (isNaN(left)) { return; }
      box.dataset.counting = "yes";
      var loaded = performance.now();
      function tick() {
        var now = left - (performance.now() - loaded);
        box.textContent = now > 0 ? " (in " + spell(now) + ")" : " (the deadline has passed)";
        // The next tick when the seconds left change.
        if (now > 0) { window.setTimeout(tick, (now % 1000) || 1000); }
      }
      box.hidden = false;
      tick();
    });
  }

  function start() {
    fillTimeZone();
    drawCharts(document);
    startCountdowns(document);
  }

  document.addEventListener("DOMContentLoaded", start);
  document.addEventListener("htmx:afterSettle", function (event) {
    drawCharts(event.target);
    startCountdowns(event.target);
  });
})();
