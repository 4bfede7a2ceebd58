import examples from "@octokit/webhooks-examples";
import { createHmac } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "../helpers/app.ts";

const example = (examples as unknown as { name: string; examples: any[] }[])
  .find((e) => e.name === "push")!
  .examples.find((p) => p.ref === "refs/heads/master");

/**
 * Webhooks arriving together on one API process with a small connection pool (on PostgreSQL, with
 * KILN_TEST_DB=postgres; on SQLite the pool setting is unused and the same must hold). A
 * transaction that read policies through a second connection from the pool once waited forever
 * for it when every connection sat in such a transaction: all requests hung.
 */
describe("a burst of webhooks larger than the database pool", () => {
  let t: TestApp;
  let hook: { path: string; secret: string };
  beforeAll(async () => {
    t = await startTestApp({ KILN_DATABASE_POOL: "2" });
    const root = (await t.account("acme")).token;
    await t.call("POST", "/api/v1/namespaces", { token: root, body: { name: "burst" } });
    await t.call("POST", "/api/v1/regions/cn-hongkong/repositories", {
      token: root,
      body: { namespace: "burst", name: "app" },
    });
    await t.user(root, "ci", {
      Version: "1",
      Statement: [{ Effect: "Allow", Action: "cr:PushRepository", Resource: "acs:cr:*:*:repository/burst/*" }],
    });
    const repo = "/api/v1/regions/cn-hongkong/repositories/burst/app";
    const bound = await t.call("PUT", `${repo}/source`, {
      token: root,
      body: { provider: "github", repoUrl: "https://github.com/Codertocat/Hello-World.git", pushUser: "ci" },
    });
    hook = { path: new URL(bound.body.webhookUrl).pathname, secret: bound.body.webhookSecret };
    await t.call("POST", `${repo}/build-rules`, {
      token: root,
      body: { sourceType: "branch", source: "master", tags: ["{sourceref}"] },
    });
  });
  afterAll(async () => {
    await t.close();
  });

  it("twelve at once, on a pool of two connections, are each accepted with their build", async () => {
    const deliveries = Array.from({ length: 12 }, (_, i) => `burst-${i}`);
    const answers = await Promise.all(
      deliveries.map((delivery, i) => {
        const body = JSON.stringify({ ...example, after: i.toString(16).padStart(40, "a") });
        return t.call("POST", hook.path, {
          raw: body,
          headers: {
            "x-github-event": "push",
            "x-github-delivery": delivery,
            "x-hub-signature-256": `sha256=${createHmac("sha256", hook.secret).update(body).digest("hex")}`,
          },
        });
      }),
    );
    expect(answers.map((a) => a.status)).toEqual(deliveries.map(() => 202));
    expect(answers.map((a) => a.body.builds.length)).toEqual(deliveries.map(() => 1));
  }, 20_000);
});
