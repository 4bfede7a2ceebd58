import type Docker from "dockerode";
import type { Redis } from "ioredis";
import type { BuildJob } from "../src/builds/job-payload.ts";
import { TAG_ORDER_KEY, tagKey } from "../src/builds/queue.ts";
import type { RegistryLogin } from "./buildkit/session.ts";
import { pushImage, tagImage, untagImage } from "./docker-build.ts";
import { DeterministicError } from "./errors.ts";
import { digestPushedBy, registryUrl, repositoryToken } from "./registry-access.ts";
import {
  type Descriptor,
  type LayerBlobs,
  platformName,
  pushImageByDigest,
  putIndex,
  RegistryRepository,
} from "./registry-upload.ts";

/** Which gzip blob holds a layer, kept 30 days in Redis; losing it only costs compressing again. */
const LAYER_BLOB_SECONDS = 30 * 24 * 3600;
function layerBlobs(redis: Redis): LayerBlobs {
  const key = (diffId: string) => `kiln:layer-blob:${diffId}`;
  return {
    async get(diffId) {
      const value = await redis.get(key(diffId)).catch(() => null);
      const [digest, size] = value?.split(" ") ?? [];
      return digest && size ? { digest, size: Number(size) } : undefined;
    },
    async set(diffId, blob) {
      await redis.set(key(diffId), `${blob.digest} ${blob.size}`, "EX", LAYER_BLOB_SECONDS).catch(() => {});
    },
  };
}

/**
 * Claims an image name for a build unless a newer build holds it; atomic in Redis. Builds are
 * ordered by (sequence, build id), so that two builds queued in the same millisecond are ordered
 * too: the key holds "<sequence> <build id>" (a bare sequence, as older workers wrote it, has no id).
 */
const CLAIM_TAG = `
if redis.call('EXISTS', KEYS[2]) == 0 then return -1 end
local current = redis.call('GET', KEYS[1])
local seq, id = string.match(current or '', '^(%d+) ?(.*)$')
if seq then
  local theirs, mine = tonumber(seq), tonumber(ARGV[1])
  if theirs > mine or (theirs == mine and id > ARGV[2]) then return 0 end
end
redis.call('SET', KEYS[1], ARGV[1] .. ' ' .. ARGV[2])
return 1`;

/**
 * True when the build may push `name`: no newer build (by sequence, then build id) has claimed it.
 * "order-unknown" when Redis lost its data and the API has not yet restored the tags' order (its
 * marker key is checked in the same script, so a FLUSHALL cannot slip between check and claim).
 */
export async function claimTag(
  redis: Redis,
  name: string,
  sequence: number,
  buildId: string,
): Promise<boolean | "order-unknown"> {
  const answer = await redis.eval(CLAIM_TAG, 2, tagKey(name), TAG_ORDER_KEY, String(sequence), buildId);
  return answer === -1 ? "order-unknown" : answer === 1;
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

/** What a build made: one engine image, or one image per platform (by their engine ids). */
export type Built = { imageId: string } | { platformImages: { platform: string; imageId: string }[] };

export interface Publication {
  digest: string | null;
  size: number | null;
  /** Tags not pushed because a newer build had already pushed them. */
  notMovedBack: string[];
}

export interface PublishContext {
  docker: Docker;
  redis: Redis;
  job: Pick<BuildJob, "buildId" | "sequence" | "image">;
  login: RegistryLogin;
  /** A directory the worker owns for this build (scratch files of an image export). */
  scratchDir: string;
  log: (line: string) => void;
  stopped: () => boolean;
  /** Throws when the build is stopped; waits while the tag order is being restored after data loss. */
  beforeClaim: () => Promise<void>;
}

/**
 * Pushes what the build made under every tag, each while holding the tag's push lock and only if
 * no newer build claimed it. A multi-platform build first pushes each platform's image by digest
 * (no tag), then puts one OCI image index under each tag: a tag is never seen half-published.
 */
export async function publish(ctx: PublishContext, built: Built): Promise<Publication> {
  const { job, log } = ctx;
  let pushTag: (name: string, tag: string) => Promise<{ digest?: string; size?: number }>;
  if ("imageId" in built) {
    pushTag = async (name) => {
      // Names are the engine's, shared by every build on it: this one names its image only
      // while it holds the tag's push lock, so another build cannot rename it mid-push.
      await tagImage(ctx.docker, built.imageId, [name]);
      try {
        return await pushImage(ctx.docker, name, { ...ctx.login, serveraddress: job.image.registry }, log);
      } finally {
        await untagImage(ctx.docker, built.imageId, [name]);
      }
    };
  } else {
    const registry = new RegistryRepository(registryUrl(job.image.registry), job.image.repository, () =>
      repositoryToken(job.image.registry, job.image.repository, ctx.login),
    );
    const images: Descriptor[] = [];
    for (const { platform, imageId } of built.platformImages) {
      if (ctx.stopped()) throw new DeterministicError("stopped");
      log(`pushing the ${platform} image by digest`);
      images.push(await pushImageByDigest(ctx.docker, imageId, registry, layerBlobs(ctx.redis), ctx.scratchDir, log));
    }
    log(`image index of ${images.map((i) => platformName(i.platform!)).join(", ")}`);
    pushTag = async (_name, tag) => {
      const index = await putIndex(registry, tag, images);
      log(`${tag}: digest: ${index.digest} size: ${index.size}`);
      return index;
    };
  }
  let pushed: { digest?: string; size?: number } = {};
  const notMovedBack: string[] = [];
  for (const tag of job.image.tags) {
    const name = `${job.image.registry}/${job.image.repository}:${tag}`;
    await ctx.beforeClaim();
    await whileHoldingTag(ctx.redis, name, job.buildId, ctx.stopped, log, async () => {
      let claimed: boolean | "order-unknown";
      while ((claimed = await claimTag(ctx.redis, name, job.sequence, job.buildId)) === "order-unknown")
        await ctx.beforeClaim();
      if (!claimed) {
        log(`${name} already holds a newer build's image: not moved back`);
        notMovedBack.push(tag);
        return;
      }
      // A worker killed mid-push leaves the engine to finish it: this build's image may be there already.
      const earlier = await digestPushedBy(job.image.registry, job.image.repository, tag, job.buildId, ctx.login).catch(
        (err: Error) => {
          throw new Error(`push of ${job.image.repository}:${tag} failed: ${err.message}`);
        },
      );
      if (earlier) {
        log(`${name} already holds this build's image (an earlier attempt pushed it): not pushed again`);
        pushed = { digest: earlier };
        return;
      }
      pushed = await pushTag(name, tag);
    });
  }
  return { digest: pushed.digest ?? null, size: pushed.size ?? null, notMovedBack };
}
