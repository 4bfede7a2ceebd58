import { createRoute, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { findRepository } from "../../catalog/repositories.ts";
import {
  BuildSecretInputSchema,
  buildSecretIdSchema,
  BuildSecretViewSchema,
  deleteBuildSecret,
  listBuildSecrets,
  putBuildSecret,
} from "../../builds/secrets.ts";
import { arn } from "../../iam/arn.ts";
import { loginNameOf } from "../../iam/principal.ts";
import type { AppEnv, Deps } from "../env.ts";
import { sourceIp } from "../request-context.ts";
import { addRoute, type App } from "../route.ts";
import { body, errorResponses, json, RepoParams } from "../schemas.ts";

// Rebuilt with this module's zod: the domain's schema may be made before OpenAPI extends zod.
export const BuildSecretSchema = z.object(BuildSecretViewSchema.shape).openapi("BuildSecret");
const SecretParams = RepoParams.extend({ id: buildSecretIdSchema });
const PATH = "/api/v1/regions/{region}/repositories/{ns}/{repo}/build-secrets";

/**
 * Build secrets of a repository (`RUN --mount=type=secret,id=…`): write-only values, sealed with
 * KILN_SECRET_KEY at rest and in the build job. No answer, log line or audit row holds a value.
 */
export function buildSecretRoutes(app: App, deps: Deps): void {
  const { db } = deps;
  const tags = ["build secrets"];
  const repoOf = (c: Context<AppEnv>, ns: string, repo: string) =>
    findRepository(db, c.get("principal").accountId, c.get("region"), ns, repo);
  /** Set and delete are changes to the account: root sees them in `GET /api/v1/audit`, without the value. */
  const audit = (
    c: Context<AppEnv>,
    event: "set" | "delete",
    ns: string,
    repo: string,
    id: string,
    outcome: string,
  ) => {
    const principal = c.get("principal");
    deps.audit.record({
      accountId: principal.accountId,
      actor: loginNameOf(principal),
      sourceIp: sourceIp(c) ?? null,
      event: `build-secret:${event}`,
      resource: arn.repository(c.get("region"), principal.accountId, ns, repo),
      requested: id,
      outcome,
    });
  };

  addRoute(
    app,
    deps,
    createRoute({
      method: "get",
      path: PATH,
      tags,
      summary: "The repository's build secrets: ids and times only, never a value",
      request: { params: RepoParams },
      responses: { 200: json(z.object({ secrets: z.array(BuildSecretSchema) }), "Build secrets"), ...errorResponses },
    }),
    async (c) => {
      const { ns, repo } = c.req.valid("param");
      return c.json({ secrets: await listBuildSecrets(db, (await repoOf(c, ns, repo)).id) }, 200);
    },
  );

  addRoute(
    app,
    deps,
    createRoute({
      method: "put",
      path: `${PATH}/{id}`,
      tags,
      summary: "Set a build secret (create or replace); the value is write-only",
      description:
        "A Dockerfile reads it with `RUN --mount=type=secret,id={id}` (at /run/secrets/{id}). The value is sealed " +
        "with KILN_SECRET_KEY; no answer holds it, and it never reaches the image's layers, history or the build log.",
      request: { params: SecretParams, body: body(BuildSecretInputSchema) },
      responses: {
        200: json(BuildSecretSchema, "Replaced"),
        201: json(BuildSecretSchema, "Created"),
        ...errorResponses,
      },
    }),
    async (c) => {
      const { ns, repo, id } = c.req.valid("param");
      const { value } = c.req.valid("json");
      const repositoryId = (await repoOf(c, ns, repo)).id;
      const { secret, created } = await putBuildSecret(db, deps.config.secretKey, repositoryId, id, value);
      audit(c, "set", ns, repo, id, created ? "created" : "replaced");
      return created ? c.json(secret, 201) : c.json(secret, 200);
    },
  );

  addRoute(
    app,
    deps,
    createRoute({
      method: "delete",
      path: `${PATH}/{id}`,
      tags,
      summary: "Delete a build secret (a build already handed to the queue keeps the sealed copy in its job)",
      request: { params: SecretParams },
      responses: { 204: { description: "Deleted" }, ...errorResponses },
    }),
    async (c) => {
      const { ns, repo, id } = c.req.valid("param");
      await deleteBuildSecret(db, (await repoOf(c, ns, repo)).id, id);
      audit(c, "delete", ns, repo, id, "deleted");
      return c.body(null, 204);
    },
  );
}
