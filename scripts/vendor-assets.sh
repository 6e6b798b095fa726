#!/usr/bin/env bash
# Re-vendor the web workspace's browser assets from the npm registry (`npm pack`), pinned.
# The app serves them itself: no page loads anything from another host.
set -euo pipefail
cd "$(dirname "$0")/.."
V=api/static/vendor
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
pack() { (cd "$T" && npm pack "$1" --silent >/dev/null && mkdir -p "$2" && tar xzf ./*.tgz -C "$2" && rm ./*.tgz); }
pack htmx.org@2.0.11 htmx && cp "$T"/htmx/package/dist/htmx.min.js "$T"/htmx/package/LICENSE $V/htmx/
pack @picocss/pico@2.1.1 pico && cp "$T"/pico/package/css/pico.min.css "$T"/pico/package/LICENSE.md $V/pico/
pack plotly.js-strict-dist-min@4.1.1 plotly \
  && cp "$T"/plotly/package/plotly-strict.min.js "$T"/plotly/package/LICENSE $V/plotly/
pack swagger-ui-dist@5.35.0 swagger && cp "$T"/swagger/package/{swagger-ui-bundle.js,swagger-ui-bundle.js.LICENSE.txt,swagger-ui.css,LICENSE,NOTICE} $V/swagger-ui/
pack redoc@2.5.4 redoc && cp "$T"/redoc/package/bundles/redoc.standalone.js "$T"/redoc/package/bundles/redoc.standalone.js.LICENSE.txt "$T"/redoc/package/LICENSE $V/redoc/
# ReDoc's sidebar shows Redocly's logo from their CDN: a blank local image instead, so
# /redoc loads nothing from another host (and breaks no CSP rule).
sed -i "s|https://cdn.redoc.ly/redoc/logo-mini.svg|data:image/svg+xml,%3Csvg xmlns=%27http://www.w3.org/2000/svg%27 width=%271%27 height=%271%27/%3E|" $V/redoc/redoc.standalone.js
(cd $V && sha256sum ./*/*.js ./*/*.css > SHA256SUMS)
