/* The funnel page's charts (uPlot): the steps as bars numbered like the table below them, and
   who started and who registered per day. The numbers come from the page's JSON block. */
(function () {
  "use strict";
  var source = document.getElementById("funnel-data");
  if (!source || typeof uPlot === "undefined") return;
  var data = JSON.parse(source.textContent);
  var charts = [];

  function width(element) {
    return Math.max(200, element.clientWidth);
  }

  function stepsChart(element) {
    var xs = data.steps.map(function (_, i) { return i + 1; });
    return new uPlot({
      width: width(element),
      height: 220,
      legend: { show: false },
      cursor: { show: false },
      scales: { x: { time: false, range: [0.4, xs.length + 0.6] } },
      axes: [
        { splits: function () { return xs; }, values: function (u, splits) { return splits; } },
        { size: 48 }
      ],
      series: [
        {},
        {
          label: "steps",
          fill: "#0b5cad",
          stroke: "#0b5cad",
          paths: uPlot.paths.bars({ size: [0.7, 48] }),
          points: { show: false }
        }
      ]
    }, [xs, data.steps], element);
  }

  function daysChart(element) {
    return new uPlot({
      width: width(element),
      height: 220,
      tzDate: function (ts) { return uPlot.tzDate(new Date(ts * 1e3), data.zone); },
      scales: { x: { time: true } },
      axes: [{}, { size: 48 }],
      series: [
        {},
        { label: element.dataset.started, stroke: "#5b6775", width: 2 },
        { label: element.dataset.registered, stroke: "#0b5cad", width: 2 }
      ]
    }, [data.days, data.started, data.registered], element);
  }

  function draw(id, make) {
    var element = document.getElementById(id);
    if (element) charts.push([element, make(element)]);
  }

  draw("steps-chart", stepsChart);
  draw("days-chart", daysChart);
  window.addEventListener("resize", function () {
    charts.forEach(function (pair) {
      pair[1].setSize({ width: width(pair[0]), height: 220 });
    });
  });
})();
