/* The API documentation page: vendored Swagger UI on the app's OpenAPI description.
   A static file because the CSP allows no inline script. "Try it out" requests go with the
   browser session; state-changing ones carry the page's CSRF token. */
(function () {
  "use strict";
  var root = document.getElementById("swagger-ui");
  var meta = document.querySelector('meta[name="csrf-token"]');
  var csrf = meta ? meta.getAttribute("content") : "";
  window.SwaggerUIBundle({
    url: root.getAttribute("data-spec"),
    domNode: root,
    deepLinking: true,
    syntaxHighlight: false,
    validatorUrl: null,
    requestInterceptor: function (req) {
      var method = (req.method || "GET").toUpperCase();
      if (csrf && method !== "GET" && method !== "HEAD" && method !== "OPTIONS") {
        req.headers["X-CSRF-Token"] = csrf;
      }
      return req;
    }
  });
})();
