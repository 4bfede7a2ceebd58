import { createRoute, z } from "@hono/zod-openapi";
import { findRepository } from "../../catalog/repositories.ts";
import { followLog, logPage } from "../../builds/follow-log.ts";
import { retryBuild, startManualBuilds, testRules } from "../../builds/manual.ts";
import { buildView, cancelBuild, findBuild, listBuilds } from "../../builds/records.ts";
import { streamSSE } from "hono/streaming";
import { createRule, deleteRule, listRules, ruleView, updateRule } from "../../builds/rules.ts";
import { ManualBuildSchema, RuleInputSchema, RulePatchSchema } from "../../builds/schemas.ts";
import { findBinding } from "../../sources/bindings.ts";
import type { Deps } from "../env.ts";
import { addRoute, type App } from "../route.ts";
import { body, BuildSchema, errorResponses, json, OkSchema, RepoParams, RuleSchema } from "../schemas.ts";

const RuleParams = RepoParams.extend({ id: z.coerce.number().int().positive() });
const BuildParams = z.object({ id: z.string().max(64) });

export function buildRoutes(app: App, deps: Deps): void {
  const { db } = deps;
  const tags = ["builds"];
  const repoOf = (
    c: { get(k: "principal"): { accountId: string }; get(k: "region"): string },
    ns: string,
    repo: string,
  ) => findRepository(db, c.get("principal").accountId, c.get("region"), ns, repo);

  addRoute(
    app,
    deps,
    createRoute({
      method: "get",
      path: "/api/v1/regions/{region}/repositories/{ns}/{repo}/build-rules",
      tags,
      summary: "Build rules",
      request: { params: RepoParams },
      responses: { 200: json(z.object({ rules: z.array(RuleSchema) }), "Rules"), ...errorResponses },
    }),
    async (c) => {
      const { ns, repo } = c.req.valid("param");
      return c.json({ rules: (await listRules(db, (await repoOf(c, ns, repo)).id)).map(ruleView) }, 200);
    },
  );

  addRoute(
    app,
    deps,
    createRoute({
      method: "post",
      path: "/api/v1/regions/{region}/repositories/{ns}/{repo}/build-rules",
      tags,
      summary: "Add a build rule (one Dockerfile variant)",
      request: { params: RepoParams, body: body(RuleInputSchema) },
      responses: { 201: json(RuleSchema, "The rule"), ...errorResponses },
    }),
    async (c) => {
      const { ns, repo } = c.req.valid("param");
      return c.json(ruleView(await createRule(db, (await repoOf(c, ns, repo)).id, c.req.valid("json"))), 201);
    },
  );

  addRoute(
    app,
    deps,
    createRoute({
      method: "patch",
      path: "/api/v1/regions/{region}/repositories/{ns}/{repo}/build-rules/{id}",
      tags,
      summary: "Change a build rule",
      request: { params: RuleParams, body: body(RulePatchSchema) },
      responses: { 200: json(RuleSchema, "The rule"), ...errorResponses },
    }),
    async (c) => {
      const { ns, repo, id } = c.req.valid("param");
      return c.json(ruleView(await updateRule(db, (await repoOf(c, ns, repo)).id, id, c.req.valid("json"))), 200);
    },
  );

  addRoute(
    app,
    deps,
    createRoute({
      method: "delete",
      path: "/api/v1/regions/{region}/repositories/{ns}/{repo}/build-rules/{id}",
      tags,
      summary: "Delete a build rule",
      request: { params: RuleParams },
      responses: { 200: json(OkSchema, "Deleted"), ...errorResponses },
    }),
    async (c) => {
      const { ns, repo, id } = c.req.valid("param");
      await deleteRule(db, (await repoOf(c, ns, repo)).id, id);
      return c.json({ ok: true as const }, 200);
    },
  );

  addRoute(
    app,
    deps,
    createRoute({
      method: "post",
      path: "/api/v1/regions/{region}/repositories/{ns}/{repo}/build-rules/test",
      tags,
      summary: "Which rules a ref would build, with which tags (nothing is built)",
      request: {
        params: RepoParams,
        body: body(z.strictObject({ ref: z.string().min(1).max(256), commit: z.string().max(64).optional() })),
      },
      responses: {
        200: json(
          z.array(z.object({ ruleId: z.number(), tags: z.array(z.string()), refused: z.array(z.string()) })),
          "Matching rules",
        ),
        ...errorResponses,
      },
    }),
    async (c) => {
      const { ns, repo } = c.req.valid("param");
      return c.json(await testRules(db, (await repoOf(c, ns, repo)).id, c.req.valid("json")), 200);
    },
  );

  addRoute(
    app,
    deps,
    createRoute({
      method: "post",
      path: "/api/v1/regions/{region}/repositories/{ns}/{repo}/builds",
      tags,
      summary: "Build a ref now with the matching (or the named) rules",
      request: { params: RepoParams, body: body(ManualBuildSchema) },
      responses: {
        202: json(z.object({ builds: z.array(BuildSchema) }), "The builds"),
        422: json(z.object({ error: z.string(), message: z.string() }), "No rule builds this ref"),
        ...errorResponses,
      },
    }),
    async (c) => {
      const { ns, repo } = c.req.valid("param");
      const binding = await findBinding(db, (await repoOf(c, ns, repo)).id, `${ns}/${repo}`);
      const made = await startManualBuilds(db, deps.policies, binding, c.req.valid("json"));
      deps.dispatcher?.wake();
      const builds = [];
      for (const b of made) builds.push(buildView(await findBuild(db, b.accountId, b.id)));
      return c.json({ builds }, 202);
    },
  );

  addRoute(
    app,
    deps,
    createRoute({
      method: "get",
      path: "/api/v1/regions/{region}/repositories/{ns}/{repo}/builds",
      tags,
      summary: "Builds of the repository, newest first",
      request: { params: RepoParams, query: z.object({ limit: z.coerce.number().int().min(1).max(500).default(100) }) },
      responses: { 200: json(z.object({ builds: z.array(BuildSchema) }), "Builds"), ...errorResponses },
    }),
    async (c) => {
      const { ns, repo } = c.req.valid("param");
      const repositoryId = (await repoOf(c, ns, repo)).id;
      return c.json({ builds: (await listBuilds(db, repositoryId, c.req.valid("query").limit)).map(buildView) }, 200);
    },
  );

  addRoute(
    app,
    deps,
    createRoute({
      method: "get",
      path: "/api/v1/builds/{id}",
      tags,
      summary: "One build",
      request: { params: BuildParams },
      responses: { 200: json(BuildSchema, "The build"), ...errorResponses },
    }),
    async (c) => c.json(buildView(await findBuild(db, c.get("principal").accountId, c.req.valid("param").id)), 200),
  );

  addRoute(
    app,
    deps,
    createRoute({
      method: "get",
      path: "/api/v1/builds/{id}/logs",
      tags,
      summary: "A build's log from line `offset`; `follow=true` streams it as server-sent events until the build ends",
      request: {
        params: BuildParams,
        query: z.object({
          offset: z.coerce.number().int().min(0).default(0),
          follow: z.enum(["true", "false"]).optional(),
        }),
      },
      responses: {
        200: {
          content: {
            "application/json": {
              schema: z.object({
                lines: z.array(z.string()),
                next: z.number(),
                truncated: z.boolean(),
                ended: z.boolean(),
              }),
            },
            "text/event-stream": { schema: z.string() },
          },
          description: "Lines (JSON), or an event stream of `line` events and a final `end` event",
        },
        ...errorResponses,
      },
    }),
    async (c) => {
      const accountId = c.get("principal").accountId;
      const { id } = c.req.valid("param");
      const { offset, follow } = c.req.valid("query");
      if (follow !== "true") return c.json(await logPage(db, deps.queue, accountId, id, offset), 200);
      return streamSSE(c, async (stream) => {
        const status = await followLog(db, deps.queue, accountId, id, offset, (line, n) =>
          stream.writeSSE({ event: "line", data: line, id: String(n) }),
        );
        await stream.writeSSE({ event: "end", data: status });
      }) as never;
    },
  );

  addRoute(
    app,
    deps,
    createRoute({
      method: "post",
      path: "/api/v1/builds/{id}/cancel",
      tags,
      summary: "Cancel a queued or running build",
      request: { params: BuildParams },
      responses: { 200: json(BuildSchema, "The build"), ...errorResponses },
    }),
    async (c) => {
      const build = await cancelBuild(db, c.get("principal").accountId, c.req.valid("param").id);
      // Best effort now; the dispatcher keeps trying while Redis is down.
      await deps.dispatcher?.withdraw([build.id]).catch(() => {});
      return c.json(buildView(build), 200);
    },
  );

  addRoute(
    app,
    deps,
    createRoute({
      method: "post",
      path: "/api/v1/builds/{id}/retry",
      tags,
      summary: "Build the same ref, commit and tags again",
      request: { params: BuildParams },
      responses: { 202: json(BuildSchema, "The new build"), ...errorResponses },
    }),
    async (c) => {
      const accountId = c.get("principal").accountId;
      const made = await retryBuild(db, deps.policies, accountId, c.req.valid("param").id);
      deps.dispatcher?.wake();
      return c.json(buildView(await findBuild(db, accountId, made.id)), 202);
    },
  );
}
