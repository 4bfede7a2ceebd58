import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Hono } from "hono";

/**
 * The console's script and style sheet, served by Kiln itself (no CDN: the machine may be
 * offline). Found beside this module under tsx, or under src/ from the dist/ bundle.
 */
function assetsDir(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  for (const candidate of [join(here, "assets"), join(here, "..", "src", "console", "assets")]) {
    try {
      readFileSync(join(candidate, "console.js"));
      return candidate;
    } catch {
      // not here; try the next place
    }
  }
  throw new Error(`the console's assets were not found near ${here}`);
}

const TYPES: Record<string, string> = {
  "console.js": "text/javascript; charset=utf-8",
  "console.css": "text/css; charset=utf-8",
};

export function serveAssets(app: Hono<any>): void {
  const dir = assetsDir();
  const files = new Map(Object.keys(TYPES).map((name) => [name, readFileSync(join(dir, name))]));
  app.get("/assets/:file", (c) => {
    const name = c.req.param("file");
    const body = files.get(name);
    if (!body) return c.json({ error: "NotFound", message: `no console asset ${name}` }, 404);
    return c.body(body, 200, { "content-type": TYPES[name]!, "cache-control": "no-cache" });
  });
}
