// `kiln migrate-data`: a SQLite installation with every kind of row, copied by the real CLI into a
// fresh PostgreSQL database, compared row for row, then served by a Kiln API on PostgreSQL.
// It needs PostgreSQL, so it runs in scripts/test.sh's PostgreSQL pass only (the SQLite pass excludes it).
import examples from "@octokit/webhooks-examples";
import Database from "better-sqlite3";
import { getTableColumns, is, type Column } from "drizzle-orm";
import { drizzle as drizzleSqlite } from "drizzle-orm/better-sqlite3";
import { drizzle as drizzlePg } from "drizzle-orm/node-postgres";
import { PgTable } from "drizzle-orm/pg-core";
import { getTableConfig, SQLiteTable } from "drizzle-orm/sqlite-core";
import { spawn } from "node:child_process";
import { createHmac } from "node:crypto";
import { copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.ts";
import { FILES_THAT_TRAVEL } from "../../src/db/backup.ts";
import * as pgSchema from "../../src/db/pg/schema.ts";
import * as sqliteSchema from "../../src/db/sqlite-schema.ts";
import { createDeps } from "../../src/deps.ts";
import { createLogger } from "../../src/logger.ts";
import { createServer } from "../../src/server.ts";
import { ADMIN_TOKEN, answerOf, type Answer, type Call } from "../helpers/app.ts";
import { dropTestDatabases, testDatabaseUrl } from "../helpers/database.ts";

if (process.env.KILN_TEST_DB !== "postgres")
  throw new Error(
    "test/integration/migrate-data.test.ts copies into PostgreSQL: run it with KILN_TEST_DB=postgres and " +
      "KILN_TEST_PG_URL (scripts/test.sh runs it in its PostgreSQL pass; the SQLite pass excludes it)",
  );

const ROOT = new URL("../..", import.meta.url).pathname;
const REGIONS = "cn-hongkong=127.0.0.1:5000,cn-beijing=127.0.0.1:5001";
const COMMIT = "6113728f27ae82c7b1a177c8d03f9e96e0adf246";
const PASSWORD = "s3cret-Pw";
const repoPath = (name: string) => `/api/v1/regions/cn-hongkong/repositories/shop/${name}`;
const githubPush = JSON.stringify(
  (examples as unknown as { name: string; examples: any[] }[])
    .find((e) => e.name === "push")!
    .examples.find((p) => p.ref === "refs/heads/master"),
);
const allow = (action: string) => ({
  Version: "1",
  Statement: [{ Effect: "Allow", Action: action, Resource: "acs:cr:*:*:repository/shop/*" }],
});

/** Every table of the schema: export name, SQLite table, PostgreSQL twin. */
const TABLES = Object.entries(sqliteSchema)
  .filter(([, t]) => is(t, SQLiteTable))
  .map(([key, t]) => ({
    key,
    name: getTableConfig(t as SQLiteTable).name,
    sqlite: t as SQLiteTable,
    pg: (pgSchema as Record<string, unknown>)[key] as PgTable,
  }));

/** The TS names of a table's primary-key columns. */
function keyOf(table: SQLiteTable): string[] {
  const config = getTableConfig(table);
  const single = config.columns.filter((c) => c.primary);
  const key: Column[] = single.length > 0 ? single : config.primaryKeys[0]!.columns;
  const columns = Object.entries(getTableColumns(table));
  return key.map((c) => columns.find(([, column]) => column === c)![0]);
}

/** Rows sorted by primary key (the same order whatever each database's collation). */
function byKey(rows: Record<string, unknown>[], key: string[]): Record<string, unknown>[] {
  const compare = (a: unknown, b: unknown) => (a === b ? 0 : (a as string) < (b as string) ? -1 : 1);
  return [...rows].sort((x, y) => key.reduce((order, k) => order || compare(x[k], y[k]), 0));
}

/** `bin/kiln …`, the real command. */
function kiln(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(join(ROOT, "bin/kiln"), args);
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("exit", (status) => resolve({ status, stdout, stderr }));
  });
}

