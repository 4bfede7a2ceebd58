import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "../../src/logger.ts";
import { startBuildWorker } from "../../workers/build-worker.ts";
import { ADMIN_TOKEN } from "../helpers/app.ts";
import { launchChromium, newTab, screenshot } from "../helpers/browser.ts";
import { assertDockerEngine, BASE_IMAGE, ensureBaseImage } from "../helpers/docker.ts";
import { makeGitRepo } from "../helpers/git.ts";
import { waitUntil } from "../helpers/net.ts";
import { startRedis } from "../helpers/redis.ts";
import { seedPushUser } from "../helpers/seed.ts";
import { startKilnWithRegistries } from "../helpers/server.ts";

const READ_ALITEST1 = {
  Version: "1",
  Statement: [
    {
      Effect: "Allow",
      Action: ["cr:Get*", "cr:List*", "cr:PullRepository"],
      Resource: ["acs:cr:*:*:repository/alitest1/*"],
    },
  ],
};
const LIST_ALL = {
  Version: "1",
  Statement: [{ Effect: "Allow", Action: ["cr:ListNamespace", "cr:ListRepository"], Resource: ["*"] }],
};
const CREATE_IN_ALITEST1 = {
  Version: "1",
  Statement: [{ Effect: "Allow", Action: ["cr:CreateRepository"], Resource: ["acs:cr:*:*:repository/alitest1/*"] }],
};

/** A repository whose build prints a line a second, so that a log can be watched while it grows. */
function makeSlowRepository() {
  const repo = makeGitRepo();
  writeFileSync(
    join(repo.dir, "Dockerfile"),
    `FROM ${BASE_IMAGE}\nRUN for i in 1 2 3 4 5 6; do echo "kiln step $i"; sleep 1; done\n`,
  );
  repo.git("add", ".");
  repo.git("commit", "--quiet", "-m", "a slow build");
  return repo;
}

