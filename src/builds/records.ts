import { and, desc, eq, inArray, sql } from "drizzle-orm";
import { posix } from "node:path";
import { perDb } from "../db/prepared.ts";
import { DomainError, notFound } from "../errors.ts";
import type { Db } from "../db/connection.ts";
import { ACTIVE_BUILD_STATUSES as ACTIVE } from "../db/enums.ts";
import { builds, namespaces, repositories, users } from "../db/schema.ts";
import { arn } from "../iam/arn.ts";
import { authorize, denialReason } from "../iam/authorizer.ts";
import type { PolicyStore } from "../iam/policy-store.ts";
import { randomId } from "../iam/secrets.ts";
import { enqueueBuildEnded } from "../notifications/outbox.ts";
import type { BuildView } from "./schemas.ts";

export type BuildRow = typeof builds.$inferSelect;

/** What one build is to make: which repository and rule, from which ref and commit, which tags. */
export interface BuildPlan {
  accountId: string;
  repositoryId: number;
  region: string;
  repository: string;
  ruleId: number | null;
  trigger: BuildRow["trigger"];
  ref: string;
  commit: string | null;
  cloneUrl: string;
  tags: string[];
  pushUserId: number;
  deliveryId?: number;
  /** What to build, copied into the build row: a later edit or deletion of the rule changes nothing. */
  settings: BuildSettings;
}

/** A build's Dockerfile, context, build args, target, no-cache, registry cache and platforms, as the build row keeps them. */
export type BuildSettings = Pick<
  BuildRow,
  "dockerfileDir" | "dockerfileName" | "context" | "buildArgs" | "target" | "noCache" | "registryCache" | "platforms"
>;

/** The settings a build without a rule gets: the repository's root Dockerfile. */
export const DEFAULT_BUILD_SETTINGS: BuildSettings = {
  dockerfileDir: "/",
  dockerfileName: "Dockerfile",
  context: null,
  buildArgs: {},
  target: null,
  noCache: false,
  registryCache: true,
  platforms: [],
};

/** The build settings of a rule (or a build row): exactly the fields a build copies. */
export function settingsOf(source: BuildSettings): BuildSettings {
  return {
    dockerfileDir: source.dockerfileDir,
    dockerfileName: source.dockerfileName,
    context: source.context,
    buildArgs: { ...source.buildArgs },
    target: source.target,
    noCache: source.noCache,
    registryCache: source.registryCache,
    platforms: [...source.platforms],
  };
}

export function buildView(row: BuildRow & { repository: string; region: string }): BuildView {
  return {
    id: row.id,
    repository: row.repository,
    region: row.region,
    ruleId: row.ruleId,
    trigger: row.trigger,
    ref: row.ref,
    commit: row.commit,
    tags: row.tags,
    dockerfile: posix.join("/", row.dockerfileDir, row.dockerfileName),
    platforms: row.platforms,
    status: row.status,
    stage: row.stage ?? undefined,
    stageStartedAt: row.stageStartedAt ?? undefined,
    error: row.error ?? undefined,
    digest: row.digest ?? undefined,
    size: row.size ?? undefined,
    queuedAt: row.queuedAt,
    startedAt: row.startedAt ?? undefined,
    finishedAt: row.finishedAt ?? undefined,
  };
}

/**
 * The push user must be allowed cr:PushRepository on the target, or the build fails at once with
 * the reason; the registry checks again at push time.
 */
