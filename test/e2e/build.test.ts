import { eq } from "drizzle-orm";
import { randomInt } from "node:crypto";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildLogs } from "../../src/db/schema.ts";
import { startBuildWorker } from "../../workers/build-worker.ts";
import { ADMIN_TOKEN } from "../helpers/app.ts";
import { BASE_IMAGE, docker } from "../helpers/docker.ts";
import { startBuildStack } from "../helpers/build-stack.ts";
import { captureLogs, expectNoSecretIn } from "../helpers/logs.ts";
import { makeGitRepo } from "../helpers/git.ts";
import { waitUntil } from "../helpers/net.ts";
import { killLeftovers, processesWith, type ProcessInfo } from "../helpers/processes.ts";
import { startRedis } from "../helpers/redis.ts";
import { startKilnWithRegistries } from "../helpers/server.ts";

/** A real git repository with two Dockerfile variants on the local busybox base. */
function makeRepository(): ReturnType<typeof makeGitRepo> {
  const { dir, git, commit } = makeGitRepo();
  for (const variant of ["node6", "node8"]) {
    writeFileSync(
      join(dir, `Dockerfile.${variant}`),
      `FROM ${BASE_IMAGE}\nCOPY hello.txt /hello.txt\nRUN echo ${variant} > /variant\nCMD ["/bin/sh", "-c", "cat /variant /hello.txt"]\n`,
    );
  }
  writeFileSync(join(dir, "hello.txt"), "hello from kiln\n");
  writeFileSync(join(dir, ".dockerignore"), "secret.txt\n");
  writeFileSync(join(dir, "secret.txt"), "never in the context\n");
  git("add", ".");
  git("commit", "--quiet", "-m", "two variants");
  return { dir, git, commit };
}

