import Database from "better-sqlite3";
import { eq } from "drizzle-orm";
import { drizzle } from "drizzle-orm/better-sqlite3";
import { migrate } from "drizzle-orm/better-sqlite3/migrator";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { jobFor } from "../../src/builds/job-payload.ts";
import { buildsByIds } from "../../src/builds/records.ts";
import { builds } from "../../src/db/schema.ts";
import { startTestApp, type TestApp } from "../helpers/app.ts";

const COMMIT = "6113728f27ae82c7b1a177c8d03f9e96e0adf246";

describe("a build's settings (Dockerfile, context, args, target, no-cache, platforms, registry cache) are copied when it is recorded: later rule edits do not change it", () => {
  let t: TestApp;
  let root: string;
  const repoPath = "/api/v1/regions/cn-hongkong/repositories/alitest1/app";
  // No queue: every build stays queued in SQLite, as with Redis down or no worker.
  const jobOf = async (id: string) => {
    const [row] = await buildsByIds(t.deps.db, [id]);
    return await jobFor(t.deps.db, t.deps.config, t.deps.credentials, row!);
  };
  const original = {
    dockerfileDir: "/docker",
    dockerfileName: "Dockerfile.old",
    context: "docker",
    buildArgs: { VARIANT: "old" },
    target: "final",
    noCache: true,
  };
  const expectOriginal = (job: Awaited<ReturnType<typeof jobOf>>) =>
    expect(job).toMatchObject({
      dockerfile: { dir: "/docker", name: "Dockerfile.old" },
      context: "docker",
      buildArgs: { VARIANT: "old" },
      target: "final",
      noCache: true,
    });
  const newRule = async () =>
    (
      await t.call("POST", `${repoPath}/build-rules`, {
        token: root,
        body: { sourceType: "branch", source: "main", tags: ["latest"], ...original },
      })
    ).body.id as number;
  const manualBuild = async (ruleId: number) => {
    const res = await t.call("POST", `${repoPath}/builds`, {
      token: root,
      body: { ref: "main", commit: COMMIT, ruleIds: [ruleId] },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    return res.body.builds[0] as { id: string; status: string; dockerfile: string; platforms: string[] };
  };
  const edit = (ruleId: number) =>
    t.call("PATCH", `${repoPath}/build-rules/${ruleId}`, {
      token: root,
      body: {
        dockerfileDir: "/",
        dockerfileName: "Dockerfile.new",
        context: "/other",
        buildArgs: { VARIANT: "new" },
        target: "debug",
        noCache: false,
      },
    });

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

  it("a queued build's job carries the rule's settings as they were, after the rule is edited and then deleted", async () => {
    const ruleId = await newRule();
    const build = await manualBuild(ruleId);
    expect(build.status).toBe("queued");
    expect(build.dockerfile).toBe("/docker/Dockerfile.old");
    expectOriginal(await jobOf(build.id));

    expect((await edit(ruleId)).status).toBe(200);
    expectOriginal(await jobOf(build.id));
    expect((await t.call("GET", `/api/v1/builds/${build.id}`, { token: root })).body.dockerfile).toBe(
      "/docker/Dockerfile.old",
    );
    // A build recorded after the edit has the new settings.
    const later = await manualBuild(ruleId);
    expect(await jobOf(later.id)).toMatchObject({
      dockerfile: { dir: "/", name: "Dockerfile.new" },
      context: "other",
      buildArgs: { VARIANT: "new" },
      target: "debug",
      noCache: false,
    });

    expect((await t.call("DELETE", `${repoPath}/build-rules/${ruleId}`, { token: root })).status).toBe(200);
    const [row] = await buildsByIds(t.deps.db, [build.id]);
    expect(row!.ruleId).toBeNull();
    expectOriginal(await jobOf(build.id));
  });

  it("a retry builds with the settings of the build it repeats, not with its rule as it is now", async () => {
    const ruleId = await newRule();
    const build = await manualBuild(ruleId);
    expect((await t.call("POST", `/api/v1/builds/${build.id}/cancel`, { token: root })).status).toBe(200);
    expect((await edit(ruleId)).status).toBe(200);
    const retried = await t.call("POST", `/api/v1/builds/${build.id}/retry`, { token: root });
    expect(retried.status, JSON.stringify(retried.body)).toBe(202);
    expect(retried.body.dockerfile).toBe("/docker/Dockerfile.old");
    expectOriginal(await jobOf(retried.body.id));

    // With its rule deleted too.
    expect((await t.call("POST", `/api/v1/builds/${retried.body.id}/cancel`, { token: root })).status).toBe(200);
    await t.call("DELETE", `${repoPath}/build-rules/${ruleId}`, { token: root });
    const again = await t.call("POST", `/api/v1/builds/${retried.body.id}/retry`, { token: root });
    expect(again.status, JSON.stringify(again.body)).toBe(202);
    expect(again.body.ruleId).toBeNull();
    expectOriginal(await jobOf(again.body.id));
  });

  /** A rule on main with `body`'s settings over the defaults. */
  const ruleWith = (body: Record<string, unknown>) =>
    t.call("POST", `${repoPath}/build-rules`, {
      token: root,
      body: { sourceType: "branch", source: "main", tags: ["latest"], ...body },
    });
  const digest = (n: number) => `sha256:${String(n).repeat(64).slice(0, 64)}`;
  /** Ends a build as a worker would have: succeeded with `digest` at `finishedAt`, its inline cache giving back `cacheLayers`. */
  const succeed = (id: string, d: string, finishedAt: string, cacheLayers = 1) =>
    t.deps.db
      .update(builds)
      .set({ status: "succeeded", digest: d, finishedAt, cacheLayers })
      .where(eq(builds.id, id))
      .run();

  it("refuses a platform that is not os/arch[/variant], and a repeated one, naming the field", async () => {
    for (const [platforms, field] of [
      [["linux"], "platforms[0]"],
      [["linux/amd64", "Linux/ARM64"], "platforms[1]"],
      [["linux/amd64", "linux/amd64"], "platforms"],
    ] as const) {
      const res = await ruleWith({ platforms });
      expect(res.status, JSON.stringify(res.body)).toBe(400);
      expect(JSON.stringify(res.body)).toContain(field);
    }
  });

  it("defaults: the worker's own platform and the registry cache on; a rule's choice is copied into its builds and their jobs", async () => {
    const plain = await ruleWith({});
    expect(plain.body).toMatchObject({ platforms: [], registryCache: true });
    const multi = await ruleWith({ platforms: ["linux/amd64", "linux/arm64"], registryCache: false });
    expect(multi.status, JSON.stringify(multi.body)).toBe(201);
    expect(multi.body).toMatchObject({ platforms: ["linux/amd64", "linux/arm64"], registryCache: false });

    const build = await manualBuild(multi.body.id);
    expect(build.platforms).toEqual(["linux/amd64", "linux/arm64"]);
    // A later edit changes the rule, not the queued build.
    await t.call("PATCH", `${repoPath}/build-rules/${multi.body.id}`, {
      token: root,
      body: { platforms: [], registryCache: true },
    });
    expect(await jobOf(build.id)).toMatchObject({ platforms: ["linux/amd64", "linux/arm64"], registryCache: null });
    expect(await jobOf((await manualBuild(multi.body.id)).id)).toMatchObject({
      platforms: [],
      registryCache: { from: [] },
    });
  });

  it("a build's cache comes from its rule's two newest images and its recent image whose cache gives back the most, never another rule's", async () => {
    const rule = (await ruleWith({})).body.id as number;
    const other = (await ruleWith({})).body.id as number;
    const ids = [];
    for (let i = 1; i <= 5; i++) ids.push((await manualBuild(rule)).id);
    // Superseded by each next build; ended here as if each had succeeded, in order, with its own
    // image, the second one's inline cache giving back 3 layers and the others' 1.
    for (const [i, id] of ids.entries())
      await succeed(id, digest(i + 1), `2026-01-01T00:00:0${i}.000Z`, i === 1 ? 3 : 1);
    // The newest build of another rule, with the fullest cache of all, is no source.
    await succeed((await manualBuild(other)).id, digest(9), "2026-01-01T00:00:09.000Z", 9);
    const image = (n: number) => `127.0.0.1:5000/alitest1/app@${digest(n)}`;
    expect((await jobOf((await manualBuild(rule)).id)).registryCache?.from).toEqual([image(5), image(4), image(2)]);
    // The newest image as full as the fullest: it is named once.
    await succeed((await manualBuild(rule)).id, digest(6), "2026-01-01T00:00:10.000Z", 3);
    expect((await jobOf((await manualBuild(rule)).id)).registryCache?.from).toEqual([image(6), image(5)]);
  });

  it("an edit moves a rule's and a repository's updatedAt and keeps their createdAt", async () => {
    const rule = (await ruleWith({})).body;
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

describe("migration 0008: builds recorded before it take their settings from their rule where it still exists", () => {
  const migrations = join(import.meta.dirname, "../../migrations");
  const dir = mkdtempSync(join(tmpdir(), "kiln-migration-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("fills existing rows from their rule, else with the defaults", () => {
    // The migrations up to 0007, as a database made before this one has them.
    const before = join(dir, "before");
    cpSync(migrations, before, { recursive: true });
    const journal = JSON.parse(readFileSync(join(before, "meta/_journal.json"), "utf8"));
    journal.entries = journal.entries.filter((e: { idx: number }) => e.idx <= 7);
    writeFileSync(join(before, "meta/_journal.json"), JSON.stringify(journal));
    const sqlite = new Database(join(dir, "kiln.db"));
    sqlite.pragma("foreign_keys = ON");
    const db = drizzle(sqlite);
    migrate(db, { migrationsFolder: before });

    sqlite.exec(`
      INSERT INTO accounts (id, alias, created_at) VALUES ('1000000000000001', 'acme', '2026-01-01');
      INSERT INTO namespaces (id, account_id, name, created_at) VALUES (1, '1000000000000001', 'ns', '2026-01-01');
      INSERT INTO repositories (id, account_id, namespace_id, region, name, visibility, created_at)
        VALUES (1, '1000000000000001', 1, 'cn-hongkong', 'app', 'private', '2026-01-01');
      INSERT INTO build_rules (id, repository_id, source_type, source, tags, dockerfile_dir, dockerfile_name, context,
          build_args, target, no_cache, include_paths, exclude_paths, created_at)
        VALUES (7, 1, 'branch', 'main', '["x"]', '/docker', 'Dockerfile.rule', '/ctx', '{"A":"1"}', 'final', 1, '[]', '[]',
          '2026-01-01');
      INSERT INTO builds (id, account_id, repository_id, rule_id, trigger, ref, clone_url, tags, status, queued_at)
        VALUES ('bld-ruled', '1000000000000001', 1, 7, 'manual', 'refs/heads/main', 'file:///x', '["x"]', 'queued', '2026-01-01'),
               ('bld-orphan', '1000000000000001', 1, NULL, 'manual', 'refs/heads/main', 'file:///x', '["x"]', 'queued', '2026-01-01');
    `);
    migrate(db, { migrationsFolder: migrations });
    const rows = sqlite
      .prepare(
        "select id, dockerfile_dir, dockerfile_name, context, build_args, target, no_cache from builds order by id",
      )
      .all();
    expect(rows).toEqual([
      {
        id: "bld-orphan",
        dockerfile_dir: "/",
        dockerfile_name: "Dockerfile",
        context: null,
        build_args: "{}",
        target: null,
        no_cache: 0,
      },
      {
        id: "bld-ruled",
        dockerfile_dir: "/docker",
        dockerfile_name: "Dockerfile.rule",
        context: "/ctx",
        build_args: '{"A":"1"}',
        target: "final",
        no_cache: 1,
      },
    ]);
    sqlite.close();
  });
});
