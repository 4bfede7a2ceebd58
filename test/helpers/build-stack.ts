import { expect } from "vitest";
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
  /**
   * A private repository `ns/name` of cn-hongkong bound to the git repository in `sourceDir`, pushed
   * by `pushUser`, with one rule on main (`rule` over the defaults; tag `{shortsha}`). Returns the
   * binding's webhook secret.
   */
  async function buildableRepository(
    path: string,
    sourceDir: string,
    rule: Record<string, unknown>,
    pushUser = "ci",
  ): Promise<string> {
    const [namespace, name] = path.split("/");
    const api = `/api/v1/regions/cn-hongkong/repositories/${path}`;
    const created = await kiln.call("POST", "/api/v1/regions/cn-hongkong/repositories", {
      token: root,
      body: { namespace, name, visibility: "private" },
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const bound = await kiln.call("PUT", `${api}/source`, {
      token: root,
      body: { provider: "git", repoUrl: `file://${sourceDir}`, pushUser },
    });
    expect(bound.status, JSON.stringify(bound.body)).toBe(200);
    const added = await kiln.call("POST", `${api}/build-rules`, {
      token: root,
      body: { sourceType: "branch", source: "main", tags: ["{shortsha}"], ...rule },
    });
    expect(added.status, JSON.stringify(added.body)).toBe(201);
    return bound.body.webhookSecret as string;
  }
  return {
    buildableRepository,
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
