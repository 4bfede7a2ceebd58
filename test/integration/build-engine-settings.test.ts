import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { jobFor } from "../../src/builds/job-payload.ts";
import { buildsByIds } from "../../src/builds/records.ts";
import { builds } from "../../src/db/schema.ts";
import { startTestApp, type TestApp } from "../helpers/app.ts";

const COMMIT = "6113728f27ae82c7b1a177c8d03f9e96e0adf246";
const digest = (n: number) => `sha256:${String(n).repeat(64).slice(0, 64)}`;

describe("a rule's platforms and registry cache: validated, copied into each build, carried by its job", () => {
  let t: TestApp;
  let root: string;
  const repoPath = "/api/v1/regions/cn-hongkong/repositories/alitest1/app";
  const jobOf = (id: string) => {
    const [row] = buildsByIds(t.deps.db, [id]);
    return jobFor(t.deps.db, t.deps.config, t.deps.credentials, row!);
  };
  const newRule = (body: Record<string, unknown>) =>
    t.call("POST", `${repoPath}/build-rules`, {
      token: root,
      body: { sourceType: "branch", source: "main", tags: ["latest"], ...body },
    });
  const manualBuild = async (ruleId: number) => {
    const res = await t.call("POST", `${repoPath}/builds`, {
      token: root,
      body: { ref: "main", commit: COMMIT, ruleIds: [ruleId] },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    return res.body.builds[0] as { id: string; platforms: string[] };
  };
  /** Ends a build as a worker would have: succeeded with `digest`, at `finishedAt`. */
  const succeed = (id: string, d: string, finishedAt: string, cacheLayers = 1) =>
    t.deps.db
      .update(builds)
      .set({ status: "succeeded", digest: d, finishedAt, cacheLayers })
      .where(eq(builds.id, id))
      .run();

  beforeAll(async () => {
    t = await startTestApp();
    root = (await t.account("acme")).token;
    await t.call("POST", "/api/v1/namespaces", { token: root, body: { name: "alitest1" } });
    await t.call("POST", "/api/v1/regions/cn-hongkong/repositories", {
      token: root,
      body: { namespace: "alitest1", name: "app" },
    });
    await t.user(root, "ci", {
      Version: "1",
      Statement: [{ Effect: "Allow", Action: "cr:PushRepository", Resource: "acs:cr:*:*:repository/alitest1/*" }],
    });
    const bound = await t.call("PUT", `${repoPath}/source`, {
      token: root,
      body: { provider: "github", repoUrl: "https://github.com/Codertocat/Hello-World.git", pushUser: "ci" },
    });
    expect(bound.status, JSON.stringify(bound.body)).toBe(200);
  });
  afterAll(async () => {
    await t?.close();
  });

  it("refuses a platform that is not os/arch[/variant], and a repeated one, naming the field", async () => {
    for (const [platforms, field] of [
      [["linux"], "platforms[0]"],
      [["linux/amd64", "Linux/ARM64"], "platforms[1]"],
      [["linux/amd64", "linux/amd64"], "platforms"],
    ] as const) {
      const res = await newRule({ platforms });
      expect(res.status, JSON.stringify(res.body)).toBe(400);
      expect(JSON.stringify(res.body)).toContain(field);
    }
  });

  it("defaults: the worker's own platform and the registry cache on; a rule's choice is copied into its builds and their jobs", async () => {
    const plain = await newRule({});
    expect(plain.body).toMatchObject({ platforms: [], registryCache: true });
    const multi = await newRule({ platforms: ["linux/amd64", "linux/arm64"], registryCache: false });
    expect(multi.status, JSON.stringify(multi.body)).toBe(201);
    expect(multi.body).toMatchObject({ platforms: ["linux/amd64", "linux/arm64"], registryCache: false });

    const build = await manualBuild(multi.body.id);
    expect(build.platforms).toEqual(["linux/amd64", "linux/arm64"]);
    // A later edit changes the rule, not the queued build.
    await t.call("PATCH", `${repoPath}/build-rules/${multi.body.id}`, {
      token: root,
      body: { platforms: [], registryCache: true },
    });
    expect(jobOf(build.id)).toMatchObject({ platforms: ["linux/amd64", "linux/arm64"], registryCache: null });
    expect(jobOf((await manualBuild(multi.body.id)).id)).toMatchObject({
      platforms: [],
      registryCache: { from: [] },
    });
  });

  it("a build's cache comes from its rule's two newest images and its recent image whose cache gives back the most, never another rule's", async () => {
    const rule = (await newRule({})).body.id as number;
    const other = (await newRule({})).body.id as number;
    const ids = [];
    for (let i = 1; i <= 5; i++) ids.push((await manualBuild(rule)).id);
    // Superseded by each next build; ended here as if each had succeeded, in order, with its own
    // image, the second one's inline cache giving back 3 layers and the others' 1.
    ids.forEach((id, i) => succeed(id, digest(i + 1), `2026-01-01T00:00:0${i}.000Z`, i === 1 ? 3 : 1));
    // The newest build of another rule, with the fullest cache of all, is no source.
    succeed((await manualBuild(other)).id, digest(9), "2026-01-01T00:00:09.000Z", 9);
    const image = (n: number) => `127.0.0.1:5000/alitest1/app@${digest(n)}`;
    expect(jobOf((await manualBuild(rule)).id).registryCache?.from).toEqual([image(5), image(4), image(2)]);
    // The newest image as full as the fullest: it is named once.
    succeed((await manualBuild(rule)).id, digest(6), "2026-01-01T00:00:10.000Z", 3);
    expect(jobOf((await manualBuild(rule)).id).registryCache?.from).toEqual([image(6), image(5)]);
  });

  it("an edit moves a rule's and a repository's updatedAt and keeps their createdAt", async () => {
    const rule = (await newRule({})).body;
    const repo = (await t.call("GET", repoPath, { token: root })).body;
    await new Promise((r) => setTimeout(r, 5));
    const edited = await t.call("PATCH", `${repoPath}/build-rules/${rule.id}`, {
      token: root,
      body: { noCache: true },
    });
    expect(edited.body.createdAt).toBe(rule.createdAt);
    expect(Date.parse(edited.body.updatedAt)).toBeGreaterThan(Date.parse(rule.createdAt));
    const patched = await t.call("PATCH", repoPath, { token: root, body: { summary: "edited" } });
    expect(patched.status, JSON.stringify(patched.body)).toBe(200);
    expect(patched.body.createdAt).toBe(repo.createdAt);
    expect(Date.parse(patched.body.updatedAt)).toBeGreaterThan(Date.parse(repo.createdAt));
  });
});
