// /cliff: a click on the loss surface or the gradient map starts the descent there.
const form = document.getElementById("controls");

function startAt(event) {
  const point = event.points && event.points[0];
  if (!point || point.x === undefined || point.y === undefined) return;
  form.elements.start_w.value = Number(point.x).toPrecision(6);
  form.elements.start_b.value = Number(point.y).toPrecision(6);
  form.requestSubmit();
}

function listen() {
  for (const id of ["plot-surface", "plot-gradient"]) {
    const plot = document.getElementById(id);
    if (plot && plot.on && !plot.dataset.clickable) {
      plot.on("plotly_click", startAt);
      plot.dataset.clickable = "true";
    }
  }
}

document.addEventListener("bpttlab:drawn", listen);
listen();
