import { QueueEvents } from "bullmq";
import { and, eq, inArray, sql } from "drizzle-orm";
import { Redis } from "ioredis";
import type { Db } from "../db/connection.ts";
import { perDb } from "../db/prepared.ts";
import { builds } from "../db/schema.ts";
import type { Logger } from "../logger.ts";
import { keepLog } from "./logs.ts";
import { QUEUE_NAME, type BuildQueue } from "./queue.ts";

const queries = perDb((db) => ({
  started: db
    .update(builds)
    .set({ status: "running", stage: sql`${sql.placeholder("stage")}`, startedAt: sql`coalesce(${builds.startedAt}, ${sql.placeholder("now")})` })
    .where(and(eq(builds.id, sql.placeholder("id")), inArray(builds.status, ["queued", "running"])))
    .prepare(),
  succeeded: db
    .update(builds)
    .set({ status: sql`${sql.placeholder("status")}`, digest: sql`${sql.placeholder("digest")}`, commit: sql`coalesce(${builds.commit}, ${sql.placeholder("commit")})`, finishedAt: sql`${sql.placeholder("now")}` })
    .where(and(eq(builds.id, sql.placeholder("id")), inArray(builds.status, ["queued", "running"])))
    .prepare(),
  failed: db
    .update(builds)
    .set({ status: "failed", error: sql`${sql.placeholder("error")}`, finishedAt: sql`${sql.placeholder("now")}` })
    .where(and(eq(builds.id, sql.placeholder("id")), inArray(builds.status, ["queued", "running"])))
    .prepare(),
}));

/**
 * The API's ear on the queue: workers report through BullMQ (progress = stage, return value =
 * digest, failure = reason) and this keeps each build record current. A build that ended
 * meanwhile (canceled, superseded) keeps its status.
 */
export class BuildEvents {
  private readonly events: QueueEvents;

  constructor(db: Db, redisUrl: string, log: Logger, queue: BuildQueue) {
    const connection = new Redis(redisUrl, { maxRetriesPerRequest: null });
    connection.on("error", () => {});
    this.events = new QueueEvents(QUEUE_NAME, { connection });
    this.events.on("error", () => {});
    const q = queries(db);
    const now = () => new Date().toISOString();
    this.events.on("progress", ({ jobId, data }) => {
      const stage = (data as { stage?: string })?.stage;
      if (stage === "fetch" || stage === "build" || stage === "push") q.started.run({ id: jobId, stage, now: now() });
    });
    this.events.on("completed", ({ jobId, returnvalue }) => {
      const result = (typeof returnvalue === "string" ? JSON.parse(returnvalue) : returnvalue) as { digest?: string | null; commit?: string; notMovedBack?: string[] };
      const status = result?.notMovedBack?.length ? "superseded" : "succeeded";
      q.succeeded.run({ id: jobId, status, digest: result?.digest ?? null, commit: result?.commit ?? null, now: now() });
      log.info({ build: jobId }, "build succeeded");
      void keepLog(db, queue, jobId).catch(() => {});
    });
    this.events.on("failed", ({ jobId, failedReason }) => {
      q.failed.run({ id: jobId, error: failedReason, now: now() });
      void keepLog(db, queue, jobId).catch(() => {});
    });
  }

  async close(): Promise<void> {
    await this.events.close().catch(() => {});
  }
}
