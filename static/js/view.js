// Every view: controls -> fetch the view's figures -> Plotly.react. State lives in the URL.
// The form names its API (data-api); the server answers {query, figures, numbers?}.
// After each draw the form's data-query holds the canonical query and `bpttlab:drawn` fires.
import { debounce, formState, writeUrl } from "./state.js";
import { drawAll } from "./plots.js";

const form = document.getElementById("controls");
const problems = document.getElementById("problems");
const status = document.getElementById("status");
const figuresBox = document.querySelector(".figures");
const numbers = document.getElementById("numbers");
const api = form.dataset.api;
const keep = form.dataset.keep || ""; // an embed's own parameters, kept in its URL
const only = figuresBox.dataset.only ? figuresBox.dataset.only.split(",") : null; // figures=
let latest = 0;
let inflight = null;

// Controls that apply to some values of a selector (data-cells) show only then: the
// selector is the form's `cell` (explore) or `matrix` (eigen) control.
function showCells() {
  const selector = form.elements.cell || form.elements.matrix;
  if (!selector) return;
  const cell = selector.value;
  for (const el of form.querySelectorAll("[data-cells]")) {
    el.hidden = !el.dataset.cells.split(" ").includes(cell);
  }
}

function showProblem(message) {
  problems.hidden = !message;
  problems.textContent = message || "";
}

async function update() {
  const id = ++latest;
  if (inflight) inflight.abort();
  inflight = new AbortController();
  const query = formState(form).toString();
  status.textContent = "Computing...";
  let response, body;
  try {
    response = await fetch(`${api}/figures?${query}`, { signal: inflight.signal });
    body = await response.json();
  } catch (err) {
    if (err.name === "AbortError") return;
    if (id === latest) { showProblem(`Could not reach the server: ${err.message}`); status.textContent = ""; }
    return;
  }
  if (id !== latest) return; // a newer request owns the page
  status.textContent = "";
  if (!response.ok) {
    showProblem(body.message || `Error ${response.status}`);
    return;
  }
  showProblem("");
  drawAll(figuresBox, only ? body.figures.filter((f) => only.includes(f.name)) : body.figures);
  writeUrl(body.query, keep);
  const suffix = body.query ? "?" + body.query : "";
  for (const link of document.querySelectorAll("[data-api-link]")) {
    link.href = `${api}${link.dataset.apiLink}${suffix}`;
  }
  for (const link of document.querySelectorAll("[data-page-link]")) {
    link.href = `/${form.dataset.view}${suffix}`;
  }
  form.dataset.query = body.query;
  form.dataset.label = body.label;
  document.dispatchEvent(new CustomEvent("bpttlab:drawn"));
  if (numbers && body.numbers) showNumbers(body.numbers);
  document.body.dataset.query = body.query;
}

function showNumbers(items) {
  for (const item of items) {
    const value = document.getElementById(`number-${item.name}`);
    if (value) value.textContent = item.value;
  }
}

const scheduled = debounce(update, 120);

form.addEventListener("input", (event) => {
  const el = event.target;
  if (el.dataset.for) form.elements[el.dataset.for].value = el.value; // slider -> number box
  else if (el.type === "number") {
    const slider = document.getElementById(`${el.id}-slider`);
    if (slider && el.value !== "") slider.value = el.value;
  }
  if (el.name === "cell" || el.name === "matrix") showCells();
  scheduled();
});
form.addEventListener("change", scheduled);
form.addEventListener("submit", (event) => { event.preventDefault(); update(); });

form.querySelector(".apply").hidden = true; // with JS every change applies itself
showCells();
drawAll(figuresBox, JSON.parse(document.getElementById("initial-figures").textContent));
document.body.dataset.ready = "true";
