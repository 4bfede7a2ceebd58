import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { closeDatabase, openDatabase, type Db } from "../../src/db/connection.ts";
import { Lease } from "../../src/db/leases.ts";
import { DatabaseFailures, LoginThrottle } from "../../src/registry/login-throttle.ts";
import { testDatabaseUrl } from "../helpers/database.ts";

/**
 * What API replicas coordinate through the database they share (SQLite here, or PostgreSQL with
 * KILN_TEST_DB=postgres): two processes are stood in for by two holders and two throttles.
 */
describe("replica coordination through the database", () => {
  let db: Db;
  beforeAll(async () => {
    db = await openDatabase(mkdtempSync(join(tmpdir(), "kiln-replicas-")), { url: await testDatabaseUrl() });
  });
  afterAll(async () => {
    await closeDatabase(db);
  });

  it("a lease has one holder at a time; another takes over only once it expires", async () => {
    let now = 1_000_000;
    const clock = () => now;
    const a = new Lease(db, "test.singleton", 5_000, "replica-a", clock);
    const b = new Lease(db, "test.singleton", 5_000, "replica-b", clock);
    expect(await a.hold()).toBe(true);
    expect(await b.hold()).toBe(false);
    now += 4_000;
    expect(await a.hold()).toBe(true); // renewed until 1_009_000
    now += 4_000;
    expect(await b.hold()).toBe(false);
    now += 1_001; // a stopped renewing: expired
    expect(await b.hold()).toBe(true);
    expect(await a.hold()).toBe(false);
    await b.release();
    expect(await a.hold()).toBe(true);
  });

  it("failed logins counted by one replica lock the login on another", async () => {
    let now = 5_000_000;
    const throttle = (scope: string) => new LoginThrottle(new DatabaseFailures(db, scope), 4, 60_000, () => now);
    const [a, b] = [throttle("registry"), throttle("registry")];
    const keys = ["login:ci@acme", "ip:10.0.0.7"];
    for (const replica of [a, b, a, b]) {
      expect(await replica.retryAfter(keys)).toBe(0);
      await replica.fail(keys);
      now += 1_000;
    }
    expect(await a.retryAfter(keys)).toBe(56);
    expect(await b.retryAfter(["login:other@acme", "ip:10.0.0.7"])).toBe(56);
    // The console's count is its own.
    expect(await throttle("console").retryAfter(keys)).toBe(0);
    // A success through either replica clears the login's count for both, not the address's.
    await b.succeed("login:ci@acme");
    expect(await a.retryAfter(["login:ci@acme"])).toBe(0);
    expect(await a.retryAfter(["ip:10.0.0.7"])).toBe(56);
    now += 60_000;
    expect(await b.retryAfter(keys)).toBe(0);
  });
});
