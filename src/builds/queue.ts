import { Queue } from "bullmq";
import { Redis } from "ioredis";
import type { BuildJob } from "./job-payload.ts";

export const QUEUE_NAME = "builds";
export const cancelKey = (buildId: string) => `kiln:build-cancel:${buildId}`;
/** Holds the sequence of the newest build that pushed an image name (`registry/ns/repo:tag`). */
export const tagKey = (image: string) => `kiln:tag-sequence:${image}`;

/**
 * The API's side of the BullMQ queue "builds". Commands fail fast while Redis is down (no offline
 * queue), so the dispatcher learns at once and keeps the builds in its outbox.
 */
export class BuildQueue {
  readonly connection: Redis;
  readonly queue: Queue;

  /**
   * `jobs`: how long finished jobs stay in Redis (KILN_RETAIN_*_JOBS_DAYS), in seconds. The API
   * reads the outcome of a job that finished while it was down from the job, so they should
   * outlast the longest time the API may be down.
   */
  constructor(
    redisUrl: string,
    private readonly jobs: { completedSeconds: number; failedSeconds: number } = {
      completedSeconds: 24 * 3600,
      failedSeconds: 7 * 24 * 3600,
    },
  ) {
    this.connection = new Redis(redisUrl, {
      maxRetriesPerRequest: null,
      enableOfflineQueue: false,
      lazyConnect: false,
      retryStrategy: (n) => Math.min(n * 200, 2000),
    });
    // An unreachable Redis is reported through readiness and the dispatcher, not as an unhandled error.
    this.connection.on("error", () => {});
    this.queue = new Queue(QUEUE_NAME, { connection: this.connection });
    this.queue.on("error", () => {});
  }

  /** Idempotent: the job id is the build id, so adding it twice keeps one job. */
  async enqueue(job: BuildJob): Promise<void> {
    await this.queue.add("build", job, {
      jobId: job.buildId,
      attempts: 3,
      backoff: { type: "exponential", delay: 5000 },
      removeOnComplete: { age: this.jobs.completedSeconds },
      removeOnFail: { age: this.jobs.failedSeconds },
    });
  }

  /** Removes a job that no worker has taken yet; a running one is left to the worker's cancel check. */
  async removeWaiting(buildId: string): Promise<void> {
    const job = await this.queue.getJob(buildId);
    if (job && ((await job.isWaiting()) || (await job.isDelayed()))) await job.remove();
  }

  /** Asks whichever worker holds the build to stop it (workers poll this key while they run it). */
  async requestCancel(buildId: string): Promise<void> {
    await this.connection.set(cancelKey(buildId), "1", "EX", 24 * 3600);
  }

  async ping(): Promise<boolean> {
    if (this.connection.status !== "ready") return false;
    return (await this.connection.ping()) === "PONG";
  }

  async close(): Promise<void> {
    await this.queue.close().catch(() => {});
    this.connection.disconnect();
  }
}
