import { UnrecoverableError, Worker, type Job } from "bullmq";
import Docker from "dockerode";
import { Redis } from "ioredis";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { join, posix } from "node:path";
import { MAX_LOG_LINES } from "../src/builds/logs.ts";
import { repoPath } from "../src/builds/paths.ts";
import type { BuildJob, BuildResult, Stage } from "../src/builds/job-payload.ts";
import {
  cancelKey,
  HELD_MS,
  heldKey,
  QUEUE_NAME,
  RUN_OUTCOME_SECONDS,
  runOutcomeKey,
  TAG_ORDER_KEY,
  type RunOutcome,
} from "../src/builds/queue.ts";
import type { Config } from "../src/config.ts";
import { unseal } from "../src/crypto/seal.ts";
import type { Logger } from "../src/logger.ts";
import { CacheKeeper } from "./cache-keeper.ts";
import { buildImage, prepareDockerfile, removeImage } from "./docker-build.ts";
import { platformArgs, referencedImages } from "./dockerfile-images.ts";
import { BaseImageError, DeterministicError, DiskFullError } from "./errors.ts";
import { archive, GitMirrors, type GitCredentials } from "./git-mirror.ts";
import { missingSecret } from "./dockerfile-secrets.ts";
import { secretMasker } from "./log-mask.ts";
import { type Built, publish } from "./publish.ts";
import { admitImages, explainRefusedBase, pushedCacheLayers } from "./registry-access.ts";

/** BullMQ's answer when the job's keys are gone from Redis (FLUSHALL, a restart without persistence). */
export const isJobLost = (err: unknown) =>
  /^Missing (key|lock) for job|could not renew lock/.test(String((err as Error)?.message));

/** Where in the repository the context and the Dockerfile are; a path that leaves it is a deterministic failure. */
export function layout(job: Pick<BuildJob, "dockerfile" | "context">): { context: string; dockerfile: string } {
  const dir = repoPath(job.dockerfile.dir, "dockerfile dir");
  const name = repoPath(job.dockerfile.name, "dockerfile name");
  const context = repoPath(job.context || job.dockerfile.dir, "context");
  for (const p of [dir, name, context]) if (!p.ok) throw new DeterministicError(p.reason);
  const full = posix.join((dir as { path: string }).path, (name as { path: string }).path);
  const ctx = (context as { path: string }).path;
  const inside = ctx === "" ? full : posix.relative(ctx, full);
  if (inside.startsWith(".."))
    throw new DeterministicError(`the Dockerfile ${full} is outside the build context ${ctx || "/"}`);
  return { context: ctx, dockerfile: inside };
}

/** Extracts one tree of the mirror into `dest` by piping `git archive` into tar: never held in memory. */
function extract(mirror: string, treeish: string, dest: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const git = archive(mirror, treeish);
    const tar = spawn("tar", ["-x", "-C", dest], { stdio: ["pipe", "ignore", "pipe"] });
    let err = "";
    git.stderr.on("data", (d) => (err += d));
    tar.stderr!.on("data", (d) => (err += d));
    git.stdout.pipe(tar.stdin!);
    tar.on("close", (code) =>
      code === 0 ? resolve() : reject(new DeterministicError(`could not read ${treeish}: ${err.trim()}`)),
    );
    git.on("error", reject);
  });
}

/**
 * The BullMQ processor: fetch → context → build → push. It never opens SQLite; stages go out as
 * progress, output lines as job logs, the digest as the result.
 */
