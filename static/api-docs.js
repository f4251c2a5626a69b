// The JSON API's reference (/api/docs): Swagger UI, this server's copy, reading the
// document the server writes from its endpoints. A file of its own: the
// Content-Security-Policy runs no inline script.
"use strict";

window.addEventListener("DOMContentLoaded", () => {
  const root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.dataset.document,
    domNode: root,
    deepLinking: true,
    // Calls made from the page are this site's; the session's cookie goes with them.
    withCredentials: true,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
    // No badge fetched from another site (the CSP would refuse it anyway).
    validatorUrl: null,
  });
});
