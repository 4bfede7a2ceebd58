import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import { webcrypto } from "node:crypto";
import { decodeJwt, decodeProtectedHeader, importX509, jwtVerify } from "jose";
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { users } from "../../src/db/schema.ts";
import { startTestApp, type TestApp } from "../helpers/app.ts";

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

const basic = (user: string, password: string) => ({
  authorization: `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`,
});
const accessOf = (token: string) => decodeJwt(token).access as { type: string; name: string; actions: string[] }[];

describe("the Docker token endpoint", () => {
  let t: TestApp;
  let root: string;
  const token = (query: string, headers: Record<string, string> = {}) =>
    t.call("GET", `/auth/token?${query}`, { headers });

  beforeAll(async () => {
    t = await startTestApp();
    root = (await t.account("acme")).token;
    await t.call("POST", "/api/v1/namespaces", { token: root, body: { name: "alitest1", autoCreateRepository: true } });
    await t.call("POST", "/api/v1/namespaces", { token: root, body: { name: "other1" } });
    await t.call("POST", "/api/v1/regions/cn-hongkong/repositories", {
      token: root,
      body: { namespace: "alitest1", name: "test" },
    });
    await t.call("POST", "/api/v1/regions/cn-hongkong/repositories", {
      token: root,
      body: { namespace: "other1", name: "pub", visibility: "public" },
    });
    await t.user(root, "reader", {
      Version: "1",
      Statement: [
        {
          Effect: "Allow",
          Action: ["cr:Get*", "cr:List*", "cr:PullRepository"],
          Resource: "acs:cr:*:*:repository/alitest1/*",
        },
      ],
    });
    await t.user(root, "maker", {
      Version: "1",
      Statement: [
        {
          Effect: "Allow",
          Action: ["cr:PushRepository", "cr:PullRepository", "cr:CreateRepository"],
          Resource: "acs:cr:*:*:repository/alitest1/*",
        },
      ],
    });
    for (const name of ["reader", "maker"])
      await t.call("PUT", `/api/v1/users/${name}/registry-password`, {
        token: root,
        body: { password: "Registry-pass1" },
      });
  });
  afterAll(() => t.close());

  it("signs an ES256 token the registry can verify: x5c chained to the CA, aud a plain string", async () => {
    const res = await token(
      "service=cn-hongkong&scope=repository:alitest1/test:pull",
      basic("reader@acme", "Registry-pass1"),
    );
    expect(res.status).toBe(200);
    expect(res.body.access_token).toBe(res.body.token);
    expect(res.body.expires_in).toBe(300);
    const header = decodeProtectedHeader(res.body.token);
    expect(header.alg).toBe("ES256");
    const [leafB64, caB64] = header.x5c as string[];
    const leaf = new x509.X509Certificate(Buffer.from(leafB64!, "base64"));
    const ca = new x509.X509Certificate(t.deps.keys.caPem);
    expect(Buffer.from(ca.rawData).toString("base64")).toBe(caB64);
    expect(await leaf.verify({ publicKey: ca.publicKey, signatureOnly: true })).toBe(true);
    const { payload } = await jwtVerify(res.body.token, await importX509(leaf.toString("pem"), "ES256"), {
      issuer: "kiln",
      audience: "cn-hongkong",
    });
    expect(payload.aud).toBe("cn-hongkong");
    expect(payload.sub).toBe("reader@acme");
    for (const claim of ["iat", "nbf", "exp", "jti"]) expect(payload[claim]).toBeDefined();
    expect(payload.access).toEqual([{ type: "repository", name: "alitest1/test", actions: ["pull"] }]);
  });

  it("grants each action separately: pull but not push", async () => {
    const res = await token(
      "service=cn-hongkong&scope=repository:alitest1/test:pull,push",
      basic("reader@acme", "Registry-pass1"),
    );
    expect(accessOf(res.body.token)).toEqual([{ type: "repository", name: "alitest1/test", actions: ["pull"] }]);
  });

  it("push implies pull on the same repository, as docker needs both to push", async () => {
    await t.user(root, "pushonly", {
      Version: "1",
      Statement: [{ Effect: "Allow", Action: "cr:PushRepository", Resource: "acs:cr:*:*:repository/alitest1/test" }],
    });
    await t.call("PUT", "/api/v1/users/pushonly/registry-password", {
      token: root,
      body: { password: "Registry-pass1" },
    });
    const res = await token(
      "service=cn-hongkong&scope=repository:alitest1/test:pull,push",
      basic("pushonly@acme", "Registry-pass1"),
    );
    expect(accessOf(res.body.token)).toEqual([
      { type: "repository", name: "alitest1/test", actions: ["pull", "push"] },
    ]);
  });

  it("a build credential pushes to its own repository only and pulls what its push user may pull, saying why a pull is refused", async () => {
    const maker = (await t.deps.db
      .select({ id: users.id, accountId: users.accountId })
      .from(users)
      .where(eq(users.name, "maker"))
      .get())!;
    const principal = {
      kind: "user" as const,
      accountId: maker.accountId,
      alias: "acme",
      userId: maker.id,
      userName: "maker",
    };
    const credential = await t.deps.credentials.issueBuildCredential(principal, "cn-hongkong:alitest1/test", 600);
    const scopes = [
      "alitest1/test:pull,push,delete",
      "alitest1/base:pull,push",
      "other1/pub:pull",
      "other1/secret:pull",
      "nosuch/ns:pull",
    ].map((s) => `scope=repository:${s}`);
    const res = await token(`service=cn-hongkong&${scopes.join("&")}`, basic(credential.username, credential.password));
    expect(res.status).toBe(200);
    expect(accessOf(res.body.token)).toEqual([
      { type: "repository", name: "alitest1/test", actions: ["pull", "push"] },
      { type: "repository", name: "alitest1/base", actions: ["pull"] },
      { type: "repository", name: "other1/pub", actions: ["pull"] },
      { type: "repository", name: "other1/secret", actions: [] },
      { type: "repository", name: "nosuch/ns", actions: [] },
    ]);
    expect(res.body.refresh_token).toBeUndefined();
    expect(res.body.denied).toEqual([
      {
        scope: "repository:other1/secret:pull",
        reason: `push user "maker@acme" may not cr:PullRepository on acs:cr:cn-hongkong:${maker.accountId}:repository/other1/secret (ImplicitDeny: no statement of its policies allows it)`,
      },
      {
        scope: "repository:nosuch/ns:pull",
        reason: 'push user "maker@acme" may not pull nosuch/ns: there is no such namespace',
      },
    ]);
    // A person's token answer says nothing of the kind.
    const person = await token(
      "service=cn-hongkong&scope=repository:other1/secret:pull",
      basic("reader@acme", "Registry-pass1"),
    );
    expect(person.body.denied).toBeUndefined();
  });

  it("reads repeated and space-separated scopes", async () => {
    const res = await token(
      "service=cn-hongkong&scope=repository:alitest1/test:pull%20repository:other1/pub:pull&scope=repository:other1/secret:pull",
      basic("reader@acme", "Registry-pass1"),
    );
    expect(accessOf(res.body.token)).toEqual([
      { type: "repository", name: "alitest1/test", actions: ["pull"] },
      { type: "repository", name: "other1/pub", actions: ["pull"] },
      { type: "repository", name: "other1/secret", actions: [] },
    ]);
  });

  it("never grants the catalog or `*`, not even to root", async () => {
    await t.call("PUT", "/api/v1/me/registry-password", { token: root, body: { password: "Root-registry-1" } });
    const res = await token(
      "service=cn-hongkong&scope=registry:catalog:*&scope=repository:alitest1/test:*",
      basic("acme", "Root-registry-1"),
    );
    expect(accessOf(res.body.token)).toEqual([
      { type: "registry", name: "catalog", actions: [] },
      { type: "repository", name: "alitest1/test", actions: [] },
    ]);
  });

  it("docker login (no scope) gets a token with no access and a refresh token", async () => {
    const res = await token(
      "service=cn-hongkong&account=reader@acme&client_id=docker&offline_token=true",
      basic("reader@acme", "Registry-pass1"),
    );
    expect(res.status).toBe(200);
    expect(accessOf(res.body.token)).toEqual([]);
    expect(res.body.refresh_token).toMatch(/^ey/);
  });

  it("a refresh token works with POST grant_type=refresh_token, and dies when the user is deleted", async () => {
    await t.user(root, "temp1", {
      Version: "1",
      Statement: [{ Effect: "Allow", Action: "cr:PullRepository", Resource: "*" }],
    });
    await t.call("PUT", "/api/v1/users/temp1/registry-password", { token: root, body: { password: "Registry-pass1" } });
    const login = await token("service=cn-hongkong&offline_token=true", basic("temp1@acme", "Registry-pass1"));
    const form = (refresh: string) =>
      `grant_type=refresh_token&service=cn-hongkong&client_id=docker&scope=${encodeURIComponent("repository:alitest1/test:pull")}&refresh_token=${refresh}`;
    const post = (body: string) =>
      t.call("POST", "/auth/token", { raw: body, headers: { "content-type": "application/x-www-form-urlencoded" } });
    const ok = await post(form(login.body.refresh_token));
    expect(ok.status).toBe(200);
    expect(accessOf(ok.body.token)[0]!.actions).toEqual(["pull"]);
    await t.call("DELETE", "/api/v1/users/temp1", { token: root });
    const dead = await post(form(login.body.refresh_token));
    expect(dead.status).toBe(401);
    expect(dead.body.details).toMatch(/refresh token/);
  });

  it("POST grant_type=password works like Basic auth", async () => {
    const res = await t.call("POST", "/auth/token", {
      raw: `grant_type=password&service=cn-hongkong&username=reader%40acme&password=Registry-pass1&scope=${encodeURIComponent("repository:alitest1/test:pull")}`,
      headers: { "content-type": "application/x-www-form-urlencoded" },
    });
    expect(accessOf(res.body.token)[0]!.actions).toEqual(["pull"]);
  });

  it("a push to a missing repository creates it only with auto-create and cr:CreateRepository", async () => {
    const made = await token(
      "service=cn-hongkong&scope=repository:alitest1/fresh:pull,push",
      basic("maker@acme", "Registry-pass1"),
    );
    expect(accessOf(made.body.token)[0]!.actions).toEqual(["pull", "push"]);
    expect(
      (await t.call("GET", "/api/v1/regions/cn-hongkong/repositories/alitest1/fresh", { token: root })).status,
    ).toBe(200);
    const noAuto = await token(
      "service=cn-hongkong&scope=repository:other1/fresh:push",
      basic("acme", "Root-registry-1"),
    );
    expect(accessOf(noAuto.body.token)[0]!.actions).toEqual([]);
    expect((await t.call("GET", "/api/v1/regions/cn-hongkong/repositories/other1/fresh", { token: root })).status).toBe(
      404,
    );
    const noRight = await token(
      "service=cn-hongkong&scope=repository:alitest1/fresh2:push",
      basic("reader@acme", "Registry-pass1"),
    );
    expect(accessOf(noRight.body.token)[0]!.actions).toEqual([]);
    expect(
      (await t.call("GET", "/api/v1/regions/cn-hongkong/repositories/alitest1/fresh2", { token: root })).status,
    ).toBe(404);
  });

  it("anonymous: public pull only", async () => {
    const res = await token(
      "service=cn-hongkong&scope=repository:other1/pub:pull,push&scope=repository:alitest1/test:pull",
    );
    expect(res.status).toBe(200);
    expect(accessOf(res.body.token)).toEqual([
      { type: "repository", name: "other1/pub", actions: ["pull"] },
      { type: "repository", name: "alitest1/test", actions: [] },
    ]);
  });

  it.each([
    ["an unknown service", "service=mars&scope=repository:a/b:pull", 400],
    ["no service", "scope=repository:a/b:pull", 400],
    ["a malformed scope", "service=cn-hongkong&scope=repository-a-b", 400],
  ])("%s: %s", async (_what, query, status) => {
    const res = await token(query, basic("reader@acme", "Registry-pass1"));
    expect(res.status).toBe(status);
    expect(res.body.errors[0].message.length).toBeGreaterThan(5);
  });

  it("the console password is not the registry password", async () => {
    await t.call("POST", "/api/v1/users", { token: root, body: { name: "split", password: "Console-pass1" } });
    expect((await token("service=cn-hongkong", basic("split@acme", "Console-pass1"))).status).toBe(401);
  });

  it("temporary credentials: at most an hour, usable as a docker password, and as a Kubernetes pull secret", async () => {
    const reader = (await t.call("POST", "/api/v1/users/reader/access-keys", { token: root })).body.token;
    const cred = await t.call("POST", "/api/v1/auth/authorization-token?region=cn-hongkong", { token: reader });
    expect(cred.status).toBe(403);
    await t.attach(root, "reader", "temp-login", {
      Version: "1",
      Statement: [{ Effect: "Allow", Action: "cr:GetAuthorizationToken", Resource: "*" }],
    });
    const ok = await t.call("POST", "/api/v1/auth/authorization-token?region=cn-hongkong", { token: reader });
    expect(ok.status).toBe(200);
    expect(ok.body.username).toBe("reader@acme");
    expect(Date.parse(ok.body.expiresAt) - Date.now()).toBeLessThanOrEqual(3600_000);
    expect(ok.body.registry).toBe("127.0.0.1:5000");
    const used = await token(
      "service=cn-hongkong&scope=repository:alitest1/test:pull",
      basic("reader@acme", ok.body.password),
    );
    expect(accessOf(used.body.token)[0]!.actions).toEqual(["pull"]);
    expect((await token("service=cn-hongkong", basic("maker@acme", ok.body.password))).status).toBe(401);
    expect(
      (await t.call("POST", "/api/v1/auth/authorization-token?expiresInSeconds=7200", { token: reader })).status,
    ).toBe(400);
    const secret = await t.call("POST", "/api/v1/auth/authorization-token?region=cn-hongkong&format=dockerconfigjson", {
      token: reader,
    });
    expect(secret.body).toMatchObject({ apiVersion: "v1", kind: "Secret", type: "kubernetes.io/dockerconfigjson" });
    const config = JSON.parse(Buffer.from(secret.body.data[".dockerconfigjson"], "base64").toString());
    expect(config.auths["127.0.0.1:5000"].username).toBe("reader@acme");
  });

  it("failed logins are throttled per user with 429 and Retry-After, and audited", async () => {
    await t.call("POST", "/api/v1/users", { token: root, body: { name: "victim" } });
    await t.call("PUT", "/api/v1/users/victim/registry-password", {
      token: root,
      body: { password: "Registry-pass1" },
    });
    for (let i = 0; i < 10; i++)
      expect((await token("service=cn-hongkong", basic("victim@acme", `Guess-${i}aaaa`))).status).toBe(401);
    const blocked = await token("service=cn-hongkong", basic("victim@acme", "Registry-pass1"));
    expect(blocked.status).toBe(429);
    expect(Number(blocked.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(blocked.body.details).toMatch(/too many failed logins/);
    expect((await token("service=cn-hongkong", basic("reader@acme", "Registry-pass1"))).status).toBe(200);
    const audit = await t.call("GET", "/api/v1/audit?actor=victim@acme", { token: root });
    expect(audit.body.events.filter((e: { outcome: string }) => e.outcome === "denied")).toHaveLength(10);
    expect(audit.body.events.some((e: { outcome: string }) => e.outcome === "throttled")).toBe(true);
  });

  it("the audit log is for root only", async () => {
    const reader = (await t.call("POST", "/api/v1/users/reader/access-keys", { token: root })).body.token;
    expect((await t.call("GET", "/api/v1/audit", { token: reader })).status).toBe(403);
  });

  it("the repository page shows the docker commands for the caller", async () => {
    const res = await t.call("GET", "/api/v1/regions/cn-hongkong/repositories/alitest1/test", { token: root });
    expect(res.body.commands).toEqual({
      login: "docker login --username=acme 127.0.0.1:5000",
      pull: "docker pull 127.0.0.1:5000/alitest1/test:[tag]",
      tag: "docker tag [ImageId] 127.0.0.1:5000/alitest1/test:[tag]",
      push: "docker push 127.0.0.1:5000/alitest1/test:[tag]",
    });
  });
});
