// /docs: Swagger UI over our OpenAPI document. A file of ours, not an inline script, so the
// page's Content-Security-Policy can forbid inline scripts.
/* global SwaggerUIBundle */
const root = document.getElementById("swagger-ui");
window.ui = SwaggerUIBundle({
  url: root.dataset.openapiUrl,
  dom_id: "#swagger-ui",
  layout: "BaseLayout",
  deepLinking: true,
  showExtensions: true,
  showCommonExtensions: true,
  validatorUrl: null, // the default badge would load an image from another origin
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
  onComplete: () => { document.body.dataset.ready = "true"; },
});
