import { createRoute, z } from "@hono/zod-openapi";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ACCESS_TABLE } from "../../src/api/access-table.ts";
import { addRoute } from "../../src/api/route.ts";
import { startTestApp, type TestApp } from "../helpers/app.ts";

describe("the access table", () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t.close());

  it("a route without an entry does not start", () => {
    const route = createRoute({
      method: "get",
      path: "/api/v1/unguarded",
      responses: { 200: { description: "x", content: { "application/json": { schema: z.object({}) } } } },
    });
    expect(() => addRoute(t.app, t.deps, route, (c) => c.json({}, 200))).toThrow(/no entry in the access table/);
  });

  it("GET /api/v1/actions lists every route with its action and resource", async () => {
    const res = await t.call("GET", "/api/v1/actions");
    expect(res.status).toBe(200);
    expect(res.body.actions).toHaveLength(Object.keys(ACCESS_TABLE).length);
    expect(res.body.actions).toContainEqual({
      route: "GET /api/v1/namespaces",
      auth: "policy",
      action: "cr:ListNamespace",
      resource: "acs:cr:{region}:{accountId}:repository/{ns}",
      perItem: true,
    });
    expect(res.body.actions).toContainEqual({
      route: "DELETE /api/v1/regions/{region}/repositories/{ns}/{repo}",
      auth: "policy",
      action: "cr:DeleteRepository",
      resource: "acs:cr:{region}:{accountId}:repository/{ns}/{repo}",
      perItem: false,
    });
  });

  it("every policy-guarded route refuses a user with no policies", async () => {
    const root = (await t.account("acme")).token;
    await t.call("POST", "/api/v1/namespaces", { token: root, body: { name: "ns1" } });
    await t.call("POST", "/api/v1/regions/cn-hongkong/repositories", {
      token: root,
      body: { namespace: "ns1", name: "r1" },
    });
    await t.call("POST", "/api/v1/users", { token: root, body: { name: "target" } });
    await t.call("POST", "/api/v1/groups", { token: root, body: { name: "g1" } });
    const repoPath = "/api/v1/regions/cn-hongkong/repositories/ns1/r1";
    await t.call("PUT", `${repoPath}/source`, {
      token: root,
      body: { provider: "github", repoUrl: "https://github.com/a/b.git", pushUser: "target" },
    });
    const rule = await t.call("POST", `${repoPath}/build-rules`, {
      token: root,
      body: { sourceType: "branch", source: "main", tags: ["latest"] },
    });
    const build = await t.call("POST", `${repoPath}/builds`, { token: root, body: { ref: "main" } });
    expect(build.status).toBe(202);
    const nobody = await t.user(root, "nobody");
    const sample: Record<string, string> = {
      name: "target",
      g: "g1",
      policyName: "AliyunContainerRegistryFullAccess",
      ns: "ns1",
      repo: "r1",
      region: "cn-hongkong",
      deliveryId: "whd-1",
    };
    const idFor = (key: string) =>
      key.includes("/build-rules/")
        ? String(rule.body.id)
        : key.includes("/build-secrets/")
          ? "npmrc"
          : key.includes("/webhooks/")
            ? "1"
            : build.body.builds[0].id;
    const bodies: Record<string, unknown> = {
      "POST /api/v1/users": { name: "x1" },
      "PUT /api/v1/users/{name}/password": { password: "Abcdefg123" },
      "PUT /api/v1/users/{name}/registry-password": { password: "Abcdefg123" },
      "POST /api/v1/users/{name}/policies": { policyName: "AliyunContainerRegistryFullAccess" },
      "POST /api/v1/groups": { name: "g2" },
      "POST /api/v1/groups/{g}/members": { userName: "target" },
      "POST /api/v1/groups/{g}/policies": { policyName: "AliyunContainerRegistryFullAccess" },
      "POST /api/v1/policies": {
        name: "p1",
        document: { Version: "1", Statement: [{ Effect: "Allow", Action: "cr:*", Resource: "*" }] },
      },
      "POST /api/v1/policies/simulate": { userName: "target", action: "cr:X", resource: "r" },
      "POST /api/v1/namespaces": { name: "ns2" },
      "PATCH /api/v1/namespaces/{ns}": { autoCreateRepository: true },
      "POST /api/v1/regions/{region}/repositories": { namespace: "ns1", name: "r2" },
      "PATCH /api/v1/regions/{region}/repositories/{ns}/{repo}": { summary: "s" },
      "PUT /api/v1/regions/{region}/repositories/{ns}/{repo}/source": {
        provider: "github",
        repoUrl: "https://github.com/a/b.git",
        pushUser: "target",
      },
      "POST /api/v1/regions/{region}/repositories/{ns}/{repo}/build-rules": {
        sourceType: "branch",
        source: "dev",
        tags: ["dev"],
      },
      "POST /api/v1/regions/{region}/repositories/{ns}/{repo}/build-rules/test": { ref: "main" },
      "PATCH /api/v1/regions/{region}/repositories/{ns}/{repo}/build-rules/{id}": { enabled: false },
      "POST /api/v1/regions/{region}/repositories/{ns}/{repo}/builds": { ref: "main" },
      "PUT /api/v1/regions/{region}/repositories/{ns}/{repo}/build-secrets/{id}": { value: "s3cret-value" },
      "POST /api/v1/regions/{region}/repositories/{ns}/{repo}/webhooks": {
        url: "http://127.0.0.1:9/hook",
        events: ["tag.pushed"],
      },
      "PATCH /api/v1/regions/{region}/repositories/{ns}/{repo}/webhooks/{id}": { enabled: false },
    };
    const guarded = Object.entries(ACCESS_TABLE).filter(([, rule]) => rule.auth === "policy" && !rule.perItem);
    expect(guarded.length).toBeGreaterThan(25);
    for (const [key, rule] of guarded) {
      const [method, template] = key.split(" ") as [string, string];
      const path = template.replace(/\{(\w+)\}/g, (_m, k: string) => (k === "id" ? idFor(key) : sample[k]!));
      const res = await t.call(method, path, { token: nobody, body: bodies[key] });
      expect([key, res.status, res.body.action]).toEqual([key, 403, rule.auth === "policy" ? rule.action : ""]);
    }
  });
});
