import examples from "@octokit/webhooks-examples";
import { sql } from "drizzle-orm";
import { createHmac } from "node:crypto";
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { rows } from "../../src/db/connection.ts";
import { sourceBindings } from "../../src/db/schema.ts";
import { startTestApp, type TestApp } from "../helpers/app.ts";

const githubPush = JSON.stringify(
  (examples as unknown as { name: string; examples: any[] }[])
    .find((e) => e.name === "push")!
    .examples.find((p) => p.ref === "refs/heads/master"),
);
const gitlabTagPush = readFileSync(new URL("../fixtures/webhooks/gitlab-tag-push.json", import.meta.url), "utf8");
const PUSH_ALITEST1 = {
  Version: "1",
  Statement: [{ Effect: "Allow", Action: "cr:PushRepository", Resource: "acs:cr:*:*:repository/alitest1/*" }],
};

describe("from a git push webhook to queued builds", () => {
  let t: TestApp;
  let root: string;
  const repoPath = (name: string) => `/api/v1/regions/cn-hongkong/repositories/alitest1/${name}`;
  const hookPath = (url: string) => new URL(url).pathname;
  const github = (path: string, secret: string, body: string, delivery: string, event = "push") =>
    t.call("POST", path, {
      raw: body,
      headers: {
        "content-type": "application/json",
        "x-github-event": event,
        "x-github-delivery": delivery,
        "x-hub-signature-256": `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`,
      },
    });
  const count = async (table: string) =>
    (await rows<{ n: number }>(t.deps.db, sql`select cast(count(*) as integer) as n from ${sql.identifier(table)}`))[0]!
      .n;
  let hook: { path: string; secret: string };

  beforeAll(async () => {
    t = await startTestApp();
    root = (await t.account("acme")).token;
    await t.call("POST", "/api/v1/namespaces", { token: root, body: { name: "alitest1" } });
    for (const name of ["app", "app-mirror", "other"])
      await t.call("POST", "/api/v1/regions/cn-hongkong/repositories", {
        token: root,
        body: { namespace: "alitest1", name },
      });
    await t.user(root, "ci", PUSH_ALITEST1);
    await t.user(root, "weak");
    const bound = await t.call("PUT", `${repoPath("app")}/source`, {
      token: root,
      body: { provider: "github", repoUrl: "https://github.com/Codertocat/Hello-World.git", pushUser: "ci" },
    });
    expect(bound.status).toBe(200);
    hook = { path: hookPath(bound.body.webhookUrl), secret: bound.body.webhookSecret };
    for (const [dockerfileName, variant] of [
      ["Dockerfile.node6", "node6"],
      ["Dockerfile.node8", "node8"],
    ]) {
      const rule = await t.call("POST", `${repoPath("app")}/build-rules`, {
        token: root,
        body: { sourceType: "branch", source: "master", dockerfileName, tags: [`${variant}-{sourceref}`] },
      });
      expect(rule.status).toBe(201);
    }
  });
  afterAll(() => t.close());

  it("the binding shows its secret once, then never again", async () => {
    expect(hook.secret).toMatch(/^[A-Za-z0-9_-]{32}$/);
    const again = await t.call("GET", `${repoPath("app")}/source`, { token: root });
    expect(again.body.webhookSecret).toBeUndefined();
    expect(JSON.stringify(again.body)).not.toContain(hook.secret);
    expect(again.body).toMatchObject({
      provider: "github",
      pushUser: "ci",
      autoBuild: true,
      webhookUrl: expect.stringContaining("/hooks/"),
    });
  });

  it("a forged or unsigned webhook: 401, and nothing is stored", async () => {
    const before = [await count("deliveries"), await count("builds")];
    expect((await github(hook.path, "not-the-secret", githubPush, "forged-1")).status).toBe(401);
    const unsigned = await t.call("POST", hook.path, {
      raw: githubPush,
      headers: { "content-type": "application/json", "x-github-event": "push" },
    });
    expect(unsigned.status).toBe(401);
    expect(unsigned.body.error).toBe("InvalidSignature");
    expect([await count("deliveries"), await count("builds")]).toEqual(before);
  });

  it("a signed push builds every Dockerfile variant as its own tag", async () => {
    const res = await github(hook.path, hook.secret, githubPush, "delivery-1");
    expect(res.status).toBe(202);
    expect(res.body.outcome).toBe("accepted");
    expect(res.body.builds.map((b: { tags: string[]; status: string }) => [b.tags, b.status])).toEqual([
      [["node6-master"], "queued"],
      [["node8-master"], "queued"],
    ]);
    expect(res.body.builds[0]).toMatchObject({
      repository: "alitest1/app",
      region: "cn-hongkong",
      trigger: "webhook",
      ref: "refs/heads/master",
      commit: "6113728f27ae82c7b1a177c8d03f9e96e0adf246",
    });
  });

  it("a redelivery makes nothing new and answers as the first time", async () => {
    const builds = await count("builds");
    const again = await github(hook.path, hook.secret, githubPush, "delivery-1");
    expect(again.status).toBe(202);
    expect(again.body.redelivery).toBe(true);
    expect(again.body.builds).toHaveLength(2);
    expect(await count("builds")).toBe(builds);
  });

  it("a new push of the same branch supersedes the queued builds", async () => {
    const first = (await t.call("GET", `${repoPath("app")}/builds`, { token: root })).body.builds;
    const res = await github(hook.path, hook.secret, githubPush, "delivery-2");
    expect(res.status).toBe(202);
    const after = await Promise.all(
      first.map((b: { id: string }) => t.call("GET", `/api/v1/builds/${b.id}`, { token: root })),
    );
    expect(after.map((r) => r.body.status)).toEqual(["superseded", "superseded"]);
  });

  it("pings, deletions and other events build nothing", async () => {
    const ping = await github(
      hook.path,
      hook.secret,
      JSON.stringify({ zen: "Keep it logically awesome.", hook_id: 1 }),
      "ping-1",
      "ping",
    );
    expect([ping.status, ping.body.outcome, ping.body.builds]).toEqual([200, "ping", []]);
    const deleted = JSON.stringify({
      ...JSON.parse(githubPush),
      deleted: true,
      after: "0000000000000000000000000000000000000000",
    });
    const del = await github(hook.path, hook.secret, deleted, "delete-1");
    expect([del.status, del.body.outcome, del.body.builds]).toEqual([200, "ignored", []]);
    expect(del.body.reason).toMatch(/delete events build nothing/);
    const star = await github(hook.path, hook.secret, "{}", "star-1", "star");
    expect([star.status, star.body.outcome]).toEqual([200, "ignored"]);
  });

  it("a body over 25 MiB: 413 (webhooks take up to 25 MiB; see webhook-payload-size.test.ts)", async () => {
    const res = await t.call("POST", hook.path, {
      raw: JSON.stringify({ pad: "x".repeat(25 * 1024 * 1024) }),
      headers: { "content-type": "application/json", "x-github-event": "push" },
    });
    expect(res.status).toBe(413);
  });

  it("an unknown hook: 404", async () => {
    expect((await github("/hooks/nonexistent", hook.secret, githubPush, "x")).status).toBe(404);
  });

  it("one push builds every repository bound to the same code repository", async () => {
    const mirror = await t.call("PUT", `${repoPath("app-mirror")}/source`, {
      token: root,
      body: { provider: "github", repoUrl: "git@github.com:codertocat/hello-world.git", pushUser: "ci" },
    });
    await t.call("POST", `${repoPath("app-mirror")}/build-rules`, {
      token: root,
      body: { sourceType: "branch", source: "/mast.*/", tags: ["{sourceref}-{shortsha}"] },
    });
    const res = await github(hook.path, hook.secret, githubPush, "delivery-3");
    expect(
      res.body.builds.map((b: { repository: string; tags: string[] }) => `${b.repository}:${b.tags.join(",")}`).sort(),
    ).toEqual(["alitest1/app-mirror:master-6113728", "alitest1/app:node6-master", "alitest1/app:node8-master"]);
    expect(mirror.body.webhookSecret).toBeDefined();
  });

  it("a push user without cr:PushRepository gets a failed build that says why", async () => {
    const bound = await t.call("PUT", `${repoPath("other")}/source`, {
      token: root,
      body: { provider: "gitlab", repoUrl: "http://example.com/jsmith/example.git", pushUser: "weak" },
    });
    await t.call("POST", `${repoPath("other")}/build-rules`, {
      token: root,
      body: {
        sourceType: "tag",
        source: "/^v(\\d+)\\.(\\d+)\\.(\\d+)$/",
        tags: ["{\\1}.{\\2}.{\\3}", "{\\1}.{\\2}", "latest"],
      },
    });
    const res = await t.call("POST", hookPath(bound.body.webhookUrl), {
      raw: gitlabTagPush,
      headers: {
        "content-type": "application/json",
        "x-gitlab-event": "Tag Push Hook",
        "x-gitlab-token": bound.body.webhookSecret,
      },
    });
    expect(res.status).toBe(202);
    const [build] = res.body.builds;
    expect(build).toMatchObject({ tags: ["1.0.0", "1.0", "latest"], status: "failed" });
    expect(build.error).toMatch(
      /push user "weak" may not cr:PushRepository on acs:cr:cn-hongkong:\d{16}:repository\/alitest1\/other \(ImplicitDeny: no statement/,
    );
  });

  it("a plain git server's hook: Bearer secret and {ref, commit}", async () => {
    const bound = await t.call("PUT", `${repoPath("app")}/source`, {
      token: root,
      body: { provider: "git", repoUrl: "https://git.example.com/team/app.git", pushUser: "ci" },
    });
    expect(bound.body.webhookSecret).toBeUndefined();
    const rotated = await t.call("PUT", `${repoPath("app")}/source`, {
      token: root,
      body: { provider: "git", repoUrl: "https://git.example.com/team/app.git", pushUser: "ci", rotateSecret: true },
    });
    const body = JSON.stringify({ ref: "refs/heads/master", commit: "a".repeat(40) });
    const path = hookPath(rotated.body.webhookUrl);
    expect(
      (
        await t.call("POST", path, {
          raw: body,
          headers: { "content-type": "application/json", authorization: `Bearer ${hook.secret}` },
        })
      ).status,
    ).toBe(401);
    const res = await t.call("POST", path, {
      raw: body,
      headers: { "content-type": "application/json", authorization: `Bearer ${rotated.body.webhookSecret}` },
    });
    expect(res.status).toBe(202);
    expect(res.body.builds.filter((b: { repository: string }) => b.repository === "alitest1/app")).toHaveLength(2);
  });

  describe("build rules", () => {
    it.each([
      [{ sourceType: "branch", source: "/(unclosed/", tags: ["x"] }, "source"],
      [{ sourceType: "branch", source: "main", tags: ["{nope!}"] }, "tags[0]"],
      [{ sourceType: "branch", source: "main", tags: ["x"], dockerfileDir: "../outside" }, "dockerfileDir"],
      [{ sourceType: "branch", source: "main", tags: ["x"], context: "a/../../b" }, "context"],
      [{ sourceType: "branch", source: "main", tags: ["x"], dockerfileName: "../Dockerfile" }, "dockerfileName"],
      [{ sourceType: "branch", source: "main", tags: [] }, "tags"],
      [{ sourceType: "pr", source: "main", tags: ["x"] }, "sourceType"],
    ])("refuses %j naming %s", async (rule, field) => {
      const res = await t.call("POST", `${repoPath("app")}/build-rules`, { token: root, body: rule });
      expect(res.status).toBe(400);
      expect(res.body.field).toBe(field);
    });

    it("tests a ref against the rules without building", async () => {
      const builds = await count("builds");
      const res = await t.call("POST", `${repoPath("other")}/build-rules/test`, {
        token: root,
        body: { ref: "refs/tags/v2.3.4" },
      });
      expect(res.body).toEqual([{ ruleId: expect.any(Number), tags: ["2.3.4", "2.3", "latest"], refused: [] }]);
      expect(await count("builds")).toBe(builds);
    });
  });

  describe("manual builds, cancel and retry", () => {
    it("builds a regex rule given an explicit ref", async () => {
      const res = await t.call("POST", `${repoPath("app-mirror")}/builds`, {
        token: root,
        body: { ref: "master-2", commit: "b".repeat(40) },
      });
      expect(res.status).toBe(202);
      expect(res.body.builds).toEqual([
        expect.objectContaining({
          trigger: "manual",
          ref: "refs/heads/master-2",
          tags: ["master-2-bbbbbbb"],
          status: "queued",
        }),
      ]);
    });

    it("a ref no rule builds: 422 with the reasons", async () => {
      const res = await t.call("POST", `${repoPath("app")}/builds`, {
        token: root,
        body: { ref: "refs/heads/feature" },
      });
      expect(res.status).toBe(422);
      expect(res.body.error).toBe("NoRuleMatches");
    });

    it("cancels a queued build; a finished one cannot be canceled; retry makes a new build", async () => {
      const made = (await t.call("POST", `${repoPath("app")}/builds`, { token: root, body: { ref: "master" } })).body
        .builds[0];
      const canceled = await t.call("POST", `/api/v1/builds/${made.id}/cancel`, { token: root });
      expect(canceled.body.status).toBe("canceled");
      expect((await t.call("POST", `/api/v1/builds/${made.id}/cancel`, { token: root })).status).toBe(409);
      const retried = await t.call("POST", `/api/v1/builds/${made.id}/retry`, { token: root });
      expect(retried.status).toBe(202);
      expect(retried.body).toMatchObject({ trigger: "retry", ref: made.ref, tags: made.tags, status: "queued" });
      expect(retried.body.id).not.toBe(made.id);
      expect((await t.call("POST", `/api/v1/builds/${retried.body.id}/retry`, { token: root })).status).toBe(409);
    });

    it("another account cannot see a build", async () => {
      const rival = (await t.account("rival")).token;
      const some = (await t.call("GET", `${repoPath("app")}/builds`, { token: root })).body.builds[0];
      expect((await t.call("GET", `/api/v1/builds/${some.id}`, { token: rival })).status).toBe(404);
    });
  });

  it("a push user of a binding cannot be deleted", async () => {
    const res = await t.call("DELETE", "/api/v1/users/ci", { token: root });
    expect(res.status).toBe(409);
    expect(res.body.error).toBe("UserIsPushUser");
  });

  it("local clone URLs need KILN_ALLOW_LOCAL_GIT", async () => {
    const res = await t.call("PUT", `${repoPath("app")}/source`, {
      token: root,
      body: { provider: "git", repoUrl: "file:///srv/git/app.git", pushUser: "ci" },
    });
    expect(res.status).toBe(400);
    expect(res.body.field).toBe("repoUrl");
  });

  it("secrets are sealed at rest", async () => {
    const rows = await t.deps.db.select({ s: sourceBindings.webhookSecretSealed }).from(sourceBindings).all();
    for (const r of rows) expect(r.s).toMatch(/^v1\./);
    expect(rows.map((r) => r.s).join()).not.toContain(hook.secret);
  });
});
