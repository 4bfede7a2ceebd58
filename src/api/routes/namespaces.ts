import { createRoute, z } from "@hono/zod-openapi";
import {
  createNamespace,
  deleteNamespace,
  findNamespace,
  listNamespaces,
  namespaceView,
  updateNamespace,
} from "../../catalog/namespaces.ts";
import { NamespaceViewSchema } from "../../catalog/schemas.ts";
import { namespaceNameSchema } from "../../names.ts";
import type { Deps } from "../env.ts";
import { addRoute, type App } from "../route.ts";
import { body, errorResponses, json, OkSchema, VisibilitySchema } from "../schemas.ts";

export const NamespaceSchema = NamespaceViewSchema.openapi("Namespace");
const NsParam = z.object({ ns: namespaceNameSchema });
/** Namespaces are global; `region` only picks the region written into the resource name that is checked. */
const RegionQuery = z.object({ region: z.string().optional() });

export function namespaceRoutes(app: App, deps: Deps): void {
  const { db } = deps;
  const tags = ["namespaces"];

  addRoute(
    app,
    deps,
    createRoute({
      method: "get",
      path: "/api/v1/namespaces",
      tags,
      summary: "Namespaces whose resource allows cr:ListNamespace to the caller",
      request: { query: RegionQuery },
      responses: { 200: json(z.object({ namespaces: z.array(NamespaceSchema) }), "Namespaces"), ...errorResponses },
    }),
    async (c) => {
      const listed = await listNamespaces(db, c.get("principal").accountId);
      const visible = c.get("filterAllowed")(listed, (n) => ({ ns: n.name }));
      const namespaces = [];
      for (const n of visible) namespaces.push(await namespaceView(db, n));
      return c.json({ namespaces }, 200);
    },
  );

  addRoute(
    app,
    deps,
    createRoute({
      method: "post",
      path: "/api/v1/namespaces",
      tags,
      summary: "Create a namespace (names are unique across the instance)",
      request: {
        query: RegionQuery,
        body: body(
          z.strictObject({
            name: namespaceNameSchema,
            autoCreateRepository: z.boolean().optional(),
            defaultVisibility: VisibilitySchema.optional(),
          }),
        ),
      },
      responses: { 201: json(NamespaceSchema, "The namespace"), ...errorResponses },
    }),
    async (c) =>
      c.json(
        await namespaceView(db, await createNamespace(db, c.get("principal").accountId, c.req.valid("json"))),
        201,
      ),
  );

  addRoute(
    app,
    deps,
    createRoute({
      method: "get",
      path: "/api/v1/namespaces/{ns}",
      tags,
      summary: "One namespace",
      request: { params: NsParam, query: RegionQuery },
      responses: { 200: json(NamespaceSchema, "The namespace"), ...errorResponses },
    }),
    async (c) =>
      c.json(
        await namespaceView(db, await findNamespace(db, c.get("principal").accountId, c.req.valid("param").ns)),
        200,
      ),
  );

  addRoute(
    app,
    deps,
    createRoute({
      method: "patch",
      path: "/api/v1/namespaces/{ns}",
      tags,
      summary: "Change auto-creation or the default visibility",
      request: {
        params: NsParam,
        query: RegionQuery,
        body: body(
          z.strictObject({
            autoCreateRepository: z.boolean().optional(),
            defaultVisibility: VisibilitySchema.optional(),
          }),
        ),
      },
      responses: { 200: json(NamespaceSchema, "The namespace"), ...errorResponses },
    }),
    async (c) =>
      c.json(
        await namespaceView(
          db,
          await updateNamespace(db, c.get("principal").accountId, c.req.valid("param").ns, c.req.valid("json")),
        ),
        200,
      ),
  );

  addRoute(
    app,
    deps,
    createRoute({
      method: "delete",
      path: "/api/v1/namespaces/{ns}",
      tags,
      summary: "Delete an empty namespace (409 while it holds repositories)",
      request: { params: NsParam, query: RegionQuery },
      responses: { 200: json(OkSchema, "Deleted"), ...errorResponses },
    }),
    async (c) => {
      await deleteNamespace(db, c.get("principal").accountId, c.req.valid("param").ns);
      return c.json({ ok: true as const }, 200);
    },
  );
}
