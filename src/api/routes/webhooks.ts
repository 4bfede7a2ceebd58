import { createRoute, z } from "@hono/zod-openapi";
import { findRepository } from "../../catalog/repositories.ts";
import { listDeliveries, redeliver } from "../../notifications/outbox.ts";
import {
  DeliveryViewSchema,
  WebhookInputSchema,
  WebhookPatchSchema,
  WebhookViewSchema,
  WebhookWithSecretSchema,
} from "../../notifications/schemas.ts";
import {
  createWebhook,
  deleteWebhook,
  findWebhook,
  listWebhooks,
  updateWebhook,
  webhookView,
} from "../../notifications/webhooks.ts";
import type { Deps } from "../env.ts";
import { addRoute, type App } from "../route.ts";
import { body, errorResponses, json, OkSchema, RepoParams } from "../schemas.ts";

export const WebhookSchema = WebhookViewSchema.openapi("WebHook");
export const WebhookCreatedSchema = WebhookWithSecretSchema.openapi("WebHookWithSecret");
export const WebhookDeliverySchema = DeliveryViewSchema.openapi("WebHookDelivery");
const WebhookParams = RepoParams.extend({ id: z.coerce.number().int().positive() });
const DeliveryParams = WebhookParams.extend({ deliveryId: z.string().max(64) });
const PATH = "/api/v1/regions/{region}/repositories/{ns}/{repo}/webhooks";

/** Outbound webhooks (ACR's triggers) of a repository, and their deliveries. */
export function webhookRoutes(app: App, deps: Deps): void {
  const { db } = deps;
  const key = deps.config.secretKey;
  const tags = ["webhooks"];
  const repoOf = async (
    c: { get(k: "principal"): { accountId: string }; get(k: "region"): string },
    ns: string,
    repo: string,
  ) => (await findRepository(db, c.get("principal").accountId, c.get("region"), ns, repo)).id;

  addRoute(
    app,
    deps,
    createRoute({
      method: "get",
      path: PATH,
      tags,
      summary: "Outbound webhooks of the repository (their secrets are never shown again)",
      request: { params: RepoParams },
      responses: { 200: json(z.object({ webhooks: z.array(WebhookSchema) }), "Webhooks"), ...errorResponses },
    }),
    async (c) => {
      const { ns, repo } = c.req.valid("param");
      return c.json({ webhooks: (await listWebhooks(db, await repoOf(c, ns, repo))).map(webhookView) }, 200);
    },
  );

  addRoute(
    app,
    deps,
    createRoute({
      method: "post",
      path: PATH,
      tags,
      summary: "Add an outbound webhook: tag.pushed, build.succeeded, build.failed; the secret is shown once",
      request: { params: RepoParams, body: body(WebhookInputSchema) },
      responses: { 201: json(WebhookCreatedSchema, "The webhook, with its secret"), ...errorResponses },
    }),
    async (c) => {
      const { ns, repo } = c.req.valid("param");
      const { row, secret } = await createWebhook(db, key, await repoOf(c, ns, repo), c.req.valid("json"));
      return c.json({ ...webhookView(row), secret }, 201);
    },
  );

  addRoute(
    app,
    deps,
    createRoute({
      method: "get",
      path: `${PATH}/{id}`,
      tags,
      summary: "One outbound webhook",
      request: { params: WebhookParams },
      responses: { 200: json(WebhookSchema, "The webhook"), ...errorResponses },
    }),
    async (c) => {
      const { ns, repo, id } = c.req.valid("param");
      return c.json(webhookView(await findWebhook(db, await repoOf(c, ns, repo), id)), 200);
    },
  );

  addRoute(
    app,
    deps,
    createRoute({
      method: "patch",
      path: `${PATH}/{id}`,
      tags,
      summary: "Change an outbound webhook; rotateSecret makes a new secret, shown in this answer only",
      request: { params: WebhookParams, body: body(WebhookPatchSchema) },
      responses: {
        200: json(WebhookSchema.extend({ secret: z.string().optional() }), "The webhook"),
        ...errorResponses,
      },
    }),
    async (c) => {
      const { ns, repo, id } = c.req.valid("param");
      const { row, secret } = await updateWebhook(db, key, await repoOf(c, ns, repo), id, c.req.valid("json"));
      return c.json({ ...webhookView(row), ...(secret ? { secret } : {}) }, 200);
    },
  );

  addRoute(
    app,
    deps,
    createRoute({
      method: "delete",
      path: `${PATH}/{id}`,
      tags,
      summary: "Delete an outbound webhook and its deliveries",
      request: { params: WebhookParams },
      responses: { 200: json(OkSchema, "Deleted"), ...errorResponses },
    }),
    async (c) => {
      const { ns, repo, id } = c.req.valid("param");
      await deleteWebhook(db, await repoOf(c, ns, repo), id);
      return c.json({ ok: true as const }, 200);
    },
  );

  addRoute(
    app,
    deps,
    createRoute({
      method: "get",
      path: `${PATH}/{id}/deliveries`,
      tags,
      summary: "Recent deliveries, newest first: status, tries, the last answer's status, latency and start",
      request: {
        params: WebhookParams,
        query: z.object({ limit: z.coerce.number().int().min(1).max(200).default(50) }),
      },
      responses: {
        200: json(z.object({ deliveries: z.array(WebhookDeliverySchema) }), "Deliveries"),
        ...errorResponses,
      },
    }),
    async (c) => {
      const { ns, repo, id } = c.req.valid("param");
      const hook = await findWebhook(db, await repoOf(c, ns, repo), id);
      return c.json({ deliveries: await listDeliveries(db, hook.id, c.req.valid("query").limit) }, 200);
    },
  );

  addRoute(
    app,
    deps,
    createRoute({
      method: "post",
      path: `${PATH}/{id}/deliveries/{deliveryId}/redeliver`,
      tags,
      summary: "Send a delivery's payload again, as a new delivery (new X-Kiln-Delivery)",
      request: { params: DeliveryParams },
      responses: { 202: json(WebhookDeliverySchema, "The new delivery, pending"), ...errorResponses },
    }),
    async (c) => {
      const { ns, repo, id, deliveryId } = c.req.valid("param");
      const hook = await findWebhook(db, await repoOf(c, ns, repo), id);
      return c.json(await redeliver(db, hook.id, deliveryId), 202);
    },
  );
}
