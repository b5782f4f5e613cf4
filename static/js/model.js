// /model: upload a state_dict file (XMLHttpRequest: its upload progress drives a bar), show
// the architecture the server read from it, start its analysis, follow the analysis' events
// (a second bar) and draw the server's figures. The state is the URL (/model?model=<sha>&...).
import { drawAll } from "./plots.js";

const API = "/api/v1/models";
const form = document.getElementById("model-form");
const fileInput = document.getElementById("model-file");
const inputsInput = document.getElementById("inputs-file");
const zone = document.getElementById("dropzone");
const uploadBar = document.getElementById("upload-bar");
const analysisBar = document.getElementById("analysis-bar");
const analyseButton = document.getElementById("analyse");
const cancelButton = document.getElementById("cancel");
const status = document.getElementById("model-status");
const analysisStatus = document.getElementById("analysis-status");
const problem = document.getElementById("model-problem");
const modeLine = document.getElementById("mode-line");
const figures = document.getElementById("figures");
const FIELDS = ["nonlinearity", "seq_len", "loss", "seed", "probes", "mode", "sequence"];

const state = { model: form.dataset.model || null, inputs: form.dataset.inputs || null, job: null };

const value = (name) => document.getElementById(name).value;
function say(text) {
  status.textContent = text;
}
function refuse(body) {
  problem.hidden = false;
  const where = body.errors && body.errors[0] ? body.errors[0].field : "";
  problem.textContent = `Refused${where ? ` (${where})` : ""}: ${body.message || body}`;
}
function clearProblem() {
  problem.hidden = true;
  problem.textContent = "";
}

// The page's address: the model, the inputs and the form (defaults left out).
function remember() {
  const q = new URLSearchParams();
  if (state.model) q.set("model", state.model);
  if (state.inputs) q.set("inputs", state.inputs);
  for (const name of FIELDS) {
    const v = value(name);
    if (v !== "" && !(name === "sequence" && v === "0")) q.set(name, v);
  }
  history.replaceState(null, "", `/model?${q}`);
}

function showSummary(a) {
  const rows = [
    ["Cell", `${a.torch_class} (${a.cell})`],
    ["Nonlinearity", a.nonlinearity || "fixed by the cell"],
    ["Layers", String(a.num_layers)],
    ["Bidirectional", a.bidirectional ? "yes" : "no"],
    ["Hidden size", String(a.hidden_size)],
    ["Input size", String(a.input_size)],
    ["Biases", a.bias ? "from the file" : "none (zero)"],
    ["Output layer", a.output_layer === "file" ? `from the file: ${a.output_name} (V = ${a.vocab_size})` : `drawn from the seed (V = ${a.vocab_size})`],
    ["File", a.format],
  ];
  const dl = document.getElementById("summary");
  dl.replaceChildren(
    ...rows.map(([k, v]) => {
      const div = document.createElement("div");
      const dt = document.createElement("dt");
      const dd = document.createElement("dd");
      dt.textContent = k;
      dd.textContent = v;
      div.append(dt, dd);
      return div;
    }),
  );
  const notes = document.getElementById("summary-notes");
  notes.replaceChildren(
    ...a.notes.map((n) => {
      const li = document.createElement("li");
      li.textContent = n;
      return li;
    }),
  );
  document.getElementById("architecture").hidden = false;
}

function accepted(body) {
  state.model = body.sha256;
  showSummary(body.architecture);
  analyseButton.disabled = false;
  inputsInput.disabled = false;
  remember();
}

// POST a file with upload progress; resolves {status, body}.
function send(url, file, bar) {
  return new Promise((resolve) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", url);
    xhr.setRequestHeader("Content-Type", "application/octet-stream");
    xhr.responseType = "json";
    bar.value = 0;
    xhr.upload.onprogress = (e) => {
      if (e.lengthComputable) {
        bar.max = e.total;
        bar.value = e.loaded;
      }
    };
    xhr.onload = () => {
      if (bar.max === 1) bar.max = file.size || 1;
      bar.value = bar.max;
      resolve({ status: xhr.status, body: xhr.response || { message: `HTTP ${xhr.status}` } });
    };
    xhr.onerror = () => resolve({ status: 0, body: { message: "the upload failed (connection lost)" } });
    xhr.send(file);
  });
}

async function uploadModel(file) {
  clearProblem();
  state.inputs = null;
  document.getElementById("inputs-status").textContent = "None: drawn from the seed.";
  say(`Uploading ${file.name} (${file.size} bytes)...`);
  const q = new URLSearchParams({ nonlinearity: value("nonlinearity") });
  const r = await send(`${API}?${q}`, file, uploadBar);
  if (r.status === 200 || r.status === 201) {
    say(`${file.name}: read. ${r.status === 200 ? "The server had it already. " : ""}Check the architecture below, then Analyse.`);
    accepted(r.body);
  } else {
    say(`${file.name} was not accepted.`);
    refuse(r.body);
  }
}

