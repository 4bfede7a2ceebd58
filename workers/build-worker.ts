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
  tagKey,
  type RunOutcome,
} from "../src/builds/queue.ts";
import type { Config } from "../src/config.ts";
import { unseal } from "../src/crypto/seal.ts";
import type { Logger } from "../src/logger.ts";
import { CacheKeeper } from "./cache-keeper.ts";
import { buildImage, prepareDockerfile, pushImage, removeImage, tagImage, untagImage } from "./docker-build.ts";
import { referencedImages } from "./dockerfile-images.ts";
import { BaseImageError, DeterministicError, DiskFullError } from "./errors.ts";
import { archive, GitMirrors, type GitCredentials } from "./git-mirror.ts";
import { admitImages, digestPushedBy, explainRefusedBase } from "./registry-access.ts";

/**
 * Claims an image name for a build unless a newer build holds it; atomic in Redis. Builds are
 * ordered by (sequence, build id), so that two builds queued in the same millisecond are ordered
 * too: the key holds "<sequence> <build id>" (a bare sequence, as older workers wrote it, has no id).
 */
const CLAIM_TAG = `
local current = redis.call('GET', KEYS[1])
local seq, id = string.match(current or '', '^(%d+) ?(.*)$')
if seq then
  local theirs, mine = tonumber(seq), tonumber(ARGV[1])
  if theirs > mine or (theirs == mine and id > ARGV[2]) then return 0 end
end
redis.call('SET', KEYS[1], ARGV[1] .. ' ' .. ARGV[2])
return 1`;

/** True when the build may push `name`: no newer build (by sequence, then build id) has claimed it. */
export async function claimTag(redis: Redis, name: string, sequence: number, buildId: string): Promise<boolean> {
  return (await redis.eval(CLAIM_TAG, 1, tagKey(name), String(sequence), buildId)) === 1;
}

/** Takes (or renews) the push lock of an image name for a build; another build's lock is left alone. */
const LOCK_PUSH = `
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1`;
const UNLOCK_PUSH = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;
const pushLockKey = (name: string) => `kiln:tag-push:${name}`;
/** A lock outlives its worker by at most this long; a live holder renews it every third of it. */
const PUSH_LOCK_MS = 30_000;

/**
 * Runs the claim and the push of one image name while holding the name's push lock, so that the
 * registry receives the pushes of one tag one at a time, in the order their claims were granted:
 * an older build still pushing when a newer one claims cannot land its manifest last.
 */
export async function whileHoldingTag<T>(
  redis: Redis,
  name: string,
  buildId: string,
  stopped: () => boolean,
  log: (line: string) => void,
  run: () => Promise<T>,
): Promise<T> {
  const key = pushLockKey(name);
  let waited = false;
  while ((await redis.eval(LOCK_PUSH, 1, key, buildId, String(PUSH_LOCK_MS))) === 0) {
    if (stopped()) throw new DeterministicError("stopped while waiting to push");
    if (!waited) log(`waiting for another build's push of ${name}`);
    waited = true;
    await new Promise((r) => setTimeout(r, 250));
  }
  const renew = setInterval(() => {
    redis.eval(LOCK_PUSH, 1, key, buildId, String(PUSH_LOCK_MS)).catch(() => {});
  }, PUSH_LOCK_MS / 3);
  try {
    return await run();
  } finally {
    clearInterval(renew);
    await redis.eval(UNLOCK_PUSH, 1, key, buildId).catch(() => {});
  }
}

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
    // The log is capped where it is written, so that a chatty build cannot fill Redis.
    let lines = 0;
    const log = (line: string) => {
      lines++;
      const kept =
        lines < MAX_LOG_LINES
          ? line
          : lines === MAX_LOG_LINES
            ? `[log truncated: more than ${MAX_LOG_LINES} lines]`
            : undefined;
      // A job that vanished from Redis rejects every write: the build goes on regardless.
      if (kept !== undefined) lastWrite = job.log(kept).catch((err) => lose(err, kept));
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
    const names = data.image.tags.map((t) => `${data.image.registry}/${data.image.repository}:${t}`);
    let imageId: string | undefined;
    let diskFull = false;
    cache.buildStarted();
    try {
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
      };
      const dockerfile = prepareDockerfile(workDir, where.dockerfile, log);
      await admitImages(referencedImages(dockerfile, data.buildArgs), data.image.registry, auth);
      imageId = await buildImage(docker, spec, log, abort.signal).catch(async (err) => {
        throw err instanceof BaseImageError && !canceled()
          ? await explainRefusedBase(err, data.image.registry, auth)
          : err;
      });
      if (canceled()) throw new DeterministicError(stopReason());

      await stage("push");
      let pushed: { digest?: string; size?: number } = {};
      const notMovedBack: string[] = [];
      for (const [i, name] of names.entries()) {
        const tag = data.image.tags[i]!;
        if (canceled()) throw new DeterministicError(stopReason());
        await tagOrderKnown();
        await whileHoldingTag(redis, name, data.buildId, canceled, log, async () => {
          if (!(await claimTag(redis, name, data.sequence, data.buildId))) {
            log(`${name} already holds a newer build's image: not moved back`);
            notMovedBack.push(tag);
            return;
          }
          // A worker killed mid-push leaves the engine to finish it: this build's image may be there already.
          const earlier = await digestPushedBy(
            data.image.registry,
            data.image.repository,
            tag,
            data.buildId,
            auth,
          ).catch((err: Error) => {
            throw new Error(`push of ${data.image.repository}:${tag} failed: ${err.message}`);
          });
          if (earlier) {
            log(`${name} already holds this build's image (an earlier attempt pushed it): not pushed again`);
            pushed = { digest: earlier };
            return;
          }
          // Names are the engine's, shared by every build on it: this one names its image only
          // while it holds the tag's push lock, so another build cannot rename it mid-push.
          await tagImage(docker, imageId!, [name]);
          try {
            pushed = await pushImage(docker, name, { ...auth, serveraddress: data.image.registry }, log);
          } finally {
            await untagImage(docker, imageId!, [name]);
          }
        });
      }
      const result = {
        commit,
        digest: pushed.digest ?? null,
        size: pushed.size ?? null,
        tags: data.image.tags,
        notMovedBack,
      };
      await report({ result });
      return result;
    } catch (err) {
      diskFull = !canceled() && DiskFullError.matches(err);
      const message = canceled() ? stopReason() : diskFull ? DiskFullError.describe(err) : (err as Error).message;
      log(`error: ${message}`);
      const final = canceled() || diskFull || err instanceof DeterministicError || err instanceof UnrecoverableError;
      await report({ error: message, final });
      if (final) throw new UnrecoverableError(message);
      throw err;
    } finally {
      clearInterval(watch);
      clearTimeout(deadline);
      await redis.del(heldKey(data.buildId)).catch(() => {});
      rmSync(workDir, { recursive: true, force: true });
      // The image was named only while pushed; unnamed now, it goes (its layers stay in BuildKit's cache).
      if (imageId) await removeImage(docker, imageId);
      cache.buildEnded(diskFull);
    }
  };
}

export function startBuildWorker(config: Config, log: Logger): Worker<BuildJob, BuildResult> {
  // dockerode reads DOCKER_HOST itself, else the local socket.
  const docker = new Docker();
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
