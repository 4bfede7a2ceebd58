import { UnrecoverableError, Worker } from "bullmq";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { BuildJob } from "../../src/builds/job-payload.ts";
import { BuildQueue, QUEUE_NAME } from "../../src/builds/queue.ts";
import { waitUntil } from "../helpers/net.ts";
import { startRedis } from "../helpers/redis.ts";

const job = (buildId: string) => ({ buildId }) as unknown as BuildJob;

describe("finished jobs leave Redis after their retention (KILN_RETAIN_*_JOBS_DAYS)", () => {
  let redis: Awaited<ReturnType<typeof startRedis>>;
  let queue: BuildQueue;

  beforeAll(async () => {
    redis = await startRedis();
    queue = new BuildQueue(redis.url, { completedSeconds: 1, failedSeconds: 3600 });
  });
  afterAll(async () => {
    await queue.close();
    await redis.stop();
  });

  it("jobs are added with the configured ages; an old completed job goes, a failed one stays", async () => {
    await queue.enqueue(job("bld-a"));
    expect((await queue.queue.getJob("bld-a"))!.opts).toMatchObject({
      removeOnComplete: { age: 1 },
      removeOnFail: { age: 3600 },
    });
    await queue.enqueue(job("bld-fails"));
    const worker = new Worker(
      QUEUE_NAME,
      async (j) => {
        if (j.id === "bld-fails") throw new UnrecoverableError("the build failed"); // no retries
        return { digest: "sha256:0" };
      },
      { connection: { url: redis.url }, autorun: true },
    );
    try {
      // The API reads a fresh outcome from the job, as its reconcile does after a restart.
      await waitUntil(
        async () => (await queue.queue.getJob("bld-a"))?.finishedOn !== undefined,
        () => "bld-a did not finish",
      );
      expect(await (await queue.queue.getJob("bld-a"))!.getState()).toBe("completed");
      await waitUntil(
        async () => (await (await queue.queue.getJob("bld-fails"))?.getState()) === "failed",
        () => "bld-fails did not fail",
      );
      // BullMQ trims finished jobs as later ones finish: one finishing 2 s on removes bld-a.
      await new Promise((r) => setTimeout(r, 2100));
      await queue.enqueue(job("bld-b"));
      await waitUntil(
        async () => (await queue.queue.getJob("bld-a")) === undefined,
        () => "bld-a was kept past its age",
      );
      expect(await (await queue.queue.getJob("bld-fails"))?.getState()).toBe("failed");
    } finally {
      await worker.close();
    }
  }, 30_000);
});