export function createProcessor(config: Config, docker: Docker, mirrors: GitMirrors, redis: Redis, cache: CacheKeeper) {
  return async (job: Job<BuildJob>): Promise<BuildResult> => {
    const data = job.data;
    // A cancel (or a newer build superseding this one) arrives as a key in Redis.
    const abort = new AbortController();
    // Every second: a cancel? And "a live worker runs this build", a hold that outlives the job's
    // own keys if Redis loses them (the API then waits for this run's outcome instead of re-queuing).
    let polling = false;
    const poll = () => {
      if (polling) return;
      polling = true;
      redis
        .multi()
        .exists(cancelKey(data.buildId))
        .set(heldKey(data.buildId), job.token ?? "1", "PX", HELD_MS)
        .exec()
        .then(
          (r) => (r?.[0]?.[1] as number) > 0 && abort.abort(),
          () => {},
        )
        .finally(() => (polling = false));
    };
    poll();
    const watch = setInterval(poll, 1000);
    // Lines the job could not take because it vanished: they go with the outcome.
    const lostLog: string[] = [];
    let jobLost = false;
    const lose = (err: unknown, line?: string) => {
      if (!isJobLost(err)) return;
      jobLost = true;
      if (line !== undefined && lostLog.length < 2000) lostLog.push(line);
    };
    // Log writes go out in order on one connection: the last one settles after all the others.
    let lastWrite: Promise<unknown> = Promise.resolve();
    /** Leaves the run's end beside the job; read by the API only if the job is gone. */
    const report = async (outcome: RunOutcome) =>
      await lastWrite
        .then(() =>
          redis.set(
            runOutcomeKey(data.buildId),
            JSON.stringify({ ...outcome, ...(jobLost ? { lostLog } : {}) }),
            "EX",
            RUN_OUTCOME_SECONDS,
          ),
        )
        .catch(() => {});
    let timedOut = false;
    const deadline = setTimeout(() => {
      timedOut = true;
      abort.abort();
    }, data.timeoutSec * 1000);
    const canceled = () => abort.signal.aborted;
    const stopReason = () => (timedOut ? `timed out after ${data.timeoutSec} s` : "canceled");
    // The log is capped where it is written, so that a chatty build cannot fill Redis; build
    // secrets are masked there too, once known.
    let lines = 0;
    let mask = (line: string) => line;
    const log = (line: string) => {
      lines++;
      const kept =
        lines < MAX_LOG_LINES
          ? line
          : lines === MAX_LOG_LINES
            ? `[log truncated: more than ${MAX_LOG_LINES} lines]`
            : undefined;
      // A job that vanished from Redis rejects every write: the build goes on regardless.
      if (kept === undefined) return;
      const shown = mask(kept);
      lastWrite = job.log(shown).catch((err) => lose(err, shown));
    };
    const stage = async (name: Stage) => {
      log(`==> ${name}`);
      await job.updateProgress({ stage: name }).catch((err) => lose(err));
    };
    /** After Redis lost its data, a tag is claimed only once the API has restored the tag order. */
    const tagOrderKnown = async () => {
      let said = false;
      while ((await redis.exists(TAG_ORDER_KEY)) === 0) {
        if (canceled()) throw new DeterministicError(stopReason());
        if (!said) log("Redis lost its data: waiting for Kiln to restore the tag order before pushing");
        said = true;
        await new Promise((r) => setTimeout(r, 500));
      }
    };
    const workDir = mkdtempSync(join(config.dataDir, "work-"));
    const imageIds: string[] = [];
    let diskFull = false;
    cache.buildStarted();
    try {
      // Unsealed first, so that no line of this run can print a secret unmasked.
      const secrets = Object.fromEntries(
        Object.entries(data.secrets ?? {}).map(([id, sealed]) => [id, unseal(config.secretKey, sealed)]),
      );
      mask = secretMasker(Object.values(secrets));
      await stage("fetch");
      const creds = data.gitCredentials
        ? (JSON.parse(unseal(config.secretKey, data.gitCredentials)) as GitCredentials)
        : undefined;
      const { mirror, commit } = await mirrors.fetch(data.cloneUrl, data.ref, data.commit, creds);
      log(`commit ${commit}`);
      const where = layout(data);
      await extract(mirror, where.context ? `${commit}:${where.context}` : commit, workDir);

      await stage("build");
      const auth = JSON.parse(unseal(config.secretKey, data.auth)) as { username: string; password: string };
      const labels = {
        ...data.labels,
        "org.opencontainers.image.revision": commit,
        "org.opencontainers.image.created": new Date().toISOString(),
        "kiln.build.id": data.buildId,
      };
      const spec = {
        contextDir: workDir,
        dockerfile: where.dockerfile,
        buildArgs: data.buildArgs,
        target: data.target,
        noCache: data.noCache,
        labels,
        cacheNamespace: data.cacheNamespace,
        registry: { host: data.image.registry, login: auth },
        secrets,
        registryCache: data.registryCache ?? null,
      };
      const dockerfile = prepareDockerfile(workDir, where.dockerfile, log);
      const noSecret = missingSecret(dockerfile, Object.keys(secrets));
      if (noSecret) throw new DeterministicError(noSecret);
      const platforms = data.platforms ?? [];
      const own = await docker.version().then((v) => `${v.Os}/${v.Arch}`);
      const images = (platforms.length ? platforms : [own]).flatMap((platform) =>
        referencedImages(dockerfile, data.buildArgs, platformArgs(platform, own)),
      );
      await admitImages([...new Set(images)], data.image.registry, auth);
      const build = (platform: string | undefined, onLine: (line: string) => void) =>
        buildImage(docker, { ...spec, platform }, onLine, abort.signal)
          .then((id) => (imageIds.push(id), id))
          .catch(async (err) => {
            throw err instanceof BaseImageError && !canceled()
              ? await explainRefusedBase(err, data.image.registry, auth)
              : err;
          });
      // Each platform is its own BuildKit solve; they run side by side, their lines marked.
      const built: Built =
        platforms.length > 1
          ? {
              platformImages: await Promise.all(
                platforms.map(async (platform) => ({
                  platform,
                  imageId: await build(platform, (line) => log(`[${platform}] ${line}`)),
                })),
              ),
            }
          : { imageId: await build(platforms[0], log) };
      if (canceled()) throw new DeterministicError(stopReason());

      await stage("push");
      const { digest, size, notMovedBack } = await publish(
        {
          docker,
          redis,
          job: data,
          login: auth,
          scratchDir: workDir,
          log,
          stopped: canceled,
          beforeClaim: async () => {
            if (canceled()) throw new DeterministicError(stopReason());
            await tagOrderKnown();
          },
        },
        built,
      );
      // Read once the image is in the registry; the API prefers the fullest caches as sources.
      const cacheLayers =
        data.registryCache && digest
          ? await pushedCacheLayers(data.image.registry, data.image.repository, digest, auth)
          : undefined;
      const result = {
        commit,
        digest,
        size,
        tags: data.image.tags,
        notMovedBack,
        ...(cacheLayers === undefined ? {} : { cacheLayers }),
      };
      await report({ result });
      return result;
    } catch (err) {
      diskFull = !canceled() && DiskFullError.matches(err);
      const message = mask(canceled() ? stopReason() : diskFull ? DiskFullError.describe(err) : (err as Error).message);
      log(`error: ${message}`);
      const final = canceled() || diskFull || err instanceof DeterministicError || err instanceof UnrecoverableError;
      await report({ error: message, final });
      if (final) throw new UnrecoverableError(message);
      throw Object.assign(err as Error, { message });
    } finally {
      clearInterval(watch);
      clearTimeout(deadline);
      await redis.del(heldKey(data.buildId)).catch(() => {});
      rmSync(workDir, { recursive: true, force: true });
      // An image was named only while pushed; unnamed now, it goes (its layers stay in BuildKit's cache).
      for (const id of imageIds) await removeImage(docker, id);
      cache.buildEnded(diskFull);
    }
  };
}

