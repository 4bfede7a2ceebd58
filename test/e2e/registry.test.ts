import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ADMIN_TOKEN } from "../helpers/app.ts";
import { assertDockerEngine, BASE_IMAGE, docker } from "../helpers/docker.ts";
import { ensureBaseImage } from "../helpers/docker.ts";
import { captureLogs, expectNoSecretIn } from "../helpers/logs.ts";
import { startKilnWithRegistries } from "../helpers/server.ts";

const READ_ALITEST1 = {
  Version: "1",
  Statement: [
    {
      Action: ["cr:Get*", "cr:List*", "cr:PullRepository"],
      Effect: "Allow",
      Resource: ["acs:cr:*:*:repository/alitest1/*"],
    },
  ],
};
const MANAGE_HK_TEST = {
  Version: "1",
  Statement: [{ Action: ["cr:*"], Effect: "Allow", Resource: ["acs:cr:cn-hongkong:*:repository/alitest1/test"] }],
};

/** Each person gets a docker config dir of their own, as on their own machine. */
const dockerHome = () => mkdtempSync(join(tmpdir(), "kiln-docker-config-"));

describe("docker login, pull and push, decided by the sub-account's policies (real docker, real registry)", () => {
  let kiln: Awaited<ReturnType<typeof startKilnWithRegistries>>;
  let root: string;
  /** Kiln's service log at info, searched at the end for every secret used here. */
  const logs = captureLogs();
  let hk: string;
  let bj: string;
  const homes = {
    root: dockerHome(),
    reader: dockerHome(),
    pusher: dockerHome(),
    anonymous: dockerHome(),
    wrong: dockerHome(),
  };

  async function userWith(name: string, document: unknown, registryPassword: string): Promise<void> {
    expect((await kiln.call("POST", "/api/v1/users", { token: root, body: { name } })).status).toBe(201);
    expect(
      (await kiln.call("POST", "/api/v1/policies", { token: root, body: { name: `${name}-policy`, document } })).status,
    ).toBe(201);
    expect(
      (
        await kiln.call("POST", `/api/v1/users/${name}/policies`, {
          token: root,
          body: { policyName: `${name}-policy` },
        })
      ).status,
    ).toBe(200);
    expect(
      (
        await kiln.call("PUT", `/api/v1/users/${name}/registry-password`, {
          token: root,
          body: { password: registryPassword },
        })
      ).status,
    ).toBe(200);
  }
  const login = (home: string, registry: string, user: string, password: string) =>
    docker(["login", registry, "-u", user, "--password-stdin"], { configDir: home, input: `${password}\n` });
  const tagAndPush = async (home: string, image: string) => {
    const tagged = await docker(["tag", BASE_IMAGE, image], { configDir: home });
    expect(tagged.status, tagged.stderr).toBe(0);
    return docker(["push", image], { configDir: home });
  };

  beforeAll(async () => {
    await assertDockerEngine();
    await ensureBaseImage();
    kiln = await startKilnWithRegistries(["cn-hongkong", "cn-beijing"], { log: logs.log });
    hk = kiln.registryOf("cn-hongkong");
    bj = kiln.registryOf("cn-beijing");
    root = (await kiln.call("POST", "/api/v1/accounts", { token: ADMIN_TOKEN, body: { alias: "acme" } })).body
      .rootToken;
    for (const name of ["alitest1", "other1"])
      await kiln.call("POST", "/api/v1/namespaces", { token: root, body: { name } });
    for (const [region, namespace, name, visibility] of [
      ["cn-hongkong", "alitest1", "test", "private"],
      ["cn-hongkong", "alitest1", "pub", "public"],
      ["cn-hongkong", "other1", "app", "private"],
      ["cn-beijing", "alitest1", "test", "private"],
    ]) {
      const res = await kiln.call("POST", `/api/v1/regions/${region}/repositories`, {
        token: root,
        body: { namespace, name, visibility },
      });
      expect(res.status).toBe(201);
    }
    await kiln.call("PUT", "/api/v1/me/registry-password", { token: root, body: { password: "Root-registry-1" } });
    await userWith("reader", READ_ALITEST1, "Reader-registry-1");
    await userWith("pusher", MANAGE_HK_TEST, "Pusher-registry-1");
    const rootLogin = await login(homes.root, hk, "acme", "Root-registry-1");
    expect(rootLogin.status, rootLogin.stderr).toBe(0);
    for (const image of [`${hk}/alitest1/test:base`, `${hk}/alitest1/pub:latest`]) {
      const pushed = await tagAndPush(homes.root, image);
      expect(pushed.status, pushed.stderr).toBe(0);
    }
  }, 180_000);
  afterAll(async () => {
    await kiln?.stop();
  });

  it("a wrong password fails docker login with a readable message", async () => {
    const res = await login(homes.wrong, hk, "reader@acme", "Not-the-password-1");
    expect(res.status).not.toBe(0);
    expect(res.stderr).toMatch(/login failed for "reader@acme": wrong login name or registry password/);
  });

  it("the reader logs in (docker stores an identity token, not the password) and pulls", async () => {
    const res = await login(homes.reader, hk, "reader@acme", "Reader-registry-1");
    expect(res.status, res.stderr).toBe(0);
    const stored = JSON.parse(readFileSync(join(homes.reader, "config.json"), "utf8")).auths[hk];
    expect(stored.identitytoken).toMatch(/^ey/);
    expect(Buffer.from(stored.auth, "base64").toString()).toBe("reader@acme:");
    const pulled = await docker(["pull", `${hk}/alitest1/test:base`], { configDir: homes.reader });
    expect(pulled.status, pulled.stderr).toBe(0);
  });

  it("the reader's push is denied", async () => {
    const res = await tagAndPush(homes.reader, `${hk}/alitest1/test:reader`);
    expect(res.status).not.toBe(0);
    expect(res.stderr + res.stdout).toMatch(/denied|unauthorized|insufficient/i);
  });

  it("the pusher pushes alitest1/test:node6, and the tag shows in the tags API", async () => {
    expect((await login(homes.pusher, hk, "pusher@acme", "Pusher-registry-1")).status).toBe(0);
    const res = await tagAndPush(homes.pusher, `${hk}/alitest1/test:node6`);
    expect(res.status, res.stderr).toBe(0);
    const digest = /digest: (sha256:[0-9a-f]{64})/.exec(res.stdout)?.[1];
    expect(digest).toBeDefined();
    let tags: { tag: string; digest: string; pushedBy: string }[] = [];
    for (let i = 0; i < 50 && !tags.some((t) => t.tag === "node6"); i++) {
      tags = (await kiln.call("GET", "/api/v1/regions/cn-hongkong/repositories/alitest1/test/tags", { token: root }))
        .body.tags;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(tags).toContainEqual(expect.objectContaining({ tag: "node6", digest, pushedBy: "pusher@acme" }));
  });

  it("the pusher's push to another namespace is denied", async () => {
    const res = await tagAndPush(homes.pusher, `${hk}/other1/app:node6`);
    expect(res.status).not.toBe(0);
    expect(res.stderr + res.stdout).toMatch(/denied|unauthorized|insufficient/i);
  });

  it("the same path in another region's registry is denied to the pusher", async () => {
    expect((await login(homes.pusher, bj, "pusher@acme", "Pusher-registry-1")).status).toBe(0);
    const res = await tagAndPush(homes.pusher, `${bj}/alitest1/test:node6`);
    expect(res.status).not.toBe(0);
    expect(res.stderr + res.stdout).toMatch(/denied|unauthorized|insufficient/i);
  });

  it("anyone pulls a public repository anonymously, and no private one", async () => {
    const pub = await docker(["pull", `${hk}/alitest1/pub:latest`], { configDir: homes.anonymous });
    expect(pub.status, pub.stderr).toBe(0);
    const priv = await docker(["pull", `${hk}/alitest1/test:base`], { configDir: homes.anonymous });
    expect(priv.status).not.toBe(0);
    expect(priv.stderr).toMatch(/denied|unauthorized|not found/i);
  });

  it("a changed registry password revokes the stored identity token", async () => {
    expect(
      (
        await kiln.call("PUT", "/api/v1/users/pusher/registry-password", {
          token: root,
          body: { password: "Pusher-registry-2" },
        })
      ).status,
    ).toBe(200);
    const stale = await tagAndPush(homes.pusher, `${hk}/alitest1/test:after-change`);
    expect(stale.status).not.toBe(0);
    expect((await login(homes.pusher, hk, "pusher@acme", "Pusher-registry-2")).status).toBe(0);
    const fresh = await tagAndPush(homes.pusher, `${hk}/alitest1/test:after-change`);
    expect(fresh.status, fresh.stderr).toBe(0);
  });

  it("every grant and denial reached the audit log", async () => {
    const res = await kiln.call("GET", "/api/v1/audit?limit=1000", { token: root });
    const events = res.body.events as {
      actor: string;
      outcome: string;
      resource: string;
      requested: string;
      granted: string;
    }[];
    expect(
      events.some(
        (e) =>
          e.actor === "reader@acme" &&
          e.resource === "repository:alitest1/test" &&
          e.requested.includes("push") &&
          !e.granted.includes("push"),
      ),
    ).toBe(true);
    expect(
      events.some(
        (e) => e.actor === "pusher@acme" && e.resource === "repository:alitest1/test" && e.granted.includes("push"),
      ),
    ).toBe(true);
    expect(
      events.some((e) => e.actor === "reader@acme" && e.outcome === "denied" && e.resource === "reader@acme"),
    ).toBe(true);
  });

  it("no line the service logged at info holds a password, token or identity token of this test", async () => {
    const stored: (string | undefined)[] = [];
    for (const home of Object.values(homes)) {
      const file = join(home, "config.json");
      if (!existsSync(file)) continue;
      const auths = (JSON.parse(readFileSync(file, "utf8")) as { auths?: Record<string, { identitytoken?: string }> })
        .auths;
      for (const a of Object.values(auths ?? {})) stored.push(a.identitytoken);
    }
    expect(stored.filter(Boolean).length, "docker stored identity (refresh) tokens").toBeGreaterThan(0);
    // A refresh token asked for directly, as a client with access_type=offline does.
    const form = new URLSearchParams({
      grant_type: "password",
      service: "cn-hongkong",
      client_id: "kiln-test",
      access_type: "offline",
      username: "reader@acme",
      password: "Reader-registry-1",
      scope: "repository:alitest1/test:pull",
    });
    const answer = (await (await fetch(`${kiln.base}/auth/token`, { method: "POST", body: form })).json()) as {
      refresh_token?: string;
    };
    expect(answer.refresh_token).toBeTruthy();
    expectNoSecretIn(
      logs.lines,
      [
        ADMIN_TOKEN,
        root,
        "Root-registry-1",
        "Reader-registry-1",
        "Pusher-registry-1",
        "Pusher-registry-2",
        "Not-the-password-1",
        answer.refresh_token,
        ...stored,
      ],
      { users: ["acme", "reader@acme", "pusher@acme"] },
    );
  });
});