async function uploadInputs(file) {
  clearProblem();
  const line = document.getElementById("inputs-status");
  line.textContent = `Uploading ${file.name}...`;
  const bar = document.createElement("progress"); // not shown: the inputs are small
  const r = await send(`${API}/${state.model}/inputs`, file, bar);
  if (r.status === 200 || r.status === 201) {
    state.inputs = r.body.sha256;
    const [b, t, d] = r.body.shape;
    line.textContent = `${file.name}: B = ${b} sequence(s) of T = ${t} steps, d = ${d}.`;
    document.getElementById("seq_len").value = String(t);
    remember();
  } else {
    line.textContent = `${file.name} was not accepted.`;
    refuse(r.body);
  }
}

function draw(result) {
  modeLine.textContent = result.mode_line;
  modeLine.hidden = false;
  drawAll(figures, result.figures);
  document.body.dataset.drawn = String(Number(document.body.dataset.drawn || 0) + 1);
}

function finish(text) {
  cancelButton.disabled = true;
  analyseButton.disabled = false;
  analysisStatus.textContent = text;
  document.body.dataset.ended = "true";
}

function follow(job) {
  const source = new EventSource(job.events);
  state.job = { ...job, source };
  let ended = false;
  source.addEventListener("progress", (m) => {
    const e = JSON.parse(m.data);
    analysisBar.max = 1;
    analysisBar.value = e.fraction;
    analysisStatus.textContent = `${e.stage}: ${Math.round(100 * e.fraction)}%, ${e.elapsed.toFixed(1)} s.`;
  });
  source.addEventListener("result", (m) => {
    ended = true;
    const e = JSON.parse(m.data);
    if (e.status === "finished") {
      analysisBar.value = analysisBar.max;
      draw(e.result);
    }
    finish(`Ended: ${e.status}.`);
  });
  source.addEventListener("failure", (m) => {
    ended = true;
    finish(`Failed: ${JSON.parse(m.data).message}`);
  });
  source.addEventListener("error", () => {
    if (ended) source.close();
  });
}

async function analyse(event) {
  if (event) event.preventDefault();
  if (!state.model) return;
  clearProblem();
  remember();
  if (state.job && state.job.source) state.job.source.close();
  delete document.body.dataset.ended;
  const body = { loss: value("loss"), mode: value("mode"), inputs: state.inputs };
  for (const name of ["seed", "probes", "sequence"]) body[name] = Number(value(name));
  if (value("seq_len") !== "") body.seq_len = Number(value("seq_len"));
  body.nonlinearity = value("nonlinearity");
  analyseButton.disabled = true;
  analysisBar.value = 0;
  analysisStatus.textContent = "Starting...";
  const r = await fetch(`${API}/${state.model}/analysis`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  const b = await r.json();
  if (r.status === 200) {
    analysisBar.max = 1;
    analysisBar.value = 1;
    draw(b.result);
    finish("Ended: finished (this analysis ran before: from the server's cache).");
    return;
  }
  analyseButton.disabled = false;
  if (r.status !== 202) {
    analysisStatus.textContent = "";
    if (r.status === 404) gone();
    else if (r.status === 503) refuse({ message: `the server is busy: try again in ${r.headers.get("Retry-After")} s` });
    else refuse(b);
    return;
  }
  analyseButton.disabled = true;
  cancelButton.disabled = false;
  modeLine.hidden = true;
  analysisStatus.textContent = "Queued: waiting for a worker.";
  follow(b);
}

function gone() {
  say("This server no longer has the model of this link (its store keeps the most recently used files). Choose or drop the file again to reopen the analysis.");
  document.getElementById("architecture").hidden = true;
  analyseButton.disabled = true;
  state.model = null;
}

// A link: the model's architecture from the store, then its analysis (cached: at once).
async function reopen() {
  say("Opening the model of this link...");
  const q = new URLSearchParams({ nonlinearity: value("nonlinearity") });
  const r = await fetch(`${API}/${state.model}?${q}`);
  const b = await r.json();
  if (r.status === 404) return gone();
  if (!r.ok) return refuse(b);
  say("The model of this link, as the server read it:");
  accepted(b);
  analyse();
}

fileInput.addEventListener("change", () => {
  if (fileInput.files.length) uploadModel(fileInput.files[0]);
});
inputsInput.addEventListener("change", () => {
  if (inputsInput.files.length && state.model) uploadInputs(inputsInput.files[0]);
});
for (const type of ["dragenter", "dragover"]) {
  zone.addEventListener(type, (e) => {
    e.preventDefault();
    zone.classList.add("over");
  });
}
zone.addEventListener("dragleave", () => zone.classList.remove("over"));
zone.addEventListener("drop", (e) => {
  e.preventDefault();
  zone.classList.remove("over");
  if (e.dataTransfer.files.length) uploadModel(e.dataTransfer.files[0]);
});
form.addEventListener("submit", analyse);
cancelButton.addEventListener("click", () => {
  if (state.job) fetch(state.job.state, { method: "DELETE" });
});
if (state.model) reopen();
document.body.dataset.ready = "true";
