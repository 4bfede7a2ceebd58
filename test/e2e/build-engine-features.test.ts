import { Redis } from "ioredis";
import { Queue } from "bullmq";
import { createHash, randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startBuildWorker } from "../../workers/build-worker.ts";
import { startBuildStack } from "../helpers/build-stack.ts";
import { BASE_IMAGE, DOCKER, docker, ensureBaseImageFor } from "../helpers/docker.ts";
import { startSecondEngine, type Engine } from "../helpers/engine.ts";
import { makeGitRepo } from "../helpers/git.ts";
import { captureLogs, expectNoSecretIn } from "../helpers/logs.ts";
import { waitUntil } from "../helpers/net.ts";

/** Unique to this run: no step of an earlier run on this engine answers from the layer cache. */
const RUN = randomBytes(4).toString("hex");
const CI_POLICY = {
  Version: "1",
  Statement: [
    {
      Effect: "Allow",
      Action: ["cr:PushRepository", "cr:PullRepository"],
      Resource: "acs:cr:*:*:repository/alitest1/*",
    },
  ],
};
const ARM64_EMULATOR = "/proc/sys/fs/binfmt_misc/qemu-aarch64";

interface Build {
  id: string;
  repository: string;
  status: string;
  error?: string;
  tags: string[];
  digest?: string;
  platforms: string[];
}

