import { and, asc, eq, inArray, isNotNull, isNull, sql } from "drizzle-orm";
import { perDb } from "../db/prepared.ts";
import type { Config } from "../config.ts";
import type { Db } from "../db/connection.ts";
import { ACTIVE_BUILD_STATUSES } from "../db/enums.ts";
import { builds, namespaces, repositories } from "../db/schema.ts";
import type { Logger } from "../logger.ts";
import type { RegistryCredentials } from "../registry/credentials.ts";
import { jobFor, outcomeOf, type BuildResult } from "./job-payload.ts";
import type { BuildQueue } from "./queue.ts";
import { finishBuild } from "./records.ts";

const BATCH = 200;

const queries = perDb((db) => ({
  outbox: db
    .select({ build: builds, ns: namespaces.name, repo: repositories.name, region: repositories.region })
    .from(builds)
    .innerJoin(repositories, eq(repositories.id, builds.repositoryId))
    .innerJoin(namespaces, eq(namespaces.id, repositories.namespaceId))
    .where(and(eq(builds.status, "queued"), isNull(builds.enqueuedAt)))
    .orderBy(asc(builds.queuedAt))
    .limit(sql.placeholder("limit"))
    .prepare(),
  markEnqueued: db
    .update(builds)
    .set({ enqueuedAt: sql<string>`${sql.placeholder("at")}` })
    .where(eq(builds.id, sql.placeholder("id")))
    .prepare(),
  /** Builds that ended (superseded, canceled) while their job may still wait in Redis. */
  ended: db
    .select({ id: builds.id })
    .from(builds)
    .where(and(inArray(builds.status, ["superseded", "canceled"]), isNotNull(builds.enqueuedAt)))
    .limit(sql.placeholder("limit"))
    .prepare(),
  markWithdrawn: db
    .update(builds)
    .set({ enqueuedAt: null })
    .where(eq(builds.id, sql.placeholder("id")))
    .prepare(),
}));

/**
 * The outbox: SQLite is the truth. Queued builds not yet in BullMQ are enqueued (jobId = build
 * id, so a retry never doubles a job); while Redis is down they wait and nothing is lost.
 * `reconcile` re-adds queued builds whose job Redis no longer knows (a Redis that lost its data);
 * jobs of builds that were superseded or canceled are withdrawn.
 */
export class Dispatcher {
  private running = false;
  private again = false;
  private redisWasDown = false;
  private readonly timer: NodeJS.Timeout;
  private readonly reconcileTimer: NodeJS.Timeout;

  constructor(
    private readonly db: Db,
    private readonly config: Config,
    private readonly credentials: RegistryCredentials,
    private readonly queue: BuildQueue,
    private readonly log: Logger,
    intervalMs = 1000,
  ) {
    this.timer = setInterval(() => this.wake(), intervalMs);
    this.timer.unref();
    this.reconcileTimer = setInterval(() => void this.reconcile(), 30_000);
    this.reconcileTimer.unref();
  }

  /** Runs a pass now, or right after the one under way. */
  wake(): void {
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = true;
    void this.pass().finally(() => {
      this.running = false;
      if (this.again) {
        this.again = false;
        this.wake();
      }
    });
  }

  /** Resolves when no pass is running or pending (tests and shutdown). */
  async idle(): Promise<void> {
    while (this.running || this.again) await new Promise((r) => setTimeout(r, 10));
  }

  /**
   * Takes the jobs of ended builds out of the queue, and asks the worker that may hold one to
   * stop it (it aborts the Docker build or push within a second or two).
   */
  async withdraw(ids: string[]): Promise<void> {
    for (const id of ids) {
      await this.queue.requestCancel(id);
      await this.queue.removeWaiting(id);
      queries(this.db).markWithdrawn.run({ id });
    }
  }

  private async pass(): Promise<void> {
    try {
      await this.withdraw(
        queries(this.db)
          .ended.all({ limit: BATCH })
          .map((b) => b.id),
      );
    } catch {
      return; // Redis is down; the next pass tries again
    }
    for (;;) {
      const outbox = queries(this.db).outbox.all({ limit: BATCH });
      if (outbox.length === 0) return;
      for (const build of outbox.map(({ build, ns, repo, region }) => ({
        ...build,
        repository: `${ns}/${repo}`,
        region,
      }))) {
        try {
          await this.queue.enqueue(jobFor(this.db, this.config, this.credentials, build));
        } catch (err) {
          if (!this.redisWasDown)
            this.log.warn(
              { err: (err as Error).message },
              "build queue unreachable; builds stay queued until it is back",
            );
          this.redisWasDown = true;
          return;
        }
        queries(this.db).markEnqueued.run({ id: build.id, at: new Date().toISOString() });
        if (this.redisWasDown) {
          this.log.info("build queue reachable again; dispatching queued builds");
          this.redisWasDown = false;
        }
      }
      if (outbox.length < BATCH) return;
    }
  }

  /**
   * Queued builds whose job vanished from Redis go back to the outbox; builds whose job finished
   * while this API was not listening take the job's outcome.
   */
  async reconcile(): Promise<number> {
    const open = this.db
      .select({ id: builds.id, status: builds.status })
      .from(builds)
      .where(and(inArray(builds.status, ACTIVE_BUILD_STATUSES), isNotNull(builds.enqueuedAt)))
      .all();
    const lost: string[] = [];
    try {
      for (const { id, status } of open) {
        const job = await this.queue.queue.getJob(id);
        if (!job) {
          if (status === "queued") lost.push(id);
          continue;
        }
        const state = await job.getState();
        if (state === "completed") finishBuild(this.db, id, outcomeOf(job.returnvalue as BuildResult | null));
        else if (state === "failed")
          finishBuild(this.db, id, { status: "failed", error: job.failedReason ?? "the build failed" });
      }
    } catch {
      return 0; // Redis is down: nothing can be learned now
    }
    if (lost.length) {
      this.db.update(builds).set({ enqueuedAt: null }).where(inArray(builds.id, lost)).run();
      this.log.warn({ builds: lost.length }, "re-enqueuing queued builds that Redis lost");
      this.wake();
    }
    return lost.length;
  }

  close(): void {
    clearInterval(this.timer);
    clearInterval(this.reconcileTimer);
  }
}
