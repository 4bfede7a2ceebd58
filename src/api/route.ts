import type { OpenAPIHono, RouteConfig, RouteHandler } from "@hono/zod-openapi";
import type { Hono } from "hono";
import { ACCESS_TABLE, honoKey } from "./access-table.ts";
import { authenticate, enforce } from "./enforce.ts";
import type { AppEnv, Deps } from "./env.ts";

export type App = OpenAPIHono<AppEnv>;

/**
 * Registers an OpenAPI route with its entry of the access table: authentication before the
 * zod validators, authorization after them (so resources may name validated body fields).
 */
export function addRoute<R extends RouteConfig>(
  app: App,
  deps: Deps,
  route: R,
  handler: RouteHandler<R, AppEnv>,
): void {
  const key = `${route.method.toUpperCase()} ${route.path}`;
  const rule = ACCESS_TABLE[key];
  if (!rule) throw new Error(`${key} has no entry in the access table; every route must say what it needs`);
  const security = rule.auth === "none" ? [] : [{ bearer: [] }];
  // The handler's answer is a (promised) typed response; a promise of it is one too.
  const guarded = (async (c: Parameters<RouteHandler<R, AppEnv>>[0], next: Parameters<RouteHandler<R, AppEnv>>[1]) => {
    await enforce(deps, rule, c as never);
    return handler(c, next);
  }) as unknown as RouteHandler<R, AppEnv>;
  app.openapi({ ...route, security, middleware: [authenticate(deps, rule)] } as R, guarded);
}

/** Fails start-up when a registered route has no entry in the table, or an entry has no route. */
export function assertEveryRouteListed(app: Hono<AppEnv>): void {
  const registered = new Set(app.routes.filter((r) => r.method !== "ALL").map((r) => `${r.method} ${r.path}`));
  const listed = new Set(Object.keys(ACCESS_TABLE).map(honoKey));
  const unlisted = [...registered].filter((k) => !listed.has(k));
  const stale = [...listed].filter((k) => !registered.has(k));
  if (unlisted.length) throw new Error(`routes without an access-table entry: ${unlisted.join(", ")}`);
  if (stale.length) throw new Error(`access-table entries without a route: ${stale.join(", ")}`);
}
