// The page state is the URL query, under the API's parameter names (seq_len=77).
// Only values that differ from their default are written, so links stay short.

export function formState(form) {
  const params = new URLSearchParams();
  for (const el of form.elements) {
    if (!el.name) continue;
    let value;
    if (el.type === "checkbox") value = el.checked ? "true" : "false";
    else value = el.value.trim();
    if (value !== "" && !sameValue(value, el.dataset.default)) params.set(el.name, value);
  }
  return params;
}

function sameValue(a, b) {
  if (a === b) return true;
  const x = Number(a), y = Number(b);
  return a !== "" && b !== "" && !Number.isNaN(x) && !Number.isNaN(y) && x === y;
}

// keep: parameters that are not the view's own (an embed's controls= and figures=)
export function writeUrl(query, keep = "") {
  const all = [query, keep].filter(Boolean).join("&");
  const url = all ? `${location.pathname}?${all}` : location.pathname;
  if (url !== location.pathname + location.search) history.replaceState(null, "", url);
}

export function debounce(fn, ms) {
  let timer = 0;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}
