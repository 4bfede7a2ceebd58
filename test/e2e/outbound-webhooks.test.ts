import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startBuildWorker } from "../../workers/build-worker.ts";
import { ADMIN_TOKEN } from "../helpers/app.ts";
import { launchChromium, newTab, screenshot } from "../helpers/browser.ts";
import { assertDockerEngine, BASE_IMAGE, docker, ensureBaseImage } from "../helpers/docker.ts";
import { makeGitRepo } from "../helpers/git.ts";
import { captureLogs, expectNoSecretIn } from "../helpers/logs.ts";
import { waitUntil } from "../helpers/net.ts";
import { startReceiver, type Receiver } from "../helpers/receiver.ts";
import { startRedis } from "../helpers/redis.ts";
import { seedPushUser } from "../helpers/seed.ts";
import { startKilnWithRegistries } from "../helpers/server.ts";

/**
 * Outbound webhooks end to end: a webhook added in the console (Chromium), a real `docker push`
 * to the real registry, whose notification reaches Kiln, whose delivery reaches a receiver that
 * checks the signature; the delivery shows in the console and Redeliver sends it again.
 */
describe("outbound webhooks: console, docker push, registry notification, signed delivery", () => {
  let kiln: Awaited<ReturnType<typeof startKilnWithRegistries>>;
  let receiver: Receiver;
  let browser: Browser;
  let tab: { page: Page; errors: string[] };
  let root: string;
  let registry: string;
  const home = mkdtempSync(join(tmpdir(), "kiln-docker-config-"));
  const repository = "/console/regions/cn-hongkong/repositories/alitest1/test";

  beforeAll(async () => {
    await assertDockerEngine();
    await ensureBaseImage();
    receiver = await startReceiver(() => 200);
    kiln = await startKilnWithRegistries(["cn-hongkong"]);
    registry = kiln.registryOf("cn-hongkong");
    root = (await kiln.call("POST", "/api/v1/accounts", { token: ADMIN_TOKEN, body: { alias: "acme" } })).body
      .rootToken;
    await kiln.call("PUT", "/api/v1/me/password", { token: root, body: { password: "Root-console-1" } });
    await kiln.call("PUT", "/api/v1/me/registry-password", { token: root, body: { password: "Root-registry-1" } });
    await kiln.call("POST", "/api/v1/namespaces", { token: root, body: { name: "alitest1" } });
    await kiln.call("POST", "/api/v1/regions/cn-hongkong/repositories", {
      token: root,
      body: { namespace: "alitest1", name: "test" },
    });
    browser = await launchChromium();
    tab = await newTab(browser);
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await kiln?.stop();
    await receiver?.close();
  });

  it("root adds a webhook on the repository page; its secret is shown once", async () => {
    const page = tab.page;
    await page.goto(kiln.base + "/console");
    await page.waitForURL(/\/console\/login/);
    await page.fill("input[name=loginName]", "acme");
    await page.fill("input[name=password]", "Root-console-1");
    await Promise.all([page.waitForURL(/\/console\/namespaces/), page.click("[data-testid=login-form] button")]);
    await page.goto(kiln.base + repository);
    await page.waitForSelector("[data-testid=webhooks]");
    await page.click("[data-testid=add-webhook-details] > summary");
    const form = page.locator("[data-testid=add-webhook]");
    await form.locator('[name="url"]').fill(receiver.url);
    await form.locator('[name="tagFilter.kind"]').selectOption("regex");
    await form.locator('[name="tagFilter.regex"]').fill("v\\d+");
    await form.locator("button[type=submit]").click();
    const secret = (await page.textContent("[data-testid=webhook-secret]", { timeout: 10_000 }))!;
    expect(secret.length).toBeGreaterThan(20);
    receiver.secret = secret;
    await screenshot(page, "13-webhook-secret");
    await Promise.all([page.waitForEvent("load"), page.click("[data-testid=add-webhook] [data-reload]")]);
    await page.waitForSelector("[data-testid=webhooks] [data-webhook]");
    expect(await page.content(), "the secret is not shown again").not.toContain(secret);
    const listed = (
      await kiln.call("GET", "/api/v1/regions/cn-hongkong/repositories/alitest1/test/webhooks", { token: root })
    ).body.webhooks;
    expect(listed).toEqual([
      expect.objectContaining({
        url: receiver.url,
        events: ["tag.pushed", "build.succeeded", "build.failed"],
        tagFilter: { kind: "regex", regex: "v\\d+" },
        enabled: true,
      }),
    ]);
    expect(tab.errors).toEqual([]);
  });

  it("a docker push of a matching tag reaches the receiver once, signed; a push of another tag does not", async () => {
    const login = await docker(["login", registry, "-u", "acme", "--password-stdin"], {
      configDir: home,
      input: "Root-registry-1\n",
    });
    expect(login.status, login.stderr).toBe(0);
    const pushed: Record<string, string> = {};
    for (const tag of ["latest", "v1"]) {
      const image = `${registry}/alitest1/test:${tag}`;
      expect((await docker(["tag", BASE_IMAGE, image], { configDir: home })).status).toBe(0);
      const res = await docker(["push", image], { configDir: home });
      expect(res.status, res.stderr).toBe(0);
      pushed[tag] = /digest: (sha256:[0-9a-f]{64})/.exec(res.stdout)![1]!;
    }
    await waitUntil(
      async () => receiver.received.length >= 1,
      () => `no delivery; registry log: ${kiln.registryLogs["cn-hongkong"]?.slice(-2000)}`,
      30_000,
    );
    await new Promise((r) => setTimeout(r, 1500));
    expect(receiver.received).toHaveLength(1);
    const got = receiver.received[0]!;
    expect(got.signatureValid).toBe(true);
    expect(got.headers["x-kiln-event"]).toBe("tag.pushed");
    expect(got.body).toMatchObject({
      event: "tag.pushed",
      push_data: { tag: "v1", digest: pushed.v1, pusher: "acme" },
      repository: { repo_full_name: "alitest1/test", region: "cn-hongkong", repo_type: "PRIVATE" },
    });
  }, 120_000);

  it("the console lists the delivery, and Redeliver sends the same payload again", async () => {
    const page = tab.page;
    await page.goto(kiln.base + repository);
    const row = page.locator("[data-testid=webhooks] tr[data-delivery]");
    await expect.poll(() => row.count()).toBe(1);
    expect(await row.locator("[data-status]").getAttribute("data-status")).toBe("delivered");
    expect(await row.textContent()).toMatch(/tag\.pushed.*200/);
    await Promise.all([page.waitForEvent("load"), row.locator("button", { hasText: "Redeliver" }).click()]);
    await waitUntil(
      async () => receiver.received.length >= 2,
      () => "no redelivery",
    );
    const again = receiver.received[1]!;
    expect(again.signatureValid).toBe(true);
    expect(again.raw).toBe(receiver.received[0]!.raw);
    expect(again.headers["x-kiln-delivery"]).not.toBe(receiver.received[0]!.headers["x-kiln-delivery"]);
    await page.reload();
    await expect.poll(() => page.locator("[data-testid=webhooks] tr[data-delivery]").count()).toBe(2);
    await screenshot(page, "14-webhook-deliveries");
    expect(tab.errors).toEqual([]);
  });
});

