import { createRoute, z } from "@hono/zod-openapi";
import { and, desc, eq } from "drizzle-orm";
import { auditEvents } from "../../db/schema.ts";
import { loginNameOf } from "../../iam/principal.ts";
import { TEMPORARY_MAX_SECONDS } from "../../registry/credentials.ts";
import { normalizeEnvelope, recordEvents } from "../../registry/notifications.ts";
import { RegistryReader } from "../../registry/registry-reader.ts";
import { addPlatforms } from "../../registry/tag-platforms.ts";
import type { Deps } from "../env.ts";
import { DomainError } from "../../errors.ts";
import { addRoute, type App } from "../route.ts";
import { errorResponses, json } from "../schemas.ts";

const TemporarySchema = z
  .object({ username: z.string(), password: z.string(), expiresAt: z.string(), registry: z.string() })
  .openapi("TemporaryCredential");
const SecretSchema = z.object({
  apiVersion: z.literal("v1"),
  kind: z.literal("Secret"),
  metadata: z.object({ name: z.string() }),
  type: z.string(),
  data: z.record(z.string(), z.string()),
});
const AuditSchema = z.object({
  at: z.string(),
  actor: z.string(),
  sourceIp: z.string().nullable(),
  event: z.string(),
  resource: z.string().nullable(),
  requested: z.string().nullable(),
  granted: z.string().nullable(),
  outcome: z.string(),
  reason: z.string().nullable(),
});

export function registryRoutes(app: App, deps: Deps): void {
  const { db } = deps;
  const reader = new RegistryReader(deps.keys);

  addRoute(
    app,
    deps,
    createRoute({
      method: "post",
      path: "/registry/events",
      tags: ["registry"],
      summary: "Registry notifications (Bearer KILN_REGISTRY_EVENTS_TOKEN; X-Kiln-Region names the region)",
      responses: {
        200: json(z.object({ recorded: z.number(), unknownRepositories: z.number() }), "Recorded"),
        ...errorResponses,
      },
    }),
    async (c) => {
      const region = c.req.header("x-kiln-region") ?? deps.config.defaultRegion;
      if (!deps.config.regions.some((r) => r.id === region))
        throw new DomainError("InvalidParameter", `X-Kiln-Region: "${region}" is not a region of this Kiln`, {
          field: "X-Kiln-Region",
        });
      let envelope: unknown;
      try {
        envelope = JSON.parse(await c.req.text());
      } catch {
        throw new DomainError("MalformedJSON", "the notification envelope is not valid JSON");
      }
      const events = normalizeEnvelope(envelope);
      // The platforms of each pushed tag, read from the registry in at most PLATFORMS_TIMEOUT_MS.
      await addPlatforms(
        events,
        deps.config.regions.find((r) => r.id === region)!,
        reader,
        deps.log,
      );
      return c.json(await recordEvents(db, region, events), 200);
    },
  );

  addRoute(
    app,
    deps,
    createRoute({
      method: "post",
      path: "/api/v1/auth/authorization-token",
      tags: ["registry"],
      summary: "A temporary registry credential (at most 1 hour), or a Kubernetes imagePullSecret for it",
      request: {
        query: z.object({
          region: z.string().optional(),
          expiresInSeconds: z.coerce.number().int().min(60).max(TEMPORARY_MAX_SECONDS).optional(),
          format: z.enum(["json", "dockerconfigjson"]).optional(),
        }),
      },
      responses: {
        200: json(z.union([TemporarySchema, SecretSchema]), "The credential, or a Secret manifest"),
        ...errorResponses,
      },
    }),
    async (c) => {
      const principal = c.get("principal");
      const query = c.req.valid("query");
      const region = c.get("region");
      const registry = deps.config.regions.find((r) => r.id === region)!.registry;
      const { token, expiresAt } = await deps.credentials.issue(
        "temporary",
        principal,
        query.expiresInSeconds ?? TEMPORARY_MAX_SECONDS,
      );
      const username = loginNameOf(principal);
      if (query.format !== "dockerconfigjson")
        return c.json({ username, password: token, expiresAt: expiresAt.toISOString(), registry }, 200);
      const auth = Buffer.from(`${username}:${token}`).toString("base64");
      const dockerconfig = JSON.stringify({ auths: { [registry]: { username, password: token, auth } } });
      return c.json(
        {
          apiVersion: "v1" as const,
          kind: "Secret" as const,
          metadata: { name: `kiln-${region}` },
          type: "kubernetes.io/dockerconfigjson",
          data: { ".dockerconfigjson": Buffer.from(dockerconfig).toString("base64") },
        },
        200,
      );
    },
  );

  addRoute(
    app,
    deps,
    createRoute({
      method: "get",
      path: "/api/v1/audit",
      tags: ["registry"],
      summary:
        "Registry logins, token grants or denials, and build-secret changes (never a value) of the account, newest first (root only)",
      request: {
        query: z.object({ limit: z.coerce.number().int().min(1).max(1000).default(100), actor: z.string().optional() }),
      },
      responses: { 200: json(z.object({ events: z.array(AuditSchema) }), "Audit events"), ...errorResponses },
    }),
    async (c) => {
      await deps.audit.flush();
      const { limit, actor } = c.req.valid("query");
      const rows = await db
        .select()
        .from(auditEvents)
        .where(
          and(
            eq(auditEvents.accountId, c.get("principal").accountId),
            actor ? eq(auditEvents.actor, actor) : undefined,
          ),
        )
        .orderBy(desc(auditEvents.id))
        .limit(limit)
        .all();
      return c.json({ events: rows.map(({ id: _id, accountId: _a, ...rest }) => rest) }, 200);
    },
  );
}
