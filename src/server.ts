import type { OpenAPIHono } from "@hono/zod-openapi";
import { createApp } from "./api/app.ts";
import type { AppEnv, Deps } from "./api/env.ts";
import { assertEveryRouteListed } from "./api/route.ts";
import { consoleApp } from "./console/index.tsx";

/**
 * The API process's HTTP surface: the API, with the web console mounted over it at /console
 * (the console calls the API's own routes). Start-up fails when a route has no entry in the
 * access table, or an entry has no route.
 */
export function createServer(deps: Deps): OpenAPIHono<AppEnv> {
  const app = createApp(deps);
  app.route("/console", consoleApp(deps, app));
  app.get("/", (c) => c.redirect("/console", 303));
  assertEveryRouteListed(app);
  return app;
}
