import { eq, sql, type SQL } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.ts";
import { rows } from "../../src/db/connection.ts";
import {
  auditEvents,
  buildLogs,
  builds,
  deliveries,
  registryEvents,
  repositories,
  sourceBindings,
} from "../../src/db/schema.ts";
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
  /** The first column of every row, sorted. */
  const ids = async (query: SQL) => (await rows(t.deps.db, query)).map((row) => Object.values(row)[0]).sort();
  const count = async (query: SQL) => (await rows<{ n: number }>(t.deps.db, query))[0]!.n;
  /** Inserts in chunks (one statement's bound values are limited). */
  const chunks = <T>(all: T[], size = 500): T[][] =>
    Array.from({ length: Math.ceil(all.length / size) }, (_, i) => all.slice(i * size, (i + 1) * size));

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
    repositoryId = (await t.deps.db.select({ id: repositories.id }).from(repositories).get())!.id;
    bindingId = (await t.deps.db.select({ id: sourceBindings.id }).from(sourceBindings).get())!.id;
  });
  afterAll(() => t.close());

  /** Rows on both sides of every cutoff: `old-*` are past it, `new-*` are not. */
  async function seed(): Promise<void> {
    const delivery = (providerDeliveryId: string, receivedAt: string) => ({
      bindingId,
      providerDeliveryId,
      outcome: "accepted" as const,
      buildIds: [],
      receivedAt,
    });
    const build = (
      id: string,
      status: "succeeded" | "failed" | "running",
      deliveryId: number | null,
      queuedAt: string,
      finishedAt: string | null,
    ) => ({
      id,
      accountId,
      repositoryId,
      trigger: "webhook" as const,
      ref: "refs/heads/main",
      cloneUrl: "https://git.example.com/app.git",
      tags: ["main"],
      status,
      deliveryId,
      queuedAt,
      finishedAt,
    });
    const log = (buildId: string) => ({ buildId, lines: ["a line"] });
    const audit = (actor: string, at: string) => ({ actor, event: "registry-token", outcome: "granted", at });
    const event = (id: string, occurredAt: string, recordedAt: string) => ({
      id,
      region: "cn-hongkong",
      action: "push",
      repository: "keep/app",
      occurredAt,
      recordedAt,
    });
    await t.deps.db.transaction(async (tx) => {
      // 2,500 old deliveries: more than two batches of 1,000.
      const oldDeliveries = Array.from({ length: 2500 }, (_, i) => delivery(`old-${i}`, daysAgo(31 + i / 1000)));
      for (const chunk of chunks(oldDeliveries)) await tx.insert(deliveries).values(chunk).run();
      await tx
        .insert(deliveries)
        .values(delivery("new-1", daysAgo(29)))
        .run();
      const deliveryId = async (providerDeliveryId: string) =>
        (await tx
          .select({ id: deliveries.id })
          .from(deliveries)
          .where(eq(deliveries.providerDeliveryId, providerDeliveryId))
          .get())!.id;
      const oldDelivery = await deliveryId("old-0");
      const newDelivery = await deliveryId("new-1");
      // Builds: the row always stays; only the log of one that finished long ago goes.
      await tx
        .insert(builds)
        .values([
          build("bld-old-finished", "succeeded", oldDelivery, daysAgo(200), daysAgo(91)),
          build("bld-new-finished", "failed", newDelivery, daysAgo(100), daysAgo(89)),
          build("bld-old-running", "running", null, daysAgo(120), null),
        ])
        .run();
      const oldBuilds = Array.from({ length: 250 }, (_, i) =>
        build(`bld-old-${i}`, "succeeded", null, daysAgo(95), daysAgo(94)),
      );
      for (const chunk of chunks(oldBuilds, 100)) await tx.insert(builds).values(chunk).run();
      await tx.insert(buildLogs).values(["bld-old-finished", "bld-new-finished", "bld-old-running"].map(log)).run();
      await tx
        .insert(buildLogs)
        .values(Array.from({ length: 250 }, (_, i) => log(`bld-old-${i}`)))
        .run();
      const oldAudit = Array.from({ length: 1200 }, (_, i) => audit(`old-${i}`, daysAgo(181)));
      for (const chunk of chunks(oldAudit)) await tx.insert(auditEvents).values(chunk).run();
      await tx
        .insert(auditEvents)
        .values(audit("new-1", daysAgo(179)))
        .run();
      const oldEvents = Array.from({ length: 1100 }, (_, i) => event(`old-${i}`, daysAgo(10), daysAgo(91)));
      for (const chunk of chunks(oldEvents)) await tx.insert(registryEvents).values(chunk).run();
      // Dated by when Kiln recorded it, not the registry's clock.
      await tx
        .insert(registryEvents)
        .values(event("new-1", daysAgo(300), daysAgo(89)))
        .run();
    });
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
    await seed();
    const deleted = await sweep(t.deps.db, DEFAULTS, { now: NOW });
    expect(deleted).toEqual({
      deliveries: 2500,
      webhook_deliveries: 0,
      audit_events: 1200,
      registry_events: 1100,
      build_logs: 251,
    });

    expect(await ids(sql`select provider_delivery_id from deliveries`)).toEqual(["new-1"]);
    expect(await ids(sql`select actor from audit_events`)).toEqual(["new-1"]);
    expect(await ids(sql`select id from registry_events`)).toEqual(["new-1"]);
    expect(await ids(sql`select build_id from build_logs`)).toEqual(["bld-new-finished", "bld-old-running"]);
    // Every build row is still there; the one whose delivery went no longer points at it.
    expect(await count(sql`select cast(count(*) as integer) as n from builds`)).toBe(253);
    expect(await rows(t.deps.db, sql`select delivery_id from builds where id = 'bld-old-finished'`)).toEqual([
      { delivery_id: null },
    ]);
    expect(
      (
        await rows<{ delivery_id: number }>(
          t.deps.db,
          sql`select delivery_id from builds where id = 'bld-new-finished'`,
        )
      )[0]!.delivery_id,
    ).not.toBeNull();
    if (!t.deps.config.databaseUrl) {
      // SQLite enforces foreign keys only when asked to (PostgreSQL always does).
      expect(await rows(t.deps.db, sql`pragma foreign_keys`)).toEqual([{ foreign_keys: 1 }]);
      expect(await rows(t.deps.db, sql`pragma foreign_key_check`)).toEqual([]);
    }

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
    await t.deps.db
      .insert(registryEvents)
      .values({
        id: "late",
        region: "cn-hongkong",
        action: "push",
        repository: "keep/app",
        occurredAt: daysAgo(300),
        recordedAt: daysAgo(300),
      })
      .run();
    const registryOnly = { deliveriesDays: 0, auditDays: 0, registryEventsDays: 90, buildLogsDays: 0 };
    if (t.deps.config.databaseUrl) {
      // PostgreSQL has no insertion order to read in (no rowid): it reads the oldest by date, so
      // the late old row goes at once, and the young one stays.
      expect(await sweep(t.deps.db, registryOnly, { now: NOW })).toEqual({ registry_events: 1 });
      expect(await ids(sql`select id from registry_events`)).toEqual(["new-1"]);
      return;
    }
    expect(await sweep(t.deps.db, registryOnly, { now: NOW })).toEqual({ registry_events: 0 });
    expect(await ids(sql`select id from registry_events`)).toEqual(["late", "new-1"]);
    const twoDaysOn = new Date(NOW.getTime() + 2 * DAY);
    expect(await sweep(t.deps.db, registryOnly, { now: twoDaysOn })).toEqual({ registry_events: 2 });
  });

  it("deletes in batches and lets requests through between them", async () => {
    const old = Array.from({ length: 5000 }, () => ({ actor: "x", event: "e", outcome: "granted", at: daysAgo(400) }));
    await t.deps.db.transaction(async (tx) => {
      for (const chunk of chunks(old)) await tx.insert(auditEvents).values(chunk).run();
    });
    const remaining = () => count(sql`select cast(count(*) as integer) as n from audit_events where actor = 'x'`);
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
        seenByRequests.push(await remaining());
      }
    })();
    const [deleted] = await Promise.all([seenBySweep, requests]);
    expect(deleted).toEqual({ audit_events: 5001 });
    expect(seenByRequests.some((n) => n > 0 && n < 5000)).toBe(true);
    expect(await remaining()).toBe(0);
  });

  it("the sweeper runs shortly after start, and stops with the process", async () => {
    const insert = (at: string) =>
      t.deps.db.insert(auditEvents).values({ actor: "y", event: "e", outcome: "granted", at }).run();
    await insert(new Date(Date.now() - 400 * DAY).toISOString());
    await insert(new Date().toISOString());
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
    expect(
      await rows(t.deps.db, sql`select cast(count(*) as integer) as n from audit_events where actor = 'y'`),
    ).toEqual([{ n: 1 }]);
    const cutoff = new Date(Date.now() - 180 * DAY).toISOString();
    expect(
      await rows(
        t.deps.db,
        sql`select cast(count(*) as integer) as n from audit_events where actor = 'y' and created_at < ${cutoff}`,
      ),
    ).toEqual([{ n: 0 }]);
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