describe("web console walk-through in Chromium (real API, Redis, Docker, registry, git)", () => {
  let kiln: Awaited<ReturnType<typeof startKilnWithRegistries>>;
  let redis: Awaited<ReturnType<typeof startRedis>>;
  let worker: ReturnType<typeof startBuildWorker>;
  let browser: Browser;
  let root: { page: Page; errors: string[] };
  let dev: { page: Page; errors: string[] };
  let rootToken: string;
  const source = makeSlowRepository();
  const url = (path: string) => kiln.base + path;

  async function logIn(page: Page, loginName: string, password: string) {
    await page.goto(url("/console"));
    await page.waitForURL(/\/console\/login/);
    await page.fill("input[name=loginName]", loginName);
    await page.fill("input[name=password]", password);
    await page.click("[data-testid=login-form] button[type=submit]");
  }

  /** Fills a console form (`data-testid`) and sends it; resolves once the page has reacted. */
  async function submit(
    page: Page,
    form: string,
    fields: Record<string, string>,
    after: "reload" | "stay" | RegExp = "reload",
  ) {
    const f = page.locator(`[data-testid=${form}]`);
    for (const [name, value] of Object.entries(fields)) {
      const input = f.locator(`[name="${name}"]`);
      if ((await input.evaluate((e) => e.tagName)) === "SELECT") await input.selectOption(value);
      else await input.fill(value);
    }
    const click = () => f.locator("button[type=submit]").click();
    if (after === "stay") return click();
    await Promise.all([after === "reload" ? page.waitForEvent("load") : page.waitForURL(after), click()]);
  }

  /** Root writes a policy in the console's JSON editor and attaches it to dev1. */
  async function grantToDev(name: string, document: unknown) {
    await root.page.goto(url("/console/access/policies"));
    await root.page.fill("[data-testid=create-policy] input[name=name]", name);
    await root.page.fill("[data-testid=create-policy] textarea[name=document]", JSON.stringify(document, null, 2));
    await expect.poll(() => root.page.textContent("[data-testid=policy-editor-status]")).toMatch(/Valid policy/);
    await Promise.all([
      root.page.waitForEvent("load"),
      root.page.click("[data-testid=create-policy] button[type=submit]"),
    ]);
    await root.page.goto(url("/console/access/users/dev1"));
    await submit(root.page, "attach-policy", { policyName: name });
    await root.page.waitForSelector(`[data-attached="${name}"]`);
  }

  beforeAll(async () => {
    await assertDockerEngine();
    await ensureBaseImage();
    redis = await startRedis();
    kiln = await startKilnWithRegistries(["cn-hongkong", "cn-beijing"], {
      env: { REDIS_URL: redis.url, KILN_ALLOW_LOCAL_GIT: "1" },
      queue: true,
    });
    worker = startBuildWorker(kiln.config, createLogger("silent"));
    rootToken = (await kiln.call("POST", "/api/v1/accounts", { token: ADMIN_TOKEN, body: { alias: "acme" } })).body
      .rootToken;
    expect(
      (await kiln.call("PUT", "/api/v1/me/password", { token: rootToken, body: { password: "Root-console-1" } }))
        .status,
    ).toBe(200);
    expect(
      (
        await kiln.call("PUT", "/api/v1/me/registry-password", {
          token: rootToken,
          body: { password: "Root-registry-1" },
        })
      ).status,
    ).toBe(200);
    // The build's push user: a RAM user allowed to push to alitest1 and nothing else.
    await seedPushUser(kiln.call, rootToken, "builder");
    browser = await launchChromium();
    root = await newTab(browser);
    dev = await newTab(browser);
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await worker?.close();
    await kiln?.stop();
    await redis?.stop();
  });

  it("root logs in, creates the namespaces, a user with a console password, and the read policy (the editor flags a bad element as it is typed)", async () => {
    await logIn(root.page, "acme", "Root-console-1");
    await root.page.waitForURL(/\/console\/namespaces/);
    expect(await root.page.textContent("[data-testid=login-name]")).toBe("acme");
    for (const ns of ["alitest1", "other1"]) {
      await submit(root.page, "create-namespace", { name: ns });
      await root.page.waitForSelector(`tr[data-namespace=${ns}]`);
    }
    const alitest1 = root.page.locator("tr[data-namespace=alitest1]");
    await alitest1.locator("summary").click();
    await alitest1.locator("input[name=autoCreateRepository]").check();
    await Promise.all([root.page.waitForEvent("load"), alitest1.locator("button[type=submit]").first().click()]);
    expect(await root.page.locator("tr[data-namespace=alitest1]").textContent()).toMatch(/alitest10yesprivate/);
    await screenshot(root.page, "01-namespaces-root");

    await root.page.goto(url("/console/access/users"));
    await submit(
      root.page,
      "create-user",
      { name: "dev1", password: "Dev1-console-1" },
      /\/console\/access\/users\/dev1$/,
    );

    await root.page.goto(url("/console/access/policies"));
    const editor = root.page.locator("[data-testid=create-policy] textarea[name=document]");
    await editor.fill('{"Version":"1","Statement":[{"Effect":"Alow","Action":"cr:*","Resource":"*"}]}');
    await expect
      .poll(() => root.page.textContent("[data-testid=policy-editor-status]"))
      .toMatch(/Statement\[0\]\.Effect/);
    await editor.fill('{"Version":"1","Statement":[');
    await expect.poll(() => root.page.textContent("[data-testid=policy-editor-status]")).toMatch(/Not valid JSON/);
    await screenshot(root.page, "02-policy-editor-invalid");
    await grantToDev("alitest1-read", READ_ALITEST1);
    await screenshot(root.page, "03-user-dev1");
    expect(root.errors).toEqual([]);
  });

  it("dev1's first login asks for a registry password; with only the alitest1 read policy it sees no namespace", async () => {
    await logIn(dev.page, "dev1@acme", "Dev1-console-1");
    await dev.page.waitForURL(/\/console\/me/);
    await dev.page.waitForSelector("[data-testid=must-set-registry-password]");
    await screenshot(dev.page, "04-first-login-registry-password");
    await submit(dev.page, "registry-password-form", { password: "short" }, "stay");
    await expect
      .poll(() => dev.page.textContent("[data-testid=registry-password-form] [data-output]"))
      .toMatch(/password: must be at least 8 characters/);
    await submit(dev.page, "registry-password-form", { password: "Dev1-registry-1" }, /\/console\/namespaces/);
    await dev.page.waitForSelector("[data-testid=no-namespaces]");
    expect(
      await dev.page.locator("[data-testid=create-namespace]").count(),
      "a form for what the user may not do is not offered",
    ).toBe(0);
    await screenshot(dev.page, "05-dev1-no-namespace");
    const me = await kiln.call("POST", "/api/v1/sessions", {
      body: { loginName: "dev1@acme", password: "Dev1-console-1" },
    });
    expect(me.body.mustSetRegistryPassword).toBe(false);
  });

  it("after the list policy dev1 sees every namespace, yet cannot create a repository in other1 (the 403 reads as a reason)", async () => {
    await grantToDev("list-all", LIST_ALL);
    await dev.page.reload();
    await dev.page.waitForSelector("tr[data-namespace=alitest1]");
    await dev.page.waitForSelector("tr[data-namespace=other1]");
    await dev.page.goto(url("/console/regions/cn-hongkong/repositories"));
    expect(await dev.page.locator("[data-testid=create-repository]").count(), "read-only: no create form").toBe(0);

    await grantToDev("create-in-alitest1", CREATE_IN_ALITEST1);
    await dev.page.reload();
    await submit(dev.page, "create-repository", { namespace: "other1", name: "app" }, "stay");
    const refusal = dev.page.locator("[data-testid=create-repository] [data-output]");
    await expect
      .poll(() => refusal.textContent())
      .toMatch(
        /You may not do cr:CreateRepository on acs:cr:cn-hongkong:\d+:repository\/other1\/app \(no policy allows it\)/,
      );
    await screenshot(dev.page, "06-dev1-denied-other1");
    await submit(
      dev.page,
      "create-repository",
      { namespace: "alitest1", name: "app" },
      /\/repositories\/alitest1\/app$/,
    );
    expect(await dev.page.textContent("[data-testid=repository-name]")).toMatch(/alitest1\/app/);
    expect(await dev.page.locator("[data-testid=bind-source]").count(), "dev1 may not bind a source").toBe(0);
    expect(await dev.page.locator("[data-testid=build-now]").count(), "dev1 may not start builds").toBe(0);
    expect(await dev.page.textContent("[data-testid=command-login]")).toBe(
      `docker login --username=dev1@acme ${kiln.registryOf("cn-hongkong")}`,
    );
  });

  it("a repository lives in its region: the region switcher shows cn-beijing without it", async () => {
    await dev.page.goto(url("/console/regions/cn-hongkong/repositories"));
    await dev.page.waitForSelector('tr[data-repository="alitest1/app"]');
    await Promise.all([
      dev.page.waitForURL(/\/regions\/cn-beijing\/repositories/),
      dev.page.selectOption("[data-testid=region-switcher]", { label: "cn-beijing" }),
    ]);
    await dev.page.waitForSelector("[data-testid=no-repositories]");
    expect(await dev.page.locator('tr[data-repository="alitest1/app"]').count()).toBe(0);
    await screenshot(dev.page, "07-dev1-cn-beijing");
    expect(dev.errors).toEqual([]);
  });

  it("root binds a code repository (the secret is shown once), adds rules, and the rule tester says which tags a ref makes", async () => {
    await root.page.goto(url("/console/regions/cn-hongkong/repositories"));
    await submit(
      root.page,
      "create-repository",
      { namespace: "alitest1", name: "test", summary: "the console's walk-through" },
      /\/repositories\/alitest1\/test$/,
    );
    await submit(
      root.page,
      "bind-source",
      { provider: "git", repoUrl: `file://${source.dir}`, pushUser: "builder" },
      "stay",
    );
    const secret = await root.page.locator("[data-testid=webhook-secret]").textContent();
    expect(secret).toMatch(/\S{20,}/);
    await Promise.all([root.page.waitForEvent("load"), root.page.click("[data-testid=bind-source] [data-reload]")]);
    expect(await root.page.textContent("[data-testid=webhook-url]")).toMatch(/\/hooks\//);
    expect(await root.page.content(), "the secret is not shown again").not.toContain(secret!);

    // Without the cache every build of main runs the slow step, so there is time to watch and to cancel.
    await root.page.click("[data-testid=add-rule-details] > summary");
    await root.page.locator("[data-testid=add-rule] input[name=noCache]").check();
    await submit(root.page, "add-rule", { sourceType: "branch", source: "main", tags: "{sourceref}, latest" });
    await root.page.click("[data-testid=add-rule-details] > summary");
    await submit(root.page, "add-rule", {
      sourceType: "tag",
      source: "/v(\\d+)\\.(\\d+)\\.(\\d+)/",
      tags: "{\\1}.{\\2}, {sourceref}",
    });
    expect(await root.page.locator("[data-testid=build-rules] tr[data-rule]").count()).toBe(2);

    await submit(root.page, "rule-tester", { ref: "v1.4.2" }, "stay");
    const result = root.page.locator("[data-testid=rule-test-result]");
    await expect.poll(() => result.textContent()).toMatch(/Rule \d+ \(tag \/v\(.*\/\) → 1\.4v1\.4\.2/);
    expect(await result.locator("li").count(), "the branch rule does not match a tag").toBe(1);
    await submit(root.page, "rule-tester", { ref: "feature/x" }, "stay");
    await expect.poll(() => result.textContent()).toMatch(/No rule matches/);

    // Edit the tag rule: one more tag template, and the tester says so.
    const tagRule = root.page.locator("[data-testid=build-rules] tr[data-rule]").nth(1);
    const ruleId = await tagRule.getAttribute("data-rule");
    await tagRule.locator("summary").click();
    await submit(root.page, `edit-rule-${ruleId}`, { tags: "{\\1}.{\\2}, {semver.major}, {sourceref}" });
    await submit(root.page, "rule-tester", { ref: "refs/tags/v1.4.2" }, "stay");
    await expect.poll(() => result.textContent()).toMatch(new RegExp(`Rule ${ruleId} \\(tag .*\\) → 1\\.41v1\\.4\\.2`));

    // Platforms and the registry cache, set in the rule's form and cleared again.
    const ruleOf = async () =>
      (
        await kiln.call("GET", "/api/v1/regions/cn-hongkong/repositories/alitest1/test/build-rules", {
          token: rootToken,
        })
      ).body.rules.find((r: { id: number }) => String(r.id) === ruleId);
    await root.page.locator("[data-testid=build-rules] tr[data-rule]").nth(1).locator("summary").click();
    await root.page.locator(`[data-testid=edit-rule-${ruleId}] input[name=registryCache]`).uncheck();
    await submit(root.page, `edit-rule-${ruleId}`, { platforms: "linux/amd64, linux/arm64" });
    expect(await ruleOf()).toMatchObject({ platforms: ["linux/amd64", "linux/arm64"], registryCache: false });
    expect(await root.page.locator(`[data-testid=build-rules] tr[data-rule="${ruleId}"]`).textContent()).toContain(
      "linux/amd64, linux/arm64",
    );
    await root.page.locator("[data-testid=build-rules] tr[data-rule]").nth(1).locator("summary").click();
    await root.page.locator(`[data-testid=edit-rule-${ruleId}] input[name=registryCache]`).check();
    await submit(root.page, `edit-rule-${ruleId}`, { platforms: "" });
    expect(await ruleOf(), "an emptied field clears the platforms").toMatchObject({
      platforms: [],
      registryCache: true,
    });

    await root.page.click("details.settings > summary");
    await submit(root.page, "edit-repository", { summary: "built by the console walk-through", visibility: "private" });
    expect(await root.page.textContent(".summary")).toBe("built by the console walk-through");
  });

  it("root starts a build; the build page shows log lines arriving before the build ends, then its outcome and stage timings", async () => {
    await submit(root.page, "build-now", { ref: "main" }, /\/console\/builds\//);
    const id = root.page.url().split("/").pop()!;
    const log = root.page.locator("[data-testid=build-log]");
    await expect.poll(() => log.textContent(), { timeout: 60_000 }).toMatch(/kiln step 2/);
    const whileShowing = (await kiln.call("GET", `/api/v1/builds/${id}`, { token: rootToken })).body;
    expect(whileShowing.status, "lines arrived while the build still ran").toBe("running");
    expect(await log.textContent()).not.toMatch(/kiln step 6/);
    await screenshot(root.page, "08-build-running");

    await root.page.waitForSelector('[data-testid=build-status] [data-status="succeeded"]', { timeout: 90_000 });
    expect(await root.page.textContent("[data-testid=build-log]")).toMatch(/kiln step 6/);
    // The badge turns "succeeded" by polling; the stage timings come with the page's reload when
    // the log stream ends, which may land a moment later.
    const stages = root.page.locator("[data-testid=stages] tr[data-stage] td:last-child");
    await expect
      .poll(async () => (await stages.allTextContents()).map((s) => /^\d+\.\d s$/.test(s)), { timeout: 10_000 })
      .toEqual([true, true, true]);
    await screenshot(root.page, "09-build-succeeded");

    await root.page.goto(url("/console/regions/cn-hongkong/repositories/alitest1/test"));
    for (const tag of ["main", "latest"]) {
      const row = root.page.locator(`[data-testid=tags] tr[data-tag="${tag}"]`);
      expect(await row.textContent()).toMatch(/sha256:[0-9a-f]{12}.*builder@acme/);
    }
    expect(await root.page.locator(`[data-testid=builds] tr[data-build="${id}"] [data-status]`).textContent()).toBe(
      "succeeded",
    );
    await screenshot(root.page, "10-repository");
    expect(root.errors).toEqual([]);
  });

  it("retry builds the same ref again, and cancel stops it", async () => {
    const builds = (
      await kiln.call("GET", "/api/v1/regions/cn-hongkong/repositories/alitest1/test/builds", { token: rootToken })
    ).body.builds;
    await root.page.goto(url(`/console/builds/${builds[0].id}`));
    await Promise.all([
      root.page.waitForURL((u) => !u.pathname.endsWith(builds[0].id)),
      root.page.click("[data-testid=retry-build] button"),
    ]);
    const retried = root.page.url().split("/").pop()!;
    expect((await kiln.call("GET", `/api/v1/builds/${retried}`, { token: rootToken })).body).toMatchObject({
      trigger: "retry",
      ref: "refs/heads/main",
    });
    await root.page.click("[data-testid=cancel-build] button");
    await waitUntil(
      async () =>
        (await kiln.call("GET", `/api/v1/builds/${retried}`, { token: rootToken })).body.status === "canceled",
      () => "not canceled",
    );
    await root.page.waitForSelector('[data-testid=build-status] [data-status="canceled"]', { timeout: 30_000 });
  });

  it("root sets a build secret on the repository page: the list shows its id, never its value; dev1 may only read the ids", async () => {
    const value = "//registry.npmjs.org/:_authToken=npm_consoleS3cretValue";
    const repository = url("/console/regions/cn-hongkong/repositories/alitest1/test");
    await root.page.goto(repository);
    expect(await root.page.textContent("[data-testid=secret-usage]")).toBe(
      "RUN --mount=type=secret,id=npmrc cat /run/secrets/npmrc",
    );
    await root.page.click("[data-testid=set-secret-details] > summary");
    expect(await root.page.getAttribute("[data-testid=set-secret] input[name=value]", "type")).toBe("password");
    await submit(root.page, "set-secret", { id: "npmrc", value });
    await root.page.waitForSelector("[data-testid=build-secrets] tr[data-secret=npmrc]");
    expect(await root.page.content(), "the value is not shown").not.toContain("npm_consoleS3cretValue");
    const listed = await kiln.call("GET", "/api/v1/regions/cn-hongkong/repositories/alitest1/test/build-secrets", {
      token: rootToken,
    });
    expect(listed.body.secrets.map((s: { id: string }) => s.id)).toEqual(["npmrc"]);
    await screenshot(root.page, "12-build-secrets");

    // dev1 holds cr:List* on alitest1's repositories: it sees the ids, and no form to change them.
    await dev.page.goto(repository);
    await dev.page.waitForSelector("[data-testid=build-secrets] tr[data-secret=npmrc]");
    expect(await dev.page.locator("[data-testid=set-secret]").count()).toBe(0);
    expect(await dev.page.locator("[data-testid=delete-secret-npmrc]").count()).toBe(0);

    // newTab accepts the confirmation dialog.
    await Promise.all([root.page.waitForEvent("load"), root.page.click("[data-testid=delete-secret-npmrc] button")]);
    expect(await root.page.locator("[data-testid=build-secrets] tr[data-secret]").count()).toBe(0);
    expect(root.errors).toEqual([]);
  });

  it("the simulator answers whether dev1 may push or pull, naming the deciding statement", async () => {
    await root.page.goto(url("/console/access/simulator"));
    await submit(
      root.page,
      "simulator",
      { userName: "dev1", action: "cr:PushRepository", region: "cn-hongkong", target: "alitest1/test" },
      "stay",
    );
    const decision = root.page.locator("[data-testid=simulation-decision]");
    await expect.poll(() => decision.getAttribute("data-decision")).toBe("ImplicitDeny");
    await submit(
      root.page,
      "simulator",
      { userName: "dev1", action: "cr:PullRepository", region: "cn-hongkong", target: "alitest1/test" },
      "stay",
    );
    await expect.poll(() => decision.getAttribute("data-decision")).toBe("Allow");
    const statements = root.page.locator("[data-testid=simulation-statements]");
    await expect
      .poll(() => statements.textContent())
      .toMatch(/Allow by Statement\[0\] of policy alitest1-read.*cr:PullRepository/s);
    await screenshot(root.page, "11-simulator");
  });

  it("root groups users, attaches a policy to the group, and creates an access key that is shown once", async () => {
    await root.page.goto(url("/console/access/groups"));
    await root.page.fill("[data-testid=create-group] input[name=name]", "developers");
    await Promise.all([
      root.page.waitForEvent("load"),
      root.page.click("[data-testid=create-group] button[type=submit]"),
    ]);
    const row = root.page.locator("tr[data-group=developers]");
    await row.locator("input[name=userName]").fill("dev1");
    await Promise.all([
      root.page.waitForEvent("load"),
      row
        .locator("form", { has: root.page.locator("input[name=userName]") })
        .locator("button")
        .click(),
    ]);
    await row.locator("select[name=policyName]").selectOption("AliyunContainerRegistryReadOnlyAccess");
    await Promise.all([
      root.page.waitForEvent("load"),
      row
        .locator("form", { has: root.page.locator("select[name=policyName]") })
        .locator("button")
        .click(),
    ]);
    expect(await row.textContent()).toMatch(/dev1.*AliyunContainerRegistryReadOnlyAccess/);
    const group = (await kiln.call("GET", "/api/v1/groups/developers", { token: rootToken })).body;
    expect(group).toMatchObject({ members: ["dev1"], policies: ["AliyunContainerRegistryReadOnlyAccess"] });

    await root.page.goto(url("/console/access/users/dev1"));
    await submit(root.page, "create-access-key", {}, "stay");
    const key = await root.page.locator("[data-testid=access-key]").textContent();
    expect((await kiln.call("GET", "/api/v1/me", { token: key! })).body.loginName).toBe("dev1@acme");
    await root.page.reload();
    expect(await root.page.content()).not.toContain(key!);
  });

  it("a user without ram rights is not offered access control and gets a readable 403 when opening it", async () => {
    expect(await dev.page.locator("nav.sections >> text=Access control").count()).toBe(0);
    await dev.page.goto(url("/console/access/users"));
    expect(await dev.page.textContent("[data-testid=refusal]")).toMatch(
      /You may not do ram:ListUsers on acs:ram:\*:\d+:user\/\* \(no policy allows it\)/,
    );
  });

  it("logging out ends the session: the old cookie opens nothing", async () => {
    const cookies = await dev.page.context().cookies();
    const session = cookies.find((c) => c.name === "kiln_session")!;
    await Promise.all([dev.page.waitForURL(/\/console\/login/), dev.page.click(".whoami button[type=submit]")]);
    const reuse = await fetch(url("/api/v1/me"), { headers: { cookie: `kiln_session=${session.value}` } });
    expect(reuse.status).toBe(401);
    await dev.page.goto(url("/console/namespaces"));
    await dev.page.waitForURL(/\/console\/login\?next=%2Fconsole%2Fnamespaces/);
  });
});
