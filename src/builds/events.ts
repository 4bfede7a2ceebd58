import { QueueEvents } from "bullmq";
import { and, eq, inArray, sql } from "drizzle-orm";
import { Redis } from "ioredis";
import type { Db } from "../db/connection.ts";
import { ACTIVE_BUILD_STATUSES, isBuildStage } from "../db/enums.ts";
import { perDb } from "../db/prepared.ts";
import { builds } from "../db/schema.ts";
import type { Metrics } from "../metrics.ts";
import type { Logger } from "../logger.ts";
import { outcomeOf, type BuildResult } from "./job-payload.ts";
import { keepLog } from "./logs.ts";
import { QUEUE_NAME, type BuildQueue } from "./queue.ts";
import { finishBuild } from "./records.ts";

const queries = perDb((db) => ({
  started: db
    .update(builds)
    .set({
      status: "running",
      stage: sql`${sql.placeholder("stage")}`,
      stageStartedAt: sql`json_set(coalesce(${builds.stageStartedAt}, '{}'), '$.' || ${sql.placeholder("stage")}, ${sql.placeholder("now")})`,
      startedAt: sql`coalesce(${builds.startedAt}, ${sql.placeholder("now")})`,
    })
    .where(and(eq(builds.id, sql.placeholder("id")), inArray(builds.status, ACTIVE_BUILD_STATUSES)))
    .prepare(),
}));

/**
 * The API's ear on the queue: workers report through BullMQ (progress = stage, return value =
 * digest, failure = reason) and this keeps each build record current. A build that ended
 * meanwhile (canceled, superseded) keeps its status.
 */
export class BuildEvents {
  private readonly events: QueueEvents;

  /** Where each running build is: its stage and since when, for the stage-duration histogram. */
  private readonly stages = new Map<string, { stage: string; since: number }>();

  constructor(db: Db, redisUrl: string, log: Logger, queue: BuildQueue, metrics: Metrics) {
    const connection = new Redis(redisUrl, { maxRetriesPerRequest: null });
    connection.on("error", () => {});
    this.events = new QueueEvents(QUEUE_NAME, { connection });
    this.events.on("error", () => {});
    const q = queries(db);
    const now = () => new Date().toISOString();
    const timing = (id: string) =>
      db.$client.prepare("select queued_at as queuedAt, started_at as startedAt from builds where id = ?").get(id) as
        { queuedAt: string; startedAt: string | null } | undefined;
    const endStage = (id: string) => {
      const current = this.stages.get(id);
      if (current) metrics.stageDuration.observe({ stage: current.stage }, (Date.now() - current.since) / 1000);
      this.stages.delete(id);
    };
    this.events.on("progress", ({ jobId, data }) => {
      const stage = (data as { stage?: string })?.stage;
      if (!isBuildStage(stage)) return;
      if (stage === "fetch") {
        const t = timing(jobId);
        if (t && !t.startedAt) metrics.buildWait.observe((Date.now() - Date.parse(t.queuedAt)) / 1000);
      }
      endStage(jobId);
      this.stages.set(jobId, { stage, since: Date.now() });
      q.started.run({ id: jobId, stage, now: now() });
    });
    const ended = (id: string, status: string) => {
      endStage(id);
      const t = timing(id);
      if (t?.startedAt) metrics.buildDuration.observe({ status }, (Date.now() - Date.parse(t.startedAt)) / 1000);
    };
    this.events.on("completed", ({ jobId, returnvalue }) => {
      const result = (typeof returnvalue === "string" ? JSON.parse(returnvalue) : returnvalue) as BuildResult | null;
      const outcome = outcomeOf(result);
      finishBuild(db, jobId, outcome);
      ended(jobId, outcome.status);
      log.info({ build: jobId }, "build succeeded");
      void keepLog(db, queue, jobId).catch(() => {});
    });
    this.events.on("failed", ({ jobId, failedReason }) => {
      finishBuild(db, jobId, { status: "failed", error: failedReason });
      ended(jobId, "failed");
      void keepLog(db, queue, jobId).catch(() => {});
    });
  }

  async close(): Promise<void> {
    await this.events.close().catch(() => {});
  }
}
