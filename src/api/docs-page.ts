import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import type { Hono } from "hono";

/** Swagger UI from the swagger-ui-dist package, served by Kiln (no CDN: the machine may be offline). */
const require = createRequire(import.meta.url);
const DIST = dirname(require.resolve("swagger-ui-dist/package.json"));
const ASSETS: Record<string, string> = {
  "swagger-ui.css": "text/css; charset=utf-8",
  "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
};

const PAGE = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8"><title>Kiln API</title>
<link rel="stylesheet" href="/docs/assets/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="/docs/assets/swagger-ui-bundle.js"></script>
<script>window.onload = () => { window.ui = SwaggerUIBundle({ url: "/openapi.json", dom_id: "#swagger-ui" }); };</script>
</body>
</html>`;

export function docsPage(app: Hono<any>): void {
  const files = new Map<string, Buffer>();
  app.get("/docs", (c) => c.html(PAGE));
  app.get("/docs/assets/:file", (c) => {
    const name = c.req.param("file");
    const type = ASSETS[name];
    if (!type) return c.json({ error: "NotFound", message: `no docs asset ${name}` }, 404);
    let body = files.get(name);
    if (!body) files.set(name, (body = readFileSync(join(DIST, name))));
    return c.body(new Uint8Array(body), 200, { "content-type": type, "cache-control": "public, max-age=86400" });
  });
}
