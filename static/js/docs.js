// /docs: Swagger UI over our OpenAPI document. A file of ours, not an inline script, so the
// page's Content-Security-Policy can forbid inline scripts.
/* global SwaggerUIBundle */

// Swagger UI's components, wrapped for keyboards and screen readers (axe-core finds no serious
// violation; tests/browser/test_a11y.py):
// - InfoContainer: the title and description above the operations sit in a landmark of their
//   own (a named <section>), as every part of the page does (axe-core: region); the operations
//   are Swagger UI's <main>.
// - operations: Swagger UI goes from the title's <h1> to an <h3> per tag; an <h2>
//   "Operations", for screen readers only, completes the outline (axe-core: heading-order).
// - OperationSummaryPath: each operation's summary is a <button> that opens it; with deep
//   linking Swagger UI also puts a link to the operation (<a href="#/tag/operation">) inside
//   that button, a control inside a control (axe-core: nested-interactive). The path is drawn
//   as text instead. Deep linking stays: opening an operation still writes its address in the
//   URL, and that address still opens it.
const accessible = () => ({
  wrapComponents: {
    InfoContainer: (Original, system) => (props) =>
      system.React.createElement(
        "section",
        { "aria-label": "About this API" },
        system.React.createElement(Original, props),
      ),
    operations: (Original, system) => (props) =>
      system.React.createElement(
        system.React.Fragment,
        null,
        system.React.createElement("h2", { className: "visually-hidden" }, "Operations"),
        system.React.createElement(Original, props),
      ),
    OperationSummaryPath: (Original, system) => (props) =>
      system.React.createElement(Original, {
        ...props,
        operationProps: props.operationProps.set("isDeepLinkingEnabled", false),
      }),
  },
});

// What the wrappers cannot reach, set on Swagger UI's markup as it renders (attributes React
// does not manage, so it keeps them):
// - a parameter's <select> (enums, booleans) has no label: it is named by its parameter,
//   "<name> (<in>)" as the table shows it (axe-core: select-name);
// - each operation's responses table is a live region: named by its operation, so the
//   regions of several open operations can be told apart (axe-core: landmark-unique);
// - a response body (<pre>) that scrolls sideways takes the keyboard's focus, so it can be
//   scrolled without a mouse (axe-core: scrollable-region-focusable).
function label(rootElement) {
  for (const select of rootElement.querySelectorAll("tr[data-param-name] select:not([aria-label])")) {
    const row = select.closest("tr");
    select.setAttribute("aria-label", `${row.dataset.paramName} (${row.dataset.paramIn})`);
  }
  for (const table of rootElement.querySelectorAll("table.responses-table[role=region]:not([aria-label])")) {
    const op = table.closest(".opblock");
    const method = op?.querySelector(".opblock-summary-method")?.textContent;
    const path = op?.querySelector("[data-path]")?.dataset.path;
    if (method && path) table.setAttribute("aria-label", `Responses of ${method} ${path}`);
  }
  for (const pre of rootElement.querySelectorAll("pre.microlight:not([tabindex])")) {
    pre.tabIndex = 0;
  }
}

const root = document.getElementById("swagger-ui");
new MutationObserver(() => label(root)).observe(root, { childList: true, subtree: true });
window.ui = SwaggerUIBundle({
  url: root.dataset.openapiUrl,
  dom_id: "#swagger-ui",
  layout: "BaseLayout",
  deepLinking: true,
  showExtensions: true,
  showCommonExtensions: true,
  validatorUrl: null, // the default badge would load an image from another origin
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
  plugins: [accessible],
  onComplete: () => { document.body.dataset.ready = "true"; },
});
