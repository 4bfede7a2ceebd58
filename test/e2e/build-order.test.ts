import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "../../src/logger.ts";
import { startBuildWorker } from "../../workers/build-worker.ts";
import { ADMIN_TOKEN } from "../helpers/app.ts";
import { assertDockerEngine, BASE_IMAGE, docker, ensureBaseImage } from "../helpers/docker.ts";
import { makeGitRepo } from "../helpers/git.ts";
import { waitUntil } from "../helpers/net.ts";
import { startRedis } from "../helpers/redis.ts";
import { startKilnWithRegistries } from "../helpers/server.ts";

/** Each Dockerfile writes what it is to /out; the image prints it. */
const DOCKERFILES: Record<string, string> = {
  // The rule-settings case: which Dockerfile, and which build arg, a build was queued with.
  "Dockerfile.original": 'ARG MSG\nRUN echo "original $MSG" > /out',
  "Dockerfile.edited": 'ARG MSG\nRUN echo "edited $MSG" > /out',
  // Held at the build stage: the older build's RUN takes 6 s, the newer one's 1 s.
  "Dockerfile.slow": "RUN sleep 6 && echo slow > /out",
  "Dockerfile.fast": "RUN sleep 1 && echo fast > /out",
  // Held at the push stage: the older build pushes a 200 MB layer of random bytes.
  "Dockerfile.big": "RUN head -c 200000000 /dev/urandom > /big && echo big > /out",
  "Dockerfile.small": "RUN echo small > /out",
  "Dockerfile.eq1": "RUN echo eq1 > /out",
  "Dockerfile.eq2": "RUN echo eq2 > /out",
};

