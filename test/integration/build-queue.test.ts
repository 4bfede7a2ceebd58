import examples from "@octokit/webhooks-examples";
import { Queue } from "bullmq";
import { Redis } from "ioredis";
import { eq } from "drizzle-orm";
import { createHmac } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { unseal } from "../../src/crypto/seal.ts";
import { builds } from "../../src/db/schema.ts";
import { decodeJwt } from "jose";
import { startTestApp, type TestApp } from "../helpers/app.ts";
import { waitUntil } from "../helpers/net.ts";
import { startRedis } from "../helpers/redis.ts";

const pushOf = (ref: string) =>
  JSON.stringify({
    ...(examples as unknown as { name: string; examples: any[] }[])
      .find((e) => e.name === "push")!
      .examples.find((p) => p.ref === "refs/heads/master"),
    ref,
  });

describe("the build queue: BullMQ on a real Redis, with SQLite as the truth", () => {
  let redis: Awaited<ReturnType<typeof startRedis>>;
  let t: TestApp;
  let root: string;
  let hook: { path: string; secret: string };
  let inspect: Queue;
  let delivery = 0;
  const repoPath = "/api/v1/regions/cn-hongkong/repositories/alitest1/app";
  const send = (ref: string) => {
    const body = pushOf(ref);
    return t.call("POST", hook.path, {
      raw: body,
      headers: {
        "content-type": "application/json",
        "x-github-event": "push",
        "x-github-delivery": `d-${++delivery}`,
        "x-hub-signature-256": `sha256=${createHmac("sha256", hook.secret).update(body).digest("hex")}`,
      },
    });
  };
  const row = async (id: string) =>
    (await t.deps.db
      .select({ status: builds.status, enqueuedAt: builds.enqueuedAt })
      .from(builds)
      .where(eq(builds.id, id))
      .get())!;
  /** True once every one of the builds has its job in BullMQ. */
  const allEnqueued = async (ids: string[]) =>
    (await Promise.all(ids.map((id) => row(id)))).every((r) => r.enqueuedAt !== null);

  beforeAll(async () => {
    redis = await startRedis();
    t = await startTestApp({ REDIS_URL: redis.url }, { queue: true });
    const connection = new Redis(redis.url, { maxRetriesPerRequest: null });
    connection.on("error", () => {}); // this test stops Redis on purpose
    inspect = new Queue("builds", { connection });
    inspect.on("error", () => {});
    root = (await t.account("acme")).token;
    await t.call("POST", "/api/v1/namespaces", { token: root, body: { name: "alitest1" } });
    await t.call("POST", "/api/v1/regions/cn-hongkong/repositories", {
      token: root,
      body: { namespace: "alitest1", name: "app" },
    });
    await t.user(root, "ci", {
      Version: "1",
      Statement: [{ Effect: "Allow", Action: "cr:PushRepository", Resource: "acs:cr:*:*:repository/alitest1/*" }],
    });
    const bound = await t.call("PUT", `${repoPath}/source`, {
      token: root,
      body: {
        provider: "github",
        repoUrl: "https://github.com/Codertocat/Hello-World.git",
        pushUser: "ci",
        credentials: { token: "ghp_private_token" },
      },
    });
    hook = { path: new URL(bound.body.webhookUrl).pathname, secret: bound.body.webhookSecret };
    for (const variant of ["node6", "node8"]) {
      await t.call("POST", `${repoPath}/build-rules`, {
        token: root,
        body: {
          sourceType: "branch",
          source: "/.*/",
          dockerfileName: `Dockerfile.${variant}`,
          tags: [`${variant}-{sourceref}`],
          buildArgs: { NODE: variant },
        },
      });
    }
  });
  afterAll(async () => {
    await inspect?.close();
    await t?.close();
    await redis?.stop();
  });

  it("a push becomes one job per build, with jobId = build id and the payload a worker needs", async () => {
    const res = await send("refs/heads/main");
    expect(res.status).toBe(202);
    const ids = res.body.builds.map((b: { id: string }) => b.id);
    await waitUntil(
      async () => allEnqueued(ids),
      () => "builds were not enqueued",
    );
    const job = await inspect.getJob(ids[0]);
    expect(job?.id).toBe(ids[0]);
    expect(job?.data).toMatchObject({
      buildId: ids[0],
      cloneUrl: "https://github.com/Codertocat/Hello-World.git",
      commit: "6113728f27ae82c7b1a177c8d03f9e96e0adf246",
      ref: "refs/heads/main",
      dockerfile: { dir: "/", name: "Dockerfile.node6" },
      buildArgs: { NODE: "node6" },
      image: { registry: "127.0.0.1:5000", repository: "alitest1/app", tags: ["node6-main"] },
      labels: {
        "org.opencontainers.image.source": "https://github.com/Codertocat/Hello-World.git",
        "org.opencontainers.image.revision": "6113728f27ae82c7b1a177c8d03f9e96e0adf246",
      },
    });
    expect(JSON.stringify(job?.data)).not.toContain("ghp_private_token");
    expect(JSON.parse(unseal(t.deps.config.secretKey, job!.data.gitCredentials)).token).toBe("ghp_private_token");
    expect(await inspect.getJob(ids[1])).toBeDefined();
  });

  it("the job's sealed push credential is the push user's, for this repository only", async () => {
    const [build] = (await t.call("GET", `${repoPath}/builds`, { token: root })).body.builds;
    const job = await inspect.getJob(build.id);
    const auth = JSON.parse(unseal(t.deps.config.secretKey, job!.data.auth)) as { username: string; password: string };
    expect(auth.username).toBe("ci@acme");
    const basic = `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString("base64")}`;
    const here = await t.call(
      "GET",
      "/auth/token?service=cn-hongkong&scope=repository:alitest1/app:pull,push&scope=repository:alitest1/other:push",
      { headers: { authorization: basic } },
    );
    expect(decodeJwt(here.body.token).access).toEqual([
      { type: "repository", name: "alitest1/app", actions: ["pull", "push"] },
      { type: "repository", name: "alitest1/other", actions: [] },
    ]);
    const elsewhere = await t.call("GET", "/auth/token?service=cn-beijing&scope=repository:alitest1/app:push", {
      headers: { authorization: basic },
    });
    expect(decodeJwt(elsewhere.body.token).access).toEqual([{ type: "repository", name: "alitest1/app", actions: [] }]);
  });

  it("with Redis down the webhook still answers 202; the builds wait in SQLite and are queued when Redis is back", async () => {
    await redis.stop();
    const res = await send("refs/heads/outage");
    expect(res.status).toBe(202);
    const ids: string[] = res.body.builds.map((b: { id: string }) => b.id);
    expect(ids).toHaveLength(2);
    await new Promise((r) => setTimeout(r, 1500));
    expect(await Promise.all(ids.map((id) => row(id)))).toEqual([
      { status: "queued", enqueuedAt: null },
      { status: "queued", enqueuedAt: null },
    ]);
    await redis.start();
    await waitUntil(
      async () => allEnqueued(ids),
      () => "builds were not enqueued after Redis came back",
      20_000,
    );
    for (const id of ids) expect((await inspect.getJob(id))?.id).toBe(id);
  });

  it("jobs that a restarted Redis lost are enqueued again, once", async () => {
    const queued = (
      await t.deps.db.select({ id: builds.id }).from(builds).where(eq(builds.status, "queued")).all()
    ).map((r) => r.id);
    await redis.stop();
    await redis.start();
    await waitUntil(
      async () => (await t.deps.queue!.ping().catch(() => false)) === true,
      () => "the API did not reconnect",
    );
    // The API notices by itself that Redis lost its data (the tag-order key is gone) and reconciles.
    await waitUntil(
      async () => (await inspect.getJobCounts("waiting")).waiting === queued.length,
      () => "lost jobs were not re-added",
      20_000,
    );
    for (const id of queued) expect((await inspect.getJob(id))?.id).toBe(id);
    expect(await t.deps.dispatcher!.reconcile()).toBe(0);
    expect((await inspect.getJobCounts("waiting")).waiting).toBe(queued.length);
  });

  it("a newer push of the same branch withdraws the superseded builds' jobs", async () => {
    const first = (await send("refs/heads/busy")).body.builds.map((b: { id: string }) => b.id);
    await waitUntil(
      async () => allEnqueued(first),
      () => "not enqueued",
    );
    const second = (await send("refs/heads/busy")).body.builds.map((b: { id: string }) => b.id);
    await waitUntil(
      async () => allEnqueued(second),
      () => "not enqueued",
    );
    await waitUntil(
      async () => (await Promise.all(first.map((id: string) => inspect.getJob(id)))).every((j) => j === undefined),
      () => "superseded jobs stayed in the queue",
    );
    expect((await Promise.all(first.map((id: string) => row(id)))).map((r) => r.status)).toEqual([
      "superseded",
      "superseded",
    ]);
    for (const id of second) expect((await inspect.getJob(id))?.id).toBe(id);
  });

  it("a build whose job Redis loses again and again is queued again three times, then fails with the reason; the count is kept with the build", async () => {
    const [build] = (await send("refs/heads/evicted")).body.builds;
    const lostJobs = async () =>
      (await t.deps.db.select({ n: builds.lostJobs }).from(builds).where(eq(builds.id, build.id)).get())!.n;
    for (let loss = 1; loss <= 4; loss++) {
      await waitUntil(
        async () => (await row(build.id)).enqueuedAt !== null && (await inspect.getJob(build.id)) !== undefined,
        () => `loss ${loss}: the build was not queued again`,
      );
      // Evicted, as by a Redis under maxmemory with an evicting policy: the job is gone, no worker holds it.
      await inspect.remove(build.id);
      await t.deps.dispatcher!.reconcile();
      if (loss <= 3) {
        expect((await row(build.id)).status).toBe("queued");
        expect(await lostJobs(), "kept in SQLite, so an API restart or another API process counts on").toBe(loss);
      }
    }
    const ended = (await t.call("GET", `/api/v1/builds/${build.id}`, { token: root })).body;
    expect(ended.status).toBe("failed");
    expect(ended.error).toMatch(/Redis lost this build's job 3 times/);
  }, 60_000);

  it("canceling a queued build removes its job", async () => {
    const [build] = (await send("refs/heads/to-cancel")).body.builds;
    await waitUntil(
      async () => (await row(build.id)).enqueuedAt !== null,
      () => "not enqueued",
    );
    expect((await t.call("POST", `/api/v1/builds/${build.id}/cancel`, { token: root })).body.status).toBe("canceled");
    expect(await inspect.getJob(build.id)).toBeUndefined();
  });
});