describe("what the best build services add: build secrets, a registry cache shared by workers, multi-platform images (real Docker, BuildKit, QEMU, registry, Redis, git)", () => {
  type Stack = Awaited<ReturnType<typeof startBuildStack>>;
  let kiln: Stack["kiln"];
  let redis: Stack["redis"];
  let worker: Stack["worker"];
  let root: string;
  let registry: string;
  let stack: Stack;
  const logs = captureLogs();
  const source = makeGitRepo();
  const home = mkdtempSync(join(tmpdir(), "kiln-docker-config-"));
  const engines: Engine[] = [];

  let commits = 0;
  function commitFiles(files: Record<string, string>): string {
    const stamp = `stamp-${RUN}-${++commits}`;
    for (const [name, text] of Object.entries({ ...files, stamp: `${stamp}\n` }))
      writeFileSync(join(source.dir, name), text);
    source.git("add", ".");
    source.git("commit", "--quiet", "-m", stamp);
    return source.commit();
  }

  const api = (path: string) => `/api/v1/regions/cn-hongkong/repositories/${path}`;
  const buildOf = async (id: string): Promise<Build> =>
    (await kiln.call("GET", `/api/v1/builds/${id}`, { token: root })).body;
  const logOf = async (id: string): Promise<string[]> =>
    (await kiln.call("GET", `/api/v1/builds/${id}/logs`, { token: root })).body.lines;

  async function build(path: string, commit: string): Promise<Build> {
    const answer = await kiln.call("POST", `${api(path)}/builds`, { token: root, body: { ref: "main", commit } });
    expect(answer.status, JSON.stringify(answer.body)).toBe(202);
    const id = answer.body.builds[0].id as string;
    await waitUntil(
      async () => !["queued", "running"].includes((await buildOf(id)).status),
      () => `build ${id} did not end`,
      150_000,
    );
    return buildOf(id);
  }
  async function expectSucceeded(b: Build): Promise<void> {
    if (b.status !== "succeeded") {
      const tail = (await logOf(b.id)).slice(-20).join("\n");
      expect.fail(`build of ${b.repository} ended ${b.status}: ${b.error}\n--- log tail ---\n${tail}`);
    }
  }

  const repository = async (path: string, rule: Record<string, unknown>) =>
    void (await stack.buildableRepository(path, source.dir, rule));

  /** The step of the log whose title matches, and whether BuildKit took it from a cache. */
  function step(lines: string[], title: RegExp): { cached: boolean } {
    const head = lines.map((l) => /^(?:\[\S+\] )?#(\d+) (.*)$/.exec(l)).find((m) => m && title.test(m[2]!));
    expect(head, `a step matching ${title}\n--- log ---\n${lines.join("\n")}`).toBeTruthy();
    return { cached: lines.some((l) => l.endsWith(`#${head![1]} CACHED`)) };
  }

  /** A registry token of root's for `scope`, to read the registry as a client would. */
  async function registryToken(scope: string): Promise<string> {
    const answer = await fetch(`${kiln.base}/auth/token?service=cn-hongkong&scope=${encodeURIComponent(scope)}`, {
      headers: { authorization: `Basic ${Buffer.from("acme:Root-registry-1").toString("base64")}` },
    });
    return ((await answer.json()) as { token: string }).token;
  }
  async function registryTags(path: string): Promise<string[]> {
    const token = await registryToken(`repository:${path}:pull`);
    const answer = await fetch(`http://${registry}/v2/${path}/tags/list`, {
      headers: { authorization: `Bearer ${token}` },
    });
    return answer.status === 404 ? [] : (((await answer.json()) as { tags: string[] | null }).tags ?? []);
  }

  beforeAll(async () => {
    stack = await startBuildStack(logs.log);
    ({ kiln, redis, worker, registry, root } = stack);
    expect((await kiln.call("POST", "/api/v1/namespaces", { token: root, body: { name: "alitest1" } })).status).toBe(
      201,
    );
    expect((await kiln.call("POST", "/api/v1/users", { token: root, body: { name: "ci" } })).status).toBe(201);
    await kiln.call("POST", "/api/v1/policies", { token: root, body: { name: "ci-policy", document: CI_POLICY } });
    await kiln.call("POST", "/api/v1/users/ci/policies", { token: root, body: { policyName: "ci-policy" } });
    await kiln.call("PUT", "/api/v1/me/registry-password", { token: root, body: { password: "Root-registry-1" } });
    const login = await docker(["login", registry, "-u", "acme", "--password-stdin"], {
      configDir: home,
      input: "Root-registry-1\n",
    });
    expect(login.status, login.stderr).toBe(0);
  }, 180_000);

  afterAll(async () => {
    for (const engine of engines) await engine.stop();
    await stack?.stop(worker);
    if (registry) {
      const names = (await docker(["image", "ls", "--format", "{{.Repository}}:{{.Tag}}"])).stdout
        .split("\n")
        .filter((n) => n.startsWith(`${registry}/`));
      if (names.length) await docker(["rmi", "-f", ...names]);
    }
  });

  describe("build secrets", () => {
    const npmrc = `//registry.npmjs.org/:_authToken=npm_${randomBytes(18).toString("hex")}`;
    const token = `tok-${randomBytes(16).toString("hex")}`;

    it("a RUN --mount=type=secret step reads the secret; its value is in no log line, layer, history, API answer or service log", async () => {
      await repository("alitest1/secrets", { dockerfileName: "Dockerfile.secrets" });
      for (const [id, value] of [
        ["npmrc", npmrc],
        ["token", token],
      ]) {
        const set = await kiln.call("PUT", `${api("alitest1/secrets")}/build-secrets/${id}`, {
          token: root,
          body: { value },
        });
        expect([200, 201], JSON.stringify(set.body)).toContain(set.status);
        expect(JSON.stringify(set.body)).not.toContain(value);
      }
      const dockerfile = [
        `FROM ${BASE_IMAGE}`,
        "COPY stamp /stamp",
        // Longer than a second: the session must still answer when the secret is mounted (the
        // engine drops a session whose health check fails, a second after it opens).
        "RUN sleep 3",
        // The step proves it read the secret (its hash goes into the image) and then prints it: the log must mask it.
        "RUN --mount=type=secret,id=npmrc sh -c 'sha256sum /run/secrets/npmrc | cut -c1-64 > /npmrc.sha256; cat /run/secrets/npmrc; echo'",
        "RUN --mount=type=secret,id=token,target=/etc/kiln-token sh -c 'wc -c < /etc/kiln-token > /token.length; echo token is $(cat /etc/kiln-token)'",
        "",
      ].join("\n");
      const b = await build("alitest1/secrets", commitFiles({ "Dockerfile.secrets": dockerfile }));
      await expectSucceeded(b);
      const image = `${registry}/${b.repository}:${b.tags[0]}`;
      expect((await docker(["pull", image], { configDir: home })).status).toBe(0);
      const hash = await docker(["run", "--rm", image, "/bin/busybox", "cat", "/npmrc.sha256", "/token.length"], {
        configDir: home,
      });
      expect(hash.stdout.split("\n").slice(0, 2), "the steps read both secrets").toEqual([
        createHash("sha256").update(npmrc).digest("hex"),
        String(token.length),
      ]);

      const lines = await logOf(b.id);
      const text = lines.join("\n");
      expect(text, "the printed secret is masked in the log").toContain("token is ****");
      for (const value of [npmrc, token]) expect(text).not.toContain(value);

      // Every byte of the image: the save's layers, config (history included) and manifest.
      const saved = spawnSync(DOCKER, ["save", image], { maxBuffer: 256 * 1024 * 1024 });
      expect(saved.status).toBe(0);
      for (const value of [npmrc, token]) expect(saved.stdout.includes(Buffer.from(value))).toBe(false);
      const history = await docker(["history", "--no-trunc", image], { configDir: home });
      for (const value of [npmrc, token]) expect(history.stdout).not.toContain(value);

      const answers = [
        await kiln.call("GET", `/api/v1/builds/${b.id}`, { token: root }),
        await kiln.call("GET", `${api("alitest1/secrets")}/builds`, { token: root }),
        await kiln.call("GET", `${api("alitest1/secrets")}/build-secrets`, { token: root }),
      ];
      for (const answer of answers)
        for (const value of [npmrc, token]) expect(JSON.stringify(answer.body)).not.toContain(value);
      expectNoSecretIn(logs.lines, [npmrc, token]);
    }, 240_000);

    it("a Dockerfile that mounts a secret the repository does not have fails, naming the id; required=false builds without it", async () => {
      await repository("alitest1/nosecret", { dockerfileName: "Dockerfile.nosecret" });
      const missing = `FROM ${BASE_IMAGE}\nRUN --mount=type=secret,id=pip-index sh -c 'cat /run/secrets/pip-index'\n`;
      const failed = await build("alitest1/nosecret", commitFiles({ "Dockerfile.nosecret": missing }));
      expect(failed.status).toBe("failed");
      expect(failed.error).toContain('"pip-index"');
      const optional = `FROM ${BASE_IMAGE}\nCOPY stamp /stamp\nRUN --mount=type=secret,id=pip-index,required=false sh -c 'test ! -e /run/secrets/pip-index'\n`;
      await expectSucceeded(await build("alitest1/nosecret", commitFiles({ "Dockerfile.nosecret": optional })));
    }, 240_000);
  });

  describe("the registry cache", () => {
    /** CPU-bound work that only a cache can skip: thousands of sha256 rounds. */
    const expensive = (marker: string) =>
      `RUN x=${marker}; i=0; while [ $i -lt 1500 ]; do x=$(echo $x | sha256sum); i=$((i+1)); done; echo $x > /expensive`;

    it("a worker on a fresh engine takes the expensive early step from the registry (CACHED); with the rule's cache off it runs it again", async () => {
      const cachedFile = `FROM ${BASE_IMAGE}\n${expensive(`cached-${RUN}`)}\nCOPY stamp /stamp\n`;
      const offFile = `FROM ${BASE_IMAGE}\n${expensive(`off-${RUN}`)}\nCOPY stamp /stamp\n`;
      await repository("alitest1/warm", { dockerfileName: "Dockerfile.warm" });
      await repository("alitest1/nowarm", { dockerfileName: "Dockerfile.nowarm", registryCache: false });
      const first = commitFiles({ "Dockerfile.warm": cachedFile, "Dockerfile.nowarm": offFile });
      await expectSucceeded(await build("alitest1/warm", first));
      await expectSucceeded(await build("alitest1/nowarm", first));

      // A new machine: another engine, with only the base image, and a worker with its own data dir.
      await worker!.close();
      const engine = await startSecondEngine([BASE_IMAGE]);
      engines.push(engine);
      worker = startBuildWorker(
        { ...kiln.config, dockerHost: engine.host, dataDir: mkdtempSync(join(tmpdir(), "kiln-worker2-")) },
        logs.log,
      );
      try {
        const second = commitFiles({ "Dockerfile.warm": cachedFile, "Dockerfile.nowarm": offFile });
        const warm = await build("alitest1/warm", second);
        await expectSucceeded(warm);
        const warmLog = await logOf(warm.id);
        expect(warmLog.some((l) => /importing the registry cache of .*alitest1\/warm@sha256:/.test(l))).toBe(true);
        expect(
          step(warmLog, /RUN x=cached-/).cached,
          `the expensive step came from the registry\n${warmLog.join("\n")}`,
        ).toBe(true);
        expect(step(warmLog, /COPY stamp/).cached, "the changed late layer was built").toBe(false);

        const cold = await build("alitest1/nowarm", second);
        await expectSucceeded(cold);
        const coldLog = await logOf(cold.id);
        expect(coldLog.some((l) => l.includes("importing the registry cache"))).toBe(false);
        expect(step(coldLog, /RUN x=off-/).cached, "without the registry cache the step runs again").toBe(false);
      } finally {
        // Back to the main engine for the other tests.
        await worker.close();
        worker = startBuildWorker(kiln.config, logs.log);
        await engine.stop();
        engines.splice(engines.indexOf(engine), 1);
      }
    }, 300_000);

    it("a run of cold workers keeps taking an unchanged step from the registry: the fullest recent cache stays a source", async () => {
      // BuildKit 0.8 writes a step taken from an imported cache into the new image's inline cache
      // without its layer: the newest images alone would lose the step after a few cold builds.
      const file = `FROM ${BASE_IMAGE}\n${expensive(`chain-${RUN}`)}\nCOPY stamp /stamp\n`;
      await repository("alitest1/chain", { dockerfileName: "Dockerfile.chain" });
      await expectSucceeded(await build("alitest1/chain", commitFiles({ "Dockerfile.chain": file })));
      for (let cold = 1; cold <= 4; cold++) {
        await worker!.close();
        const engine = await startSecondEngine([BASE_IMAGE]);
        worker = startBuildWorker(
          { ...kiln.config, dockerHost: engine.host, dataDir: mkdtempSync(join(tmpdir(), "kiln-worker-cold-")) },
          logs.log,
        );
        try {
          const b = await build("alitest1/chain", commitFiles({ "Dockerfile.chain": file }));
          await expectSucceeded(b);
          const lines = await logOf(b.id);
          expect(step(lines, /RUN x=chain-/).cached, `cold build ${cold}: the step came from the registry`).toBe(true);
        } finally {
          await worker.close();
          worker = startBuildWorker(kiln.config, logs.log);
          await engine.stop();
        }
      }
    }, 300_000);
  });

  describe("multi-platform images", () => {
    // TARGETARCH is one of BuildKit's automatic global args; declaring it again before FROM would
    // empty it in the engine's built-in frontend (BuildKit 0.8).
    const dockerfile = [
      "FROM kiln-test/busybox-${TARGETARCH}:latest",
      "COPY stamp /stamp",
      "RUN /bin/busybox uname -m > /arch",
      'CMD ["/bin/busybox", "cat", "/arch"]',
      "",
    ].join("\n");

    it("one tag holds an image index of linux/amd64 and linux/arm64: each platform pulls and runs (arm64 under QEMU), and no per-platform tag is left", async () => {
      expect(existsSync(ARM64_EMULATOR), "QEMU's arm64 emulator is registered (scripts/test.sh sets it up)").toBe(true);
      await ensureBaseImageFor("linux/arm64");
      await ensureBaseImageFor("linux/amd64");
      await repository("alitest1/multi", {
        dockerfileName: "Dockerfile.multi",
        platforms: ["linux/amd64", "linux/arm64"],
      });
      const b = await build("alitest1/multi", commitFiles({ "Dockerfile.multi": dockerfile }));
      await expectSucceeded(b);
      expect(b.platforms).toEqual(["linux/amd64", "linux/arm64"]);
      const image = `${registry}/${b.repository}:${b.tags[0]}`;
      for (const [platform, arch, machine] of [
        ["linux/arm64", "arm64", "aarch64"],
        ["linux/amd64", "amd64", "x86_64"],
      ] as const) {
        const pulled = await docker(["pull", "--platform", platform, image], { configDir: home });
        expect(pulled.status, pulled.stderr).toBe(0);
        const inspected = await docker(["image", "inspect", "--format", "{{.Architecture}}", image], {
          configDir: home,
        });
        expect(inspected.stdout.trim()).toBe(arch);
        const ran = await docker(["run", "--rm", "--platform", platform, image], { configDir: home });
        expect(ran.status, ran.stderr).toBe(0);
        expect(ran.stdout.trim()).toBe(machine);
      }
      expect(await registryTags("alitest1/multi"), "only the rendered tag").toEqual(b.tags);
      const listed = await kiln.call("GET", `${api("alitest1/multi")}/tags`, { token: root });
      const rows = (listed.body.tags ?? listed.body) as { tag: string; digest: string; platforms?: string[] }[];
      expect(rows.map((r) => r.tag)).toEqual(b.tags);
      expect(rows[0]!.digest).toBe(b.digest);
      expect(rows[0]!.platforms).toEqual(["linux/amd64", "linux/arm64"]);

      // What the registry holds: an OCI index of two OCI manifests by digest, their layers gzip-compressed.
      const token = await registryToken("repository:alitest1/multi:pull");
      const read = async (ref: string) =>
        (await (
          await fetch(`http://${registry}/v2/alitest1/multi/manifests/${ref}`, {
            headers: {
              authorization: `Bearer ${token}`,
              accept: "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json",
            },
          })
        ).json()) as {
          mediaType: string;
          manifests?: { digest: string; platform: { architecture: string } }[];
          layers?: { mediaType: string; size: number }[];
        };
      const index = await read(b.tags[0]!);
      expect(index.mediaType).toBe("application/vnd.oci.image.index.v1+json");
      expect(index.manifests!.map((m) => m.platform.architecture)).toEqual(["amd64", "arm64"]);
      for (const m of index.manifests!) {
        const manifest = await read(m.digest);
        expect(manifest.layers!.length).toBeGreaterThan(0);
        for (const layer of manifest.layers!)
          expect(layer.mediaType).toBe("application/vnd.oci.image.layer.v1.tar+gzip");
      }

      // The next build imports its cache from this image index: both platforms' solves take it.
      const next = await build("alitest1/multi", commitFiles({ "Dockerfile.multi": dockerfile }));
      await expectSucceeded(next);
      const lines = await logOf(next.id);
      expect(lines.filter((l) => l.includes("importing the registry cache of"))).toHaveLength(2);
      expect(
        lines.filter((l) => /ERROR/.test(l)),
        "no step failed, the cache import included",
      ).toEqual([]);
    }, 300_000);

    it("a platform the engine cannot emulate fails the build with a clear message, and no tag is published", async () => {
      expect(existsSync(ARM64_EMULATOR)).toBe(true);
      await repository("alitest1/noemu", {
        dockerfileName: "Dockerfile.multi",
        platforms: ["linux/amd64", "linux/arm64"],
      });
      writeFileSync(ARM64_EMULATOR, "0");
      let b: Build;
      try {
        b = await build("alitest1/noemu", commitFiles({ "Dockerfile.multi": dockerfile }));
      } finally {
        writeFileSync(ARM64_EMULATOR, "1");
      }
      expect(b.status).toBe("failed");
      expect(b.error).toMatch(/platform linux\/arm64 cannot be built here: the engine's host has no emulator for it/);
      expect(await registryTags("alitest1/noemu"), "no tag, not even a half-published one").toEqual([]);
      expect(readFileSync(ARM64_EMULATOR, "utf8")).toMatch(/^enabled/);
    }, 300_000);
  });

  it("the queue payload carries build secrets sealed", async () => {
    const connection = new Redis(redis.url, { maxRetriesPerRequest: null });
    const queue = new Queue("builds", { connection });
    try {
      const jobs = await queue.getJobs(["completed", "failed"]);
      const withSecrets = jobs.filter((j) => Object.keys(j.data.secrets ?? {}).length > 0);
      expect(withSecrets.length).toBeGreaterThan(0);
      for (const job of withSecrets)
        for (const sealed of Object.values(job.data.secrets as Record<string, string>)) expect(sealed).toMatch(/^v1\./);
    } finally {
      await queue.close();
      connection.disconnect();
    }
  });
});