const queries = perDb((db) => {
  const active = inArray(builds.status, ACTIVE);
  const sameTarget = and(
    eq(builds.repositoryId, sql.placeholder("repositoryId")),
    eq(builds.ref, sql.placeholder("ref")),
    active,
  );
  const superseded = { status: "superseded" as const, finishedAt: sql<string>`${sql.placeholder("now")}` };
  const p = (name: string) => sql.placeholder(name);
  return {
    userName: db
      .select({ name: users.name })
      .from(users)
      .where(eq(users.id, p("id")))
      .prepare(),
    supersedeRule: db
      .update(builds)
      .set(superseded)
      .where(and(sameTarget, eq(builds.ruleId, p("ruleId"))))
      .prepare(),
    supersedeAny: db.update(builds).set(superseded).where(sameTarget).prepare(),
    insert: db
      .insert(builds)
      .values({
        id: p("id"),
        accountId: p("accountId"),
        repositoryId: p("repositoryId"),
        ruleId: p("ruleId"),
        trigger: p("trigger"),
        ref: p("ref"),
        commit: p("commit"),
        cloneUrl: p("cloneUrl"),
        tags: p("tags"),
        dockerfileDir: p("dockerfileDir"),
        dockerfileName: p("dockerfileName"),
        context: p("context"),
        buildArgs: p("buildArgs"),
        target: p("target"),
        noCache: p("noCache"),
        registryCache: p("registryCache"),
        platforms: p("platforms"),
        status: p("status"),
        error: p("error"),
        deliveryId: p("deliveryId"),
        queuedAt: p("queuedAt"),
        finishedAt: p("finishedAt"),
      })
      .returning()
      .prepare(),
  };
});

export async function pushDenial(db: Db, policies: PolicyStore, plan: BuildPlan): Promise<string | undefined> {
  const user = await queries(db).userName.get({ id: plan.pushUserId });
  const [ns, repo] = plan.repository.split("/") as [string, string];
  const resource = arn.repository(plan.region, plan.accountId, ns, repo);
  const result = await authorize(
    policies.within(db),
    { kind: "user", userId: plan.pushUserId },
    { action: "cr:PushRepository", resource, context: { "cr:Region": plan.region } },
  );
  if (result.decision === "Allow") return undefined;
  return `push user "${user?.name}" may not cr:PushRepository on ${resource} (${result.decision}: ${denialReason(result)})`;
}

/**
 * Records builds inside the caller's transaction: each supersedes the older queued or running
 * builds of the same (repository, rule, ref); a build whose push user is denied is born failed.
 */
export async function recordBuilds(
  db: Db,
  policies: PolicyStore,
  plans: BuildPlan[],
): Promise<(BuildRow & { repository: string; region: string })[]> {
  const now = new Date().toISOString();
  const q = queries(db);
  const made: (BuildRow & { repository: string; region: string })[] = [];
  for (const plan of plans) {
    const target = { repositoryId: plan.repositoryId, ref: plan.ref, now };
    if (plan.ruleId === null) await q.supersedeAny.run(target);
    else await q.supersedeRule.run({ ...target, ruleId: plan.ruleId });
    const denial = await pushDenial(db, policies, plan);
    const row = (await q.insert.get({
      id: `bld-${randomId(16)}`,
      accountId: plan.accountId,
      repositoryId: plan.repositoryId,
      ruleId: plan.ruleId,
      trigger: plan.trigger,
      ref: plan.ref,
      commit: plan.commit,
      cloneUrl: plan.cloneUrl,
      tags: plan.tags,
      ...plan.settings,
      status: denial ? "failed" : "queued",
      error: denial ?? null,
      deliveryId: plan.deliveryId ?? null,
      queuedAt: now,
      finishedAt: denial ? now : null,
    }))!;
    // A build born failed (its push user is denied) has ended: build.failed, in the caller's transaction.
    if (denial) await enqueueBuildEnded(db, row.id);
    made.push({ ...row, repository: plan.repository, region: plan.region });
  }
  return made;
}

/** How a build that a worker ran ended: with an image, superseded by a newer build's tags, or failed. */
export type BuildOutcome =
  | {
      status: "succeeded" | "superseded";
      digest: string | null;
      size: number | null;
      commit: string | null;
      cacheLayers?: number | null;
    }
  | { status: "failed"; error: string };

