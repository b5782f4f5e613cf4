// Under each figure: PNG (2x or 3x) and SVG for slides, CSV and JSON from
// <api>/figures/<name>.<ext>?<query>, and the data table, which the server renders
// (<api>/figures/<name>.html) when it is opened.
//
// An image is drawn by Plotly from a copy of the figure (the page's figure is left as it is)
// at a slide's size, 1200 x 675 css px times the chosen scale, with the figure's title and a
// one-line footnote saying the configuration: the form's data-label ("tanh RNN, n = 32, ..."),
// or the view and its query when the page has no label. Its file is named
// <view>-<figure>-<short config>.png, e.g. explore-profile-seq_len400-forget_bias3.png.
/* global Plotly */
const form = document.getElementById("controls");
const api = form.dataset.api;

export const WIDTH = 1200;
export const HEIGHT = 675;
const FOOT = 34; // px under the figure's own bottom margin, for the footnote
const EDGE = 10; // px from the image's edges to the footnote
const LONGEST = 160; // characters of a footnote

function address(name, ext) {
  const query = form.dataset.query;
  return `${api}/figures/${name}.${ext}${query ? "?" + query : ""}`;
}

// "seq_len=400&forget_bias=3" -> "seq_len400-forget_bias3"; "" -> "default"
export function shortConfig(query) {
  const parts = [...new URLSearchParams(query || "")].map(([k, v]) => `${k}${v}`);
  const name = parts.join("-").replace(/[^A-Za-z0-9_.-]+/g, "_").replace(/^[._-]+/, "");
  return name.slice(0, 120) || "default";
}

function fileName(figureName, ext) {
  const view = form.dataset.view || "figure";
  return `${view}-${figureName}-${shortConfig(form.dataset.query)}.${ext}`;
}

function footnote() {
  const query = form.dataset.query;
  const view = form.dataset.view || "";
  const text = form.dataset.label || `${view}: ${query ? query.replaceAll("&", ", ") : "defaults"}`;
  const short = text.length > LONGEST ? text.slice(0, LONGEST - 1) + "\u2026" : text;
  // Plotly reads annotation text as a small HTML subset
  return short.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;");
}

function copy(value) {
  return JSON.parse(JSON.stringify(value));
}

// The figure of `plot` at slide size, drawn off-screen with its footnote, as PNG bytes or SVG
// text. The footnote sits under everything Plotly put in the bottom margin (axis title,
// legend): the margin Plotly needed is read from a first drawing, then made FOOT px taller.
async function render(plot, format, scale) {
  const layout = copy(plot.layout);
  layout.width = WIDTH;
  layout.height = HEIGHT;
  layout.font = { ...(layout.font || {}), size: 14 };
  if (layout.title) layout.title = { ...layout.title, font: { ...(layout.title.font || {}), size: 18 } };
  const notes = layout.annotations || [];
  const note = notes.length;
  layout.annotations = [
    ...notes,
    {
      xref: "paper",
      yref: "paper",
      x: 0,
      y: 0,
      xanchor: "left",
      yanchor: "bottom",
      text: footnote(),
      showarrow: false,
      align: "left",
      font: { size: 13, color: "#444444" },
    },
  ];
  const stage = document.createElement("div");
  Object.assign(stage.style, { position: "fixed", left: "-20000px", top: "0", width: `${WIDTH}px`, height: `${HEIGHT}px` });
  stage.setAttribute("aria-hidden", "true");
  document.body.append(stage);
  try {
    await Plotly.newPlot(stage, copy(plot.data), layout, { staticPlot: true, displayModeBar: false });
    const needed = stage._fullLayout._size.b;
    await Plotly.relayout(stage, { "margin.b": needed + FOOT });
    const size = stage._fullLayout._size;
    await Plotly.relayout(stage, {
      [`annotations[${note}].yshift`]: -(size.b - EDGE),
      [`annotations[${note}].xshift`]: -(size.l - EDGE),
    });
    return await Plotly.toImage(stage, { format, width: WIDTH, height: HEIGHT, scale, imageDataOnly: true });
  } finally {
    Plotly.purge(stage);
    stage.remove();
  }
}

function save(blob, name) {
  const url = URL.createObjectURL(blob);
  const link = document.createElement("a");
  link.href = url;
  link.download = name;
  link.hidden = true;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60000);
}

async function download(button) {
  const figure = button.closest("figure.fig");
  const plot = figure.querySelector(".plot");
  if (!plot.data) return; // not drawn yet
  const format = button.dataset.export;
  const scale = format === "png" ? Number(figure.querySelector("[data-export-scale]").value) || 2 : 1;
  button.disabled = true;
  try {
    const image = await render(plot, format, scale);
    if (format === "png") {
      const bytes = Uint8Array.from(atob(image), (c) => c.charCodeAt(0));
      save(new Blob([bytes], { type: "image/png" }), fileName(figure.dataset.figure, "png"));
    } else {
      save(new Blob([image], { type: "image/svg+xml" }), fileName(figure.dataset.figure, "svg"));
    }
  } finally {
    button.disabled = false;
  }
}

async function loadTable(details) {
  const query = form.dataset.query;
  if (details.dataset.query === query) return;
  const name = details.closest("figure.fig").dataset.figure;
  const response = await fetch(address(name, "html"));
  if (!response.ok || form.dataset.query !== query) return;
  details.querySelector(".table-body").innerHTML = await response.text();
  details.dataset.query = query;
}

function refresh() {
  for (const figure of document.querySelectorAll(".figures figure.fig")) {
    for (const link of figure.querySelectorAll("a[data-export]")) {
      link.href = address(figure.dataset.figure, link.dataset.export);
    }
    const details = figure.querySelector("details.data-table");
    if (details.open) loadTable(details);
  }
}

document.addEventListener("click", (event) => {
  const button = event.target.closest("button[data-export]");
  if (button) download(button);
});
// toggle does not bubble: listen in the capture phase
document.addEventListener("toggle", (event) => {
  if (event.target.matches("details.data-table") && event.target.open) loadTable(event.target);
}, true);
document.addEventListener("bpttlab:drawn", refresh);