/** A Kiln API in process on `dataDir` (SQLite), or on `url` (PostgreSQL). */
async function startKiln(dataDir: string, url?: string) {
  const config = loadConfig({
    KILN_DATA_DIR: dataDir,
    ...(url ? { KILN_DATABASE_URL: url } : {}),
    KILN_REGIONS: REGIONS,
    KILN_ADMIN_TOKEN: ADMIN_TOKEN,
    LOG_LEVEL: "silent",
  });
  const deps = await createDeps(config, createLogger("silent"));
  const app = createServer(deps);
  const call = async (method: string, path: string, opts: Call = {}): Promise<Answer> => {
    const headers: Record<string, string> = { ...opts.headers };
    if (opts.token) headers.authorization = `Bearer ${opts.token}`;
    const body = opts.raw ?? (opts.body === undefined ? undefined : JSON.stringify(opts.body));
    if (body !== undefined) headers["content-type"] ??= "application/json";
    return answerOf(await app.request(path, { method, headers, body }));
  };
  /** A call that must answer `status`. */
  const must = async (status: number, method: string, path: string, opts: Call = {}) => {
    const res = await call(method, path, opts);
    expect(res.status, `${method} ${path}: ${JSON.stringify(res.body)}`).toBe(status);
    return res.body;
  };
  return { deps, call, must };
}

/** Every table's rows, by export name, sorted by primary key. */
function readSqlite(file: string): Record<string, Record<string, unknown>[]> {
  const conn = new Database(file, { readonly: true, fileMustExist: true });
  try {
    const db = drizzleSqlite(conn);
    return Object.fromEntries(
      TABLES.map((t) => [t.key, byKey(db.select().from(t.sqlite).all() as Record<string, unknown>[], keyOf(t.sqlite))]),
    );
  } finally {
    conn.close();
  }
}

async function readPg(url: string): Promise<Record<string, Record<string, unknown>[]>> {
  const pool = new pg.Pool({ connectionString: url, max: 1 });
  try {
    const db = drizzlePg(pool);
    const out: Record<string, Record<string, unknown>[]> = {};
    for (const t of TABLES) out[t.key] = byKey(await db.select().from(t.pg), keyOf(t.sqlite));
    return out;
  } finally {
    await pool.end();
  }
}

const counts = (tables: Record<string, unknown[]>) =>
  Object.fromEntries(Object.entries(tables).map(([k, rows]) => [k, rows.length]));

