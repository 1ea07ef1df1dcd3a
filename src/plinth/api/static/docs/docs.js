// Plinth's own start-up for the vendored Swagger UI (no inline script, so the
// page's Content-Security-Policy can forbid inline scripts).
window.addEventListener("load", function () {
  var root = document.body.getAttribute("data-openapi-url");
  window.ui = SwaggerUIBundle({
    url: root,
    dom_id: "#swagger-ui",
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
  });
});
