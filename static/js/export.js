// The offline copy written by `bpttlab export`: data.js holds the figures of every grid point
// (window.BPTTLAB_EXPORT.points, keyed "seq_len=100&scale=0.9"); a control picks the point.
// A classic script, not a module: modules do not load from file://.
/* global Plotly */
(function () {
  "use strict";
  var data = window.BPTTLAB_EXPORT;
  var form = document.getElementById("controls");

  function key() {
    return data.fields.map(function (name) { return name + "=" + form.elements[name].value; }).join("&");
  }

  function draw() {
    var point = data.points[key()];
    if (!point) return;
    point.figures.forEach(function (f) {
      var plot = document.getElementById("plot-" + f.name);
      if (!plot) return;
      Plotly.react(plot, f.figure.data, f.figure.layout, { responsive: true, displaylogo: false, showSendToCloud: false, displayModeBar: false });
      document.getElementById("summary-" + f.name).textContent = f.summary;
    });
    (point.numbers || []).forEach(function (n) {
      var value = document.getElementById("number-" + n.name);
      if (value) value.textContent = n.value;
    });
    document.body.dataset.point = key();
  }

  form.addEventListener("change", draw);
  draw();
  document.body.dataset.ready = "true";
})();
