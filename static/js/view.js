// Every view: controls -> fetch the view's figures -> Plotly.react. State lives in the URL.
// The form names its API (data-api); the server answers {query, label?, figures, numbers?}.
// After each draw the form's data-query (and data-label) hold the canonical query (and its
// one-line description) and `bpttlab:drawn` fires.
//
// Latest wins: at most one /figures request is in flight. A change made meanwhile only
// marks the page stale; when the answer comes (drawn or not), the newest state is sent, if
// it is not the one just asked for. So a drag over ten positions computes two or three
// states, not ten. On the release of a slider (`change`) the page does not wait for the
// answer to a state it has left: it drops that request and asks for the final state at once
// (the server finishes a computation already running, on its other core, and does not start
// one still queued); a request sent so is not dropped in turn, so at most two computations
// of a page run at once. While a request is in flight the figures it will replace are dimmed
// (class `computing`, aria-busy) and the status above them says so, with the server's
// estimate (<api>/estimate) when it expects more than a second.
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
const LONG = 1; // seconds: from this estimate on, the status says how long
let inflight = null; // the query of the request in flight
let dropping = null; // how to drop it (null: it may not be dropped)
let settled = null; // the query of the last answer (drawn or not), set once the page is up

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

// The figures about to be replaced, dimmed, and the status above them.
function progress(query) {
  const figures = figuresBox.querySelectorAll("figure.fig");
  figuresBox.setAttribute("aria-busy", String(query !== null));
  for (const figure of figures) {
    figure.classList.toggle("computing", query !== null);
    if (query === null) delete figure.dataset.progress;
    else figure.dataset.progress = "Computing";
  }
  status.textContent = query === null ? "" : "Computing...";
  if (query !== null) estimate(query);
}

async function estimate(query) {
  let seconds;
  try {
    const response = await fetch(`${api}/estimate?${query}`);
    if (!response.ok) return;
    ({ seconds } = await response.json());
  } catch {
    return; // the figures request will say what went wrong
  }
  if (inflight !== query || !(seconds >= LONG)) return;
  const about = `about ${Math.round(seconds)} s`;
  status.textContent = `Computing, ${about}...`;
  for (const figure of figuresBox.querySelectorAll("figure.fig.computing")) {
    figure.dataset.progress = `Computing, ${about}`;
  }
}

// Ask for the current state, unless a request is in flight: then its answer asks (the form
// is marked stale meanwhile).
function request() {
  if (inflight === null) send(formState(form).toString());
  else form.dataset.stale = "true";
}

async function send(query, droppable = true) {
  inflight = query;
  delete form.dataset.stale;
  progress(query);
  const controller = new AbortController();
  dropping = droppable ? controller : null;
  let response, body, failure = null;
  try {
    response = await fetch(`${api}/figures?${query}`, { signal: controller.signal });
    body = await response.json();
  } catch (err) {
    failure = err;
  }
  inflight = null;
  dropping = null;
  if (controller.signal.aborted) {
    send(formState(form).toString(), false); // dropped on release: the final state now
    return;
  }
  settled = query;
  if (failure) showProblem(`Could not reach the server: ${failure.message}`);
  else if (!response.ok) showProblem(body.message || `Error ${response.status}`);
  else draw(body);
  const newest = formState(form).toString();
  if (newest !== query) {
    send(newest); // the figures stay dimmed: they are about to be replaced again
  } else {
    delete form.dataset.stale;
    progress(null);
  }
}

function draw(body) {
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
  form.dataset.label = body.label || "";
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

// A change that leaves the state as last answered (a number box's `change` after its
// `input`s) asks nothing.
function changed() {
  if (inflight !== null || formState(form).toString() !== settled) request();
}

const scheduled = debounce(changed, 120);

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
form.addEventListener("change", (event) => {
  const released = event.target.type === "range";
  if (released && dropping && formState(form).toString() !== inflight) dropping.abort();
  else scheduled();
});
form.addEventListener("submit", (event) => { event.preventDefault(); request(); });

form.querySelector(".apply").hidden = true; // with JS every change applies itself
// The status of the figures where the eyes are: over their top edge, in sight while they
// are scrolled (a sticky box of no height: the page does not move when it fills).
const statusBox = document.createElement("div");
statusBox.className = "figures-status";
statusBox.append(status);
figuresBox.before(statusBox);
showCells();
settled = formState(form).toString();
drawAll(figuresBox, JSON.parse(document.getElementById("initial-figures").textContent));
document.body.dataset.ready = "true";
