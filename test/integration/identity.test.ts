import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "../helpers/app.ts";

describe("identity: logins, passwords, keys, groups and policies", () => {
  let t: TestApp;
  let root: string;
  beforeAll(async () => {
    t = await startTestApp();
    root = (await t.account("acme")).token;
  });
  afterAll(() => t.close());

  it("a sub-account logs in as user@alias and is asked to set a registry password until it has one", async () => {
    expect(
      (await t.call("POST", "/api/v1/users", { token: root, body: { name: "alice", password: "Console-pass1" } }))
        .status,
    ).toBe(201);
    const first = await t.call("POST", "/api/v1/sessions", {
      body: { loginName: "alice@acme", password: "Console-pass1" },
    });
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ loginName: "alice@acme", mustSetRegistryPassword: true });
    const me = await t.call("GET", "/api/v1/me", { token: first.body.token });
    expect(me.body).toMatchObject({ kind: "user", userName: "alice", alias: "acme", hasRegistryPassword: false });

    expect(
      (
        await t.call("PUT", "/api/v1/me/registry-password", {
          token: first.body.token,
          body: { password: "Registry-pass2" },
        })
      ).status,
    ).toBe(200);
    const second = await t.call("POST", "/api/v1/sessions", {
      body: { loginName: "alice@acme", password: "Console-pass1" },
    });
    expect(second.body.mustSetRegistryPassword).toBe(false);
  });

  it("the registry password is not the console password", async () => {
    const res = await t.call("POST", "/api/v1/sessions", {
      body: { loginName: "alice@acme", password: "Registry-pass2" },
    });
    expect(res.status).toBe(401);
  });

  it("wrong passwords and unknown login names fail alike", async () => {
    for (const [loginName, password] of [
      ["alice@acme", "Wrong-pass9"],
      ["nobody@acme", "Console-pass1"],
      ["alice@nowhere", "Console-pass1"],
      ["acme", "Console-pass1"],
    ]) {
      const res = await t.call("POST", "/api/v1/sessions", { body: { loginName, password } });
      expect([loginName, res.status, res.body.error]).toEqual([loginName, 401, "InvalidCredentials"]);
    }
  });

  it("failed console logins are throttled with 429 and Retry-After", async () => {
    await t.call("POST", "/api/v1/users", { token: root, body: { name: "target", password: "Console-pass1" } });
    for (let i = 0; i < 10; i++)
      expect(
        (await t.call("POST", "/api/v1/sessions", { body: { loginName: "target@acme", password: `Guess-${i}abc` } }))
          .status,
      ).toBe(401);
    const blocked = await t.call("POST", "/api/v1/sessions", {
      body: { loginName: "target@acme", password: "Console-pass1" },
    });
    expect(blocked.status).toBe(429);
    expect(blocked.body.error).toBe("TooManyRequests");
    expect(Number(blocked.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(
      (await t.call("POST", "/api/v1/sessions", { body: { loginName: "alice@acme", password: "Console-pass1" } }))
        .status,
    ).toBe(200);
  });

  it("root logs in with its alias once it has a console password", async () => {
    expect(
      (await t.call("PUT", "/api/v1/me/password", { token: root, body: { password: "Root-pass-123" } })).status,
    ).toBe(200);
    const res = await t.call("POST", "/api/v1/sessions", { body: { loginName: "acme", password: "Root-pass-123" } });
    expect(res.status).toBe(200);
    expect((await t.call("GET", "/api/v1/me", { token: res.body.token })).body).toMatchObject({
      kind: "root",
      loginName: "acme",
    });
  });

  it("a changed console password replaces the old one", async () => {
    expect(
      (await t.call("PUT", "/api/v1/users/alice/password", { token: root, body: { password: "Newer-pass-4" } })).status,
    ).toBe(200);
    expect(
      (await t.call("POST", "/api/v1/sessions", { body: { loginName: "alice@acme", password: "Console-pass1" } }))
        .status,
    ).toBe(401);
    expect(
      (await t.call("POST", "/api/v1/sessions", { body: { loginName: "alice@acme", password: "Newer-pass-4" } }))
        .status,
    ).toBe(200);
  });

  it("policies reach a user through its groups", async () => {
    const bob = await t.user(root, "bob");
    expect((await t.call("POST", "/api/v1/namespaces", { token: bob, body: { name: "bobns" } })).status).toBe(403);
    expect((await t.call("POST", "/api/v1/groups", { token: root, body: { name: "builders" } })).status).toBe(201);
    expect(
      (await t.call("POST", "/api/v1/groups/builders/members", { token: root, body: { userName: "bob" } })).status,
    ).toBe(200);
    expect(
      (
        await t.call("POST", "/api/v1/groups/builders/policies", {
          token: root,
          body: { policyName: "AliyunContainerRegistryFullAccess" },
        })
      ).status,
    ).toBe(200);
    expect((await t.call("POST", "/api/v1/namespaces", { token: bob, body: { name: "bobns" } })).status).toBe(201);
    const group = await t.call("GET", "/api/v1/groups/builders", { token: root });
    expect(group.body).toMatchObject({ members: ["bob"], policies: ["AliyunContainerRegistryFullAccess"] });
    expect((await t.call("GET", "/api/v1/users/bob", { token: root })).body.groups).toEqual(["builders"]);
  });

  it("an explicit Deny beats the group's full access, and says so", async () => {
    await t.attach(root, "bob", "no-delete", {
      Version: "1",
      Statement: [{ Effect: "Deny", Action: "cr:Delete*", Resource: "*" }],
    });
    const bob = (await t.call("POST", "/api/v1/users/bob/access-keys", { token: root })).body.token;
    const res = await t.call("DELETE", "/api/v1/namespaces/bobns", { token: bob });
    expect(res.status).toBe(403);
    expect(res.body).toMatchObject({
      error: "AccessDenied",
      action: "cr:DeleteNamespace",
      decision: "ExplicitDeny",
      matched: [{ policy: "no-delete", statement: 0, effect: "Deny" }],
    });
    expect((await t.call("DELETE", `/api/v1/users/bob/policies/no-delete`, { token: root })).status).toBe(200);
    expect((await t.call("DELETE", "/api/v1/namespaces/bobns", { token: bob })).status).toBe(200);
  });

  it("a read-only system policy allows reads only", async () => {
    const carol = await t.user(root, "carol");
    await t.call("POST", "/api/v1/users/carol/policies", {
      token: root,
      body: { policyName: "AliyunContainerRegistryReadOnlyAccess" },
    });
    expect((await t.call("GET", "/api/v1/namespaces", { token: carol })).status).toBe(200);
    expect((await t.call("POST", "/api/v1/namespaces", { token: carol, body: { name: "carolns" } })).status).toBe(403);
    const listed = await t.call("GET", "/api/v1/users/carol/policies", { token: root });
    expect(listed.body.policies).toEqual([{ name: "AliyunContainerRegistryReadOnlyAccess", type: "System" }]);
  });

  it("an attached policy cannot be deleted; a detached one can", async () => {
    await t.user(root, "dave", { Version: "1", Statement: [{ Effect: "Allow", Action: "cr:Get*", Resource: "*" }] });
    expect((await t.call("DELETE", "/api/v1/policies/dave-p0", { token: root })).status).toBe(409);
    await t.call("DELETE", "/api/v1/users/dave/policies/dave-p0", { token: root });
    expect((await t.call("DELETE", "/api/v1/policies/dave-p0", { token: root })).status).toBe(200);
    expect((await t.call("DELETE", "/api/v1/policies/AliyunContainerRegistryFullAccess", { token: root })).status).toBe(
      404,
    );
  });

  it("lists system and custom policies with their documents", async () => {
    const res = await t.call("GET", "/api/v1/policies", { token: root });
    const system = res.body.policies
      .filter((p: { type: string }) => p.type === "System")
      .map((p: { name: string }) => p.name);
    expect(system).toEqual(["AliyunContainerRegistryFullAccess", "AliyunContainerRegistryReadOnlyAccess"]);
    const full = await t.call("GET", "/api/v1/policies/AliyunContainerRegistryFullAccess", { token: root });
    expect(full.body.document).toEqual({
      Version: "1",
      Statement: [{ Effect: "Allow", Action: ["cr:*"], Resource: ["*"] }],
    });
  });

  it("deleting a user revokes its keys and sessions", async () => {
    const erin = await t.user(root, "erin", {
      Version: "1",
      Statement: [{ Effect: "Allow", Action: "cr:*", Resource: "*" }],
    });
    expect((await t.call("GET", "/api/v1/namespaces", { token: erin })).status).toBe(200);
    expect((await t.call("DELETE", "/api/v1/users/erin", { token: root })).status).toBe(200);
    expect((await t.call("GET", "/api/v1/namespaces", { token: erin })).status).toBe(401);
    expect((await t.call("GET", "/api/v1/users/erin", { token: root })).status).toBe(404);
  });

  it("an account's root has no rights in another account", async () => {
    const rival = (await t.account("rival")).token;
    await t.call("POST", "/api/v1/namespaces", { token: root, body: { name: "acmens" } });
    expect((await t.call("GET", "/api/v1/namespaces/acmens", { token: rival })).status).toBe(404);
    expect((await t.call("DELETE", "/api/v1/namespaces/acmens", { token: rival })).status).toBe(404);
    expect((await t.call("GET", "/api/v1/namespaces", { token: rival })).body.namespaces).toEqual([]);
    expect((await t.call("GET", "/api/v1/users/alice", { token: rival })).status).toBe(404);
    expect((await t.call("GET", "/api/v1/namespaces/acmens", { token: root })).status).toBe(200);
  });
});

