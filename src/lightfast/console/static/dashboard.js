// The dashboard's hourly charts, drawn with uPlot (vendored) from the data the page embeds. Without
// JavaScript the tables under each chart group carry the same numbers.
"use strict";
(function () {
  const source = document.getElementById("dashboard-series");
  if (!source || typeof uPlot === "undefined") return;
  const data = JSON.parse(source.textContent);
  const accent = getComputedStyle(document.documentElement).getPropertyValue("--accent").trim() || "#2454d6";

  // A lone hour between empty ones has no line to draw: show the points when lines are short.
  function sparse(values) {
    let runs = 0, longest = 0, current = 0;
    values.forEach(function (v) {
      if (v === null) { current = 0; return; }
      if (current === 0) runs++;
      current++; longest = Math.max(longest, current);
    });
    return longest < 3 || runs * 4 > values.length;
  }

  function draw(figure) {
    const key = figure.dataset.series;
    const unit = figure.dataset.unit;
    const width = Math.max(240, Math.floor(figure.getBoundingClientRect().width) - 4);
    const options = {
      width: width,
      height: 160,
      legend: { show: true },
      cursor: { drag: { x: false, y: false } },
      // Percentages keep their 0-100 scale, so 100 % never reads as the middle of the chart.
      scales: key === "success" ? { x: { time: true }, y: { range: [0, 100] } } : { x: { time: true } },
      axes: [{}, { size: 64, values: function (u, ticks) { return ticks.map(function (t) { return t + (unit ? " " + unit : ""); }); } }],
      series: [
        {},
        { label: figure.dataset.label, stroke: accent, width: 2, fill: "rgba(36, 84, 214, 0.08)",
          spanGaps: false, points: { show: sparse(data[key]), size: 6, fill: accent } },
      ],
    };
    const chart = new uPlot(options, [data.x, data[key]], figure);
    figure.setAttribute("data-drawn", "true");
    return chart;
  }

  const charts = Array.from(document.querySelectorAll("figure.chart")).map(function (figure) {
    // The canvas is decoration for sighted readers; the table in <details> is the accessible version.
    figure.setAttribute("role", "img");
    figure.setAttribute("aria-label", figure.querySelector("figcaption").textContent + ", per hour; see the table below");
    return { figure: figure, chart: draw(figure) };
  });
  let pending = null;
  window.addEventListener("resize", function () {
    clearTimeout(pending);
    pending = setTimeout(function () {
      charts.forEach(function (c) {
        c.chart.setSize({ width: Math.max(240, Math.floor(c.figure.getBoundingClientRect().width) - 4), height: 160 });
      });
    }, 150);
  });
})();