describe("kiln migrate-data: a SQLite installation with every kind of row, copied into PostgreSQL", () => {
  const work = mkdtempSync(join(tmpdir(), "kiln-migrate-"));
  const dataDir = join(work, "data");
  const sourceFile = join(dataDir, "kiln.db");
  let target: string;
  let root: string;
  let ciToken: string;
  let hook: { path: string; secret: string };

  beforeAll(async () => {
    mkdirSync(dataDir);
    const url = new URL((await testDatabaseUrl())!);
    // Trust authentication ignores the password; the output must never show it.
    url.password = PASSWORD;
    target = url.toString();

    const { deps, call, must } = await startKiln(dataDir);
    try {
      root = (await must(201, "POST", "/api/v1/accounts", { token: ADMIN_TOKEN, body: { alias: "acme" } })).rootToken;
      await must(201, "POST", "/api/v1/accounts", { token: ADMIN_TOKEN, body: { alias: "globex" } });
      await must(201, "POST", "/api/v1/users", { token: root, body: { name: "alice", password: "Console-pass1" } });
      await must(201, "POST", "/api/v1/users", { token: root, body: { name: "ci" } });
      await must(201, "POST", "/api/v1/policies", {
        token: root,
        body: { name: "push-shop", document: allow("cr:PushRepository") },
      });
      await must(200, "POST", "/api/v1/users/ci/policies", { token: root, body: { policyName: "push-shop" } });
      ciToken = (await must(201, "POST", "/api/v1/users/ci/access-keys", { token: root })).token;
      await must(201, "POST", "/api/v1/groups", { token: root, body: { name: "devs", description: "Développeurs" } });
      await must(200, "POST", "/api/v1/groups/devs/members", { token: root, body: { userName: "alice" } });
      await must(200, "POST", "/api/v1/groups/devs/policies", { token: root, body: { policyName: "push-shop" } });
      // A console session, and a failed login (the throttle's row).
      await must(200, "POST", "/api/v1/sessions", { body: { loginName: "alice@acme", password: "Console-pass1" } });
      await call("POST", "/api/v1/sessions", { body: { loginName: "alice@acme", password: "Wrong-pass1" } });

      await must(201, "POST", "/api/v1/namespaces", { token: root, body: { name: "shop" } });
      for (const name of ["web", "api"])
        await must(201, "POST", "/api/v1/regions/cn-hongkong/repositories", {
          token: root,
          body: { namespace: "shop", name },
        });
      const bound = await must(200, "PUT", `${repoPath("web")}/source`, {
        token: root,
        body: {
          provider: "github",
          repoUrl: "https://github.com/Codertocat/Hello-World.git",
          pushUser: "ci",
          credentials: { username: "x-access-token", token: "ghp_sealed0123456789abcdef" },
        },
      });
      hook = { path: new URL(bound.webhookUrl).pathname, secret: bound.webhookSecret };
      await must(201, "POST", `${repoPath("web")}/build-rules`, {
        token: root,
        body: { sourceType: "branch", source: "master", tags: ["{sourceref}-{shortsha}"], buildArgs: { A: "ü" } },
      });
      await must(201, "PUT", `${repoPath("web")}/build-secrets/NPM_TOKEN`, { token: root, body: { value: "npm_x" } });
      await must(201, "POST", `${repoPath("web")}/webhooks`, {
        token: root,
        body: { url: "http://127.0.0.1:9/hook", events: ["tag.pushed"], tagFilter: { kind: "list", tags: ["v1"] } },
      });
      // A push from the git host (a delivery and its build), and a manual build.
      await must(202, "POST", hook.path, {
        raw: githubPush,
        headers: {
          "x-github-event": "push",
          "x-github-delivery": "before-migration",
          "x-hub-signature-256": `sha256=${createHmac("sha256", hook.secret).update(githubPush).digest("hex")}`,
        },
      });
      await must(202, "POST", `${repoPath("web")}/builds`, { token: root, body: { ref: "master", commit: COMMIT } });

      // The rows the registry, the build worker and the dispatchers write, by hand.
      const db = deps.db;
      const s = sqliteSchema;
      const repo = (await db.select().from(s.repositories).all()).find((r) => r.name === "web")!;
      const build = (await db.select().from(s.builds).all())[0]!;
      const webhook = (await db.select().from(s.webhooks).all())[0]!;
      const account = repo.accountId;
      await db
        .insert(s.tags)
        .values([
          {
            repositoryId: repo.id,
            tag: "v1",
            digest: `sha256:${"a".repeat(64)}`,
            mediaType: "application/vnd.oci.image.index.v1+json",
            platforms: ["linux/amd64", "linux/arm64/v8"],
            size: 5_000_000_000,
            pushedBy: "ci@acme",
            pushedAt: "2025-01-02T03:04:05.678Z",
          },
          {
            repositoryId: repo.id,
            tag: "bare",
            digest: `sha256:${"b".repeat(64)}`,
            pushedAt: "2025-01-02T03:04:06.000Z",
          },
        ])
        .run();
      await db
        .insert(s.registryEvents)
        .values([
          {
            id: "evt-1",
            region: "cn-hongkong",
            action: "push",
            repository: "shop/web",
            repositoryId: repo.id,
            tag: "v1",
            digest: `sha256:${"a".repeat(64)}`,
            size: 3_000_000_000,
            actor: "ci@acme",
            sourceAddr: "10.0.0.1:5000",
            occurredAt: "2025-01-02T03:04:05.000Z",
          },
          {
            id: "evt-2",
            region: "cn-beijing",
            action: "delete",
            repository: "other/x",
            occurredAt: "2025-01-02T03:04:07.000Z",
          },
        ])
        .run();
      await db
        .insert(s.auditEvents)
        .values({ accountId: account, actor: "ci@acme", event: "token", outcome: "granted", granted: "pull,push" })
        .run();
      await db
        .insert(s.webhookDeliveries)
        .values({
          id: "wd-1",
          webhookId: webhook.id,
          event: "tag.pushed",
          body: JSON.stringify({ tag: "v1", note: "naïve ✓" }),
          status: "failed",
          attempts: 2,
          nextAttemptAt: "2025-01-02T03:05:00.000Z",
          lastStatusCode: 500,
          lastLatencyMs: 3_000_000_000,
          lastResponse: "oops",
          finishedAt: "2025-01-02T03:06:00.000Z",
        })
        .run();
      await db
        .insert(s.webhookAttempts)
        .values([
          { deliveryId: "wd-1", attempt: 1, at: "2025-01-02T03:05:00.000Z", statusCode: 500, latencyMs: 12 },
          { deliveryId: "wd-1", attempt: 2, at: "2025-01-02T03:06:00.000Z", latencyMs: 10_000, error: "timeout" },
        ])
        .run();
      await db
        .insert(s.buildLogs)
        .values({ buildId: build.id, lines: ["#1 [internal] load", 'naïve ✓ "quoted"'], truncated: true })
        .run();
      await db
        .insert(s.leases)
        .values({ name: "migrate-data-test", holder: "host-1", expiresAt: 4_102_444_800_000 })
        .run();
      await db.insert(s.loginFailures).values({ scope: "login", key: "ip:10.0.0.9", failedAt: Date.now() }).run();
    } finally {
      await deps.close();
    }
  }, 60_000);

  afterAll(async () => {
    rmSync(work, { recursive: true, force: true });
    await dropTestDatabases();
  });

  it("the source holds every kind of row: each table of the schema has rows", () => {
    const empty = Object.entries(counts(readSqlite(sourceFile)))
      .filter(([, n]) => n === 0)
      .map(([k]) => k);
    expect(empty, "tables without rows: give the test rows of each (a new table needs some)").toEqual([]);
    expect(TABLES.length).toBe(Object.values(pgSchema).filter((t) => is(t, PgTable)).length);
  });

  it("copies every table row for row into a PostgreSQL database Kiln has already seeded", async () => {
    // A Kiln that started on the target once (migrations, the iam_generation row, the system policies):
    // the copy replaces what it seeded.
    const seeded = await startKiln(join(work, "seeded"), target);
    await seeded.deps.close();

    const copy = await kiln(["migrate-data", "--from", `sqlite:${sourceFile}`, "--to", target]);
    expect(copy.status, copy.stderr).toBe(0);
    const source = readSqlite(sourceFile);
    const lines = copy.stdout.trim().split("\n");
    const copied = Object.fromEntries(lines.slice(0, -1).map((l) => l.split(" ") as [string, string]));
    expect(Object.keys(copied).sort()).toEqual(TABLES.map((t) => t.name).sort());
    for (const t of TABLES) expect(Number(copied[t.name]), t.name).toBe(source[t.key]!.length);
    const total = TABLES.reduce((sum, t) => sum + source[t.key]!.length, 0);
    expect(lines.at(-1)).toBe(`total ${total}`);
    expect(copy.stdout + copy.stderr).not.toContain(PASSWORD);
    expect(copy.stderr).toContain("//***@");

    const copiedRows = await readPg(target);
    for (const t of TABLES) expect(copiedRows[t.key], t.name).toEqual(source[t.key]);
  }, 60_000);

  it("serves the copy: Kiln on PostgreSQL knows the tokens, logins and secrets, and numbers new rows after the copied ones", async () => {
    const dir = join(work, "pg-data");
    mkdirSync(dir);
    for (const file of FILES_THAT_TRAVEL)
      if (existsSync(join(dataDir, file))) cpSync(join(dataDir, file), join(dir, file), { recursive: true });
    const { deps, call, must } = await startKiln(dir, target);
    try {
      const repos = await must(200, "GET", "/api/v1/regions/cn-hongkong/repositories", { token: root });
      expect(JSON.stringify(repos)).toContain('"web"');
      expect(JSON.stringify(repos)).toContain('"api"');
      await must(200, "GET", "/api/v1/me", { token: ciToken });
      await must(200, "POST", "/api/v1/sessions", { body: { loginName: "alice@acme", password: "Console-pass1" } });
      const builds = await must(200, "GET", `${repoPath("web")}/builds`, { token: root });
      expect(builds.builds).toHaveLength(2);
      // The sealed webhook secret opens with the secret key that travelled.
      const push = await call("POST", hook.path, {
        raw: githubPush,
        headers: {
          "x-github-event": "push",
          "x-github-delivery": "after-migration",
          "x-hub-signature-256": `sha256=${createHmac("sha256", hook.secret).update(githubPush).digest("hex")}`,
        },
      });
      expect([push.status, push.body.outcome]).toEqual([202, "accepted"]);

      // New rows take the next ids, without a conflict with the copied ones (the identities were reset).
      const before = await readPg(target);
      const maxId = (key: string) => Math.max(...before[key]!.map((r) => r.id as number));
      await must(201, "POST", "/api/v1/regions/cn-hongkong/repositories", {
        token: root,
        body: { namespace: "shop", name: "worker" },
      });
      await must(201, "POST", "/api/v1/users", { token: root, body: { name: "bob" } });
      await must(201, "POST", "/api/v1/policies", { token: root, body: { name: "p2", document: allow("cr:Get*") } });
      await must(201, "POST", "/api/v1/groups", { token: root, body: { name: "ops" } });
      const after = await readPg(target);
      expect(after.repositories!.find((r) => r.name === "worker")!.id).toBe(maxId("repositories") + 1);
      expect(after.users!.find((r) => r.name === "bob")!.id).toBe(maxId("users") + 1);
      expect(after.policies!.find((r) => r.name === "p2")!.id).toBe(maxId("policies") + 1);
      expect(after.groups!.find((r) => r.name === "ops")!.id).toBe(maxId("groups") + 1);
    } finally {
      await deps.close();
    }
  }, 60_000);

  it("refuses a target that holds Kiln data (exit 1), leaving it unchanged", async () => {
    const before = await readPg(target);
    const again = await kiln(["migrate-data", "--from", `sqlite:${sourceFile}`, "--to", target]);
    expect(again.status).toBe(1);
    expect(again.stderr).toMatch(/already holds Kiln data: accounts \(2\)/);
    expect(again.stdout + again.stderr).not.toContain(PASSWORD);
    expect(await readPg(target)).toEqual(before);
  }, 60_000);

  it("refuses a source at an older schema version (exit 1): Kiln must migrate it first", async () => {
    const old = join(work, "old.db");
    copyFileSync(sourceFile, old);
    const conn = new Database(old);
    conn.exec("delete from __drizzle_migrations where created_at = (select max(created_at) from __drizzle_migrations)");
    conn.close();
    const fresh = (await testDatabaseUrl())!;
    const res = await kiln(["migrate-data", "--from", `sqlite:${old}`, "--to", fresh]);
    expect(res.status).toBe(1);
    expect(res.stderr).toContain("run Kiln once on it (or kiln account …) to migrate it");
  }, 60_000);

  it("answers bad arguments with exit 2 and the usage, naming the flag", async () => {
    const badTo = await kiln(["migrate-data", "--from", `sqlite:${sourceFile}`, "--to", "mysql://u:pw@h/db"]);
    expect(badTo.status).toBe(2);
    expect(badTo.stderr).toContain("--to postgres://");
    expect(badTo.stderr).toContain("usage:");
    expect(badTo.stderr).not.toContain(":pw@");
    const noTo = await kiln(["migrate-data", "--from", `sqlite:${sourceFile}`]);
    expect([noTo.status, noTo.stderr.includes("--to")]).toEqual([2, true]);
    const badFrom = await kiln(["migrate-data", "--from", sourceFile, "--to", target]);
    expect([badFrom.status, badFrom.stderr.includes("--from sqlite:")]).toEqual([2, true]);
    const missing = await kiln(["migrate-data", "--from", `sqlite:${join(work, "nope.db")}`, "--to", target]);
    expect([missing.status, missing.stderr.includes("--from")]).toEqual([2, true]);
  }, 60_000);

  it("copies a running installation: one consistent snapshot while the API keeps writing", async () => {
    const { deps, must } = await startKiln(dataDir);
    const fresh = (await testDatabaseUrl())!;
    let writing = true;
    let written = 0;
    const writes = (async () => {
      for (let i = 0; writing; i++) {
        await must(201, "POST", "/api/v1/policies", {
          token: root,
          body: { name: `during-copy-${i}`, document: allow("cr:Get*") },
        });
        written++;
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    })();
    try {
      await new Promise((resolve) => setTimeout(resolve, 50));
      const copy = await kiln(["migrate-data", "--from", `sqlite:${sourceFile}`, "--to", fresh]);
      writing = false;
      await writes;
      expect(copy.status, copy.stderr).toBe(0);
      expect(written).toBeGreaterThan(0);
      // The policies written while it copied: those of one moment, with no gap.
      const copied = await readPg(fresh);
      const kept = copied
        .policies!.map((p) => /^during-copy-(\d+)$/.exec(p.name as string)?.[1])
        .filter((n) => n !== undefined)
        .map(Number)
        .sort((a, b) => a - b);
      expect(kept).toEqual(kept.map((_, i) => i));
      expect(copy.stdout).toContain(`policies ${copied.policies!.length}\n`);
    } finally {
      writing = false;
      await writes.catch(() => {});
      await deps.close();
    }
  }, 60_000);
});