describe("policy simulation", () => {
  let t: TestApp;
  let root: string;
  beforeAll(async () => {
    t = await startTestApp();
    root = (await t.account("acme")).token;
    await t.user(root, "dev1", {
      Version: "1",
      Statement: [
        {
          Effect: "Allow",
          Action: ["cr:Get*", "cr:List*", "cr:PullRepository"],
          Resource: "acs:cr:*:*:repository/alitest1/*",
        },
      ],
    });
  });
  afterAll(() => t.close());

  it("evaluates inline documents with exactly the given context", async () => {
    const document = {
      Version: "1",
      Statement: [
        {
          Effect: "Allow",
          Action: "cr:PullRepository",
          Resource: "*",
          Condition: { IpAddress: { "acs:SourceIp": "10.0.0.0/8" } },
        },
      ],
    };
    const inside = await t.call("POST", "/api/v1/policies/simulate", {
      token: root,
      body: {
        policies: [document],
        action: "cr:PullRepository",
        resource: "acs:cr:x:1:repository/a/b",
        context: { "acs:SourceIp": "10.2.3.4" },
      },
    });
    expect(inside.body).toEqual({
      decision: "Allow",
      matched: [{ policy: "policies[0]", statement: 0, effect: "Allow" }],
    });
    const noContext = await t.call("POST", "/api/v1/policies/simulate", {
      token: root,
      body: { policies: [document], action: "cr:PullRepository", resource: "acs:cr:x:1:repository/a/b" },
    });
    expect(noContext.body.decision).toBe("ImplicitDeny");
  });

  it("evaluates a user's attached policies", async () => {
    const pull = await t.call("POST", "/api/v1/policies/simulate", {
      token: root,
      body: {
        userName: "dev1",
        action: "cr:PullRepository",
        resource: "acs:cr:cn-hongkong:1:repository/alitest1/test",
      },
    });
    expect(pull.body).toEqual({ decision: "Allow", matched: [{ policy: "dev1-p0", statement: 0, effect: "Allow" }] });
    const push = await t.call("POST", "/api/v1/policies/simulate", {
      token: root,
      body: {
        userName: "dev1",
        action: "cr:PushRepository",
        resource: "acs:cr:cn-hongkong:1:repository/alitest1/test",
      },
    });
    expect(push.body.decision).toBe("ImplicitDeny");
  });

  it("names the bad element of an inline document", async () => {
    const res = await t.call("POST", "/api/v1/policies/simulate", {
      token: root,
      body: {
        policies: [
          { Version: "1", Statement: [{ Effect: "Allow", Action: "cr:*", Resource: "*" }] },
          { Version: "1", Statement: [{ Effect: "Permit", Action: "cr:*", Resource: "*" }] },
        ],
        action: "cr:X",
        resource: "r",
      },
    });
    expect(res.status).toBe(400);
    expect(res.body.field).toBe("policies[1].Statement[0].Effect");
  });

  it("answers ImplicitDeny with no matched statements for an empty set of inline policies", async () => {
    const res = await t.call("POST", "/api/v1/policies/simulate", {
      token: root,
      body: { policies: [], action: "cr:PullRepository", resource: "acs:cr:x:1:repository/a/b" },
    });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ decision: "ImplicitDeny", matched: [] });
  });

  it("needs either policies or userName", async () => {
    const res = await t.call("POST", "/api/v1/policies/simulate", {
      token: root,
      body: { action: "cr:X", resource: "r" },
    });
    expect(res.status).toBe(400);
    expect(res.body.field).toBe("policies");
  });
});
