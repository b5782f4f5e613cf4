// Math: every element of class "tex" holds TeX, typeset here with KaTeX (vendored, loaded by
// templates/_math.html before this module). KaTeX writes HTML for the eye and MathML for screen
// readers; the TeX source is kept in data-tex, and stays the text when scripts do not run.
// Content added later (a figure's caption, a help text) is typeset when it appears.
// (display equations flush left, indented by the CSS, as the prose around them)
const OPTIONS = { throwOnError: false, output: "htmlAndMathml", fleqn: true };

function typeset(el) {
  // typeset once per source: skip an element whose KaTeX is in place
  if (el.firstElementChild?.classList.contains("katex") || el.firstElementChild?.classList.contains("katex-display")) return;
  const tex = el.textContent.trim();
  el.dataset.tex = tex;
  window.katex.render(tex, el, { ...OPTIONS, displayMode: el.classList.contains("display") });
}

function typesetAll(root = document) {
  if (!window.katex) return;
  for (const el of root.querySelectorAll(".tex")) typeset(el);
}

// one pass per batch of changes, not per changed node
let pending = false;
function schedule() {
  if (pending) return;
  pending = true;
  queueMicrotask(() => {
    pending = false;
    typesetAll();
  });
}

function start() {
  typesetAll();
  new MutationObserver(schedule).observe(document.body, { childList: true, subtree: true, characterData: true });
  document.addEventListener("bpttlab:drawn", schedule);
}

if (window.katex) start();
else window.addEventListener("load", start, { once: true });
