// Share: copy the address, which is the whole state of the view. Embed: the iframe snippet
// for the current state, as the server's oEmbed endpoint writes it.
const form = document.getElementById("controls");
const box = document.getElementById("embed-box");
const mode = document.getElementById("embed-controls");
const picks = document.getElementById("embed-figures");
const code = document.getElementById("embed-code");

// navigator.clipboard, or (no permission, plain http) the text selected for the reader to copy
async function copy(text, status, field) {
  try {
    await navigator.clipboard.writeText(text);
    status.textContent = "Copied";
  } catch {
    field.closest("[hidden]")?.removeAttribute("hidden");
    field.value = text;
    field.focus();
    field.select();
    status.textContent = "Select the text and copy it (Ctrl+C)";
  }
}

function listFigures() {
  const ticked = new Set([...picks.querySelectorAll("input:checked")].map((i) => i.value));
  for (const old of picks.querySelectorAll("label")) old.remove();
  for (const figure of document.querySelectorAll(".figures figure.fig")) {
    const input = document.createElement("input");
    input.type = "checkbox";
    input.value = figure.dataset.figure;
    input.checked = ticked.has(input.value);
    const label = document.createElement("label");
    label.append(input, " ", figure.querySelector(".plot").getAttribute("aria-label"));
    picks.append(label);
  }
}

async function snippet() {
  if (!box.open) return;
  const params = new URLSearchParams(form.dataset.query);
  if (mode.value !== "compact") params.set("controls", mode.value);
  const names = [...picks.querySelectorAll("input:checked")].map((i) => i.value);
  if (names.length) params.set("figures", names.join(","));
  const query = params.toString();
  const url = `${location.origin}/embed/${form.dataset.view}${query ? "?" + query : ""}`;
  const response = await fetch(`/oembed?format=json&url=${encodeURIComponent(url)}`);
  const body = await response.json();
  code.value = response.ok ? body.html : body.message;
}

document.getElementById("share-button").addEventListener("click", () =>
  copy(location.href, document.getElementById("share-status"), document.getElementById("share-url")));
document.getElementById("embed-copy").addEventListener("click", () =>
  copy(code.value, document.getElementById("embed-status"), code));
box.addEventListener("toggle", () => { listFigures(); snippet(); });
mode.addEventListener("change", snippet);
picks.addEventListener("change", snippet);
document.addEventListener("bpttlab:drawn", () => { listFigures(); snippet(); });
