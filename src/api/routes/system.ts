import { createRoute, z } from "@hono/zod-openapi";
import { ACCESS_TABLE } from "../access-table.ts";
import type { Deps } from "../env.ts";
import type { Metrics } from "../../metrics.ts";
import { addRoute, type App } from "../route.ts";
import { json } from "../schemas.ts";

const CheckSchema = z.object({ ok: z.boolean(), detail: z.string().optional() });
const ReadySchema = z
  .object({ status: z.enum(["ready", "unready"]), checks: z.record(z.string(), CheckSchema) })
  .openapi("Readiness");
const ActionSchema = z.object({
  route: z.string(),
  auth: z.string(),
  action: z.string().optional(),
  resource: z.string().optional(),
  perItem: z.boolean().optional(),
});

export function systemRoutes(app: App, deps: Deps, metrics: Metrics): void {
  addRoute(
    app,
    deps,
    createRoute({
      method: "get",
      path: "/healthz",
      tags: ["system"],
      summary: "Liveness",
      responses: { 200: json(z.object({ status: z.literal("ok") }), "Alive") },
    }),
    (c) => c.json({ status: "ok" as const }, 200),
  );

  addRoute(
    app,
    deps,
    createRoute({
      method: "get",
      path: "/readyz",
      tags: ["system"],
      summary: "Readiness of each dependency",
      responses: { 200: json(ReadySchema, "Every dependency answers"), 503: json(ReadySchema, "A dependency is down") },
    }),
    async (c) => {
      const results = await Promise.all(
        deps.readiness.map(async (r) => {
          try {
            return [r.name, await r.check()] as const;
          } catch (err) {
            return [r.name, { ok: false, detail: (err as Error).message }] as const;
          }
        }),
      );
      const checks = Object.fromEntries(results);
      const ok = results.every(([, r]) => r.ok);
      return ok
        ? c.json({ status: "ready" as const, checks }, 200)
        : c.json({ status: "unready" as const, checks }, 503);
    },
  );

  addRoute(
    app,
    deps,
    createRoute({
      method: "get",
      path: "/metrics",
      tags: ["system"],
      summary: "Prometheus metrics",
      responses: {
        200: {
          content: { "text/plain": { schema: z.string() } },
          description: "Metrics in the Prometheus text format",
        },
      },
    }),
    async (c) => c.text(await metrics.registry.metrics(), 200, { "content-type": metrics.registry.contentType }),
  );

  addRoute(
    app,
    deps,
    createRoute({
      method: "get",
      path: "/api/v1/actions",
      tags: ["system"],
      summary: "Every route with the action and resource it is authorized by",
      responses: { 200: json(z.object({ actions: z.array(ActionSchema) }), "The access table") },
    }),
    (c) =>
      c.json(
        {
          actions: Object.entries(ACCESS_TABLE).map(([route, rule]) =>
            rule.auth === "policy"
              ? { route, auth: rule.auth, action: rule.action, resource: rule.resource, perItem: rule.perItem ?? false }
              : { route, auth: rule.auth },
          ),
        },
        200,
      ),
  );
}
