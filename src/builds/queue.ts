import { Queue } from "bullmq";
import { Redis } from "ioredis";
import type { BuildJob, BuildResult } from "./job-payload.ts";

export const QUEUE_NAME = "builds";
export const cancelKey = (buildId: string) => `kiln:build-cancel:${buildId}`;
/** Holds the sequence of the newest build that pushed an image name (`registry/ns/repo:tag`). */
export const tagKey = (image: string) => `kiln:tag-sequence:${image}`;
/**
 * Present while Redis holds the tag order: the API writes it after copying the newest pushed
 * sequence of every tag from SQLite into the tag keys. Absent means Redis is new or lost its data
 * (FLUSHALL, a restart without persistence): workers then wait before claiming a tag.
 */
export const TAG_ORDER_KEY = "kiln:tag-order";
/** Set by the worker running a build, refreshed every second: a live worker holds it. */
export const heldKey = (buildId: string) => `kiln:build-held:${buildId}`;
/** A worker refreshes `heldKey` every second with this lifetime; it lapses this long after the worker died. */
export const HELD_MS = 5000;
/** What the worker's last run of a build came to, kept beside the job: it survives the job vanishing. */
export const runOutcomeKey = (buildId: string) => `kiln:build-outcome:${buildId}`;
export const RUN_OUTCOME_SECONDS = 7 * 24 * 3600;

/** A run's end as the worker leaves it under `runOutcomeKey`. */
export interface RunOutcome {
  result?: BuildResult;
  error?: string;
  /** The error ends the build (no retry can change it). */
  final?: boolean;
  /** Log lines that could not be written to the job because it had vanished. */
  lostLog?: string[];
}

/**
 * Raises a tag key to (sequence, build id), never lowers it: the order and the "<sequence> <build
 * id>" value of the worker's claim (workers/build-worker.ts CLAIM_TAG).
 */
const RAISE_TAG = `
local current = redis.call('GET', KEYS[1])
local seq, id = string.match(current or '', '^(%d+) ?(.*)$')
if seq then
  local theirs, mine = tonumber(seq), tonumber(ARGV[1])
  if theirs > mine or (theirs == mine and id >= ARGV[2]) then return 0 end
end
redis.call('SET', KEYS[1], ARGV[1] .. ' ' .. ARGV[2])
return 1`;

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

  /** The outcome a worker left for a build whose job may be gone. */
  async runOutcome(buildId: string): Promise<RunOutcome | undefined> {
    const raw = await this.connection.get(runOutcomeKey(buildId));
    return raw ? (JSON.parse(raw) as RunOutcome) : undefined;
  }

  async forgetRunOutcome(buildId: string): Promise<void> {
    await this.connection.del(runOutcomeKey(buildId));
  }

  /** A live worker runs the build now. */
  async isHeld(buildId: string): Promise<boolean> {
    return (await this.connection.exists(heldKey(buildId))) > 0;
  }

  async tagOrderKnown(): Promise<boolean> {
    return (await this.connection.exists(TAG_ORDER_KEY)) > 0;
  }

  /** Raises every tag key to the newest sequence that pushed it, then marks the tag order as known. */
  async restoreTagOrder(tags: { image: string; sequence: number; buildId: string }[]): Promise<void> {
    for (let i = 0; i < tags.length; i += 500) {
      const batch = this.connection.pipeline();
      for (const t of tags.slice(i, i + 500)) batch.eval(RAISE_TAG, 1, tagKey(t.image), String(t.sequence), t.buildId);
      const results = await batch.exec();
      const failed = results?.find(([err]) => err);
      if (failed) throw failed[0];
    }
    await this.connection.set(TAG_ORDER_KEY, new Date().toISOString());
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
