// Math: every element of class "tex" holds TeX, typeset here with KaTeX (vendored, loaded by
// templates/_math.html before this module). KaTeX writes HTML for the eye and MathML for screen
// readers; the TeX source is kept in data-tex, and stays the text when scripts do not run.
// Content added later (a caption, a help text) is typeset when it appears.
// (display equations flush left, indented by the CSS, as the prose around them)
const OPTIONS = { throwOnError: false, output: "htmlAndMathml", fleqn: true };

function typeset(el) {
  // once per source: an element whose first child is KaTeX's output is done
  const first = el.firstElementChild;
  if (first && (first.classList.contains("katex") || first.classList.contains("katex-display"))) return;
  const tex = el.textContent.trim();
  el.dataset.tex = tex;
  window.katex.render(tex, el, { ...OPTIONS, displayMode: el.classList.contains("display") });
}

function typesetAll() {
  for (const el of document.querySelectorAll(".tex")) typeset(el);
}

// The cell equations (/explore) follow the cell control as soon as it changes.
const cell = document.querySelector("#controls select[name=cell]");
function showEquations() {
  if (!cell) return;
  for (const el of document.querySelectorAll(".equation[data-cells]")) {
    el.hidden = !el.dataset.cells.split(" ").includes(cell.value);
  }
}

function start() {
  typesetAll();
  // one pass per batch of changes (KaTeX's own output makes one more, which finds nothing)
  new MutationObserver(typesetAll).observe(document.body, { childList: true, subtree: true });
  cell?.addEventListener("change", showEquations);
  document.addEventListener("bpttlab:drawn", () => { showEquations(); typesetAll(); });
}

if (window.katex) start();
else window.addEventListener("load", start, { once: true });
