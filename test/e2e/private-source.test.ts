import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startBuildWorker } from "../../workers/build-worker.ts";
import { assertDockerEngine, BASE_IMAGE, ensureBaseImage } from "../helpers/docker.ts";
import { makeGitRepo } from "../helpers/git.ts";
import { startPrivateGitServer } from "../helpers/git-http.ts";
import { waitUntil } from "../helpers/net.ts";
import { startRedis } from "../helpers/redis.ts";
import { seedBuildableRepository } from "../helpers/seed.ts";
import { ADMIN_TOKEN } from "../helpers/app.ts";
import { captureLogs, expectNoSecretIn } from "../helpers/logs.ts";
import { startKilnWithRegistries } from "../helpers/server.ts";

const GIT_USER = "ci-bot";
const GIT_TOKEN = "glpat-private-token-0123456789abcdef";

describe("a private code repository: the binding's sealed credentials reach git, and nothing else (real git smart HTTP with Basic auth)", () => {
  let kiln: Awaited<ReturnType<typeof startKilnWithRegistries>>;
  let redis: Awaited<ReturnType<typeof startRedis>>;
  let worker: ReturnType<typeof startBuildWorker>;
  let gitServer: Awaited<ReturnType<typeof startPrivateGitServer>>;
  let root: string;
  /** The API's and the worker's service logs at info; searched at the end for every secret used. */
  const logs = captureLogs();
  const webhookSecrets: string[] = [];
  const repoPath = "/api/v1/regions/cn-hongkong/repositories/alitest1/private";
  const source = makeGitRepo();
  writeFileSync(join(source.dir, "Dockerfile"), `FROM ${BASE_IMAGE}\nRUN echo private > /where\n`);
  source.git("add", ".");
  source.git("commit", "--quiet", "-m", "private");

  const bind = async (token: string) => {
    const bound = await kiln.call("PUT", `${repoPath}/source`, {
      token: root,
      body: { provider: "git", repoUrl: gitServer.url, pushUser: "ci", credentials: { username: GIT_USER, token } },
    });
    if (bound.body?.webhookSecret) webhookSecrets.push(bound.body.webhookSecret);
    return bound;
  };
  async function buildMain() {
    const answer = await kiln.call("POST", `${repoPath}/builds`, { token: root, body: { ref: "main" } });
    expect(answer.status, JSON.stringify(answer.body)).toBe(202);
    const id: string = answer.body.builds[0].id;
    await waitUntil(
      async () =>
        !["queued", "running"].includes((await kiln.call("GET", `/api/v1/builds/${id}`, { token: root })).body.status),
      () => `build ${id} did not end`,
      90_000,
    );
    const build = (await kiln.call("GET", `/api/v1/builds/${id}`, { token: root })).body;
    const log = (await kiln.call("GET", `/api/v1/builds/${id}/logs`, { token: root })).body.lines.join("\n");
    return { build, log };
  }
  const secretForms = [GIT_TOKEN, Buffer.from(`${GIT_USER}:${GIT_TOKEN}`).toString("base64")];

  beforeAll(async () => {
    await assertDockerEngine();
    await ensureBaseImage();
    redis = await startRedis();
    gitServer = await startPrivateGitServer(source.dir, GIT_USER, GIT_TOKEN);
    kiln = await startKilnWithRegistries(["cn-hongkong"], {
      env: { REDIS_URL: redis.url },
      queue: true,
      log: logs.log,
    });
    worker = startBuildWorker(kiln.config, logs.log);
    ({ root } = await seedBuildableRepository(kiln.call, "private"));
    await kiln.call("POST", `${repoPath}/build-rules`, {
      token: root,
      body: { sourceType: "branch", source: "main", tags: ["{sourceref}"] },
    });
  }, 120_000);

  afterAll(async () => {
    await worker?.close();
    await kiln?.stop();
    await redis?.stop();
    await gitServer?.stop();
  });

  it("without credentials the server refuses the clone", async () => {
    const git = await fetch(`${gitServer.url}/info/refs?service=git-upload-pack`);
    expect(git.status).toBe(401);
  });

  it("with the binding's token the build clones over HTTP, builds and pushes; the token shows nowhere", async () => {
    expect((await bind(GIT_TOKEN)).status).toBe(200);
    const binding = (await kiln.call("GET", `${repoPath}/source`, { token: root })).body;
    expect(binding.hasCredentials).toBe(true);
    const { build, log } = await buildMain();
    expect([build.status, build.error]).toEqual(["succeeded", undefined]);
    expect(build.commit).toBe(source.commit());
    expect(
      gitServer.requests.some((r) => r.authorization === `Basic ${secretForms[1]}`),
      "git sent the binding's credentials",
    ).toBe(true);
    for (const secret of secretForms) {
      expect(JSON.stringify(binding)).not.toContain(secret);
      expect(JSON.stringify(build)).not.toContain(secret);
      expect(log).not.toContain(secret);
    }
  });

  it("a wrong token fails the build at once (no retry can fix it) with git's reason, without the token", async () => {
    expect((await bind("wrong-token-000000000000")).status).toBe(200);
    source.git("commit", "--quiet", "--allow-empty", "-m", "another");
    const before = gitServer.requests.length;
    const { build, log } = await buildMain();
    expect(build.status).toBe("failed");
    expect(build.error).toMatch(/^git fetch failed: .*(Authentication failed|could not read Username|401)/);
    expect(
      gitServer.requests.length - before,
      "one attempt: git's probe and its retry with credentials",
    ).toBeLessThanOrEqual(2);
    for (const text of [build.error, log]) expect(text).not.toContain("wrong-token-000000000000");
  });

  it("no line the services logged at info holds the git token (either one), a webhook secret or a Kiln token", async () => {
    expect(
      logs.lines.some((l) => /build (succeeded|failed)/.test(l)),
      "the worker's lines are captured",
    ).toBe(true);
    expectNoSecretIn(logs.lines, [GIT_TOKEN, "wrong-token-000000000000", ADMIN_TOKEN, root, ...webhookSecrets], {
      users: [GIT_USER],
    });
  });
});
