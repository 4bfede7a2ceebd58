import { Queue } from "bullmq";
import { Redis } from "ioredis";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "../../src/logger.ts";
import { startBuildWorker } from "../../workers/build-worker.ts";
import { atStage, flushAll, startChaosStack, statusOf, type BuildRow, type Chaos } from "../helpers/chaos.ts";
import { BASE_IMAGE } from "../helpers/docker.ts";
import { makeGitRepo } from "../helpers/git.ts";
import type { KilnProcess } from "../helpers/kiln-process.ts";
import { waitUntil } from "../helpers/net.ts";
import { startRedis } from "../helpers/redis.ts";

/**
 * Issue 12, items 1–3, on the real things: Kiln as `node src/main.ts` (KILN_ROLE=all unless
 * said), a redis-server of the test's own, the Docker engine, a distribution registry, git.
 */

const ENDED = ["succeeded", "failed", "canceled", "superseded"];
const ended = async (kiln: KilnProcess, id: string, ms = 120_000): Promise<BuildRow> => {
  await waitUntil(
    async () => kiln.crashes.length > 0 || ENDED.includes(statusOf(kiln, id)?.status ?? ""),
    () => `build ${id} did not end: ${JSON.stringify(statusOf(kiln, id))}\n${kiln.output().slice(-3000)}`,
    ms,
  );
  expect(kiln.crashes, kiln.output().slice(-3000)).toEqual([]);
  return statusOf(kiln, id)!;
};

describe("Redis loses its data under running builds (KILN_ROLE=all)", () => {
  let redis: Awaited<ReturnType<typeof startRedis>>;
  let kiln: KilnProcess;
  let chaos: Chaos;

  beforeAll(async () => {
    ({ redis, kiln, chaos } = await startChaosStack({ KILN_WORKER_LOCK_SECONDS: "3" }));
    // Any feature branch builds the one tag "shared": two branches race for it.
    const rule = await kiln.call("POST", "/api/v1/regions/cn-hongkong/repositories/alitest1/app/build-rules", {
      token: chaos.root,
      body: { sourceType: "branch", source: "/feature-.*/", tags: ["shared"] },
    });
    expect(rule.status, JSON.stringify(rule.body)).toBe(201);
    chaos.repo.git("branch", "feature-old");
    chaos.repo.git("branch", "feature-new");
  }, 120_000);
  afterAll(async () => {
    await kiln?.stop();
    await redis?.stop();
  });

  it("FLUSHALL at an older build's build stage: the process lives, and that build does not move back the tag a newer build pushed", async () => {
    const [older] = await chaos.webhook("feature-old", chaos.commit("feature-old", 15));
    await atStage(kiln, older!, "build");
    const [newer] = await chaos.webhook("feature-new", chaos.commit("feature-new", 0));
    const first = await ended(kiln, newer!);
    expect([first.status, first.error]).toEqual(["succeeded", null]);
    expect(statusOf(kiln, older!)?.stage, "the older build is still building when Redis loses its data").toBe("build");

    await flushAll(redis.url);
    // The API answers all along.
    for (let i = 0; i < 5; i++) {
      expect((await fetch(`${kiln.base}/healthz`)).status).toBe(200);
      await new Promise((r) => setTimeout(r, 400));
    }

    // Its job is gone: the worker finishes it anyway and leaves its outcome beside the lost job.
    const old = await ended(kiln, older!);
    expect([old.status, old.error], "the older build found the tag taken by the newer one").toEqual([
      "superseded",
      null,
    ]);
    expect(await kiln.manifestDigest("alitest1/app", "shared", chaos.login), "the tag holds the newer image").toBe(
      first.digest,
    );
    expect(
      kiln.proxy.puts.filter((p) => p.tag === "shared" && p.status === 201).map((p) => p.digest),
      "only the newer build pushed the tag",
    ).toEqual([first.digest]);
    const log = (await kiln.call("GET", `/api/v1/builds/${older}/logs`, { token: chaos.root })).body.lines;
    expect(log.join("\n")).toContain("already holds a newer build's image: not moved back");

    // Kiln goes on building on the emptied Redis.
    const [later] = await chaos.webhook("main", chaos.commit("main", 0));
    const next = await ended(kiln, later!);
    expect([next.status, next.error]).toEqual(["succeeded", null]);
    expect(await kiln.manifestDigest("alitest1/app", "latest", chaos.login)).toBe(next.digest);
    expect(kiln.alive()).toBe(true);
  }, 240_000);

  it("Kiln killed at the build stage and Redis emptied before it is back: the build is run again and succeeds", async () => {
    // The push needs the API's token service; the manifest PUT, the push's last step, is held at
    // the registry's door until the API is down: the worker then ends the build without it.
    kiln.proxy.hold();
    const [id] = await chaos.webhook("main", chaos.commit("main", 2));
    await waitUntil(
      async () => kiln.proxy.held() === 1,
      () => `the push did not reach the registry: ${JSON.stringify(statusOf(kiln, id!))}`,
      90_000,
    );
    await kiln.kill("SIGKILL");
    expect(kiln.proxy.release()).toBe(1);
    await flushAll(redis.url);
    await kiln.start();
    // No job, no worker, no outcome: after its hold lapses, the build is queued again (same id).
    const build = await ended(kiln, id!);
    expect([build.status, build.error]).toEqual(["succeeded", null]);
    expect(await kiln.manifestDigest("alitest1/app", "latest", chaos.login)).toBe(build.digest);
    expect(kiln.output()).toContain("re-queuing builds whose job Redis lost");
  }, 240_000);
});

