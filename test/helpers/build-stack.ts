import type { Logger } from "../../src/logger.ts";
import { startBuildWorker } from "../../workers/build-worker.ts";
import { ADMIN_TOKEN } from "./app.ts";
import { assertDockerEngine, ensureBaseImage } from "./docker.ts";
import { startRedis } from "./redis.ts";
import { startKilnWithRegistries } from "./server.ts";

/**
 * What an end-to-end build test stands on: the Docker engine with the busybox base, a Redis of its
 * own, Kiln with the registry of region cn-hongkong (local git allowed), one build worker, and the
 * account `acme`, whose root token is `root`. `stop` ends it all; a test that replaced `worker`
 * closes its own.
 */
export async function startBuildStack(log: Logger) {
  await assertDockerEngine();
  await ensureBaseImage();
  const redis = await startRedis();
  const kiln = await startKilnWithRegistries(["cn-hongkong"], {
    env: { REDIS_URL: redis.url, KILN_ALLOW_LOCAL_GIT: "1" },
    queue: true,
    log,
  });
  const worker = startBuildWorker(kiln.config, log);
  const registry = kiln.registryOf("cn-hongkong");
  const root = (await kiln.call("POST", "/api/v1/accounts", { token: ADMIN_TOKEN, body: { alias: "acme" } })).body
    .rootToken as string;
  return {
    redis,
    kiln,
    worker,
    registry,
    root,
    async stop(current = worker) {
      await current.close();
      await kiln.stop();
      await redis.stop();
    },
  };
}
