// /train: start a training job from the form, follow its Server-Sent Events (the progress
// bar), and draw the server's figures of it (GET /api/v1/train/{id}/figures, at most one
// request in flight, the newest state asked for next). The figures are built by the server.
import { drawAll } from "./plots.js";

const form = document.getElementById("train-form");
const startButton = document.getElementById("train-start");
const cancelButton = document.getElementById("train-cancel");
const bar = document.getElementById("train-bar");
const status = document.getElementById("train-status");
const container = document.getElementById("figures");
const API = "/api/v1/train";

let job = null; // {id, source}
let drawing = false;
let stale = false;

function body() {
  const out = {};
  for (const el of form.querySelectorAll("input[name], select[name]")) {
    out[el.name] = el.type === "number" ? Number(el.value) : el.value;
  }
  return out;
}

function say(text) {
  status.textContent = text;
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
    }
  } finally {
    drawing = false;
    if (stale) {
      stale = false;
      draw();
    }
  }
}

function progress(e) {
  const runs = e.runs > 1 ? `run ${e.run + 1} of ${e.runs}, ` : "";
  bar.max = e.steps * e.runs;
  bar.value = e.run * e.steps + e.step;
  const done = (e.run * e.steps + e.step) / (e.steps * e.runs);
  const left = done > 0 ? e.elapsed / done - e.elapsed : null;
  const eta = left === null ? "" : `, about ${Math.ceil(left)} s left`;
  say(`Training: ${runs}step ${e.step} of ${e.steps}, ${e.elapsed.toFixed(1)} s${eta}.`);
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
  let ended = false;
  source.addEventListener("result", (m) => {
    ended = true;
    const e = JSON.parse(m.data);
    bar.value = bar.max;
    finish(`Ended: ${e.status}.`);
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
  const config = body();
  const query = new URLSearchParams(Object.entries(config)).toString();
  history.replaceState(null, "", `/train?${query}`);
  if (job && job.source) job.source.close();
  delete document.body.dataset.ended;
  startButton.disabled = true;
  say("Starting...");
  const r = await fetch(API, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(config),
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
    say(r.status === 503 ? `The server is busy: try again in ${wait} s.` : b.message);
    return;
  }
  cancelButton.disabled = false;
  say("Queued: waiting for a worker.");
  follow(b.id);
}

form.addEventListener("submit", start);
cancelButton.addEventListener("click", () => {
  if (job) fetch(`${API}/${job.id}`, { method: "DELETE" });
});
if (form.dataset.autostart === "true") start();
document.body.dataset.ready = "true";
