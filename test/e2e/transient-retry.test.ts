import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "../../src/logger.ts";
import { startBuildWorker } from "../../workers/build-worker.ts";
import { assertDockerEngine, BASE_IMAGE, ensureBaseImage } from "../helpers/docker.ts";
import { makeGitRepo } from "../helpers/git.ts";
import { waitUntil } from "../helpers/net.ts";
import { startRedis } from "../helpers/redis.ts";
import { seedBuildableRepository } from "../helpers/seed.ts";
import { startKilnWithRegistries } from "../helpers/server.ts";

describe("a transient failure is retried with backoff: the registry is down at push time, then back (real Docker, registry, Redis)", () => {
  let kiln: Awaited<ReturnType<typeof startKilnWithRegistries>>;
  let redis: Awaited<ReturnType<typeof startRedis>>;
  let worker: ReturnType<typeof startBuildWorker>;
  let root: string;
  const repoPath = "/api/v1/regions/cn-hongkong/repositories/alitest1/flaky";
  const source = makeGitRepo();
  writeFileSync(join(source.dir, "Dockerfile"), `FROM ${BASE_IMAGE}\nRUN echo flaky > /flaky\n`);
  source.git("add", ".");
  source.git("commit", "--quiet", "-m", "flaky");
  const buildOf = async (id: string) => (await kiln.call("GET", `/api/v1/builds/${id}`, { token: root })).body;
  const logOf = async (id: string) =>
    (await kiln.call("GET", `/api/v1/builds/${id}/logs`, { token: root })).body.lines as string[];

  beforeAll(async () => {
    await assertDockerEngine();
    await ensureBaseImage();
    redis = await startRedis();
    kiln = await startKilnWithRegistries(["cn-hongkong"], {
      env: { REDIS_URL: redis.url, KILN_ALLOW_LOCAL_GIT: "1" },
      queue: true,
    });
    worker = startBuildWorker(kiln.config, createLogger("silent"));
    ({ root } = await seedBuildableRepository(kiln.call, "flaky"));
    await kiln.call("PUT", `${repoPath}/source`, {
      token: root,
      body: { provider: "git", repoUrl: `file://${source.dir}`, pushUser: "ci" },
    });
    await kiln.call("POST", `${repoPath}/build-rules`, {
      token: root,
      body: { sourceType: "branch", source: "main", tags: ["{sourceref}"] },
    });
  }, 120_000);

  afterAll(async () => {
    await worker?.close();
    await kiln?.stop();
    await redis?.stop();
  });

  it("the failed push is tried again after the backoff and the build succeeds; meanwhile it is not reported failed", async () => {
    await kiln.stopRegistry("cn-hongkong");
    const id: string = (await kiln.call("POST", `${repoPath}/builds`, { token: root, body: { ref: "main" } })).body
      .builds[0].id;
    await waitUntil(
      async () => (await logOf(id)).some((l) => /^error: push of .* failed/.test(l)),
      () => `no failed push in ${JSON.stringify(id)}`,
      60_000,
    );
    expect((await buildOf(id)).status, "a failure that will be retried does not end the build").toBe("running");

    await kiln.startRegistry("cn-hongkong");
    await waitUntil(
      async () => !["queued", "running"].includes((await buildOf(id)).status),
      () => `build ${id} did not end`,
      60_000,
    );
    const build = await buildOf(id);
    expect([build.status, build.error]).toEqual(["succeeded", undefined]);
    expect(build.digest).toMatch(/^sha256:/);
    const log = await logOf(id);
    expect(log.filter((l) => l === "==> push").length, "two attempts at the push").toBe(2);
    await waitUntil(
      async () =>
        (await kiln.call("GET", `${repoPath}/tags`, { token: root })).body.tags.some(
          (t: { tag: string }) => t.tag === "main",
        ),
      () => "tag not recorded",
    );
  });
});
