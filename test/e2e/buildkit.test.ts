import { Queue } from "bullmq";
import { Redis } from "ioredis";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startBuildWorker } from "../../workers/build-worker.ts";
import { ADMIN_TOKEN } from "../helpers/app.ts";
import { BASE_IMAGE, docker } from "../helpers/docker.ts";
import { startBuildStack } from "../helpers/build-stack.ts";
import { makeGitRepo } from "../helpers/git.ts";
import { waitUntil } from "../helpers/net.ts";
import { startRedis } from "../helpers/redis.ts";
import { captureLogs, expectNoSecretIn } from "../helpers/logs.ts";
import { startKilnWithRegistries } from "../helpers/server.ts";

/** Unique to this run: cache targets, markers and echoed strings never meet those of an earlier run on this engine. */
const RUN = randomBytes(4).toString("hex");

/** The push user `ci` may push and pull in alitest1 and alitest2, and nothing in other1. */
const CI_POLICY = {
  Version: "1",
  Statement: [
    {
      Effect: "Allow",
      Action: ["cr:PushRepository", "cr:PullRepository"],
      Resource: ["acs:cr:*:*:repository/alitest1/*", "acs:cr:*:*:repository/alitest2/*"],
    },
  ],
};

/** What a build log must never hold: BuildKit's raw status messages, base64 blobs, control bytes or broken UTF-8. */
const GARBAGE = /moby\.buildkit\.trace|^[A-Za-z0-9+/]{60,}={0,2}$/;
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f\ufffd]/;

interface Build {
  id: string;
  repository: string;
  status: string;
  error?: string;
  tags: string[];
  digest?: string;
}

