// Draw finished figures from the server. The browser never rebuilds a figure; it only
// keeps one <figure> per server figure, in the server's order, and calls Plotly.react.
/* global Plotly */

// No mode bar: its buttons were tab stops inside the figure's role="img" and covered the
// titles; our own buttons under each figure (static/js/figure-tools.js) replace it. Zoom by
// dragging and double-click to reset stay. showSendToCloud: plotly.js 4 can upload a figure
// to Plotly Cloud; nothing leaves this server's pages.
export const CONFIG = {
  responsive: true,
  displayModeBar: false,
  displaylogo: false,
  scrollZoom: false,
  showSendToCloud: false,
};

// A figure that appears after an update (gate heatmaps when the cell becomes an LSTM): a copy
// of the page's <template id="figure-template">, the server's markup of a figure.
function figureElement(name, title) {
  const template = document.getElementById("figure-template");
  const figure = template.content.firstElementChild.cloneNode(true);
  figure.id = `figure-${name}`;
  figure.dataset.figure = name;
  const plot = figure.querySelector(".plot");
  plot.id = `plot-${name}`;
  plot.setAttribute("aria-label", title);
  figure.querySelector("figcaption").id = `summary-${name}`;
  return figure;
}

// figures: [{name, title, summary, figure: {data, layout}}] in page order
export function drawAll(container, figures) {
  const names = figures.map((f) => f.name);
  for (const old of container.querySelectorAll("figure.fig")) {
    if (!names.includes(old.id.replace("figure-", ""))) {
      Plotly.purge(old.querySelector(".plot"));
      old.remove();
    }
  }
  let previous = null;
  for (const f of figures) {
    const name = f.name;
    let figure = document.getElementById(`figure-${name}`);
    if (!figure) figure = figureElement(name, f.title);
    const inPlace = previous ? previous.nextElementSibling === figure : container.firstElementChild === figure;
    if (!inPlace) {
      if (previous) previous.after(figure);
      else container.prepend(figure);
    }
    previous = figure;
    Plotly.react(`plot-${name}`, f.figure.data, f.figure.layout, CONFIG);
    figure.querySelector("figcaption").textContent = f.summary;
  }
}
