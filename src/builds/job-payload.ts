import { and, desc, eq, isNotNull } from "drizzle-orm";
import type { Config } from "../config.ts";
import { seal } from "../crypto/seal.ts";
import type { Db } from "../db/connection.ts";
import { builds } from "../db/schema.ts";
import { bindingOfRepository } from "../sources/bindings.ts";
import { principalOf } from "../iam/tokens.ts";
import type { RegistryCredentials } from "../registry/credentials.ts";
import type { BuildOutcome, BuildRow } from "./records.ts";
import { sealedBuildSecrets } from "./secrets.ts";

/**
 * Everything a worker needs for one build (DESIGN §9); workers never open SQLite. Secrets — the
 * git token and the per-build push password — travel sealed with KILN_SECRET_KEY.
 */
export interface BuildJob {
  buildId: string;
  cloneUrl: string;
  commit: string | null;
  ref: string;
  dockerfile: { dir: string; name: string };
  context: string;
  buildArgs: Record<string, string>;
  target: string | null;
  noCache: boolean;
  /** Platforms to build (`linux/arm64`, …); empty builds the worker's own. More than one publishes an image index. */
  platforms: string[];
  /**
   * The registry cache: export BuildKit's inline cache with the image, and import it from `from`
   * (the images of the rule's last successful builds), pulled with the build credential.
   */
  registryCache: { from: string[] } | null;
  /** Build secrets by id (`RUN --mount=type=secret,id=…`), each value sealed with KILN_SECRET_KEY. */
  secrets: Record<string, string>;
  labels: Record<string, string>;
  image: { registry: string; repository: string; tags: string[] };
  /**
   * BuildKit's cache-mount namespace: the account and namespace, so that no build ever sees a
   * cache mount that another namespace (or a namespace of the same name recreated by another
   * account) wrote.
   */
  cacheNamespace: string;
  /** Sealed `{username, password}` of the build credential. */
  auth: string;
  /** Sealed `{username?, token}` for a private code repository, when bound with one. */
  gitCredentials: string | null;
  timeoutSec: number;
  /** When the build was queued (ms): a tag never moves back to the image of an earlier build. */
  sequence: number;
}

/** The stages a worker reports as the job's progress (`{ stage }`), in order. */
export type Stage = NonNullable<BuildRow["stage"]>;

/** What a worker returns for a build: the job's return value. */
export interface BuildResult {
  commit: string;
  digest: string | null;
  size: number | null;
  tags: string[];
  /** Tags not pushed because a newer build had already pushed them: the build ends superseded. */
  notMovedBack: string[];
}

/**
 * A completed job's result as its build's outcome: superseded when a newer build already held one
 * of its tags. A missing or partial result still ends the build.
 */
export function outcomeOf(result: Partial<BuildResult> | null | undefined): BuildOutcome {
  return {
    status: result?.notMovedBack?.length ? "superseded" : "succeeded",
    digest: result?.digest ?? null,
    size: result?.size ?? null,
    commit: result?.commit ?? null,
  };
}

/**
 * How many of the rule's last images seed a build's cache. The engine's BuildKit (0.8) leaves out
 * of an image's inline cache the steps it took from an imported cache, so the newest image alone
 * would seed every other build only; with the last three, a step that stays the same misses at
 * most once in four cold builds.
 */
const CACHE_SOURCES = 3;

/** The images of the rule's last successful builds, by digest, newest first: their inline caches seed this build. */
function cacheSourcesOf(db: Db, build: BuildRow & { repository: string }, registry: string): string[] {
  if (build.ruleId === null) return [];
  const last = db
    .selectDistinct({ digest: builds.digest, finishedAt: builds.finishedAt })
    .from(builds)
    .where(and(eq(builds.ruleId, build.ruleId), eq(builds.status, "succeeded"), isNotNull(builds.digest)))
    .orderBy(desc(builds.finishedAt))
    .limit(CACHE_SOURCES * 2)
    .all();
  const digests = [...new Set(last.map((r) => r.digest!))].slice(0, CACHE_SOURCES);
  return digests.map((digest) => `${registry}/${build.repository}@${digest}`);
}

export function jobFor(
  db: Db,
  config: Config,
  credentials: RegistryCredentials,
  build: BuildRow & { repository: string; region: string },
): BuildJob {
  const binding = bindingOfRepository(db, build.repositoryId);
  if (!binding) throw new Error(`build ${build.id}: its repository is no longer bound`);
  const registry = config.regions.find((r) => r.id === build.region)!.registry;
  const pushUser = principalOf(db, build.accountId, binding.pushUserId);
  if (!pushUser) throw new Error(`build ${build.id}: its push user no longer exists`);
  const credential = credentials.issueBuildCredential(
    pushUser,
    `${build.region}:${build.repository}`,
    config.buildTimeoutSeconds + 600,
  );
  return {
    buildId: build.id,
    cloneUrl: build.cloneUrl,
    commit: build.commit,
    ref: build.ref,
    // The settings copied when the build was recorded, never the rule's current ones.
    dockerfile: { dir: build.dockerfileDir, name: build.dockerfileName },
    context: build.context ?? "",
    buildArgs: build.buildArgs,
    target: build.target,
    noCache: build.noCache,
    platforms: build.platforms,
    registryCache: build.registryCache ? { from: cacheSourcesOf(db, build, registry) } : null,
    secrets: sealedBuildSecrets(db, build.repositoryId),
    labels: {
      "org.opencontainers.image.source": binding.repoUrl,
      ...(build.commit ? { "org.opencontainers.image.revision": build.commit } : {}),
    },
    image: { registry, repository: build.repository, tags: build.tags },
    cacheNamespace: `kiln-${build.accountId}-${build.repository.split("/")[0]}`,
    auth: seal(config.secretKey, JSON.stringify({ username: credential.username, password: credential.password })),
    gitCredentials: binding.credentialsSealed,
    timeoutSec: config.buildTimeoutSeconds,
    sequence: Date.parse(build.queuedAt),
  };
}
