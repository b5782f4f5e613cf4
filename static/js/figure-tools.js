// Under each figure: PNG (Plotly's own), CSV and JSON from <api>/figures/<name>.<ext>?<query>,
// and the data table, which the server renders (<api>/figures/<name>.html) when it is opened.
/* global Plotly */
const form = document.getElementById("controls");
const api = form.dataset.api;

function address(name, ext) {
  const query = form.dataset.query;
  return `${api}/figures/${name}.${ext}${query ? "?" + query : ""}`;
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
  const button = event.target.closest("button[data-export='png']");
  if (!button) return;
  const figure = button.closest("figure.fig");
  Plotly.downloadImage(figure.querySelector(".plot"), { format: "png", filename: figure.dataset.figure });
});
// toggle does not bubble: listen in the capture phase
document.addEventListener("toggle", (event) => {
  if (event.target.matches("details.data-table") && event.target.open) loadTable(event.target);
}, true);
document.addEventListener("bpttlab:drawn", refresh);
