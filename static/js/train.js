// /train: start a training job (one run or a sweep) from the form, follow its Server-Sent
// Events (the progress bar), and draw the server's figures of it (GET
// /api/v1/train/{id}/figures, at most one request in flight, the newest state asked for
// next; a sweep's accuracy-vs-L figure is asked for again as each run ends). The figures, the
// progress fraction and the time left come from the server; the page only shows them.
import { drawAll } from "./plots.js";

const form = document.getElementById("train-form");
const startButton = document.getElementById("train-start");
const cancelButton = document.getElementById("train-cancel");
const bar = document.getElementById("train-bar");
const status = document.getElementById("train-status");
const container = document.getElementById("figures");
const lengthsBox = document.getElementById("lengths");
const API = "/api/v1/train";
const SWEEP = new Set(["mode", "cells", "lengths"]);
const PATH = form.getAttribute("action");

let job = null; // {id, source}
let drawing = false;
let stale = false;

function mode() {
  return form.querySelector("input[name=mode]:checked").value;
}

// The training configuration: every control but the sweep's own.
function config() {
  const out = {};
  for (const el of form.querySelectorAll("input[name], select[name]")) {
    if (SWEEP.has(el.name)) continue;
    out[el.name] = el.type === "number" ? Number(el.value) : el.value;
  }
  return out;
}

// The sweep as typed: whole numbers become numbers, anything else is sent as it is for the
// API to name (its 422 is shown next to the field).
function plan() {
  const cells = [...form.querySelectorAll("input[name=cells]:checked")].map((el) => el.value);
  const tokens = lengthsBox.value.split(/[\s,]+/).filter((t) => t !== "");
  const lengths = tokens.map((t) => (/^\d+$/.test(t) ? Number(t) : t));
  return { cells, lengths };
}

function address(cfg, sweep) {
  let query = new URLSearchParams(Object.entries(cfg)).toString();
  if (sweep) {
    const lengths = sweep.lengths.map((v) => encodeURIComponent(String(v))).join(",");
    query += `&mode=sweep&cells=${sweep.cells.join(",")}&lengths=${lengths}`;
  }
  return `${PATH}?${query}`;
}

function say(text) {
  status.textContent = text;
}

// An API refusal next to its field: the sweep's cells or lengths, else the status line.
function showError(field, message) {
  const slot = field.startsWith("sweep.cells") ? "cells" : field.startsWith("sweep") ? "lengths" : null;
  if (slot === null) return false;
  const box = document.getElementById(`${slot}-error`);
  box.textContent = message;
  box.hidden = false;
  const target = slot === "cells" ? form.querySelector("fieldset.cells") : lengthsBox;
  target.setAttribute("aria-invalid", "true");
  return true;
}

function clearErrors() {
  for (const slot of ["cells", "lengths"]) {
    const box = document.getElementById(`${slot}-error`);
    box.hidden = true;
    box.textContent = "";
  }
  form.querySelector("fieldset.cells").removeAttribute("aria-invalid");
  lengthsBox.removeAttribute("aria-invalid");
}

async function draw() {
  if (!job) return;
  if (drawing) {
    stale = true;
    return;
  }
  drawing = true;
  try {
    const r = await fetch(`${API}/${job.id}/figures`);
    if (r.ok) {
      const b = await r.json();
      drawAll(container, Object.entries(b.figures).map(([name, f]) => ({ name, ...f })));
      document.body.dataset.drawn = String(Number(document.body.dataset.drawn || 0) + 1);
      document.dispatchEvent(new CustomEvent("bpttlab:drawn"));
    }
  } finally {
    drawing = false;
    if (stale) {
      stale = false;
      draw();
    }
  }
}

const CELL_NAMES = { rnn: "RNN", lstm: "LSTM", gru: "GRU" };

function progress(e) {
  const which = e.cell ? ` (${CELL_NAMES[e.cell] || e.cell}, L = ${e.length})` : "";
  const runs = e.runs > 1 ? `run ${e.run + 1} of ${e.runs}${which}, ` : "";
  bar.max = e.steps * e.runs;
  bar.value = e.done * bar.max;
  const eta = e.left === null ? "" : `, about ${Math.ceil(e.left)} s left`;
  say(`Training: ${runs}step ${e.step} of ${e.steps}, ${e.job_elapsed.toFixed(1)} s${eta}.`);
}

// The last figures, after any request still in flight: then the page says it has ended.
async function settle() {
  while (drawing) await new Promise((resolve) => setTimeout(resolve, 50));
  await draw();
  document.body.dataset.ended = "true";
}

function finish(text) {
  cancelButton.disabled = true;
  startButton.disabled = false;
  say(text);
  settle();
}

function follow(id) {
  const source = new EventSource(`${API}/${id}/events`);
  job = { id, source };
  let last = 0;
  source.addEventListener("progress", (m) => {
    progress(JSON.parse(m.data));
    const now = performance.now();
    if (now - last > 500) {
      last = now;
      draw();
    }
  });
  source.addEventListener("point", () => draw()); // a sweep's run has ended: its point
  let ended = false;
  source.addEventListener("result", (m) => {
    ended = true;
    const e = JSON.parse(m.data);
    if (e.status === "finished") bar.value = bar.max;
    const why = e.status === "timeout" ? " (the server's time bound for one job)" : "";
    finish(`Ended: ${e.status}${why}.`);
  });
  source.addEventListener("failure", (m) => {
    ended = true;
    finish(`Failed: ${JSON.parse(m.data).message}`);
  });
  // The server ends the stream after the last event; EventSource would then reconnect (and
  // it does, after a lost connection mid-run, resuming after its Last-Event-ID).
  source.addEventListener("error", () => {
    if (ended) source.close();
  });
}

async function start(event) {
  if (event) event.preventDefault();
  const cfg = config();
  const sweep = mode() === "sweep" ? plan() : null;
  history.replaceState(null, "", address(cfg, sweep));
  if (job && job.source) job.source.close();
  delete document.body.dataset.ended;
  clearErrors();
  startButton.disabled = true;
  say("Starting...");
  const r = await fetch(API, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(sweep ? { ...cfg, sweep } : cfg),
  });
  const b = await r.json();
  if (r.status === 200) {
    job = { id: b.id, source: null };
    bar.max = 1;
    bar.value = 1;
    finish(`Ended: ${b.status} (this configuration ran before: replayed from the server's cache).`);
    return;
  }
  if (r.status !== 202) {
    startButton.disabled = false;
    const wait = r.headers.get("Retry-After");
    if (r.status === 503) say(`The server is busy: try again in ${wait} s.`);
    else if (r.status === 422 && showError(b.errors[0].field, b.errors[0].message)) {
      say("Not started: see the message next to the sweep's fields.");
    } else say(b.message);
    return;
  }
  cancelButton.disabled = false;
  say("Queued: waiting for a worker.");
  follow(b.id);
}

function switchMode() {
  form.dataset.mode = mode();
  document.getElementById("sweep-group").hidden = mode() !== "sweep";
}

// On a phone the settings start folded: the mode, the sweep's fields, Start, then the figures.
const settingsBox = form.querySelector("details.train-settings");
if (settingsBox && window.matchMedia("(max-width: 899px)").matches) settingsBox.open = false;

form.addEventListener("submit", start);
for (const radio of form.querySelectorAll("input[name=mode]")) radio.addEventListener("change", switchMode);
cancelButton.addEventListener("click", () => {
  if (job) fetch(`${API}/${job.id}`, { method: "DELETE" });
});
if (form.dataset.autostart === "true") start();
document.body.dataset.ready = "true";
