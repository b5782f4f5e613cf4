// Draw finished figures from the server. The browser never rebuilds a figure; it only
// keeps one <figure> per server figure, in the server's order, and calls Plotly.react.
/* global Plotly */

const CONFIG = { responsive: true, displaylogo: false, scrollZoom: false };

function figureElement(name, title) {
  const figure = document.createElement("figure");
  figure.className = "fig";
  figure.id = `figure-${name}`;
  const plot = document.createElement("div");
  plot.className = "plot";
  plot.id = `plot-${name}`;
  plot.setAttribute("role", "img");
  plot.setAttribute("aria-label", title);
  const caption = document.createElement("figcaption");
  caption.id = `summary-${name}`;
  figure.append(plot, caption);
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