describe("BuildKit builds the Dockerfiles people write now: cache mounts per namespace, multi-stage, private bases under policy, readable logs, clean engine (real Docker, registry, Redis, git)", () => {
  let stack: Awaited<ReturnType<typeof startBuildStack>>;
  let kiln: Awaited<ReturnType<typeof startKilnWithRegistries>>;
  let redis: Awaited<ReturnType<typeof startRedis>>;
  let worker: ReturnType<typeof startBuildWorker>;
  let root: string;
  let registry: string;
  /** The API's and the worker's service logs at info; searched at the end for every secret used. */
  const logs = captureLogs();
  const webhookSecrets: string[] = [];
  const source = makeGitRepo();
  /** Root's docker config: root pushes the base images and pulls the built ones to run them. */
  const home = mkdtempSync(join(tmpdir(), "kiln-docker-config-"));

  let commits = 0;
  /** Commits `files` plus a fresh `stamp`, so that no build of the commit is answered by the layer cache. */
  function commitFiles(files: Record<string, string>): { commit: string; stamp: string } {
    const stamp = `stamp-${RUN}-${++commits}`;
    for (const [name, text] of Object.entries({ ...files, stamp: `${stamp}\n` }))
      writeFileSync(join(source.dir, name), text);
    source.git("add", ".");
    source.git("commit", "--quiet", "-m", stamp);
    return { commit: source.commit(), stamp };
  }

  const api = (path: string) => `/api/v1/regions/cn-hongkong/repositories/${path}`;
  const buildOf = async (id: string): Promise<Build> =>
    (await kiln.call("GET", `/api/v1/builds/${id}`, { token: root })).body;
  const logOf = async (id: string): Promise<string[]> =>
    (await kiln.call("GET", `/api/v1/builds/${id}/logs`, { token: root })).body.lines;

  /** A manual build of `commit` on main, by the repository's one rule; returns the build id. */
  async function startBuild(path: string, commit: string): Promise<string> {
    const answer = await kiln.call("POST", `${api(path)}/builds`, { token: root, body: { ref: "main", commit } });
    expect(answer.status, JSON.stringify(answer.body)).toBe(202);
    expect(answer.body.builds).toHaveLength(1);
    return answer.body.builds[0].id;
  }
  async function ended(id: string, ms = 90_000): Promise<Build> {
    await waitUntil(
      async () => !["queued", "running"].includes((await buildOf(id)).status),
      () => `build ${id} did not end`,
      ms,
    );
    return buildOf(id);
  }
  const build = async (path: string, commit: string) => ended(await startBuild(path, commit));
  /** Succeeded, or says why not (with the end of its log). */
  async function expectSucceeded(b: Build): Promise<void> {
    if (b.status !== "succeeded") {
      const tail = (await logOf(b.id)).slice(-15).join("\n");
      expect.fail(`build of ${b.repository} ended ${b.status}: ${b.error}\n--- log tail ---\n${tail}`);
    }
    expect(b.error).toBeUndefined();
  }
  const imageOf = (b: Build, tag = b.tags[0]) => `${registry}/${b.repository}:${tag}`;
  /** Pulls the image as root and runs it; returns its output. */
  async function runImage(image: string, command: string[] = []): Promise<string> {
    const pulled = await docker(["pull", image], { configDir: home });
    expect(pulled.status, pulled.stderr).toBe(0);
    const ran = await docker(["run", "--rm", image, ...command], { configDir: home });
    expect(ran.status, ran.stderr).toBe(0);
    return ran.stdout;
  }

  /** A repository whose one rule builds `dockerfileName` from main of the source, pushed by `ci`. */
  async function buildableRepository(path: string, dockerfileName: string, tags = ["{shortsha}"]): Promise<void> {
    webhookSecrets.push(await stack.buildableRepository(path, source.dir, { dockerfileName, tags }));
  }

  /**
   * Root pushes `path:1`: the busybox base plus /base-marker holding `marker`. The name is then
   * removed from the engine, so that a build can only get the image from the registry, with the
   * build's own credential.
   */
  async function pushBase(path: string, visibility: "private" | "public", marker: string): Promise<void> {
    const [namespace, name] = path.split("/");
    const created = await kiln.call("POST", "/api/v1/regions/cn-hongkong/repositories", {
      token: root,
      body: { namespace, name, visibility },
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const image = `${registry}/${path}:1`;
    const built = await docker(["build", "-q", "-t", image, "-"], {
      configDir: home,
      input: `FROM ${BASE_IMAGE}\nRUN echo ${marker} > /base-marker\n`,
    });
    expect(built.status, built.stderr).toBe(0);
    const pushed = await docker(["push", image], { configDir: home });
    expect(pushed.status, pushed.stderr).toBe(0);
    const removed = await docker(["rmi", image], { configDir: home });
    expect(removed.status, removed.stderr).toBe(0);
  }

  beforeAll(async () => {
    stack = await startBuildStack(logs.log);
    ({ kiln, redis, worker, registry, root } = stack);
    for (const name of ["alitest1", "alitest2", "other1"]) {
      const ns = await kiln.call("POST", "/api/v1/namespaces", { token: root, body: { name } });
      expect(ns.status, JSON.stringify(ns.body)).toBe(201);
    }
    expect((await kiln.call("POST", "/api/v1/users", { token: root, body: { name: "ci" } })).status).toBe(201);
    expect(
      (await kiln.call("POST", "/api/v1/policies", { token: root, body: { name: "ci-policy", document: CI_POLICY } }))
        .status,
    ).toBe(201);
    expect(
      (await kiln.call("POST", "/api/v1/users/ci/policies", { token: root, body: { policyName: "ci-policy" } })).status,
    ).toBe(200);
    expect(
      (await kiln.call("PUT", "/api/v1/me/registry-password", { token: root, body: { password: "Root-registry-1" } }))
        .status,
    ).toBe(200);
    const login = await docker(["login", registry, "-u", "acme", "--password-stdin"], {
      configDir: home,
      input: "Root-registry-1\n",
    });
    expect(login.status, login.stderr).toBe(0);

    await pushBase("alitest1/base", "private", `base-of-alitest1-${RUN}`);
    await pushBase("other1/base", "private", `base-of-other1-${RUN}`);
    await pushBase("other1/pub", "public", `public-base-${RUN}`);

    for (const path of ["alitest1/cache", "alitest2/cache"]) await buildableRepository(path, "Dockerfile.cache");
    await buildableRepository("alitest1/stages", "Dockerfile.stages");
    await buildableRepository("alitest1/parallel", "Dockerfile.parallel");
    await buildableRepository("alitest1/derived", "Dockerfile.derived");
    await buildableRepository("alitest1/frompublic", "Dockerfile.frompublic");
    await buildableRepository("alitest1/forbidden", "Dockerfile.forbidden");
    await buildableRepository("alitest1/logs", "Dockerfile.logs");
    await buildableRepository("alitest1/rebuild", "Dockerfile.rebuild");
    await buildableRepository("alitest1/clean", "Dockerfile.clean", ["{shortsha}", "latest"]);
  }, 180_000);

  afterAll(async () => {
    await worker?.close();
    await kiln?.stop();
    await redis?.stop();
    // What this file pulled (its registry's port is its own): the engine keeps none of it.
    if (registry) {
      const names = (await docker(["image", "ls", "--format", "{{.Repository}}:{{.Tag}}"])).stdout
        .split("\n")
        .filter((n) => n.startsWith(`${registry}/`));
      if (names.length) await docker(["rmi", "-f", ...names]);
    }
  });

  it("a RUN --mount=type=cache persists between builds of one namespace, and another namespace starts with an empty cache", async () => {
    const target = `/cache-${RUN}`;
    const dockerfile = `FROM ${BASE_IMAGE}\nCOPY stamp /stamp\nRUN --mount=type=cache,target=${target} sh -c 'echo x >> ${target}/count; wc -l < ${target}/count > /count'\nCMD ["/bin/sh", "-c", "cat /count"]\n`;
    const counts: string[] = [];
    // Each build has a commit of its own: the RUN step always runs, the layer cache never answers.
    for (const path of ["alitest1/cache", "alitest2/cache", "alitest1/cache"]) {
      const b = await build(path, commitFiles({ "Dockerfile.cache": dockerfile }).commit);
      await expectSucceeded(b);
      counts.push((await runImage(imageOf(b))).trim());
    }
    expect(
      counts,
      "/count of: alitest1's first build, alitest2's build (fresh cache), alitest1's second build (its cache kept)",
    ).toEqual(["1", "1", "2"]);
  }, 120_000);

  it("multi-stage: COPY --from takes files out of two other stages, and nothing else of them reaches the image", async () => {
    const dockerfile = [
      `FROM ${BASE_IMAGE} AS compiler`,
      "COPY stamp /stamp",
      'RUN echo "compiled $(cat /stamp)" > /artifact',
      `FROM ${BASE_IMAGE} AS docs`,
      `RUN echo manual-${RUN} > /manual`,
      `FROM ${BASE_IMAGE}`,
      "COPY --from=compiler /artifact /app/artifact",
      "COPY --from=docs /manual /app/manual",
      'CMD ["/bin/sh", "-c", "cat /app/artifact /app/manual; ls /stamp 2>&1 || true"]',
      "",
    ].join("\n");
    const { commit, stamp } = commitFiles({ "Dockerfile.stages": dockerfile });
    const b = await build("alitest1/stages", commit);
    await expectSucceeded(b);
    const out = (await runImage(imageOf(b))).split("\n");
    expect(out.slice(0, 2)).toEqual([`compiled ${stamp}`, `manual-${RUN}`]);
    expect(out[2], "the compiler stage's /stamp is not in the final image").toMatch(/No such file/);
  }, 120_000);

  it("independent stages run in parallel, and COPY --chmod=0755 makes a copied file executable", async () => {
    const stage = (name: string) => [
      `FROM ${BASE_IMAGE} AS ${name}`,
      "COPY stamp /stamp",
      `RUN date +%s > /start; sleep 2; date +%s > /end; echo ${name} > /who`,
    ];
    const dockerfile = [
      ...stage("left"),
      ...stage("right"),
      `FROM ${BASE_IMAGE}`,
      ...["left", "right"].flatMap((s) => [`COPY --from=${s} /start /${s}.start`, `COPY --from=${s} /end /${s}.end`]),
      "COPY --chmod=0755 tool.sh /usr/local/bin/tool",
      'CMD ["/bin/sh", "-c", "cat /left.start /left.end /right.start /right.end"]',
      "",
    ].join("\n");
    // tool.sh is committed without the executable bit (git mode 100644).
    const { commit } = commitFiles({ "Dockerfile.parallel": dockerfile, "tool.sh": `#!/bin/sh\necho tool-${RUN}\n` });
    const b = await build("alitest1/parallel", commit);
    await expectSucceeded(b);
    const [leftStart, leftEnd, rightStart, rightEnd] = (await runImage(imageOf(b))).trim().split("\n").map(Number);
    expect(
      leftStart! < rightEnd! && rightStart! < leftEnd!,
      `left ran ${leftStart}–${leftEnd}, right ${rightStart}–${rightEnd} (epoch s): one after the other`,
    ).toBe(true);
    expect(await runImage(imageOf(b), ["/usr/local/bin/tool"])).toBe(`tool-${RUN}\n`);
    expect((await runImage(imageOf(b), ["/bin/sh", "-c", "stat -c %a /usr/local/bin/tool"])).trim()).toBe("755");
  }, 120_000);

  it("FROM a private base image of the same namespace, named by an ARG default before FROM, is pulled with the push user's pull right", async () => {
    const dockerfile = `ARG BASE=${registry}/alitest1/base:1\nFROM \${BASE}\nCOPY stamp /stamp\nRUN cat /base-marker > /derived\nCMD ["/bin/sh", "-c", "cat /derived"]\n`;
    const b = await build("alitest1/derived", commitFiles({ "Dockerfile.derived": dockerfile }).commit);
    await expectSucceeded(b);
    expect(await runImage(imageOf(b))).toBe(`base-of-alitest1-${RUN}\n`);
  }, 120_000);

  it("FROM a public repository of another namespace builds, though the push user has no right there", async () => {
    const dockerfile = `FROM ${registry}/other1/pub:1\nCOPY stamp /stamp\nRUN cat /base-marker > /derived\nCMD ["/bin/sh", "-c", "cat /derived"]\n`;
    const b = await build("alitest1/frompublic", commitFiles({ "Dockerfile.frompublic": dockerfile }).commit);
    await expectSucceeded(b);
    expect(await runImage(imageOf(b))).toBe(`public-base-${RUN}\n`);
  }, 120_000);

  it("FROM a private base the push user may not pull fails at once, naming the image and the policy decision, and pushes nothing", async () => {
    const dockerfile = `FROM ${registry}/other1/base:1\nCOPY stamp /stamp\nRUN cat /base-marker > /derived\n`;
    const { commit } = commitFiles({ "Dockerfile.forbidden": dockerfile });
    const asked = Date.now();
    const id = await startBuild("alitest1/forbidden", commit);
    const b = await ended(id, 60_000);
    const took = Date.now() - asked;
    expect(b.status, `error: ${b.error}`).toBe("failed");
    expect(b.error).toContain("other1/base");
    expect(b.error).toContain("cr:PullRepository");
    expect(b.error).toContain("ImplicitDeny");
    // No retry: a retry (5 s, then 10 s of backoff) cannot change a policy decision.
    expect(took, "ended quickly, not after retries").toBeLessThan(15_000);
    const connection = new Redis(redis.url, { maxRetriesPerRequest: null });
    const queue = new Queue("builds", { connection });
    try {
      const job = await queue.getJob(id);
      if (job) expect(job.attemptsMade, "the error ended the first attempt").toBe(1);
    } finally {
      await queue.close();
      connection.disconnect();
    }
    const log = await logOf(id);
    expect(log.filter((l) => l === "==> build").length, "one build attempt in the log").toBeLessThanOrEqual(1);
    expect((await kiln.call("GET", `${api("alitest1/forbidden")}/tags`, { token: root })).body.tags).toEqual([]);
  }, 120_000);

  it("a private image the push user may not pull is refused even when the worker's engine already holds it (COPY --from names it)", async () => {
    // BuildKit takes an image the engine holds without asking the registry: Kiln must ask first.
    const held = `${registry}/other1/base:1`;
    const pulled = await docker(["pull", held], { configDir: home });
    expect(pulled.status, pulled.stderr).toBe(0);
    try {
      const dockerfile = `FROM ${BASE_IMAGE}\nCOPY stamp /stamp\nCOPY --from=${held} /base-marker /stolen\n`;
      const id = await startBuild("alitest1/forbidden", commitFiles({ "Dockerfile.forbidden": dockerfile }).commit);
      const b = await ended(id, 60_000);
      expect(b.status, `error: ${b.error}`).toBe("failed");
      expect(b.error).toContain(`base image ${held} may not be pulled`);
      expect(b.error).toContain("cr:PullRepository");
      expect(b.error).toContain("ImplicitDeny");
    } finally {
      await docker(["rmi", held], { configDir: home });
    }
  }, 120_000);

  it("the build log holds BuildKit's step names and the command's output, and nothing encoded", async () => {
    // The command text says $((6*7)); only its output says 42.
    const dockerfile = `FROM ${BASE_IMAGE}\nCOPY stamp /stamp\nRUN echo log-$((6*7))-${RUN}\n`;
    const b = await build("alitest1/logs", commitFiles({ "Dockerfile.logs": dockerfile }).commit);
    await expectSucceeded(b);
    const lines = await logOf(b.id);
    const shown = `\n--- log ---\n${lines.join("\n")}`;
    const step = lines.filter((l) => l.includes(`RUN echo log-$((6*7))-${RUN}`));
    expect(
      step.some((l) => /\[(?:[\w.-]+ )?\d+\/\d+\] RUN /.test(l)),
      `a step named like "[3/3] RUN echo log-$((6*7))-…"${shown}`,
    ).toBe(true);
    expect(
      lines.some((l) => l.includes(`log-42-${RUN}`)),
      `the command's output log-42-${RUN}${shown}`,
    ).toBe(true);
    expect(
      lines.filter((l) => GARBAGE.test(l) || CONTROL.test(l)),
      "raw status messages, base64 or control bytes",
    ).toEqual([]);
  }, 120_000);

  it("building a commit again marks its steps CACHED in the log", async () => {
    const dockerfile = `FROM ${BASE_IMAGE}\nCOPY stamp /stamp\nRUN echo rebuilt-${RUN} > /rebuilt\n`;
    const { commit } = commitFiles({ "Dockerfile.rebuild": dockerfile });
    await expectSucceeded(await build("alitest1/rebuild", commit));
    const again = await build("alitest1/rebuild", commit);
    await expectSucceeded(again);
    const lines = await logOf(again.id);
    expect(
      lines.some((l) => /\bCACHED\b/.test(l)),
      `a CACHED mark\n--- log ---\n${lines.join("\n")}`,
    ).toBe(true);
    expect(
      lines.some((l) => l.includes(`RUN echo rebuilt-${RUN}`)),
      "the cached step is named",
    ).toBe(true);
  }, 120_000);

  it("no pushed image name is left on the worker's engine after a successful build", async () => {
    const dockerfile = `FROM ${BASE_IMAGE}\nCOPY stamp /stamp\nRUN echo clean-${RUN} > /clean\nCMD ["/bin/sh", "-c", "cat /clean"]\n`;
    const b = await build("alitest1/clean", commitFiles({ "Dockerfile.clean": dockerfile }).commit);
    await expectSucceeded(b);
    expect(b.tags).toHaveLength(2);
    const names = b.tags.map((t) => imageOf(b, t));
    let left: string[] = [];
    await waitUntil(
      async () => {
        const listed = (await docker(["image", "ls", "--format", "{{.Repository}}:{{.Tag}}"])).stdout.split("\n");
        left = listed.filter((n) => names.includes(n));
        return left.length === 0;
      },
      () => `still on the engine: ${left.join(", ")}`,
      5000,
    );
    // The image did reach the registry (this pull puts a name back, which afterAll removes).
    expect(await runImage(names[1]!)).toBe(`clean-${RUN}\n`);
  }, 120_000);

  it("no line the services logged at info holds a secret: tokens, webhook secrets, the registry password, root's identity token, a build credential", async () => {
    const stored = JSON.parse(readFileSync(join(home, "config.json"), "utf8")) as {
      auths: Record<string, { identitytoken?: string }>;
    };
    expect(
      logs.lines.some((l) => /build (succeeded|failed)/.test(l)),
      "the worker's lines are captured",
    ).toBe(true);
    expectNoSecretIn(
      logs.lines,
      [ADMIN_TOKEN, root, "Root-registry-1", stored.auths[registry]?.identitytoken, ...webhookSecrets],
      { users: ["acme", "ci"] },
    );
  });
});
