// An embed tells the page around it how tall its content is, on load, after each redraw and
// whenever it resizes: {type: "bpttlab:height", height, view}. static/js/embed-host.js, which
// the host page includes, sets the iframe's height from it.
// (a view's form is #controls; /embed/train's is #train-form)
const form = document.getElementById("controls") || document.getElementById("train-form");
const view = form.dataset.view;

function post() {
  if (window.parent === window) return;
  const height = Math.ceil(document.body.getBoundingClientRect().height);
  window.parent.postMessage({ type: "bpttlab:height", height, view }, "*");
}

new ResizeObserver(post).observe(document.body);
document.addEventListener("bpttlab:drawn", post);
window.addEventListener("load", post);
post();
