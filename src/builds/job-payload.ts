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
  /** How many of the pushed image's layers its inline cache gives back (absent: unknown). */
  cacheLayers?: number;
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
    cacheLayers: result?.cacheLayers ?? null,
  };
}

/** How many of the rule's newest images seed a build's cache, besides its fullest recent one. */
const NEWEST_SOURCES = 2;
/** The builds among which the fullest cache is looked for: an older one may be of an older Dockerfile. */
const FULLEST_WITHIN = 20;

/**
 * The images whose inline caches seed a build: the rule's two newest successful images (they hold
 * what changed lately) and, of its last 20, the newest whose inline cache gives back the most
 * layers. The engine's BuildKit (0.8) leaves out of an image's inline cache the steps it took from
 * an imported cache, so the newest images alone would lose an unchanged step after a few cold
 * builds; the fullest one keeps it. By digest, newest first, without repeats.
 */
async function cacheSourcesOf(db: Db, build: BuildRow & { repository: string }, registry: string): Promise<string[]> {
  if (build.ruleId === null) return [];
  const ofRule = and(eq(builds.ruleId, build.ruleId), eq(builds.status, "succeeded"), isNotNull(builds.digest));
  const newest = await db
    .select({ digest: builds.digest })
    .from(builds)
    .where(ofRule)
    .orderBy(desc(builds.finishedAt))
    .limit(NEWEST_SOURCES * 2)
    .all();
  const recent = await db
    .select({ digest: builds.digest, cacheLayers: builds.cacheLayers })
    .from(builds)
    .where(ofRule)
    .orderBy(desc(builds.finishedAt))
    .limit(FULLEST_WITHIN)
    .all();
  // Newest first: on a tie the newer image wins.
  const fullest = recent.reduce<(typeof recent)[number] | undefined>(
    (best, r) => ((r.cacheLayers ?? 0) > (best?.cacheLayers ?? 0) ? r : best),
    undefined,
  );
  const digests = [...new Set(newest.map((r) => r.digest!))].slice(0, NEWEST_SOURCES);
  if (fullest?.digest && !digests.includes(fullest.digest)) digests.push(fullest.digest);
  return digests.map((digest) => `${registry}/${build.repository}@${digest}`);
}

export async function jobFor(
  db: Db,
  config: Config,
  credentials: RegistryCredentials,
  build: BuildRow & { repository: string; region: string },
): Promise<BuildJob> {
  const binding = await bindingOfRepository(db, build.repositoryId);
  if (!binding) throw new Error(`build ${build.id}: its repository is no longer bound`);
  const registry = config.regions.find((r) => r.id === build.region)!.registry;
  const pushUser = await principalOf(db, build.accountId, binding.pushUserId);
  if (!pushUser) throw new Error(`build ${build.id}: its push user no longer exists`);
  const credential = await credentials.issueBuildCredential(
    pushUser,
    `${build.region}:${build.repository}`,
    config.buildTimeoutSeconds + 600,
  );
  const registryCache = build.registryCache ? { from: await cacheSourcesOf(db, build, registry) } : null;
  const secrets = await sealedBuildSecrets(db, build.repositoryId);
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
    registryCache,
    secrets,
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