describe("what a build builds is fixed when it is queued, and a tag ends on the newest build's image (real git, Redis, Docker, registry)", () => {
  let kiln: Awaited<ReturnType<typeof startKilnWithRegistries>>;
  let redis: Awaited<ReturnType<typeof startRedis>>;
  let worker: ReturnType<typeof startBuildWorker> | undefined;
  let root: string;
  let registry: string;
  let commit: string;
  const home = mkdtempSync(join(tmpdir(), "kiln-docker-config-"));
  const repoPath = "/api/v1/regions/cn-hongkong/repositories/alitest1/app";
  const buildOf = async (id: string) => (await kiln.call("GET", `/api/v1/builds/${id}`, { token: root })).body;
  const finished = (id: string) =>
    waitUntil(
      async () => ["succeeded", "failed", "canceled", "superseded"].includes((await buildOf(id)).status),
      () => `build ${id} did not finish`,
      180_000,
    );
  const rule = async (dockerfileName: string, tag: string, extra: Record<string, unknown> = {}) => {
    const res = await kiln.call("POST", `${repoPath}/build-rules`, {
      token: root,
      body: { sourceType: "branch", source: "main", dockerfileName, tags: [tag], noCache: true, ...extra },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    return res.body.id as number;
  };
  /** A manual build of exactly these rules, at an explicit commit: one build per rule. */
  const build = async (...ruleIds: number[]) => {
    const res = await kiln.call("POST", `${repoPath}/builds`, {
      token: root,
      body: { ref: "main", commit, ruleIds },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    return res.body.builds as { id: string; status: string; dockerfile: string }[];
  };
  /** The registry's digest of a tag (pulled as the reader), and what its image prints. */
  const inRegistry = async (tag: string) => {
    const image = `${registry}/alitest1/app:${tag}`;
    await docker(["rmi", "-f", image], { configDir: home });
    const pulled = await docker(["pull", image], { configDir: home });
    expect(pulled.status, pulled.stderr).toBe(0);
    const digest = (
      await docker(["inspect", "--format", "{{index .RepoDigests 0}}", image], { configDir: home })
    ).stdout.trim();
    const run = await docker(["run", "--rm", image], { configDir: home });
    expect(run.status, run.stderr).toBe(0);
    await docker(["rmi", "-f", image], { configDir: home });
    return { digest: digest.split("@")[1], prints: run.stdout.trim() };
  };
  /** The worker starts after the first test has queued its builds. */
  const startWorker = () => (worker ??= startBuildWorker(kiln.config, createLogger("silent")));
  const logOf = async (id: string) =>
    (await kiln.call("GET", `/api/v1/builds/${id}/logs`, { token: root })).body.lines as string[];

  beforeAll(async () => {
    await assertDockerEngine();
    await ensureBaseImage();
    const repo = makeGitRepo();
    for (const [name, body] of Object.entries(DOCKERFILES))
      writeFileSync(join(repo.dir, name), `FROM ${BASE_IMAGE}\n${body}\nCMD ["/bin/sh", "-c", "cat /out"]\n`);
    repo.git("add", ".");
    repo.git("commit", "--quiet", "-m", "variants");
    commit = repo.commit();
    redis = await startRedis();
    kiln = await startKilnWithRegistries(["cn-hongkong"], {
      env: { REDIS_URL: redis.url, KILN_ALLOW_LOCAL_GIT: "1", KILN_WORKER_CONCURRENCY: "2" },
      queue: true,
    });
    registry = kiln.registryOf("cn-hongkong");
    root = (await kiln.call("POST", "/api/v1/accounts", { token: ADMIN_TOKEN, body: { alias: "acme" } })).body
      .rootToken;
    await kiln.call("POST", "/api/v1/namespaces", { token: root, body: { name: "alitest1" } });
    await kiln.call("POST", "/api/v1/regions/cn-hongkong/repositories", {
      token: root,
      body: { namespace: "alitest1", name: "app" },
    });
    for (const [name, action] of [
      ["ci", "cr:PushRepository"],
      ["reader", "cr:PullRepository"],
    ] as const) {
      await kiln.call("POST", "/api/v1/users", { token: root, body: { name } });
      await kiln.call("POST", "/api/v1/policies", {
        token: root,
        body: {
          name: `${name}-policy`,
          document: {
            Version: "1",
            Statement: [{ Effect: "Allow", Action: action, Resource: "acs:cr:*:*:repository/alitest1/*" }],
          },
        },
      });
      await kiln.call("POST", `/api/v1/users/${name}/policies`, {
        token: root,
        body: { policyName: `${name}-policy` },
      });
    }
    await kiln.call("PUT", "/api/v1/users/reader/registry-password", {
      token: root,
      body: { password: "Reader-registry-1" },
    });
    const bound = await kiln.call("PUT", `${repoPath}/source`, {
      token: root,
      body: { provider: "git", repoUrl: `file://${repo.dir}`, pushUser: "ci" },
    });
    expect(bound.status, JSON.stringify(bound.body)).toBe(200);
    const login = await docker(["login", registry, "-u", "reader@acme", "--password-stdin"], {
      configDir: home,
      input: "Reader-registry-1\n",
    });
    expect(login.status, login.stderr).toBe(0);
  }, 120_000);
  afterAll(async () => {
    await worker?.close();
    await kiln?.stop();
    await redis?.stop();
  });

  it("a build queued before its rule was edited, or deleted, builds the Dockerfile and build args it was queued with", async () => {
    // No worker yet: the builds stay queued while their rules change.
    const edited = await rule("Dockerfile.original", "edited-rule", { buildArgs: { MSG: "as queued" } });
    const deleted = await rule("Dockerfile.original", "deleted-rule", { buildArgs: { MSG: "as queued" } });
    const [a] = await build(edited);
    const [b] = await build(deleted);
    expect([a!.status, a!.dockerfile]).toEqual(["queued", "/Dockerfile.original"]);
    const patched = await kiln.call("PATCH", `${repoPath}/build-rules/${edited}`, {
      token: root,
      body: { dockerfileName: "Dockerfile.edited", buildArgs: { MSG: "after the edit" } },
    });
    expect(patched.status, JSON.stringify(patched.body)).toBe(200);
    expect((await kiln.call("DELETE", `${repoPath}/build-rules/${deleted}`, { token: root })).status).toBe(200);

    startWorker();
    for (const id of [a!.id, b!.id]) await finished(id);
    const [builtA, builtB] = await Promise.all([buildOf(a!.id), buildOf(b!.id)]);
    expect([builtA.status, builtA.error, builtA.dockerfile]).toEqual(["succeeded", undefined, "/Dockerfile.original"]);
    expect([builtB.status, builtB.error, builtB.ruleId]).toEqual(["succeeded", undefined, null]);
    for (const [tag, built] of [
      ["edited-rule", builtA],
      ["deleted-rule", builtB],
    ] as const)
      expect(await inRegistry(tag)).toEqual({ digest: built.digest, prints: "original as queued" });
  }, 240_000);

  it("the older of two builds of a tag finishes last (held at its build stage): the tag ends on the newer image and the older build ends superseded", async () => {
    startWorker();
    const slow = await rule("Dockerfile.slow", "race");
    const fast = await rule("Dockerfile.fast", "race");
    const [older] = await build(slow);
    await new Promise((r) => setTimeout(r, 20));
    const [newer] = await build(fast);
    for (const id of [older!.id, newer!.id]) await finished(id);
    const [o, n] = await Promise.all([buildOf(older!.id), buildOf(newer!.id)]);
    expect([o.status, o.error, o.digest]).toEqual(["superseded", undefined, undefined]);
    expect([n.status, n.error]).toEqual(["succeeded", undefined]);
    // They really ran at once, and the older one finished last.
    expect(Date.parse(o.stageStartedAt.build)).toBeLessThan(Date.parse(n.finishedAt));
    expect(Date.parse(o.finishedAt)).toBeGreaterThan(Date.parse(n.finishedAt));
    expect((await logOf(o.id)).join("\n")).toContain(
      `${registry}/alitest1/app:race already holds a newer build's image: not moved back`,
    );
    expect(await inRegistry("race")).toEqual({ digest: n.digest, prints: "fast" });
  }, 240_000);

  it("a newer build that reaches its push while the older one is still pushing the same tag waits for it, and the tag ends on the newer image", async () => {
    startWorker();
    const big = await rule("Dockerfile.big", "pushrace");
    const small = await rule("Dockerfile.small", "pushrace");
    const [older] = await build(big);
    await waitUntil(
      async () => (await buildOf(older!.id)).stage === "push",
      () => "the older build did not reach its push",
      120_000,
    );
    const [newer] = await build(small);
    for (const id of [older!.id, newer!.id]) await finished(id);
    const [o, n] = await Promise.all([buildOf(older!.id), buildOf(newer!.id)]);
    expect([o.status, o.error]).toEqual(["succeeded", undefined]);
    expect([n.status, n.error]).toEqual(["succeeded", undefined]);
    // The newer build reached its push while the older one was still pushing: the race happened.
    expect(Date.parse(n.stageStartedAt.push)).toBeLessThan(Date.parse(o.finishedAt));
    expect(await inRegistry("pushrace")).toEqual({ digest: n.digest, prints: "small" });
    expect(await logOf(n.id)).toContain(`waiting for another build's push of ${registry}/alitest1/app:pushrace`);
  }, 240_000);

  it("two builds of a tag queued in the same millisecond: the tag ends on the image of the one with the higher build id", async () => {
    startWorker();
    const eq1 = await rule("Dockerfile.eq1", "equal");
    const eq2 = await rule("Dockerfile.eq2", "equal");
    // One request records both builds with one queue time: the same sequence.
    const made = await build(eq1, eq2);
    for (const b of made) await finished(b.id);
    const ended = await Promise.all(made.map((b) => buildOf(b.id)));
    expect(ended[0].queuedAt).toBe(ended[1].queuedAt);
    const [lower, higher] = [...ended].sort((x, y) => (x.id < y.id ? -1 : 1));
    expect([higher.status, higher.error]).toEqual(["succeeded", undefined]);
    // The lower id pushed first and was then replaced, or came second and was not moved back.
    expect(["succeeded", "superseded"]).toContain(lower.status);
    expect(await inRegistry("equal")).toEqual({
      digest: higher.digest,
      prints: higher.ruleId === eq1 ? "eq1" : "eq2",
    });
  }, 240_000);
});