describe("outbound webhooks: a real Kiln build (git, Redis, BuildKit, registry) reaches the receiver", () => {
  let kiln: Awaited<ReturnType<typeof startKilnWithRegistries>>;
  let redis: Awaited<ReturnType<typeof startRedis>>;
  let worker: ReturnType<typeof startBuildWorker>;
  let receiver: Receiver;
  let root: string;
  /** Every line the API and the worker logged, at debug: searched for the secret and the signatures. */
  const logs = captureLogs("debug");
  const repoPath = "/api/v1/regions/cn-hongkong/repositories/alitest1/app";
  const source = makeGitRepo();
  writeFileSync(join(source.dir, "Dockerfile"), `FROM ${BASE_IMAGE}\nRUN echo built > /built\n`);
  source.git("add", ".");
  source.git("commit", "--quiet", "-m", "a Dockerfile");

  beforeAll(async () => {
    await assertDockerEngine();
    await ensureBaseImage();
    receiver = await startReceiver(() => 200);
    redis = await startRedis();
    kiln = await startKilnWithRegistries(["cn-hongkong"], {
      env: { REDIS_URL: redis.url, KILN_ALLOW_LOCAL_GIT: "1" },
      queue: true,
      log: logs.log,
    });
    worker = startBuildWorker(kiln.config, logs.log);
    root = (await kiln.call("POST", "/api/v1/accounts", { token: ADMIN_TOKEN, body: { alias: "acme" } })).body
      .rootToken;
    await kiln.call("POST", "/api/v1/namespaces", { token: root, body: { name: "alitest1" } });
    await kiln.call("POST", "/api/v1/regions/cn-hongkong/repositories", {
      token: root,
      body: { namespace: "alitest1", name: "app" },
    });
    await seedPushUser(kiln.call, root, "ci");
    const bound = await kiln.call("PUT", `${repoPath}/source`, {
      token: root,
      body: { provider: "git", repoUrl: `file://${source.dir}`, pushUser: "ci" },
    });
    expect(bound.status, JSON.stringify(bound.body)).toBe(200);
    await kiln.call("POST", `${repoPath}/build-rules`, {
      token: root,
      body: { sourceType: "branch", source: "main", tags: ["{sourceref}"] },
    });
  }, 120_000);

  afterAll(async () => {
    await worker?.close();
    await kiln?.stop();
    await redis?.stop();
    await receiver?.close();
  });

  it("the build's push sends tag.pushed (pusher: the push user) and its end build.succeeded, both signed", async () => {
    const created = await kiln.call("POST", `${repoPath}/webhooks`, {
      token: root,
      body: { url: receiver.url, events: ["tag.pushed", "build.succeeded", "build.failed"] },
    });
    expect(created.status).toBe(201);
    receiver.secret = created.body.secret;
    const build = (await kiln.call("POST", `${repoPath}/builds`, { token: root, body: { ref: "main" } })).body
      .builds[0];
    await waitUntil(
      async () => receiver.received.length >= 2,
      () => `${receiver.received.length} deliveries; build: ${JSON.stringify(build)}`,
      120_000,
    );
    const byEvent = Object.fromEntries(receiver.received.map((r) => [r.body.event, r]));
    const finished = (await kiln.call("GET", `/api/v1/builds/${build.id}`, { token: root })).body;
    expect(finished.status).toBe("succeeded");
    expect(byEvent["tag.pushed"]!.body.push_data).toMatchObject({ tag: "main", pusher: "ci@acme" });
    expect(byEvent["build.succeeded"]!.body).toMatchObject({
      push_data: { tag: "main", digest: finished.digest, pusher: "ci@acme" },
      build: { id: build.id, status: "succeeded", commit: source.commit(), tags: ["main"] },
    });
    expect(receiver.received.every((r) => r.signatureValid)).toBe(true);
    const signatures = receiver.received.map((r) => String(r.headers["x-kiln-signature-256"]).slice("sha256=".length));
    expect(logs.text(), "the dispatcher's tries are in the captured log").toContain("outbound webhook try");
    expectNoSecretIn(logs.lines, [created.body.secret, ...signatures]);
  }, 150_000);
});
