import { Queue } from "bullmq";
import { and, eq, isNotNull, sql } from "drizzle-orm";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Dispatcher } from "../../src/builds/dispatcher.ts";
import { cancelKey, heldKey, runOutcomeKey, TAG_ORDER_KEY, tagKey } from "../../src/builds/queue.ts";
import { execute } from "../../src/db/connection.ts";
import { builds } from "../../src/db/schema.ts";
import { createLogger } from "../../src/logger.ts";
import { startTestApp, type TestApp } from "../helpers/app.ts";
import { waitUntil } from "../helpers/net.ts";
import { startRedis } from "../helpers/redis.ts";

/**
 * The dispatcher against a real Redis when things go wrong: a build whose job cannot be made, a
 * running build whose job Redis lost, a worker's outcome left beside a vanished job, and the tag
 * order after Redis lost its data. No worker runs here: the tests play its part in Redis.
 */
describe("the dispatcher under faults: nothing blocks the outbox, nothing stays running", () => {
  let redis: Awaited<ReturnType<typeof startRedis>>;
  let t: TestApp;
  let root: string;
  let client: Redis;
  let inspect: Queue;
  let ref = 0;
  const repoPath = (region: string, name: string) => `/api/v1/regions/${region}/repositories/alitest1/${name}`;
  const row = async (id: string) =>
    (await t.deps.db
      .select({
        status: builds.status,
        stage: builds.stage,
        error: builds.error,
        digest: builds.digest,
        enqueuedAt: builds.enqueuedAt,
        queuedAt: builds.queuedAt,
      })
      .from(builds)
      .where(eq(builds.id, id))
      .get())!;
  /** A manual build of `name` on a ref of its own (so that no build supersedes another). */
  const build = async (name: string, region = "cn-hongkong"): Promise<string> => {
    const res = await t.call("POST", `${repoPath(region, name)}/builds`, {
      token: root,
      body: { ref: `refs/heads/b${++ref}` },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    return res.body.builds[0].id;
  };
  const enqueued = (id: string) =>
    waitUntil(
      async () => (await row(id)).enqueuedAt !== null && (await inspect.getJob(id)) !== undefined,
      async () => `build ${id} was not enqueued: ${JSON.stringify(await row(id))}`,
    );
  /** As if a worker had taken the job, reported the build stage, and then Redis lost the job. */
  const runningAndLost = async (id: string) => {
    await enqueued(id);
    await t.deps.db.update(builds).set({ status: "running", stage: "build" }).where(eq(builds.id, id)).run();
    await inspect.remove(id);
  };

  beforeAll(async () => {
    redis = await startRedis();
    t = await startTestApp({ REDIS_URL: redis.url }, { queue: true });
    client = new Redis(redis.url, { maxRetriesPerRequest: null });
    client.on("error", () => {}); // a test stops Redis on purpose
    inspect = new Queue("builds", { connection: client });
    inspect.on("error", () => {});
    root = (await t.account("acme")).token;
    await t.call("POST", "/api/v1/namespaces", { token: root, body: { name: "alitest1" } });
    await t.user(root, "ci", {
      Version: "1",
      Statement: [{ Effect: "Allow", Action: "cr:PushRepository", Resource: "acs:cr:*:*:repository/alitest1/*" }],
    });
    for (const [region, name] of [
      ["cn-hongkong", "app1"],
      ["cn-hongkong", "app2"],
      ["cn-beijing", "app3"],
    ] as const) {
      await t.call("POST", `/api/v1/regions/${region}/repositories`, {
        token: root,
        body: { namespace: "alitest1", name },
      });
      const bound = await t.call("PUT", `${repoPath(region, name)}/source`, {
        token: root,
        body: { provider: "git", repoUrl: `https://git.example.com/acme/${name}.git`, pushUser: "ci" },
      });
      expect(bound.status, JSON.stringify(bound.body)).toBe(200);
      await t.call("POST", `${repoPath(region, name)}/build-rules`, {
        token: root,
        body: { sourceType: "branch", source: "/.*/", tags: ["latest"] },
      });
    }
  });
  afterAll(async () => {
    await inspect?.close();
    client?.disconnect();
    await t?.close();
    await redis?.stop();
  });

  it("a running build that Redis lost, with no live worker, is queued again as a new attempt of the same id", async () => {
    const id = await build("app1");
    await runningAndLost(id);
    // A live worker still runs it: its hold is there, so the build is left to it.
    await client.set(heldKey(id), "worker-token", "PX", 60_000);
    expect(await t.deps.dispatcher!.reconcile()).toBe(0);
    expect((await row(id)).status).toBe("running");
    // The worker is gone too: the build goes back to the outbox and gets its job again.
    await client.del(heldKey(id));
    expect(await t.deps.dispatcher!.reconcile()).toBe(1);
    await enqueued(id);
    expect(await row(id)).toMatchObject({ status: "queued", stage: null });
    expect((await inspect.getJob(id))?.data.buildId).toBe(id);
  });

  it("a worker's outcome left beside a vanished job ends the build: its digest, or its reason", async () => {
    const done = await build("app2");
    await runningAndLost(done);
    const result = { commit: "c0ffee", digest: "sha256:abc", size: 5, tags: ["latest"], notMovedBack: [] };
    await client.set(runOutcomeKey(done), JSON.stringify({ result, lostLog: ["==> push", "pushed sha256:abc"] }));
    const broken = await build("app2");
    await runningAndLost(broken);
    await client.set(
      runOutcomeKey(broken),
      JSON.stringify({ error: "Dockerfile: unknown instruction FORM", final: true }),
    );
    expect(await t.deps.dispatcher!.reconcile()).toBe(0);
    expect(await row(done)).toMatchObject({ status: "succeeded", digest: "sha256:abc" });
    expect(await row(broken)).toMatchObject({ status: "failed", error: "Dockerfile: unknown instruction FORM" });
    const log = (await t.call("GET", `/api/v1/builds/${done}/logs`, { token: root })).body;
    expect(log.lines).toContain("pushed sha256:abc");
  });

  it("after FLUSHALL the tag order comes back from SQLite before any worker may claim a tag", async () => {
    // A build canceled while it ran: its worker polls the cancel key, which FLUSHALL takes away.
    const canceled = await build("app1");
    await enqueued(canceled);
    expect((await t.call("POST", `/api/v1/builds/${canceled}/cancel`, { token: root })).body.status).toBe("canceled");
    const newest = (await t.deps.db
      .select({ id: builds.id, queuedAt: builds.queuedAt })
      .from(builds)
      .where(and(eq(builds.status, "succeeded"), isNotNull(builds.digest)))
      .get())!;
    await client.flushall();
    await waitUntil(
      async () => (await client.exists(TAG_ORDER_KEY)) === 1,
      () => "the API did not restore the tag order",
    );
    expect(await client.get(tagKey("127.0.0.1:5000/alitest1/app2:latest"))).toBe(
      `${Date.parse(newest.queuedAt)} ${newest.id}`,
    );
    expect(await client.exists(cancelKey(canceled)), "the cancel request is made again").toBe(1);
  });

  it("builds whose job cannot be made fail with the reason; a later build of another repository is still dispatched", async () => {
    await redis.stop(); // the builds wait in the outbox, in this order
    const unbound = await build("app1");
    const elsewhere = await build("app3", "cn-beijing");
    const fine = await build("app2");
    await execute(
      t.deps.db,
      sql`delete from source_bindings where repository_id = (select repository_id from builds where id = ${unbound})`,
    );
    // This API no longer serves cn-beijing (KILN_REGIONS changed).
    t.deps.dispatcher!.close();
    const config = { ...t.deps.config, regions: t.deps.config.regions.filter((r) => r.id !== "cn-beijing") };
    const dispatcher = new Dispatcher(t.deps.db, config, t.deps.credentials, t.deps.queue!, createLogger("silent"));
    try {
      await redis.start();
      await waitUntil(
        async () => (await t.deps.queue!.ping().catch(() => false)) === true,
        () => "the API did not reconnect",
      );
      dispatcher.wake();
      await enqueued(fine);
      expect(await row(unbound)).toMatchObject({
        status: "failed",
        error: "the build could not be dispatched: its repository is no longer bound",
      });
      expect(await row(elsewhere)).toMatchObject({
        status: "failed",
        error: "the build could not be dispatched: its region cn-beijing is no longer configured (KILN_REGIONS)",
      });
      expect(await inspect.getJob(unbound)).toBeUndefined();
    } finally {
      dispatcher.close();
    }
  });
});
