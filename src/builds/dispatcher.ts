import { and, asc, eq, gt, inArray, isNotNull, isNull, or, sql } from "drizzle-orm";
import { Lease } from "../db/leases.ts";
import { perDb } from "../db/prepared.ts";
import type { Config } from "../config.ts";
import type { Db } from "../db/connection.ts";
import { ACTIVE_BUILD_STATUSES } from "../db/enums.ts";
import { buildLogs, builds, namespaces, repositories } from "../db/schema.ts";
import type { Logger } from "../logger.ts";
import type { RegistryCredentials } from "../registry/credentials.ts";
import { jobFor, outcomeOf, type BuildJob, type BuildResult } from "./job-payload.ts";
import { keepLog } from "./logs.ts";
import { HELD_MS, type BuildQueue } from "./queue.ts";
import { finishBuild, type BuildRow } from "./records.ts";

const BATCH = 200;
/** A build whose job Redis lost this many times fails instead of being queued again. */
const MAX_REQUEUES = 3;

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
  /** Several API replicas read the same outbox: the one whose claim changes the row enqueues the build. */
  claim: db
    .update(builds)
    .set({ enqueuedAt: sql<string>`${sql.placeholder("at")}` })
    .where(and(eq(builds.id, sql.placeholder("id")), eq(builds.status, "queued"), isNull(builds.enqueuedAt)))
    .prepare(),
  unclaim: db
    .update(builds)
    .set({ enqueuedAt: null })
    .where(and(eq(builds.id, sql.placeholder("id")), eq(builds.status, "queued")))
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
 * id, so a retry never doubles a job); while Redis is down they wait and nothing is lost. A build
 * whose job cannot be made fails with the reason and the others go on; only an enqueue error
 * means "Redis is down". `reconcile` finds builds whose job Redis lost (see there); jobs of builds
 * that were superseded or canceled are withdrawn.
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
    this.reconcileLease = new Lease(db, "builds.reconcile", 45_000);
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
      await queries(this.db).markWithdrawn.run({ id });
    }
  }

  /** The job of a build, or why it cannot have one. */
  private async jobOf(build: BuildRow & { repository: string; region: string }): Promise<BuildJob> {
    if (!this.config.regions.some((r) => r.id === build.region))
      throw new Error(`its region ${build.region} is no longer configured (KILN_REGIONS)`);
    return jobFor(this.db, this.config, this.credentials, build);
  }

  private async pass(): Promise<void> {
    try {
      if (!(await this.queue.tagOrderKnown())) {
        const restored = await this.restoreTagOrder();
        this.log.warn(
          { tags: restored },
          "Redis holds no tag order (it is new, or lost its data): restored from SQLite; looking for lost builds",
        );
        this.reconcileSoon(0);
      }
      await this.withdraw((await queries(this.db).ended.all({ limit: BATCH })).map((b) => b.id));
    } catch {
      return; // Redis is down; the next pass tries again
    }
    for (;;) {
      const outbox = await queries(this.db).outbox.all({ limit: BATCH });
      if (outbox.length === 0) return;
      for (const build of outbox.map(({ build, ns, repo, region }) => ({
        ...build,
        repository: `${ns}/${repo}`,
        region,
      }))) {
        let job: BuildJob;
        try {
          job = await this.jobOf(build);
        } catch (err) {
          // This build cannot run (its binding, push user or region is gone): it fails, the others go on.
          const reason = `the build could not be dispatched: ${(err as Error).message.replace(/^build \S+: /, "")}`;
          if (await finishBuild(this.db, build.id, { status: "failed", error: reason }))
            this.log.warn({ build: build.id, reason }, "build failed before dispatch");
          continue;
        }
        if ((await queries(this.db).claim.run({ id: build.id, at: new Date().toISOString() })).changes === 0) continue;
        try {
          await this.queue.enqueue(job);
        } catch (err) {
          await queries(this.db).unclaim.run({ id: build.id });
          if (!this.redisWasDown)
            this.log.warn(
              { err: (err as Error).message },
              "build queue unreachable; builds stay queued until it is back",
            );
          this.redisWasDown = true;
          return;
        }
        if (this.redisWasDown) {
          this.log.info("build queue reachable again; dispatching queued builds");
          this.redisWasDown = false;
        }
      }
      if (outbox.length < BATCH) return;
    }
  }

  /**
   * "A tag never moves back" after Redis lost its data: every tag key is raised to the sequence of
   * the newest build that pushed the tag (or may be pushing it now), from SQLite; cancel requests
   * of builds that ended lately are made again. Then the tag order is marked known.
   */
  private async restoreTagOrder(): Promise<number> {
    // The newest "<queued at> <build id>" of each (region, repository, tag set) from the database;
    // the tag sets are split here (the JSON column is not queried inside), keeping each tag's newest.
    const sets = await this.db
      .select({
        region: repositories.region,
        ns: namespaces.name,
        repo: repositories.name,
        tags: builds.tags,
        newest: sql<string>`max(${builds.queuedAt} || ' ' || ${builds.id})`,
      })
      .from(builds)
      .innerJoin(repositories, eq(repositories.id, builds.repositoryId))
      .innerJoin(namespaces, eq(namespaces.id, repositories.namespaceId))
      .where(
        or(
          and(inArray(builds.status, ["succeeded", "superseded"]), isNotNull(builds.digest)),
          and(eq(builds.status, "running"), eq(builds.stage, "push")),
        ),
      )
      .groupBy(repositories.region, namespaces.name, repositories.name, builds.tags);
    const newestOf = new Map<string, { region: string; repository: string; tag: string; newest: string }>();
    for (const set of sets) {
      const repository = `${set.ns}/${set.repo}`;
      for (const tag of new Set(set.tags)) {
        const key = JSON.stringify([set.region, repository, tag]);
        const known = newestOf.get(key);
        if (!known || set.newest > known.newest)
          newestOf.set(key, { region: set.region, repository, tag, newest: set.newest });
      }
    }
    const rows = [...newestOf.values()];
    const tags = rows.flatMap((r) => {
      const region = this.config.regions.find((g) => g.id === r.region);
      const [queuedAt, buildId] = r.newest.split(" ") as [string, string];
      // The sequence as the job carries it (jobFor): the build's queue time in ms.
      const image = `${region?.registry}/${r.repository}:${r.tag}`;
      return region ? [{ image, sequence: Date.parse(queuedAt), buildId }] : [];
    });
    // Cancel requests went with the data: ask again for builds ended lately whose worker may still run them.
    const since = new Date(Date.now() - (this.config.buildTimeoutSeconds + 600) * 1000).toISOString();
    const stopped = await this.db
      .select({ id: builds.id })
      .from(builds)
      .where(and(inArray(builds.status, ["canceled", "superseded"]), gt(builds.finishedAt, since)));
    for (const { id } of stopped) await this.queue.requestCancel(id);
    await this.queue.restoreTagOrder(tags);
    return tags.length;
  }

  private reconciling: Promise<unknown> = Promise.resolve();
  private readonly reconcileLease: Lease;
  private closed = false;
  private soonTimer: NodeJS.Timeout | undefined;

  /** A reconcile in `ms`, unless one is already planned. */
  private reconcileSoon(ms: number): void {
    if (this.soonTimer || this.closed) return;
    this.soonTimer = setTimeout(() => {
      this.soonTimer = undefined;
      void this.reconcile();
    }, ms);
    this.soonTimer.unref();
  }

  /**
   * Brings the records of queued and running builds in line with Redis, one reconcile at a time:
   * - a job that finished while this API was not listening gives its outcome (and its log);
   * - a job gone from Redis whose worker left its outcome beside it gives that outcome;
   * - a job gone from Redis that a live worker still runs is left to it (looked at again soon);
   * - a job gone from Redis with no live worker (looked at twice, `HELD_MS` apart) is queued
   *   again as a new attempt of the same build (same id, same sequence: tags never move back),
   *   or fails after MAX_REQUEUES losses.
   * Returns how many builds went back to the outbox. Never throws.
   */
  reconcile(): Promise<number> {
    const run = this.reconciling.then(() => this.reconcileOnce());
    this.reconciling = run.catch(() => 0);
    return run.catch((err) => {
      this.log.warn({ err: (err as Error).message }, "reconcile failed");
      return 0;
    });
  }

  private async reconcileOnce(): Promise<number> {
    // One API process reconciles at a time: two would both re-queue (and count) the same lost job.
    if (!(await this.reconcileLease.hold())) return 0;
    const open = await this.db
      .select({ id: builds.id, lostJobs: builds.lostJobs })
      .from(builds)
      .where(and(inArray(builds.status, ACTIVE_BUILD_STATUSES), isNotNull(builds.enqueuedAt)))
      .all();
    const lostBefore = new Map(open.map((b) => [b.id, b.lostJobs]));
    let lost: string[] = [];
    let held = 0;
    try {
      for (const { id } of open) {
        const found = await this.inspect(id);
        if (found === "lost") lost.push(id);
        else if (found === "held") held++;
      }
      if (lost.length) {
        // A worker that runs the build refreshes its hold every second (again within a second of a FLUSHALL).
        await new Promise((r) => setTimeout(r, HELD_MS).unref());
        const still: string[] = [];
        for (const id of lost) {
          const found = await this.inspect(id);
          if (found === "lost") still.push(id);
          else if (found === "held") held++;
        }
        lost = still;
      }
    } catch {
      return 0; // Redis is down: nothing can be learned now
    }
    if (held) this.reconcileSoon(2000);
    const again: string[] = [];
    for (const id of lost) {
      if ((lostBefore.get(id) ?? 0) + 1 > MAX_REQUEUES) {
        await finishBuild(this.db, id, {
          status: "failed",
          error: `Redis lost this build's job ${MAX_REQUEUES} times (is Redis evicting keys? BullMQ needs maxmemory-policy noeviction)`,
        });
        continue;
      }
      await this.queue.forgetRunOutcome(id).catch(() => {});
      again.push(id);
    }
    if (again.length) {
      await this.db
        .update(builds)
        .set({ status: "queued", stage: null, enqueuedAt: null, lostJobs: sql`${builds.lostJobs} + 1` })
        .where(and(inArray(builds.id, again), inArray(builds.status, ACTIVE_BUILD_STATUSES)))
        .run();
      this.log.warn({ builds: again }, "re-queuing builds whose job Redis lost and no worker runs");
      this.wake();
    }
    return again.length;
  }

  /** What Redis knows of one build, after taking any outcome it holds. */
  private async inspect(id: string): Promise<"done" | "in-redis" | "held" | "lost"> {
    const job = await this.queue.queue.getJob(id);
    if (job) {
      const state = await job.getState();
      if (state === "completed") {
        await finishBuild(this.db, id, outcomeOf(job.returnvalue as BuildResult | null));
        await keepLog(this.db, this.queue, id).catch(() => {});
        return "done";
      }
      if (state === "failed") {
        await finishBuild(this.db, id, { status: "failed", error: job.failedReason || "the build failed" });
        await keepLog(this.db, this.queue, id).catch(() => {});
        return "done";
      }
      if (state !== "unknown") return "in-redis";
      // Half a job (its hash without its place in any list): no worker will ever take it.
      await job.remove().catch(() => {});
    }
    const outcome = await this.queue.runOutcome(id);
    if (outcome?.result || outcome?.final) {
      const ended = outcome.result
        ? outcomeOf(outcome.result)
        : { status: "failed" as const, error: outcome.error ?? "the build failed" };
      if (await finishBuild(this.db, id, ended)) {
        await this.keepLostLog(id, outcome.lostLog ?? []);
        this.log.info({ build: id, status: ended.status }, "build outcome taken from its worker (its job was lost)");
      }
      return "done";
    }
    return (await this.queue.isHeld(id)) ? "held" : "lost";
  }

  /** The log of a build whose job vanished: what the worker could not write to the job. */
  private async keepLostLog(id: string, lines: string[]): Promise<void> {
    const kept = ["[the lines written before Redis lost this build's job are lost]", ...lines];
    await this.db.insert(buildLogs).values({ buildId: id, lines: kept, truncated: false }).onConflictDoNothing().run();
  }

  close(): void {
    this.closed = true;
    clearInterval(this.timer);
    clearInterval(this.reconcileTimer);
    clearTimeout(this.soonTimer);
  }
}