describe("a git push ends as images in the registry, one tag per Dockerfile variant (real git, Redis, Docker, registry)", () => {
  let kiln: Awaited<ReturnType<typeof startKilnWithRegistries>>;
  let redis: Awaited<ReturnType<typeof startRedis>>;
  let worker: ReturnType<typeof startBuildWorker>;
  let root: string;
  let hook: { url: string; secret: string };
  const repo = makeRepository();
  const home = mkdtempSync(join(tmpdir(), "kiln-docker-config-"));
  let registry: string;
  /** The API's and the worker's service logs, at info: searched for every secret at the end. */
  const logs = captureLogs();
  const secrets: (string | undefined)[] = [ADMIN_TOKEN, "Reader-registry-1", "Root-registry-1"];
  const repoPath = "/api/v1/regions/cn-hongkong/repositories/alitest1/app";
  const push = (ref: string, commit: string) =>
    fetch(hook.url, {
      method: "POST",
      headers: { authorization: `Bearer ${hook.secret}`, "content-type": "application/json" },
      body: JSON.stringify({ ref, commit }),
    }).then((r) => r.json() as Promise<any>);
  const buildOf = async (id: string) => (await kiln.call("GET", `/api/v1/builds/${id}`, { token: root })).body;
  const finished = (id: string) =>
    waitUntil(
      async () => ["succeeded", "failed", "canceled", "superseded"].includes((await buildOf(id)).status),
      () => `build ${id} did not finish`,
      120_000,
    );

  beforeAll(async () => {
    ({ kiln, redis, worker, registry, root } = await startBuildStack(logs.log));
    secrets.push(root);
    await kiln.call("POST", "/api/v1/namespaces", { token: root, body: { name: "alitest1" } });
    await kiln.call("POST", "/api/v1/regions/cn-hongkong/repositories", {
      token: root,
      body: { namespace: "alitest1", name: "app" },
    });
    for (const [name, document] of [
      [
        "ci",
        {
          Version: "1",
          Statement: [{ Effect: "Allow", Action: "cr:PushRepository", Resource: "acs:cr:*:*:repository/alitest1/*" }],
        },
      ],
      [
        "reader",
        {
          Version: "1",
          Statement: [{ Effect: "Allow", Action: "cr:PullRepository", Resource: "acs:cr:*:*:repository/alitest1/*" }],
        },
      ],
    ] as const) {
      await kiln.call("POST", "/api/v1/users", { token: root, body: { name } });
      await kiln.call("POST", "/api/v1/policies", { token: root, body: { name: `${name}-policy`, document } });
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
    hook = { url: bound.body.webhookUrl, secret: bound.body.webhookSecret };
    secrets.push(hook.secret);
    for (const variant of ["node6", "node8"]) {
      await kiln.call("POST", `${repoPath}/build-rules`, {
        token: root,
        body: { sourceType: "branch", source: "main", dockerfileName: `Dockerfile.${variant}`, tags: [variant] },
      });
    }
    await kiln.call("POST", `${repoPath}/build-rules`, {
      token: root,
      body: {
        sourceType: "tag",
        source: "/^v(\\d+)\\.(\\d+)\\.(\\d+)$/",
        dockerfileName: "Dockerfile.node8",
        tags: ["{\\1}.{\\2}.{\\3}", "{\\1}.{\\2}"],
      },
    });
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

  it("a push webhook builds both variants; a reader pulls them and each runs as its variant", async () => {
    const commit = repo.commit();
    const answer = await push("refs/heads/main", commit);
    expect(answer.outcome).toBe("accepted");
    const ids: string[] = answer.builds.map((b: { id: string }) => b.id);
    for (const id of ids) await finished(id);
    const records = await Promise.all(ids.map(buildOf));
    expect(records.map((b) => [b.tags, b.status, b.error])).toEqual([
      [["node6"], "succeeded", undefined],
      [["node8"], "succeeded", undefined],
    ]);
    for (const b of records) {
      expect(b.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
      expect(b.size).toBeGreaterThan(0);
      const began = ["fetch", "build", "push"].map((stage) => Date.parse(b.stageStartedAt[stage]));
      expect(
        [...began].sort((x, y) => x - y),
        "stages begin in order, within the build",
      ).toEqual(began);
      expect(began[0]).toBeGreaterThanOrEqual(Date.parse(b.startedAt));
      expect(began[2]).toBeLessThanOrEqual(Date.parse(b.finishedAt));
    }
    for (const variant of ["node6", "node8"]) {
      const image = `${registry}/alitest1/app:${variant}`;
      await docker(["rmi", "-f", image], { configDir: home });
      const pulled = await docker(["pull", image], { configDir: home });
      expect(pulled.status, pulled.stderr).toBe(0);
      const run = await docker(["run", "--rm", image], { configDir: home });
      expect(run.stdout).toBe(`${variant}\nhello from kiln\n`);
      const label = await docker(
        ["inspect", "--format", '{{index .Config.Labels "org.opencontainers.image.revision"}}', image],
        { configDir: home },
      );
      expect(label.stdout.trim()).toBe(commit);
      const ignored = await docker(["run", "--rm", image, "/bin/sh", "-c", "ls /secret.txt 2>&1 || true"], {
        configDir: home,
      });
      expect(ignored.stdout).toMatch(/No such file/);
    }
  });

  it("the build log has its stages and Docker's output, outlives the job, and streams as server-sent events", async () => {
    const [build] = (await kiln.call("GET", `${repoPath}/builds`, { token: root })).body.builds.filter(
      (b: { status: string }) => b.status === "succeeded",
    );
    await waitUntil(
      async () => (await kiln.call("GET", `/api/v1/builds/${build.id}/logs`, { token: root })).body.lines.length > 0,
      () => "no log",
    );
    const page = (await kiln.call("GET", `/api/v1/builds/${build.id}/logs`, { token: root })).body;
    expect(page.ended).toBe(true);
    const stages = page.lines.filter((l: string) => l.startsWith("==> "));
    expect(stages).toEqual(["==> fetch", "==> build", "==> push"]);
    expect(page.lines.some((l: string) => /RUN echo node[68]/.test(l))).toBe(true);
    expect(page.lines.join("\n")).not.toMatch(/kbld\.|Authorization/);
    const second = (await kiln.call("GET", `/api/v1/builds/${build.id}/logs?offset=1`, { token: root })).body;
    expect(second.lines[0]).toBe(page.lines[1]);

    // Gone from Redis, the log is still there.
    const { Queue } = await import("bullmq");
    const { Redis } = await import("ioredis");
    const connection = new Redis(redis.url, { maxRetriesPerRequest: null });
    const queue = new Queue("builds", { connection });
    await waitUntil(
      async () =>
        (await kiln.deps.db
          .select({ buildId: buildLogs.buildId })
          .from(buildLogs)
          .where(eq(buildLogs.buildId, build.id))
          .get()) !== undefined,
      () => "log not kept",
    );
    await queue.remove(build.id);
    await queue.close();
    connection.disconnect();
    expect((await kiln.call("GET", `/api/v1/builds/${build.id}/logs`, { token: root })).body.lines).toEqual(page.lines);

    const sse = await fetch(`${kiln.base}/api/v1/builds/${build.id}/logs?follow=true`, {
      headers: { authorization: `Bearer ${root}` },
    });
    expect(sse.headers.get("content-type")).toMatch(/text\/event-stream/);
    const text = await sse.text();
    expect(text).toContain("event: line\ndata: ==> fetch");
    expect(text.trim().endsWith("event: end\ndata: succeeded")).toBe(true);
  });

  it("/metrics counts builds, stages, queue jobs, webhook deliveries and token grants", async () => {
    const text = await (await fetch(`${kiln.base}/metrics`)).text();
    const value = (pattern: RegExp) => Number(pattern.exec(text)?.[1] ?? "NaN");
    expect(value(/^kiln_builds\{status="succeeded"\} (\d+)$/m)).toBeGreaterThanOrEqual(2);
    expect(value(/^kiln_build_duration_seconds_count\{status="succeeded"\} (\d+)$/m)).toBeGreaterThanOrEqual(2);
    expect(value(/^kiln_build_stage_duration_seconds_count\{stage="build"\} (\d+)$/m)).toBeGreaterThanOrEqual(2);
    expect(value(/^kiln_build_wait_seconds_count (\d+)$/m)).toBeGreaterThanOrEqual(2);
    // The log test removed one of the two completed jobs from Redis.
    expect(value(/^kiln_build_queue_jobs\{state="completed"\} (\d+)$/m)).toBeGreaterThanOrEqual(1);
    expect(value(/^kiln_webhook_deliveries_total\{provider="git",outcome="accepted"\} (\d+)$/m)).toBeGreaterThanOrEqual(
      1,
    );
    expect(value(/^kiln_registry_token_scopes_total\{outcome="granted"\} (\d+)$/m)).toBeGreaterThanOrEqual(2);
  });

  it("tagging v1.2.3 yields 1.2.3 and 1.2", async () => {
    repo.git("tag", "v1.2.3");
    const answer = await push("refs/tags/v1.2.3", repo.commit());
    const [build] = answer.builds;
    expect(build.tags).toEqual(["1.2.3", "1.2"]);
    await finished(build.id);
    expect((await buildOf(build.id)).status).toBe("succeeded");
    for (const tag of ["1.2.3", "1.2"])
      expect((await docker(["pull", `${registry}/alitest1/app:${tag}`], { configDir: home })).status).toBe(0);
  });

  it("a Dockerfile error fails the build with Docker's message, without retrying", async () => {
    writeFileSync(join(repo.dir, "Dockerfile.node6"), `FROM ${BASE_IMAGE}\nRUN exit 3\n`);
    repo.git("commit", "--quiet", "-am", "broken node6");
    const answer = await push("refs/heads/main", repo.commit());
    const node6 = answer.builds.find((b: { tags: string[] }) => b.tags[0] === "node6");
    await finished(node6.id);
    const record = await buildOf(node6.id);
    expect(record.status).toBe("failed");
    expect(record.error).toMatch(/RUN exit 3: .*exit code: 3/);
  });

  it("a binding whose push user lacks push rights fails at once with the policy explanation, and nothing is queued", async () => {
    await kiln.call("POST", "/api/v1/regions/cn-hongkong/repositories", {
      token: root,
      body: { namespace: "alitest1", name: "locked" },
    });
    const locked = "/api/v1/regions/cn-hongkong/repositories/alitest1/locked";
    const bound = await kiln.call("PUT", `${locked}/source`, {
      token: root,
      body: { provider: "git", repoUrl: `file://${repo.dir}`, pushUser: "reader" },
    });
    secrets.push(bound.body.webhookSecret);
    await kiln.call("POST", `${locked}/build-rules`, {
      token: root,
      body: { sourceType: "branch", source: "main", dockerfileName: "Dockerfile.node8", tags: ["denied"] },
    });
    const answer = (await (
      await fetch(bound.body.webhookUrl, {
        method: "POST",
        headers: { authorization: `Bearer ${bound.body.webhookSecret}`, "content-type": "application/json" },
        body: JSON.stringify({ ref: "refs/heads/main", commit: repo.commit(), deliveryId: "locked-1" }),
      })
    ).json()) as { builds: { id: string; status: string; error: string; repository: string }[] };
    const build = answer.builds.find((b) => b.repository === "alitest1/locked")!;
    expect(build.status).toBe("failed");
    expect(build.error).toMatch(
      /push user "reader" may not cr:PushRepository on acs:cr:cn-hongkong:\d{16}:repository\/alitest1\/locked \(ImplicitDeny: no statement of its policies allows it\)/,
    );
    // Refused before the queue: no worker ever gets the build.
    await kiln.deps.dispatcher!.idle();
    const { Queue } = await import("bullmq");
    const { Redis } = await import("ioredis");
    const connection = new Redis(redis.url, { maxRetriesPerRequest: null });
    const queue = new Queue("builds", { connection });
    try {
      expect(await queue.getJob(build.id)).toBeUndefined();
    } finally {
      await queue.close();
      connection.disconnect();
    }
  });

  it("a push user whose rights are removed after the build was queued: the registry refuses the push, the build fails with the denial, and nothing is pushed", async () => {
    // The push user may push when the build is queued (the API lets it through)...
    await kiln.call("POST", "/api/v1/users", { token: root, body: { name: "revocable" } });
    await kiln.call("POST", "/api/v1/policies", {
      token: root,
      body: {
        name: "revocable-push",
        document: {
          Version: "1",
          Statement: [{ Effect: "Allow", Action: "cr:PushRepository", Resource: "acs:cr:*:*:repository/alitest1/*" }],
        },
      },
    });
    await kiln.call("POST", "/api/v1/users/revocable/policies", {
      token: root,
      body: { policyName: "revocable-push" },
    });
    await kiln.call("POST", "/api/v1/regions/cn-hongkong/repositories", {
      token: root,
      body: { namespace: "alitest1", name: "revoked" },
    });
    const revoked = "/api/v1/regions/cn-hongkong/repositories/alitest1/revoked";
    const bound = await kiln.call("PUT", `${revoked}/source`, {
      token: root,
      body: { provider: "git", repoUrl: `file://${repo.dir}`, pushUser: "revocable" },
    });
    expect(bound.status, JSON.stringify(bound.body)).toBe(200);
    secrets.push(bound.body.webhookSecret);
    await kiln.call("POST", `${revoked}/build-rules`, {
      token: root,
      body: { sourceType: "branch", source: "main", dockerfileName: "Dockerfile.revoked", tags: ["revoked"] },
    });
    writeFileSync(
      join(repo.dir, "Dockerfile.revoked"),
      `FROM ${BASE_IMAGE}\nRUN sleep 3 && echo revoked-${randomInt(1_000_000)} > /revoked\n`,
    );
    repo.git("add", "Dockerfile.revoked");
    repo.git("commit", "--quiet", "-m", "a build that takes a while");
    const answer = (await (
      await fetch(bound.body.webhookUrl, {
        method: "POST",
        headers: { authorization: `Bearer ${bound.body.webhookSecret}`, "content-type": "application/json" },
        body: JSON.stringify({ ref: "refs/heads/main", commit: repo.commit() }),
      })
    ).json()) as { builds: { id: string; status: string; repository: string }[] };
    const queued = answer.builds.find((b) => b.repository === "alitest1/revoked")!;
    expect(queued.status).toBe("queued");
    // ...and loses them while the build is in its build stage, before any push.
    await waitUntil(
      async () => (await buildOf(queued.id)).stage === "build",
      () => "the build never reached its build stage",
      60_000,
    );
    const detached = await kiln.call("DELETE", "/api/v1/users/revocable/policies/revocable-push", { token: root });
    expect(detached.status, JSON.stringify(detached.body)).toBeLessThan(300);
    await finished(queued.id);
    const record = await buildOf(queued.id);
    expect(record.status).toBe("failed");
    expect(record.error).toMatch(/push of .*alitest1\/revoked:revoked denied/);
    const log = (await kiln.call("GET", `/api/v1/builds/${queued.id}/logs`, { token: root })).body.lines as string[];
    expect(
      log.filter((l) => l === "==> push"),
      "a denial is not retried",
    ).toHaveLength(1);

    // The registry itself has no such tag (asked with root's token, which may see everything).
    const password = "Root-registry-1";
    expect((await kiln.call("PUT", "/api/v1/me/registry-password", { token: root, body: { password } })).status).toBe(
      200,
    );
    const basic = Buffer.from(`acme:${password}`).toString("base64");
    const token = (
      (await (
        await fetch(`${kiln.base}/auth/token?service=cn-hongkong&scope=repository:alitest1/revoked:pull`, {
          headers: { authorization: `Basic ${basic}` },
        })
      ).json()) as { token: string }
    ).token;
    const listed = await fetch(`http://${registry}/v2/alitest1/revoked/tags/list`, {
      headers: { authorization: `Bearer ${token}` },
    });
    const body = (await listed.json()) as { tags?: string[] | null; errors?: { code: string }[] };
    if (listed.status === 200) expect(body.tags ?? []).toEqual([]);
    else expect([listed.status, body.errors?.[0]?.code]).toEqual([404, "NAME_UNKNOWN"]);
    // The same token does read a repository that has tags: the check above can see one.
    const token2 = (
      (await (
        await fetch(`${kiln.base}/auth/token?service=cn-hongkong&scope=repository:alitest1/app:pull`, {
          headers: { authorization: `Basic ${basic}` },
        })
      ).json()) as { token: string }
    ).token;
    const appTags = (await (
      await fetch(`http://${registry}/v2/alitest1/app/tags/list`, { headers: { authorization: `Bearer ${token2}` } })
    ).json()) as { tags: string[] };
    expect(appTags.tags).toContain("node8");
    expect((await kiln.call("GET", `${revoked}/tags`, { token: root })).body.tags).toEqual([]);
  });

  it("cancel stops a running build within 5 seconds, on the worker that holds it", async () => {
    // Each RUN step is a sleep no other process on this machine runs (and never cached): `ps` finds exactly it.
    const sleeps = ["node6", "node8"].map(() => `sleep 1${randomInt(100_000, 1_000_000)}`);
    for (const [i, variant] of ["node6", "node8"].entries())
      writeFileSync(join(repo.dir, `Dockerfile.${variant}`), `FROM ${BASE_IMAGE}\nRUN ${sleeps[i]}\n`);
    repo.git("commit", "--quiet", "-am", "slow builds");
    const ids: string[] = (await push("refs/heads/main", repo.commit())).builds
      .filter((b: { repository: string }) => b.repository === "alitest1/app")
      .map((b: { id: string }) => b.id);
    expect(ids).toHaveLength(2);
    await waitUntil(
      async () => (await Promise.all(ids.map(buildOf))).every((b) => b.stage === "build"),
      () => "the builds did not start",
      60_000,
    );
    const steps = async () => (await Promise.all(sleeps.map(processesWith))).flat();
    let running: ProcessInfo[] = [];
    const bothRunning = async () => {
      running = await steps();
      return sleeps.every((s) => running.some((p) => p.args.includes(s)));
    };
    await waitUntil(
      bothRunning,
      () => `the RUN steps (${sleeps.join(", ")}) never ran: ${JSON.stringify(running)}`,
      60_000,
    );
    const asked = Date.now();
    for (const id of ids) {
      const canceled = await kiln.call("POST", `/api/v1/builds/${id}/cancel`, { token: root });
      expect(canceled.body.status, JSON.stringify(canceled.body)).toBe("canceled");
    }
    const { Queue } = await import("bullmq");
    const { Redis } = await import("ioredis");
    const connection = new Redis(redis.url, { maxRetriesPerRequest: null });
    const queue = new Queue("builds", { connection });
    try {
      await waitUntil(
        async () =>
          (await Promise.all(ids.map(async (id) => (await queue.getJob(id))?.getState()))).every((s) => s === "failed"),
        () => "the worker did not stop",
        10_000,
      );
      expect(Date.now() - asked).toBeLessThan(5000);
      for (const id of ids) expect((await queue.getJob(id))?.failedReason).toBe("canceled");
      // Not just the job: the step itself (BuildKit's process, or a build container) stops too.
      await waitUntil(
        async () => (running = await steps()).length === 0,
        () => `still running after the cancel: ${running.map((p) => p.args).join("; ")}`,
        Math.max(0, asked + 5000 - Date.now()),
      );
    } finally {
      await queue.close();
      connection.disconnect();
      killLeftovers(await steps());
    }
    expect((await Promise.all(ids.map(buildOf))).map((b) => b.status)).toEqual(["canceled", "canceled"]);
  });

  it("no line the services logged at info holds a secret of this test", async () => {
    // The reader's docker login stored an identity token (a refresh token): a secret too.
    const stored = JSON.parse(readFileSync(join(home, "config.json"), "utf8")) as {
      auths: Record<string, { identitytoken?: string; auth?: string }>;
    };
    secrets.push(stored.auths[registry]?.identitytoken, stored.auths[registry]?.auth);
    expect(
      logs.lines.some((l) => /build (succeeded|failed)/.test(l)),
      "the worker's lines are captured",
    ).toBe(true);
    expectNoSecretIn(logs.lines, secrets, { users: ["reader@acme", "acme", "reader", "ci", "revocable"] });
  });
});
