import { createRoute, z } from "@hono/zod-openapi";
import { acceptDelivery } from "../../builds/deliveries.ts";
import { DeliveryViewSchema } from "../../builds/schemas.ts";
import { findRepository } from "../../catalog/repositories.ts";
import { bindingOfHook, bindingView, findBinding, putBinding, webhookSecretOf } from "../../sources/bindings.ts";
import { BindingInputSchema, BindingViewSchema } from "../../sources/schemas.ts";
import { PROVIDERS } from "../../sources/providers/index.ts";
import { receive } from "../../sources/receive.ts";
import type { ProviderId } from "../../sources/types.ts";
import type { Deps } from "../env.ts";
import { DomainError } from "../../errors.ts";
import { addRoute, type App } from "../route.ts";
import { body, BuildSchema, errorResponses, json, RepoParams } from "../schemas.ts";

export const SourceSchema = BindingViewSchema.openapi("SourceBinding");

/** The builds are the API's named Build schema, so OpenAPI refers to it. */
const DeliverySchema = DeliveryViewSchema.extend({ builds: z.array(BuildSchema) });

export function sourceRoutes(app: App, deps: Deps): void {
  const { db, config } = deps;
  const tags = ["sources"];

  addRoute(
    app,
    deps,
    createRoute({
      method: "put",
      path: "/api/v1/regions/{region}/repositories/{ns}/{repo}/source",
      tags,
      summary: "Bind the repository to a code repository; the webhook secret is shown only when created or rotated",
      request: { params: RepoParams, body: body(BindingInputSchema) },
      responses: { 200: json(SourceSchema, "The binding, with the webhook URL"), ...errorResponses },
    }),
    async (c) => {
      const { ns, repo } = c.req.valid("param");
      const repository = await findRepository(db, c.get("principal").accountId, c.get("region"), ns, repo);
      const { rotateSecret, ...input } = c.req.valid("json");
      const { row, secret } = await putBinding(db, config, repository, input, rotateSecret);
      return c.json(await bindingView(db, config, row, secret), 200);
    },
  );

  addRoute(
    app,
    deps,
    createRoute({
      method: "get",
      path: "/api/v1/regions/{region}/repositories/{ns}/{repo}/source",
      tags,
      summary: "The repository's code source (the webhook secret is not shown again)",
      request: { params: RepoParams },
      responses: { 200: json(SourceSchema, "The binding"), ...errorResponses },
    }),
    async (c) => {
      const { ns, repo } = c.req.valid("param");
      const repository = await findRepository(db, c.get("principal").accountId, c.get("region"), ns, repo);
      return c.json(await bindingView(db, config, await findBinding(db, repository.id, `${ns}/${repo}`)), 200);
    },
  );

  addRoute(
    app,
    deps,
    createRoute({
      method: "post",
      path: "/hooks/{hookId}",
      tags,
      summary: "Webhook receiver: verified against the binding's secret before the body is read",
      request: { params: z.object({ hookId: z.string().max(64) }) },
      responses: {
        200: json(DeliverySchema, "Ping, ignored, or a redelivery"),
        202: json(DeliverySchema, "Builds queued"),
        ...errorResponses,
      },
    }),
    async (c) => {
      const binding = await bindingOfHook(db, c.req.valid("param").hookId);
      if (!binding) throw new DomainError("HookNotFound", "no repository is bound to this webhook URL");
      const provider = PROVIDERS[binding.provider as ProviderId];
      const rawBody = Buffer.from(await c.req.arrayBuffer());
      const reception = receive(
        provider,
        { header: (name) => c.req.header(name), rawBody },
        webhookSecretOf(config, binding),
        binding.hookId,
      );
      if (!reception.ok) {
        deps.metrics.webhookDeliveries.inc({ provider: provider.id, outcome: "rejected" });
        deps.log.warn({ hook: binding.hookId, provider: provider.id, status: reception.status }, "webhook refused");
        throw new DomainError(reception.status === 401 ? "InvalidSignature" : "MalformedJSON", reception.reason);
      }
      const delivery = await acceptDelivery(db, deps.policies, binding, reception.deliveryId, reception.normalized);
      deps.metrics.webhookDeliveries.inc({
        provider: provider.id,
        outcome: delivery.redelivery ? "redelivery" : delivery.outcome,
      });
      const status = delivery.outcome === "accepted" ? 202 : 200;
      if (status === 202 && !delivery.redelivery) deps.dispatcher?.wake();
      return c.json(delivery, status);
    },
  );
}
