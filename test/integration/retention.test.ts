import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.ts";
import { cutoffs, RetentionSweeper, sweep, type Retention } from "../../src/db/retention.ts";
import { startTestApp, type TestApp } from "../helpers/app.ts";

const DAY = 24 * 3600 * 1000;
const NOW = new Date("2026-06-01T12:00:00.000Z");
const daysAgo = (days: number) => new Date(NOW.getTime() - days * DAY).toISOString();
const DEFAULTS: Retention = { deliveriesDays: 30, auditDays: 180, registryEventsDays: 90, buildLogsDays: 90 };

describe("retention: only rows past their time are deleted, in small batches", () => {
  let t: TestApp;
  let accountId: string;
  let repositoryId: number;
  let bindingId: number;
  const sql = () => t.deps.db.$client;
  const ids = (query: string) => (sql().prepare(query).raw(true).all() as unknown[][]).map(([id]) => id).sort();

  beforeAll(async () => {
    t = await startTestApp();
    const root = await t.account("acme");
    accountId = root.id;
    await t.call("POST", "/api/v1/namespaces", { token: root.token, body: { name: "keep" } });
    await t.call("POST", "/api/v1/regions/cn-hongkong/repositories", {
      token: root.token,
      body: { namespace: "keep", name: "app" },
    });
    await t.user(root.token, "ci");
    const bound = await t.call("PUT", "/api/v1/regions/cn-hongkong/repositories/keep/app/source", {
      token: root.token,
      body: { provider: "git", repoUrl: "https://git.example.com/app.git", pushUser: "ci" },
    });
    expect(bound.status).toBe(200);
    repositoryId = (sql().prepare("select id from repositories").get() as { id: number }).id;
    bindingId = (sql().prepare("select id from source_bindings").get() as { id: number }).id;
  });
  afterAll(() => t.close());

  /** Rows on both sides of every cutoff: `old-*` are past it, `new-*` are not. */
  function seed(): void {
    const delivery = sql().prepare(
      "insert into deliveries (binding_id, provider_delivery_id, outcome, build_ids, created_at) values (?, ?, 'accepted', '[]', ?)",
    );
    const build = sql().prepare(
      `insert into builds (id, account_id, repository_id, trigger, ref, clone_url, tags, status, delivery_id, queued_at, finished_at)
       values (?, ?, ?, 'webhook', 'refs/heads/main', 'https://git.example.com/app.git', '["main"]', ?, ?, ?, ?)`,
    );
    const log = sql().prepare("insert into build_logs (build_id, lines) values (?, ?)");
    const audit = sql().prepare(
      "insert into audit_events (actor, event, outcome, created_at) values (?, 'registry-token', 'granted', ?)",
    );
    const event = sql().prepare(
      "insert into registry_events (id, region, action, repository, occurred_at, created_at) values (?, 'cn-hongkong', 'push', 'keep/app', ?, ?)",
    );
    sql().transaction(() => {
      // 2,500 old deliveries: more than two batches of 1,000.
      for (let i = 0; i < 2500; i++) delivery.run(bindingId, `old-${i}`, daysAgo(31 + i / 1000));
      delivery.run(bindingId, "new-1", daysAgo(29));
      const oldDelivery = (sql().prepare("select id from deliveries where provider_delivery_id = 'old-0'").get() as {
        id: number;
      })!.id;
      const newDelivery = (sql().prepare("select id from deliveries where provider_delivery_id = 'new-1'").get() as {
        id: number;
      })!.id;
      // Builds: the row always stays; only the log of one that finished long ago goes.
      build.run("bld-old-finished", accountId, repositoryId, "succeeded", oldDelivery, daysAgo(200), daysAgo(91));
      build.run("bld-new-finished", accountId, repositoryId, "failed", newDelivery, daysAgo(100), daysAgo(89));
      build.run("bld-old-running", accountId, repositoryId, "running", null, daysAgo(120), null);
      for (let i = 0; i < 250; i++)
        build.run(`bld-old-${i}`, accountId, repositoryId, "succeeded", null, daysAgo(95), daysAgo(94));
      for (const id of ["bld-old-finished", "bld-new-finished", "bld-old-running"]) log.run(id, '["a line"]');
      for (let i = 0; i < 250; i++) log.run(`bld-old-${i}`, '["a line"]');
      for (let i = 0; i < 1200; i++) audit.run(`old-${i}`, daysAgo(181));
      audit.run("new-1", daysAgo(179));
      for (let i = 0; i < 1100; i++) event.run(`old-${i}`, daysAgo(10), daysAgo(91));
      // Dated by when Kiln recorded it, not the registry's clock.
      event.run("new-1", daysAgo(300), daysAgo(89));
    })();
  }

  it("computes one cutoff per kind of row, and leaves out kinds kept for ever (0 days)", () => {
    expect(cutoffs(DEFAULTS, NOW)).toEqual([
      { name: "deliveries", before: daysAgo(30) },
      { name: "webhook_deliveries", before: daysAgo(30) },
      { name: "audit_events", before: daysAgo(180) },
      { name: "registry_events", before: daysAgo(90) },
      { name: "build_logs", before: daysAgo(90) },
    ]);
    expect(cutoffs({ ...DEFAULTS, auditDays: 0 }, NOW).map((c) => c.name)).not.toContain("audit_events");
  });

  it("deletes the old rows and keeps the new ones, the builds and their other links", async () => {
    seed();
    const deleted = await sweep(t.deps.db, DEFAULTS, { now: NOW });
    expect(deleted).toEqual({
      deliveries: 2500,
      webhook_deliveries: 0,
      audit_events: 1200,
      registry_events: 1100,
      build_logs: 251,
    });

    expect(ids("select provider_delivery_id from deliveries")).toEqual(["new-1"]);
    expect(ids("select actor from audit_events")).toEqual(["new-1"]);
    expect(ids("select id from registry_events")).toEqual(["new-1"]);
    expect(ids("select build_id from build_logs")).toEqual(["bld-new-finished", "bld-old-running"]);
    // Every build row is still there; the one whose delivery went no longer points at it.
    expect((sql().prepare("select count(*) as n from builds").get() as { n: number }).n).toBe(253);
    expect(sql().prepare("select delivery_id from builds where id = 'bld-old-finished'").get()).toEqual({
      delivery_id: null,
    });
    expect(
      (sql().prepare("select delivery_id from builds where id = 'bld-new-finished'").get() as { delivery_id: number })
        .delivery_id,
    ).not.toBeNull();
    expect(sql().pragma("foreign_keys", { simple: true })).toBe(1);
    expect(sql().pragma("foreign_key_check")).toEqual([]);

    // A second sweep finds nothing more.
    expect(await sweep(t.deps.db, DEFAULTS, { now: NOW })).toEqual({
      deliveries: 0,
      webhook_deliveries: 0,
      audit_events: 0,
      registry_events: 0,
      build_logs: 0,
    });
  });

  it("reads no further than the first young row: an old row written after it goes when that one does", async () => {
    sql()
      .prepare(
        "insert into registry_events (id, region, action, repository, occurred_at, created_at) values ('late', 'cn-hongkong', 'push', 'keep/app', ?, ?)",
      )
      .run(daysAgo(300), daysAgo(300));
    const registryOnly = { deliveriesDays: 0, auditDays: 0, registryEventsDays: 90, buildLogsDays: 0 };
    expect(await sweep(t.deps.db, registryOnly, { now: NOW })).toEqual({ registry_events: 0 });
    expect(ids("select id from registry_events")).toEqual(["late", "new-1"]);
    const twoDaysOn = new Date(NOW.getTime() + 2 * DAY);
    expect(await sweep(t.deps.db, registryOnly, { now: twoDaysOn })).toEqual({ registry_events: 2 });
  });

  it("deletes in batches and lets requests through between them", async () => {
    const insert = sql().prepare(
      "insert into audit_events (actor, event, outcome, created_at) values ('x', 'e', 'granted', ?)",
    );
    sql().transaction(() => {
      for (let i = 0; i < 5000; i++) insert.run(daysAgo(400));
    })();
    const remaining = () =>
      (sql().prepare("select count(*) as n from audit_events where actor = 'x'").get() as { n: number }).n;
    const seenBySweep = sweep(
      t.deps.db,
      { ...DEFAULTS, deliveriesDays: 0, registryEventsDays: 0, buildLogsDays: 0 },
      // A year on: every audit row is past 180 days by then, those of the test before too.
      { now: new Date(NOW.getTime() + 365 * DAY), batch: 500 },
    );
    // Requests answered while the sweep runs see the table part-way: the sweep yields after every batch.
    const seenByRequests: number[] = [];
    const requests = (async () => {
      for (let i = 0; i < 5; i++) {
        expect((await t.call("GET", "/healthz")).status).toBe(200);
        seenByRequests.push(remaining());
      }
    })();
    const [deleted] = await Promise.all([seenBySweep, requests]);
    expect(deleted).toEqual({ audit_events: 5001 });
    expect(seenByRequests.some((n) => n > 0 && n < 5000)).toBe(true);
    expect(remaining()).toBe(0);
  });

  it("the sweeper runs shortly after start, and stops with the process", async () => {
    const insert = sql().prepare(
      "insert into audit_events (actor, event, outcome, created_at) values ('y', 'e', 'granted', ?)",
    );
    insert.run(new Date(Date.now() - 400 * DAY).toISOString());
    insert.run(new Date().toISOString());
    const logged: object[] = [];
    const sweeper = new RetentionSweeper(
      t.deps.db,
      DEFAULTS,
      { info: (o) => logged.push(o), error: (o) => logged.push(o) },
      { firstDelayMs: 10 },
    );
    await new Promise((r) => setTimeout(r, 200));
    await sweeper.close();
    // One sweep, logged with its counts (earlier tests' rows, dated by a fixed clock, go too).
    expect(logged).toEqual([{ deleted: expect.objectContaining({ audit_events: expect.any(Number) }) }]);
    expect(sql().prepare("select count(*) as n from audit_events where actor = 'y'").get()).toEqual({ n: 1 });
    expect(
      sql()
        .prepare("select count(*) as n from audit_events where actor = 'y' and created_at < ?")
        .get(new Date(Date.now() - 180 * DAY).toISOString()),
    ).toEqual({ n: 0 });
  });

  it("defaults and environment variables", () => {
    const dir = t.dataDir;
    expect(loadConfig({ KILN_DATA_DIR: dir }).retention).toEqual({
      deliveriesDays: 30,
      auditDays: 180,
      registryEventsDays: 90,
      buildLogsDays: 90,
      completedJobsDays: 1,
      failedJobsDays: 7,
    });
    expect(
      loadConfig({
        KILN_DATA_DIR: dir,
        KILN_RETAIN_DELIVERIES_DAYS: "7",
        KILN_RETAIN_AUDIT_DAYS: "0",
        KILN_RETAIN_COMPLETED_JOBS_DAYS: "0.5",
      }).retention,
    ).toMatchObject({ deliveriesDays: 7, auditDays: 0, completedJobsDays: 0.5 });
    expect(() => loadConfig({ KILN_DATA_DIR: dir, KILN_RETAIN_COMPLETED_JOBS_DAYS: "0" })).toThrow(
      /KILN_RETAIN_COMPLETED_JOBS_DAYS/,
    );
    expect(() => loadConfig({ KILN_DATA_DIR: dir, KILN_RETAIN_AUDIT_DAYS: "-1" })).toThrow(/KILN_RETAIN_AUDIT_DAYS/);
  });
});