describe("the API down while its worker finishes a build", () => {
  let redis: Awaited<ReturnType<typeof startRedis>>;
  let kiln: KilnProcess;
  let chaos: Chaos;
  let worker: ReturnType<typeof startBuildWorker> | undefined;

  beforeAll(async () => {
    ({ redis, kiln, chaos } = await startChaosStack({ KILN_ROLE: "api" }));
    // The worker: the same secret key and Redis, a process (here: the test's) apart from the API.
    worker = startBuildWorker(kiln.config, createLogger("silent"));
  }, 120_000);
  afterAll(async () => {
    await worker?.close();
    await kiln?.stop();
    await redis?.stop();
  });

  it("the finished job waits in Redis; the API takes its outcome and its log when it starts again", async () => {
    // The push needs the API's token service; the manifest PUT, the push's last step, is held at
    // the registry's door until the API is down: the worker then ends the build without it.
    kiln.proxy.hold();
    const [id] = await chaos.webhook("main", chaos.commit("main", 2));
    await waitUntil(
      async () => kiln.proxy.held() === 1,
      () => `the push did not reach the registry: ${JSON.stringify(statusOf(kiln, id!))}`,
      90_000,
    );
    await kiln.kill("SIGKILL");
    expect(kiln.proxy.release()).toBe(1);

    const connection = new Redis(redis.url, { maxRetriesPerRequest: null });
    const queue = new Queue("builds", { connection });
    try {
      await waitUntil(
        async () => (await (await queue.getJob(id!))?.getState()) === "completed",
        () => "the worker did not finish the build",
        90_000,
      );
      const digest = ((await queue.getJob(id!))!.returnvalue as { digest: string }).digest;
      expect(statusOf(kiln, id!)?.status, "nobody told SQLite yet").toBe("running");

      await kiln.start();
      const build = await ended(kiln, id!, 30_000);
      expect([build.status, build.error, build.digest]).toEqual(["succeeded", null, digest]);
      expect(await kiln.manifestDigest("alitest1/app", "latest", chaos.login)).toBe(digest);
      await waitUntil(
        async () => kiln.query("select 1 from build_logs where build_id = ?", id).length === 1,
        () => "the log was not kept in SQLite",
      );
      // Gone from Redis (its completed job expires), the log is still there.
      await queue.remove(id!);
      const log = (await kiln.call("GET", `/api/v1/builds/${id}/logs`, { token: chaos.root })).body.lines;
      expect(log).toContain("==> push");
    } finally {
      await queue.close();
      connection.disconnect();
    }
  }, 240_000);
});

describe("one build that cannot be dispatched does not block the outbox", () => {
  let redis: Awaited<ReturnType<typeof startRedis>>;
  let kiln: KilnProcess;
  let chaos: Chaos;

  beforeAll(async () => {
    ({ redis, kiln, chaos } = await startChaosStack());
  }, 120_000);
  afterAll(async () => {
    await kiln?.stop();
    await redis?.stop();
  });

  it("a build whose binding was deleted before dispatch fails with the reason; a later build of another repository succeeds", async () => {
    // A second repository, bound to a git repository of its own.
    const other = "/api/v1/regions/cn-hongkong/repositories/alitest1/other";
    expect(
      (
        await kiln.call("POST", "/api/v1/regions/cn-hongkong/repositories", {
          token: chaos.root,
          body: { namespace: "alitest1", name: "other" },
        })
      ).status,
    ).toBe(201);
    const src = makeGitRepo();
    writeFileSync(join(src.dir, "Dockerfile"), `FROM ${BASE_IMAGE}\nRUN echo other-${Date.now()} > /marker\n`);
    src.git("add", ".");
    src.git("commit", "--quiet", "-m", "other");
    expect(
      (
        await kiln.call("PUT", `${other}/source`, {
          token: chaos.root,
          body: { provider: "git", repoUrl: `file://${src.dir}`, pushUser: "ci" },
        })
      ).status,
    ).toBe(200);
    await kiln.call("POST", `${other}/build-rules`, {
      token: chaos.root,
      body: { sourceType: "branch", source: "main", tags: ["latest"] },
    });

    await redis.stop(); // both builds wait in the outbox, the doomed one first
    const [doomed] = await chaos.webhook("main", chaos.commit("main", 0));
    kiln.query(
      "delete from source_bindings where repository_id = (select repository_id from builds where id = ?)",
      doomed,
    );
    const later = (await kiln.call("POST", `${other}/builds`, { token: chaos.root, body: { ref: "main" } })).body
      .builds[0].id as string;
    expect([statusOf(kiln, doomed!)?.status, statusOf(kiln, later)?.status]).toEqual(["queued", "queued"]);
    await redis.start();

    const failed = await ended(kiln, doomed!, 30_000);
    expect([failed.status, failed.error]).toEqual([
      "failed",
      "the build could not be dispatched: its repository is no longer bound",
    ]);
    const built = await ended(kiln, later);
    expect([built.status, built.error]).toEqual(["succeeded", null]);
    expect(await kiln.manifestDigest("alitest1/other", "latest", chaos.login)).toBe(built.digest);
    expect(await kiln.manifestDigest("alitest1/app", "latest", chaos.login)).toBeUndefined();
  }, 240_000);
});
