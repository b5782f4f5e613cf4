// The offline copy written by `bpttlab export`: data.js holds the figures of every precomputed
// point (window.BPTTLAB_EXPORT.points, keyed "seq_len=100&scale=0.9"), a trace many points
// share stored once (BPTTLAB_EXPORT.shared, referred to as {"$ref": i}); a control picks the
// point. On a view whose figures invite a click (BPTTLAB_EXPORT.click: /cliff's start point),
// a click sets the two controls it names to their nearest precomputed values.
// A classic script, not a module: modules do not load from file://.
/* global Plotly */
(function () {
  "use strict";
  var data = window.BPTTLAB_EXPORT;
  var form = document.getElementById("controls");
  // the pages' config (static/js/plots.js): no mode bar, our own page has nothing to add
  var CONFIG = { responsive: true, displaylogo: false, scrollZoom: false, showSendToCloud: false, displayModeBar: false };

  function key() {
    return data.fields.map(function (name) { return name + "=" + form.elements[name].value; }).join("&");
  }

  function traces(figure) {
    return figure.data.map(function (t) { return "$ref" in t ? data.shared[t.$ref] : t; });
  }

  function show(id, on) {
    var element = document.getElementById(id);
    if (element) element.hidden = !on;
  }

  function draw() {
    var point = data.points[key()];
    var missing = document.getElementById("missing");
    document.getElementById("figures").hidden = !point;
    var numbers = document.getElementById("numbers");
    if (numbers) numbers.hidden = !point;
    if (!point) {
      missing.textContent = "This combination was not computed: " + (data.missing[key()] || "it is not in this copy") + ".";
      missing.hidden = false;
      document.body.dataset.point = "";
      return;
    }
    missing.hidden = true;
    // the point's figures in its order (the LSTM's gates come after its profile), the others
    // hidden
    var names = point.figures.map(function (f) { return f.name; });
    var container = document.getElementById("figures");
    var previous = null;
    names.forEach(function (name) {
      var figure = document.getElementById("figure-" + name);
      if (!figure) return;
      var inPlace = previous ? previous.nextElementSibling === figure : container.firstElementChild === figure;
      if (!inPlace) {
        if (previous) previous.after(figure);
        else container.prepend(figure);
      }
      previous = figure;
    });
    container.querySelectorAll("figure.fig").forEach(function (figure) {
      figure.hidden = names.indexOf(figure.id.replace("figure-", "")) < 0;
    });
    point.figures.forEach(function (f) {
      var plot = document.getElementById("plot-" + f.name);
      if (!plot) return;
      plot.setAttribute("aria-label", f.title);
      Plotly.react(plot, traces(f.figure), f.figure.layout, CONFIG);
      document.getElementById("summary-" + f.name).textContent = f.summary;
    });
    var said = (point.numbers || []).map(function (n) { return n.name; });
    document.querySelectorAll("#numbers > div").forEach(function (row) {
      row.hidden = said.indexOf(row.id.replace("number-row-", "")) < 0;
    });
    (point.numbers || []).forEach(function (n) {
      var value = document.getElementById("number-" + n.name);
      if (value) value.textContent = n.value;
      show("number-row-" + n.name, true);
    });
    document.body.dataset.point = key();
  }

  // the option of a select nearest to a number
  function snap(select, value) {
    var best = null;
    Array.prototype.forEach.call(select.options, function (option) {
      var d = Math.abs(Number(option.value) - value);
      if (best === null || d < best.d) best = { d: d, value: option.value };
    });
    if (best) select.value = best.value;
  }

  // (x, y) of a click in the axes' units: where the mouse was (a heatmap's point is the
  // centre of its cell), else the point's own coordinates
  function where(plot, event) {
    var layout = plot._fullLayout;
    var area = plot.querySelector(".nsewdrag");
    var mouse = event.event;
    if (layout && layout.xaxis && layout.xaxis.p2l && area && mouse && mouse.clientX !== undefined) {
      var box = area.getBoundingClientRect();
      return [layout.xaxis.p2l(mouse.clientX - box.left), layout.yaxis.p2l(mouse.clientY - box.top)];
    }
    var p = event.points && event.points[0];
    if (!p || p.x === undefined || p.y === undefined) return null;
    return [Number(p.x), Number(p.y)];
  }

  function clickable() {
    if (!data.click) return;
    data.click.figures.forEach(function (name) {
      var plot = document.getElementById("plot-" + name);
      if (!plot || !plot.on || plot.dataset.clickable) return;
      plot.on("plotly_click", function (event) {
        var at = where(plot, event);
        if (!at) return;
        snap(form.elements[data.click.x], at[0]);
        snap(form.elements[data.click.y], at[1]);
        draw();
      });
      plot.dataset.clickable = "true";
    });
  }

  form.addEventListener("change", draw);
  form.addEventListener("submit", function (event) { event.preventDefault(); });
  draw();
  clickable();
  document.body.dataset.ready = "true";
})();
