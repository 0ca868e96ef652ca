/* Starts Swagger UI on /api/docs/ (config/api_docs.py). Its settings come from this script
   tag's data attributes, so the page needs no inline script. */
(function () {
  "use strict";

  var start = document.getElementById("api-docs-start");
  var csrfHeader = start.getAttribute("data-csrf-header");
  var csrfToken = start.getAttribute("data-csrf-token");

  function requestInterceptor(request) {
    // Unsafe methods on this origin carry the CSRF token (a member's session).
    if (["GET", undefined].indexOf(request.method) === -1 && request.credentials === "same-origin") {
      request.headers[csrfHeader] = csrfToken;
    }
    return request;
  }

  window.ui = SwaggerUIBundle({
    url: start.getAttribute("data-schema-url"),
    dom_id: "#swagger-ui",
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
    deepLinking: true,
    requestInterceptor: requestInterceptor,
  });
})();
