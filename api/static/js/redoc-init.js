// Starts ReDoc on this app's OpenAPI document (no inline script: the CSP forbids it).
"use strict";
(function () {
  var root = document.getElementById("api-docs");
  Redoc.init(root.dataset.openapi, { disableSearch: true, hideDownloadButton: false }, root);
})();
