import { eq, sql } from "drizzle-orm";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { rows } from "../../src/db/connection.ts";
import { builds } from "../../src/db/schema.ts";
import { createLogger } from "../../src/logger.ts";
import { startBuildWorker } from "../../workers/build-worker.ts";
import { ADMIN_TOKEN } from "../helpers/app.ts";
import { assertDockerEngine, BASE_IMAGE, ensureBaseImage } from "../helpers/docker.ts";
import { makeGitRepo } from "../helpers/git.ts";
import { waitUntil } from "../helpers/net.ts";
import { startRedis } from "../helpers/redis.ts";
import { startKilnWithRegistries } from "../helpers/server.ts";

const ROOT = new URL("../..", import.meta.url).pathname;

describe("a worker killed with SIGKILL mid-push: another takes the job up and the build finishes, pushed once", () => {
  let kiln: Awaited<ReturnType<typeof startKilnWithRegistries>>;
  let redis: Awaited<ReturnType<typeof startRedis>>;
  let doomed: ChildProcess | undefined;
  let survivor: ReturnType<typeof startBuildWorker> | undefined;
  let logs = "";

  beforeAll(async () => {
    await assertDockerEngine();
    await ensureBaseImage();
    redis = await startRedis();
    kiln = await startKilnWithRegistries(["cn-hongkong"], {
      env: {
        REDIS_URL: redis.url,
        KILN_ALLOW_LOCAL_GIT: "1",
        KILN_WORKER_LOCK_SECONDS: "3",
        KILN_BUILD_TIMEOUT_SECONDS: "8",
      },
      queue: true,
      proxy: true,
    });
  }, 60_000);
  afterAll(async () => {
    doomed?.kill("SIGKILL");
    await survivor?.close();
    await kiln?.stop();
    await redis?.stop();
  });

  it("builds and pushes exactly once", async () => {
    const { dir, git } = makeGitRepo();
    writeFileSync(join(dir, "Dockerfile"), `FROM ${BASE_IMAGE}\nRUN sleep 4 && echo slow-${Date.now()} > /built\n`);
    git("add", ".");
    git("commit", "--quiet", "-m", "slow");
    const root = (await kiln.call("POST", "/api/v1/accounts", { token: ADMIN_TOKEN, body: { alias: "acme" } })).body
      .rootToken;
    await kiln.call("POST", "/api/v1/namespaces", { token: root, body: { name: "alitest1" } });
    await kiln.call("POST", "/api/v1/regions/cn-hongkong/repositories", {
      token: root,
      body: { namespace: "alitest1", name: "app" },
    });
    await kiln.call("POST", "/api/v1/users", { token: root, body: { name: "ci" } });
    await kiln.call("POST", "/api/v1/users/ci/policies", {
      token: root,
      body: { policyName: "AliyunContainerRegistryFullAccess" },
    });
    const repoPath = "/api/v1/regions/cn-hongkong/repositories/alitest1/app";
    const bound = (
      await kiln.call("PUT", `${repoPath}/source`, {
        token: root,
        body: { provider: "git", repoUrl: `file://${dir}`, pushUser: "ci" },
      })
    ).body;
    await kiln.call("POST", `${repoPath}/build-rules`, {
      token: root,
      body: { sourceType: "branch", source: "main", tags: ["latest"] },
    });

    // Worker A: its own process, sharing only Redis and the secret key with the API.
    doomed = spawn(process.execPath, ["--import", "tsx", "src/main.ts"], {
      cwd: ROOT,
      env: {
        ...process.env,
        KILN_ROLE: "worker",
        REDIS_URL: redis.url,
        KILN_DATA_DIR: mkdtempSync(join(tmpdir(), "kiln-worker-")),
        KILN_SECRET_KEY: kiln.config.secretKey.toString("hex"),
        KILN_WORKER_LOCK_SECONDS: "3",
        LOG_LEVEL: "info",
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    doomed.stdout!.on("data", (d) => (logs += d));
    doomed.stderr!.on("data", (d) => (logs += d));

    const answer = (await (
      await fetch(bound.webhookUrl, {
        method: "POST",
        headers: { authorization: `Bearer ${bound.webhookSecret}`, "content-type": "application/json" },
        body: JSON.stringify({ ref: "refs/heads/main", commit: git("rev-parse", "HEAD") }),
      })
    ).json()) as { builds: { id: string }[] };
    const id = answer.builds[0]!.id;
    const build = async () => (await kiln.call("GET", `/api/v1/builds/${id}`, { token: root })).body;
    // Worker A is killed in its push: its layers are in the registry and its manifest PUT (the
    // push's last step, which makes the tag) is held at the registry's door by the test's proxy.
    const proxy = kiln.proxyOf("cn-hongkong");
    proxy.hold();
    await waitUntil(
      async () => proxy.held() > 0,
      () => `worker A never reached its manifest PUT: ${logs}`,
      60_000,
    );
    expect((await build()).stage).toBe("push");
    doomed.kill("SIGKILL");
    await new Promise((r) => doomed!.once("exit", r));
    // If the engine drops the dead worker's push, its PUT goes away; if it goes on with it, the
    // PUT reaches the registry (as it would have without the hold) and counts as a push below.
    await waitUntil(
      async () => proxy.held() === 0,
      () => "",
      10_000,
    ).catch(() => {});
    expect(proxy.puts, "nothing pushed before the kill").toEqual([]);
    proxy.release();

    // Worker B picks the stalled job up once A's lock lapses.
    let last: any;
    survivor = startBuildWorker(kiln.config, createLogger("silent"));
    await waitUntil(
      async () => ["succeeded", "failed"].includes((last = await build()).status),
      () => `the build did not finish: ${JSON.stringify(last)}`,
      90_000,
    );
    expect([last.status, last.error]).toEqual(["succeeded", undefined]);
    const digest = last.digest;
    // Counted at the registry's door: the manifest PUTs of the tag the registry took.
    const puts = proxy.puts.filter((p) => p.tag === "latest" && p.status === 201).map((p) => p.digest);
    expect(puts, "one build, one push of its tag: the build's own image").toEqual([digest]);
    // The registry's notifications say the same.
    const pushes = async () =>
      (
        await rows<{ digest: string }>(
          kiln.deps.db,
          sql`select digest from registry_events where action = 'push' and repository = 'alitest1/app' and tag = 'latest'`,
        )
      ).map((e) => e.digest);
    await waitUntil(
      async () => (await pushes()).length >= puts.length,
      () => "the registry did not report the push",
    );
    expect(await pushes()).toEqual([digest]);
  });

  it("a build that outlives KILN_BUILD_TIMEOUT_SECONDS is stopped and fails, without retrying", async () => {
    const { dir, git } = makeGitRepo();
    writeFileSync(join(dir, "Dockerfile"), `FROM ${BASE_IMAGE}\nRUN sleep 60 && echo ${Date.now()}\n`);
    git("add", ".");
    git("commit", "--quiet", "-m", "too slow");
    const root = (await kiln.call("POST", "/api/v1/accounts", { token: ADMIN_TOKEN, body: { alias: "slowco" } })).body
      .rootToken;
    await kiln.call("POST", "/api/v1/namespaces", { token: root, body: { name: "slowns" } });
    await kiln.call("POST", "/api/v1/regions/cn-hongkong/repositories", {
      token: root,
      body: { namespace: "slowns", name: "app" },
    });
    await kiln.call("POST", "/api/v1/users", { token: root, body: { name: "ci" } });
    await kiln.call("POST", "/api/v1/users/ci/policies", {
      token: root,
      body: { policyName: "AliyunContainerRegistryFullAccess" },
    });
    const repoPath = "/api/v1/regions/cn-hongkong/repositories/slowns/app";
    await kiln.call("PUT", `${repoPath}/source`, {
      token: root,
      body: { provider: "git", repoUrl: `file://${dir}`, pushUser: "ci" },
    });
    await kiln.call("POST", `${repoPath}/build-rules`, {
      token: root,
      body: { sourceType: "branch", source: "main", tags: ["latest"] },
    });
    const started = Date.now();
    const [build] = (await kiln.call("POST", `${repoPath}/builds`, { token: root, body: { ref: "main" } })).body.builds;
    await waitUntil(
      async () => (await kiln.call("GET", `/api/v1/builds/${build.id}`, { token: root })).body.status === "failed",
      () => "the build did not time out",
      40_000,
    );
    const record = (await kiln.call("GET", `/api/v1/builds/${build.id}`, { token: root })).body;
    expect(record.error).toBe("timed out after 8 s");
    expect(Date.now() - started).toBeLessThan(20_000);
  });

  it("on start, the API takes the outcome of jobs that finished while it was not listening", async () => {
    const db = kiln.deps.db;
    const done = (await db
      .select({ id: builds.id, digest: builds.digest })
      .from(builds)
      .where(eq(builds.status, "succeeded"))
      .limit(1)
      .get())!;
    // As if the completion event had been missed: the record still says running.
    await db
      .update(builds)
      .set({ status: "running", digest: null, finishedAt: null })
      .where(eq(builds.id, done.id))
      .run();
    await kiln.deps.dispatcher!.reconcile();
    expect(
      await db
        .select({ status: builds.status, digest: builds.digest })
        .from(builds)
        .where(eq(builds.id, done.id))
        .get(),
    ).toEqual({
      status: "succeeded",
      digest: done.digest,
    });
  });
});
