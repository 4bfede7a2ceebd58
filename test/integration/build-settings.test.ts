import Database from "better-sqlite3";
import { drizzle } from "drizzle-orm/better-sqlite3";
import { migrate } from "drizzle-orm/better-sqlite3/migrator";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { jobFor } from "../../src/builds/job-payload.ts";
import { buildsByIds } from "../../src/builds/records.ts";
import { startTestApp, type TestApp } from "../helpers/app.ts";

const COMMIT = "6113728f27ae82c7b1a177c8d03f9e96e0adf246";

describe("a build's settings are copied when it is recorded: later rule edits do not change it", () => {
  let t: TestApp;
  let root: string;
  const repoPath = "/api/v1/regions/cn-hongkong/repositories/alitest1/app";
  // No queue: every build stays queued in SQLite, as with Redis down or no worker.
  const jobOf = (id: string) => {
    const [row] = buildsByIds(t.deps.db, [id]);
    return jobFor(t.deps.db, t.deps.config, t.deps.credentials, row!);
  };
  const original = {
    dockerfileDir: "/docker",
    dockerfileName: "Dockerfile.old",
    context: "docker",
    buildArgs: { VARIANT: "old" },
    target: "final",
    noCache: true,
  };
  const expectOriginal = (job: ReturnType<typeof jobOf>) =>
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
    return res.body.builds[0] as { id: string; status: string; dockerfile: string };
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
    expectOriginal(jobOf(build.id));

    expect((await edit(ruleId)).status).toBe(200);
    expectOriginal(jobOf(build.id));
    expect((await t.call("GET", `/api/v1/builds/${build.id}`, { token: root })).body.dockerfile).toBe(
      "/docker/Dockerfile.old",
    );
    // A build recorded after the edit has the new settings.
    const later = await manualBuild(ruleId);
    expect(jobOf(later.id)).toMatchObject({
      dockerfile: { dir: "/", name: "Dockerfile.new" },
      context: "other",
      buildArgs: { VARIANT: "new" },
      target: "debug",
      noCache: false,
    });

    expect((await t.call("DELETE", `${repoPath}/build-rules/${ruleId}`, { token: root })).status).toBe(200);
    const [row] = buildsByIds(t.deps.db, [build.id]);
    expect(row!.ruleId).toBeNull();
    expectOriginal(jobOf(build.id));
  });

  it("a retry builds with the settings of the build it repeats, not with its rule as it is now", async () => {
    const ruleId = await newRule();
    const build = await manualBuild(ruleId);
    expect((await t.call("POST", `/api/v1/builds/${build.id}/cancel`, { token: root })).status).toBe(200);
    expect((await edit(ruleId)).status).toBe(200);
    const retried = await t.call("POST", `/api/v1/builds/${build.id}/retry`, { token: root });
    expect(retried.status, JSON.stringify(retried.body)).toBe(202);
    expect(retried.body.dockerfile).toBe("/docker/Dockerfile.old");
    expectOriginal(jobOf(retried.body.id));

    // With its rule deleted too.
    expect((await t.call("POST", `/api/v1/builds/${retried.body.id}/cancel`, { token: root })).status).toBe(200);
    await t.call("DELETE", `${repoPath}/build-rules/${ruleId}`, { token: root });
    const again = await t.call("POST", `/api/v1/builds/${retried.body.id}/retry`, { token: root });
    expect(again.status, JSON.stringify(again.body)).toBe(202);
    expect(again.body.ruleId).toBeNull();
    expectOriginal(jobOf(again.body.id));
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