export function startBuildWorker(config: Config, log: Logger): Worker<BuildJob, BuildResult> {
  // A unix socket named in the config is this worker's engine; otherwise dockerode reads DOCKER_HOST itself.
  const socketPath = config.dockerHost?.startsWith("unix://") ? config.dockerHost.slice("unix://".length) : undefined;
  const docker = socketPath ? new Docker({ socketPath }) : new Docker();
  const mirrors = new GitMirrors(join(config.dataDir, "git"));
  const connection = new Redis(config.redisUrl, { maxRetriesPerRequest: null });
  connection.on("error", () => {});
  const commands = new Redis(config.redisUrl, { maxRetriesPerRequest: null });
  commands.on("error", () => {});
  const cache = new CacheKeeper(docker, config.buildCacheBytes, log);
  const worker = new Worker<BuildJob, BuildResult>(
    QUEUE_NAME,
    createProcessor(config, docker, mirrors, commands, cache),
    {
      connection,
      concurrency: config.workerConcurrency,
      // A worker killed mid-build stops renewing its lock; another takes the job up after this long.
      lockDuration: config.workerLockSeconds * 1000,
      stalledInterval: config.workerLockSeconds * 1000,
    },
  );
  worker.on("closed", () => commands.disconnect());
  worker.on("failed", (job, err) => log.warn({ build: job?.id, err: err.message }, "build failed"));
  worker.on("completed", (job) => log.info({ build: job.id }, "build succeeded"));
  worker.on("error", (err) =>
    isJobLost(err)
      ? log.info({ err: err.message }, "a build's job vanished from Redis; its run reports through its outcome key")
      : log.warn({ err: err.message }, "worker error"),
  );
  return worker;
}
