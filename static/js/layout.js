// Layout: the controls' help on demand, their summary bar on a phone (it opens the controls as a sheet over the
// lower half of the screen, so the figures stay in sight above them), the sticky controls
// panel on a laptop (it scrolls with the page until its last control is in sight, never in a
// scroll box of its own), and the intro's "More about this view" on a phone.
const form = document.getElementById("controls");
const toggle = form.querySelector(".controls-toggle");
const label = form.querySelector(".controls-label");
const done = form.querySelector(".controls-done");
const narrow = window.matchMedia("(max-width: 899px)");
const embedded = document.body.classList.contains("embed");

// The bar's one line: the server's label of the configuration drawn (view.js sets
// data-label after each draw), else the query, else "defaults".
function showLabel() {
  if (label) label.textContent = form.dataset.label || form.dataset.query || "Defaults";
}

function setOpen(open, { focus = true } = {}) {
  if (!toggle) return;
  form.classList.toggle("open", open);
  toggle.setAttribute("aria-expanded", String(open));
  toggle.querySelector(".controls-change").textContent = open ? "Close" : "Change";
  const sheet = open && narrow.matches && !embedded;
  document.body.classList.toggle("sheet-open", sheet);
  if (sheet) {
    // the figures at the top of the screen, the controls in the sheet below them
    document.querySelector(".results").scrollIntoView({ block: "start" });
  }
  if (!focus) return;
  if (open) form.querySelector(".controls-body .control :is(select, input:not([type=range]))")?.focus({ preventScroll: true });
  else toggle.focus({ preventScroll: true });
}

if (toggle) {
  toggle.addEventListener("click", () => setOpen(!form.classList.contains("open")));
  done.addEventListener("click", () => setOpen(false));
  form.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && form.classList.contains("open") && narrow.matches) setOpen(false);
  });
  narrow.addEventListener("change", () => setOpen(false, { focus: false }));
}

// Help texts on demand: one button shows (or hides) every control's help in the panel.
const helpToggle = form.querySelector(".help-toggle");
helpToggle?.addEventListener("click", () => {
  const shown = form.classList.toggle("show-help");
  helpToggle.textContent = shown ? "Hide help" : "Show help";
});

// On a laptop the panel sticks to the top of the screen when it fits; when it is taller than
// the screen it sticks by its foot instead, so the page's own scroll brings every control in.
function stickAt() {
  const room = window.innerHeight - form.offsetHeight - 8;
  form.style.setProperty("--controls-top", `${Math.min(8, room)}px`);
}
new ResizeObserver(stickAt).observe(form);
window.addEventListener("resize", stickAt);
stickAt();

// On a phone the intro shows the start of its first paragraph (site.css folds the rest);
// the button unfolds it.
const intro = document.getElementById("intro");
const more = document.querySelector(".intro-more");
if (intro && more) {
  more.addEventListener("click", () => {
    const open = !intro.classList.contains("unfolded");
    intro.classList.toggle("unfolded", open);
    more.setAttribute("aria-expanded", String(open));
    more.textContent = open ? "Less about this view" : "More about this view";
  });
}

document.addEventListener("bpttlab:drawn", showLabel);
showLabel();
