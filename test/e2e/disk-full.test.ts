import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readdirSync, rmSync, statfsSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
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

/** A code repository with a Dockerfile and, optionally, a file of `bytes` random (incompressible) bytes. */
function sourceWith(bytes: number) {
  const source = makeGitRepo();
  writeFileSync(join(source.dir, "Dockerfile"), `FROM ${BASE_IMAGE}\nRUN echo built > /built\n`);
  if (bytes) writeFileSync(join(source.dir, "payload.bin"), randomBytes(bytes));
  source.git("add", ".");
  source.git("commit", "--quiet", "-m", "source");
  return source;
}

describe("a full disk fails the build with a clear message and does not wedge the worker (a real 8 MB tmpfs as the worker's data dir)", () => {
  let kiln: Awaited<ReturnType<typeof startKilnWithRegistries>>;
  let redis: Awaited<ReturnType<typeof startRedis>>;
  let worker: ReturnType<typeof startBuildWorker>;
  let root: string;
  const small = mkdtempSync(join(tmpdir(), "kiln-small-disk-"));
  const repos = { big: sourceWith(16 * 1024 * 1024), fine: sourceWith(0) };
  const pathOf = (name: string) => `/api/v1/regions/cn-hongkong/repositories/alitest1/${name}`;
  const buildOf = async (id: string) => (await kiln.call("GET", `/api/v1/builds/${id}`, { token: root })).body;
  const build = async (name: string) =>
    (await kiln.call("POST", `${pathOf(name)}/builds`, { token: root, body: { ref: "main" } })).body.builds[0]
      .id as string;
  const ended = async (id: string) => {
    await waitUntil(
      async () => !["queued", "running"].includes((await buildOf(id)).status),
      () => `build ${id} did not end`,
      90_000,
    );
    return buildOf(id);
  };

  beforeAll(async () => {
    await assertDockerEngine();
    await ensureBaseImage();
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=8m", "tmpfs", small]);
    redis = await startRedis();
    kiln = await startKilnWithRegistries(["cn-hongkong"], {
      env: { REDIS_URL: redis.url, KILN_ALLOW_LOCAL_GIT: "1" },
      queue: true,
    });
    // The worker alone keeps its git mirrors and work trees on the small disk.
    worker = startBuildWorker({ ...kiln.config, dataDir: small }, createLogger("silent"));
    ({ root } = await seedBuildableRepository(kiln.call, "big"));
    await kiln.call("POST", "/api/v1/regions/cn-hongkong/repositories", {
      token: root,
      body: { namespace: "alitest1", name: "fine" },
    });
    for (const [name, source] of Object.entries(repos)) {
      await kiln.call("PUT", `${pathOf(name)}/source`, {
        token: root,
        body: { provider: "git", repoUrl: `file://${source.dir}`, pushUser: "ci" },
      });
      await kiln.call("POST", `${pathOf(name)}/build-rules`, {
        token: root,
        body: { sourceType: "branch", source: "main", tags: ["{sourceref}"] },
      });
    }
  }, 120_000);

  afterAll(async () => {
    await worker?.close();
    await kiln?.stop();
    await redis?.stop();
    execFileSync("umount", ["-l", small]);
    rmSync(small, { recursive: true, force: true });
  });

  it("the build that fills the disk fails at once, saying so; the disk is given back and the next build succeeds", async () => {
    const failed = await ended(await build("big"));
    expect(failed.status).toBe("failed");
    expect(failed.error).toMatch(/^the worker's disk is full: .*No space left on device/);
    const log = (await kiln.call("GET", `/api/v1/builds/${failed.id}/logs`, { token: root })).body.lines as string[];
    expect(
      log.filter((l) => l === "==> fetch"),
      "failed on the first attempt, without retrying",
    ).toHaveLength(1);
    // The half-fetched mirror went with the failure: the disk is not left full.
    const disk = statfsSync(small);
    expect(disk.bavail / disk.blocks, "free share of the small disk").toBeGreaterThan(0.9);

    const next = await ended(await build("fine"));
    expect([next.status, next.error]).toEqual(["succeeded", undefined]);
    expect(readdirSync(join(small, "git")).length, "one mirror: the fine repository's").toBe(1);
  });
});