const outcomes = perDb((db) => {
  const p = (name: string) => sql.placeholder(name);
  const stillActive = and(eq(builds.id, p("id")), inArray(builds.status, ACTIVE));
  return {
    ended: db
      .update(builds)
      .set({
        status: sql`${p("status")}`,
        digest: sql`${p("digest")}`,
        size: sql`${p("size")}`,
        commit: sql`coalesce(${builds.commit}, ${p("commit")})`,
        cacheLayers: sql`${p("cacheLayers")}`,
        finishedAt: sql`${p("now")}`,
      })
      .where(stillActive)
      .prepare(),
    failed: db
      .update(builds)
      .set({ status: "failed", error: sql`${p("error")}`, finishedAt: sql`${p("now")}` })
      .where(stillActive)
      .prepare(),
  };
});

/**
 * Writes the outcome of a build's job: the one writer for the queue listener (builds/events.ts)
 * and the dispatcher's reconcile. A build that ended meanwhile (canceled, superseded) keeps its
 * status; the commit the worker resolved fills a build queued without one. False when nothing changed.
 */
export async function finishBuild(db: Db, id: string, outcome: BuildOutcome): Promise<boolean> {
  const now = new Date().toISOString();
  // The outcome and its outbound webhooks (build.succeeded / build.failed) in one transaction.
  return db.transaction(async (tx) => {
    const q = outcomes(tx);
    const run =
      outcome.status === "failed"
        ? await q.failed.run({ id, error: outcome.error, now })
        : await q.ended.run({
            id,
            status: outcome.status,
            digest: outcome.digest,
            size: outcome.size,
            commit: outcome.commit,
            cacheLayers: outcome.cacheLayers ?? null,
            now,
          });
    if (run.changes > 0 && outcome.status !== "superseded") await enqueueBuildEnded(tx, id);
    return run.changes > 0;
  });
}

/** A function, not a constant: the tables are bound when the database opens (PostgreSQL's or SQLite's). */
const withRepository = () => ({
  build: builds,
  ns: namespaces.name,
  repo: repositories.name,
  region: repositories.region,
});
type Joined = { build: BuildRow; ns: string; repo: string; region: string };
const flatten = (r: Joined) => ({ ...r.build, repository: `${r.ns}/${r.repo}`, region: r.region });

function joined(db: Db) {
  return db
    .select(withRepository())
    .from(builds)
    .innerJoin(repositories, eq(repositories.id, builds.repositoryId))
    .innerJoin(namespaces, eq(namespaces.id, repositories.namespaceId));
}

const reads = perDb((db) => ({
  find: joined(db)
    .where(and(eq(builds.id, sql.placeholder("id")), eq(builds.accountId, sql.placeholder("accountId"))))
    .prepare(),
  byRepository: joined(db)
    .where(eq(builds.repositoryId, sql.placeholder("repositoryId")))
    .orderBy(desc(builds.queuedAt))
    .limit(sql.placeholder("limit"))
    .prepare(),
}));

export async function findBuild(db: Db, accountId: string, id: string) {
  const row = await reads(db).find.get({ id, accountId });
  if (!row) throw notFound("build", id, "BuildNotFound");
  return flatten(row);
}

/** In the order of `ids`. */
export async function buildsByIds(db: Db, ids: string[]) {
  if (ids.length === 0) return [];
  const rows = (await joined(db).where(inArray(builds.id, ids)).all()).map(flatten);
  return rows.sort((a, b) => ids.indexOf(a.id) - ids.indexOf(b.id));
}

export async function listBuilds(db: Db, repositoryId: number, limit = 100) {
  return (await reads(db).byRepository.all({ repositoryId, limit })).map(flatten);
}

export async function cancelBuild(db: Db, accountId: string, id: string) {
  const build = await findBuild(db, accountId, id);
  if (!ACTIVE.includes(build.status)) throw new DomainError("BuildFinished", `build ${id} is already ${build.status}`);
  await db
    .update(builds)
    .set({ status: "canceled", finishedAt: new Date().toISOString() })
    .where(eq(builds.id, id))
    .run();
  return findBuild(db, accountId, id);
}
