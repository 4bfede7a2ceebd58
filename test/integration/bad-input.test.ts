import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ADMIN_TOKEN, startTestApp, type TestApp } from "../helpers/app.ts";

describe("bad input gets a clear error and changes nothing", () => {
  let t: TestApp;
  let root: string;
  beforeAll(async () => {
    t = await startTestApp();
    root = (await t.account("acme")).token;
    await t.call("POST", "/api/v1/namespaces", { token: root, body: { name: "alitest1" } });
  });
  afterAll(() => t.close());

  it("malformed JSON: 400 MalformedJSON", async () => {
    const res = await t.call("POST", "/api/v1/namespaces", { token: root, raw: '{"name": "x"' });
    expect(res.status).toBe(400);
    expect(res.body.error).toBe("MalformedJSON");
  });

  it("a body that is not JSON at all: 415", async () => {
    const res = await t.call("POST", "/api/v1/namespaces", {
      token: root,
      raw: "name=x",
      headers: { "content-type": "application/x-www-form-urlencoded" },
    });
    expect(res.status).toBe(415);
    expect(res.body.error).toBe("UnsupportedMediaType");
  });

  it.each([
    [
      "an unknown statement element",
      { Version: "1", Statement: [{ Effect: "Allow", Action: "cr:*", Resource: "*", Principal: "*" }] },
      "Statement[0].Principal",
    ],
    [
      "a misspelled operator",
      {
        Version: "1",
        Statement: [
          { Effect: "Allow", Action: "cr:*", Resource: "*", Condition: { StringEqual: { "acs:UserAgent": "x" } } },
        ],
      },
      "Statement[0].Condition.StringEqual",
    ],
    [
      "a misspelled operator in a later statement",
      {
        Version: "1",
        Statement: [
          { Effect: "Allow", Action: "cr:*", Resource: "*" },
          { Effect: "Deny", Action: "cr:*", Resource: "*", Condition: { IpAddres: { "acs:SourceIp": "10.0.0.0/8" } } },
        ],
      },
      "Statement[1].Condition.IpAddres",
    ],
    [
      'a Version other than "1"',
      { Version: "2012-10-17", Statement: [{ Effect: "Allow", Action: "cr:*", Resource: "*" }] },
      "Version",
    ],
    [
      "both Action and NotAction",
      { Version: "1", Statement: [{ Effect: "Allow", Action: "cr:*", NotAction: "cr:Delete*", Resource: "*" }] },
      "Statement[0].NotAction",
    ],
    ["an empty Statement", { Version: "1", Statement: [] }, "Statement"],
  ])("a policy with %s: 400 naming %s", async (_what, document, path) => {
    const res = await t.call("POST", "/api/v1/policies", { token: root, body: { name: "bad", document } });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ error: "MalformedPolicyDocument", path });
    expect(res.body.message).toContain(path);
    expect((await t.call("GET", "/api/v1/policies/bad", { token: root })).status).toBe(404);
  });

  it("a policy document given as malformed JSON text: 400", async () => {
    const res = await t.call("POST", "/api/v1/policies", {
      token: root,
      body: { name: "bad", document: '{"Version": "1", ' },
    });
    expect(res.status).toBe(400);
    expect(res.body.error).toBe("MalformedPolicyDocument");
  });

  it.each([
    ["namespace", "/api/v1/namespaces", { name: "Bad_Name!" }, "name"],
    ["namespace (too short)", "/api/v1/namespaces", { name: "a" }, "name"],
    ["namespace (double separator)", "/api/v1/namespaces", { name: "a--b" }, "name"],
    ["repository", "/api/v1/regions/cn-hongkong/repositories", { namespace: "alitest1", name: "UPPER" }, "name"],
    [
      "repository namespace",
      "/api/v1/regions/cn-hongkong/repositories",
      { namespace: "no/slash", name: "ok" },
      "namespace",
    ],
    ["user", "/api/v1/users", { name: "has space" }, "name"],
    ["user (leading dot)", "/api/v1/users", { name: ".hidden" }, "name"],
    ["account alias", "/api/v1/accounts", { alias: "9starts-with-digit" }, "alias"],
  ])("an invalid %s name: 400 naming the field", async (_what, path, body, field) => {
    const token = path === "/api/v1/accounts" ? ADMIN_TOKEN : root;
    const res = await t.call("POST", path, { token, body });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ error: "InvalidParameter", field });
    expect(res.body.message).toMatch(new RegExp(`^${field}: `));
  });

  it("a missing required field: 400 naming it", async () => {
    const res = await t.call("POST", "/api/v1/regions/cn-hongkong/repositories", { token: root, body: { name: "x" } });
    expect(res.status).toBe(400);
    expect(res.body.field).toBe("namespace");
  });

  it("an unknown field is refused, not ignored", async () => {
    const res = await t.call("POST", "/api/v1/namespaces", {
      token: root,
      body: { name: "typo", autoCreateRepositroy: true },
    });
    expect(res.status).toBe(400);
    expect(res.body.field).toBe("autoCreateRepositroy");
    expect((await t.call("GET", "/api/v1/namespaces/typo", { token: root })).status).toBe(404);
  });

  it("a weak password: 400", async () => {
    const res = await t.call("POST", "/api/v1/users", { token: root, body: { name: "weak", password: "short" } });
    expect(res.status).toBe(400);
    expect(res.body.field).toBe("password");
  });

  it("a duplicate namespace: 409, also when another account holds the name", async () => {
    const again = await t.call("POST", "/api/v1/namespaces", { token: root, body: { name: "alitest1" } });
    expect(again.status).toBe(409);
    expect(again.body.error).toBe("NamespaceAlreadyExists");
    const other = (await t.account("rival")).token;
    expect((await t.call("POST", "/api/v1/namespaces", { token: other, body: { name: "alitest1" } })).status).toBe(409);
    expect((await t.call("GET", "/api/v1/namespaces/alitest1", { token: other })).status).toBe(404);
  });

  it("duplicate users, policies and repositories: 409", async () => {
    await t.call("POST", "/api/v1/users", { token: root, body: { name: "twin" } });
    expect((await t.call("POST", "/api/v1/users", { token: root, body: { name: "twin" } })).status).toBe(409);
    const doc = { Version: "1", Statement: [{ Effect: "Allow", Action: "cr:*", Resource: "*" }] };
    await t.call("POST", "/api/v1/policies", { token: root, body: { name: "dup", document: doc } });
    expect(
      (await t.call("POST", "/api/v1/policies", { token: root, body: { name: "dup", document: doc } })).status,
    ).toBe(409);
    expect(
      (
        await t.call("POST", "/api/v1/policies", {
          token: root,
          body: { name: "AliyunContainerRegistryFullAccess", document: doc },
        })
      ).status,
    ).toBe(409);
    await t.call("POST", "/api/v1/regions/cn-hongkong/repositories", {
      token: root,
      body: { namespace: "alitest1", name: "r" },
    });
    expect(
      (
        await t.call("POST", "/api/v1/regions/cn-hongkong/repositories", {
          token: root,
          body: { namespace: "alitest1", name: "r" },
        })
      ).status,
    ).toBe(409);
    expect((await t.call("POST", "/api/v1/accounts", { token: ADMIN_TOKEN, body: { alias: "acme" } })).status).toBe(
      409,
    );
  });

  it("an unknown region: 404 RegionNotFound", async () => {
    for (const [method, path] of [
      ["GET", "/api/v1/regions/mars-1/repositories"],
      ["GET", "/api/v1/regions/mars-1/repositories/alitest1/r"],
      ["GET", "/api/v1/namespaces?region=mars-1"],
    ] as const) {
      const res = await t.call(method, path, { token: root });
      expect([path, res.status, res.body.error]).toEqual([path, 404, "RegionNotFound"]);
    }
  });

  it("a repository in a namespace that does not exist: 404", async () => {
    const res = await t.call("POST", "/api/v1/regions/cn-hongkong/repositories", {
      token: root,
      body: { namespace: "nowhere", name: "x" },
    });
    expect(res.status).toBe(404);
    expect(res.body.error).toBe("NamespaceNotFound");
  });

  it("deleting a namespace that holds repositories: 409, and it stays", async () => {
    const res = await t.call("DELETE", "/api/v1/namespaces/alitest1", { token: root });
    expect(res.status).toBe(409);
    expect(res.body.error).toBe("NamespaceNotEmpty");
    expect((await t.call("GET", "/api/v1/namespaces/alitest1", { token: root })).status).toBe(200);
  });

  it.each([
    ["no token", undefined],
    ["a malformed token", "nonsense"],
    ["a well-formed but unknown token", `kak_${"a".repeat(16)}_${"b".repeat(43)}`],
    ["the root token with its secret altered", "ALTERED"],
  ])("%s: 401", async (_what, token) => {
    const used = token === "ALTERED" ? root.slice(0, -3) + (root.endsWith("xyz") ? "abc" : "xyz") : token;
    const res = await t.call("GET", "/api/v1/namespaces", { token: used });
    expect(res.status).toBe(401);
    expect(res.body.error).toBe("Unauthorized");
  });

  it("a wrong admin token, or a root token, cannot create accounts: 401", async () => {
    expect(
      (await t.call("POST", "/api/v1/accounts", { token: "wrong-admin-token-000000", body: { alias: "nope" } })).status,
    ).toBe(401);
    expect((await t.call("POST", "/api/v1/accounts", { token: root, body: { alias: "nope" } })).status).toBe(401);
  });

  it("a body over 1 MiB: 413", async () => {
    const res = await t.call("POST", "/api/v1/policies", {
      token: root,
      raw: JSON.stringify({ name: "big", document: "x".repeat(1024 * 1024 + 10) }),
    });
    expect(res.status).toBe(413);
    expect(res.body.error).toBe("PayloadTooLarge");
  });

  it("an unknown route: 404 with a JSON error", async () => {
    const res = await t.call("GET", "/api/v1/nothing-here", { token: root });
    expect(res.status).toBe(404);
    expect(res.body.error).toBe("NotFound");
  });
});
