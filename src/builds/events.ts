import { QueueEvents } from "bullmq";
import { and, eq, inArray, sql } from "drizzle-orm";
import { Redis } from "ioredis";
import type { Db } from "../db/connection.ts";
import { ACTIVE_BUILD_STATUSES, isBuildStage, type BuildStage } from "../db/enums.ts";
import { builds } from "../db/schema.ts";
import type { Metrics } from "../metrics.ts";
import type { Logger } from "../logger.ts";
import { outcomeOf, type BuildResult } from "./job-payload.ts";
import { keepLog } from "./logs.ts";
import { QUEUE_NAME, type BuildQueue } from "./queue.ts";
import { finishBuild } from "./records.ts";

/**
 * The API's ear on the queue: workers report through BullMQ (progress = stage, return value =
 * digest, failure = reason) and this keeps each build record current. A build that ended
 * meanwhile (canceled, superseded) keeps its status.
 */
export class BuildEvents {
  private readonly events: QueueEvents;

  /** Where each running build is: its stage and since when, for the stage-duration histogram. */
  private readonly stages = new Map<string, { stage: string; since: number }>();

  /** The events' database writes, one after another in the order the events came. */
  private written: Promise<void> = Promise.resolve();

  constructor(db: Db, redisUrl: string, log: Logger, queue: BuildQueue, metrics: Metrics) {
    const connection = new Redis(redisUrl, { maxRetriesPerRequest: null });
    connection.on("error", () => {});
    this.events = new QueueEvents(QUEUE_NAME, { connection });
    this.events.on("error", () => {});
    const inOrder = (id: string, write: () => Promise<void>) => {
      this.written = this.written
        .then(write)
        .catch((err) => log.warn({ build: id, err: (err as Error).message }, "build event not recorded"));
    };
    const timing = (id: string) =>
      db.select({ queuedAt: builds.queuedAt, startedAt: builds.startedAt }).from(builds).where(eq(builds.id, id)).get();
    const active = (id: string) => and(eq(builds.id, id), inArray(builds.status, ACTIVE_BUILD_STATUSES));
    /** The build runs `stage` since `now` (the first stage also starts the build), unless it ended. */
    const started = (id: string, stage: BuildStage, now: string) =>
      db.transaction(async (tx) => {
        const row = await tx.select({ stageStartedAt: builds.stageStartedAt }).from(builds).where(active(id)).get();
        if (!row) return;
        await tx
          .update(builds)
          .set({
            status: "running",
            stage,
            stageStartedAt: { ...row.stageStartedAt, [stage]: now },
            startedAt: sql`coalesce(${builds.startedAt}, ${now})`,
          })
          .where(active(id))
          .run();
      });
    const endStage = (id: string) => {
      const current = this.stages.get(id);
      if (current) metrics.stageDuration.observe({ stage: current.stage }, (Date.now() - current.since) / 1000);
      this.stages.delete(id);
    };
    this.events.on("progress", ({ jobId, data }) => {
      const stage = (data as { stage?: string })?.stage;
      if (!isBuildStage(stage)) return;
      const at = Date.now();
      inOrder(jobId, async () => {
        if (stage === "fetch") {
          const t = await timing(jobId);
          if (t && !t.startedAt) metrics.buildWait.observe((at - Date.parse(t.queuedAt)) / 1000);
        }
        await started(jobId, stage, new Date(at).toISOString());
      });
      endStage(jobId);
      this.stages.set(jobId, { stage, since: at });
    });
    const ended = async (id: string, status: string, at: number) => {
      const t = await timing(id);
      if (t?.startedAt) metrics.buildDuration.observe({ status }, (at - Date.parse(t.startedAt)) / 1000);
    };
    this.events.on("completed", ({ jobId, returnvalue }) => {
      const result = (typeof returnvalue === "string" ? JSON.parse(returnvalue) : returnvalue) as BuildResult | null;
      const outcome = outcomeOf(result);
      const at = Date.now();
      endStage(jobId);
      inOrder(jobId, async () => {
        await finishBuild(db, jobId, outcome);
        await ended(jobId, outcome.status, at);
        log.info({ build: jobId }, "build succeeded");
        void keepLog(db, queue, jobId).catch(() => {});
      });
    });
    this.events.on("failed", ({ jobId, failedReason }) => {
      const at = Date.now();
      endStage(jobId);
      inOrder(jobId, async () => {
        await finishBuild(db, jobId, { status: "failed", error: failedReason });
        await ended(jobId, "failed", at);
        void keepLog(db, queue, jobId).catch(() => {});
      });
    });
  }

  /** Stops listening, then waits for the writes of the events already heard. */
  async close(): Promise<void> {
    await this.events.close().catch(() => {});
    await this.written;
  }
}
