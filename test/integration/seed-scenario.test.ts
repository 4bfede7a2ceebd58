import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "../helpers/app.ts";

const READ_ALITEST1 = {
  Statement: [
    {
      Action: ["cr:Get*", "cr:List*", "cr:PullRepository"],
      Effect: "Allow",
      Resource: ["acs:cr:*:*:repository/alitest1/*"],
    },
  ],
  Version: "1",
};
const LIST_ALL = {
  Statement: [{ Action: ["cr:ListNamespace", "cr:ListRepository"], Effect: "Allow", Resource: ["*"] }],
  Version: "1",
};
const MANAGE_HK_TEST = {
  Statement: [{ Action: ["cr:*"], Effect: "Allow", Resource: ["acs:cr:cn-hongkong:*:repository/alitest1/test"] }],
  Version: "1",
};

describe("the seed scenario: sub-accounts see and manage what their policies allow", () => {
  let t: TestApp;
  let root: string;
  let dev1: string;
  const names = (body: { namespaces: { name: string }[] }) => body.namespaces.map((n) => n.name);
  const repos = (body: { repositories: { namespace: string; name: string }[] }) =>
    body.repositories.map((r) => `${r.namespace}/${r.name}`);

  beforeAll(async () => {
    t = await startTestApp();
    root = (await t.account("acme")).token;
    for (const name of ["alitest1", "other1"])
      expect((await t.call("POST", "/api/v1/namespaces", { token: root, body: { name } })).status).toBe(201);
    for (const [namespace, name] of [
      ["alitest1", "test"],
      ["other1", "app"],
    ]) {
      expect(
        (await t.call("POST", "/api/v1/regions/cn-hongkong/repositories", { token: root, body: { namespace, name } }))
          .status,
      ).toBe(201);
    }
    dev1 = await t.user(root, "dev1", READ_ALITEST1);
  });
  afterAll(() => t.close());

  it("root sees everything it made", async () => {
    expect(names((await t.call("GET", "/api/v1/namespaces", { token: root })).body)).toEqual(["alitest1", "other1"]);
    expect(repos((await t.call("GET", "/api/v1/regions/cn-hongkong/repositories", { token: root })).body)).toEqual([
      "alitest1/test",
      "other1/app",
    ]);
  });

  it("with only the read policy on alitest1/*, dev1 sees no namespace", async () => {
    const res = await t.call("GET", "/api/v1/namespaces", { token: dev1 });
    expect(res.status).toBe(200);
    expect(res.body.namespaces).toEqual([]);
  });

  it("…yet can read alitest1's repositories and nothing of other1", async () => {
    expect(
      (await t.call("GET", "/api/v1/regions/cn-hongkong/repositories/alitest1/test", { token: dev1 })).status,
    ).toBe(200);
    expect(repos((await t.call("GET", "/api/v1/regions/cn-hongkong/repositories", { token: dev1 })).body)).toEqual([
      "alitest1/test",
    ]);
    const other = await t.call("GET", "/api/v1/regions/cn-hongkong/repositories/other1/app", { token: dev1 });
    expect(other.status).toBe(403);
  });

  describe("after adding cr:ListNamespace and cr:ListRepository on *", () => {
    beforeAll(() => t.attach(root, "dev1", "list-all", LIST_ALL));

    it("dev1 sees every namespace and every repository in the list", async () => {
      expect(names((await t.call("GET", "/api/v1/namespaces", { token: dev1 })).body)).toEqual(["alitest1", "other1"]);
      expect(repos((await t.call("GET", "/api/v1/regions/cn-hongkong/repositories", { token: dev1 })).body)).toEqual([
        "alitest1/test",
        "other1/app",
      ]);
    });

    it("dev1 can still read only alitest1's repositories", async () => {
      expect(
        (await t.call("GET", "/api/v1/regions/cn-hongkong/repositories/alitest1/test", { token: dev1 })).status,
      ).toBe(200);
      expect((await t.call("GET", "/api/v1/regions/cn-hongkong/repositories/other1/app", { token: dev1 })).status).toBe(
        403,
      );
    });

    it.each([
      [
        "create a namespace",
        "POST",
        "/api/v1/namespaces",
        { name: "dev1ns" },
        "cr:CreateNamespace",
        "repository/dev1ns",
      ],
      [
        "create a repository in alitest1",
        "POST",
        "/api/v1/regions/cn-hongkong/repositories",
        { namespace: "alitest1", name: "new" },
        "cr:CreateRepository",
        "repository/alitest1/new",
      ],
      [
        "delete alitest1/test",
        "DELETE",
        "/api/v1/regions/cn-hongkong/repositories/alitest1/test",
        undefined,
        "cr:DeleteRepository",
        "repository/alitest1/test",
      ],
      [
        "update alitest1/test",
        "PATCH",
        "/api/v1/regions/cn-hongkong/repositories/alitest1/test",
        { summary: "x" },
        "cr:UpdateRepository",
        "repository/alitest1/test",
      ],
      [
        "delete namespace other1",
        "DELETE",
        "/api/v1/namespaces/other1",
        undefined,
        "cr:DeleteNamespace",
        "repository/other1",
      ],
      ["create a user", "POST", "/api/v1/users", { name: "sneaky" }, "ram:CreateUser", "user/sneaky"],
    ])("dev1 gets 403 AccessDenied trying to %s", async (_what, method, path, body, action, resourceTail) => {
      const res = await t.call(method, path, { token: dev1, body });
      expect(res.status).toBe(403);
      expect(res.body).toMatchObject({ error: "AccessDenied", action, decision: "ImplicitDeny" });
      expect(res.body.resource).toMatch(new RegExp(`:${resourceTail.replace("/", "\\/")}$`));
      expect(res.body.message).toContain(action);
    });

    it("nothing was created or deleted by those attempts", async () => {
      expect(names((await t.call("GET", "/api/v1/namespaces", { token: root })).body)).toEqual(["alitest1", "other1"]);
      expect(repos((await t.call("GET", "/api/v1/regions/cn-hongkong/repositories", { token: root })).body)).toEqual([
        "alitest1/test",
        "other1/app",
      ]);
    });
  });

  describe("cr:* on acs:cr:cn-hongkong:*:repository/alitest1/test", () => {
    let ops: string;
    beforeAll(async () => {
      ops = await t.user(root, "ops1", MANAGE_HK_TEST);
    });

    it("manages alitest1/test in cn-hongkong", async () => {
      expect(
        (await t.call("GET", "/api/v1/regions/cn-hongkong/repositories/alitest1/test", { token: ops })).status,
      ).toBe(200);
      const patched = await t.call("PATCH", "/api/v1/regions/cn-hongkong/repositories/alitest1/test", {
        token: ops,
        body: { summary: "node images", visibility: "public" },
      });
      expect(patched.status).toBe(200);
      expect(patched.body).toMatchObject({ summary: "node images", visibility: "public" });
    });

    it("cannot create the same repository in cn-beijing, nor another in cn-hongkong", async () => {
      const beijing = await t.call("POST", "/api/v1/regions/cn-beijing/repositories", {
        token: ops,
        body: { namespace: "alitest1", name: "test" },
      });
      expect(beijing.status).toBe(403);
      expect(beijing.body.resource).toMatch(/^acs:cr:cn-beijing:\d{16}:repository\/alitest1\/test$/);
      expect(
        (
          await t.call("POST", "/api/v1/regions/cn-hongkong/repositories", {
            token: ops,
            body: { namespace: "alitest1", name: "test2" },
          })
        ).status,
      ).toBe(403);
      expect((await t.call("GET", "/api/v1/regions/cn-hongkong/repositories/other1/app", { token: ops })).status).toBe(
        403,
      );
    });

    it("lists only that repository, and no namespace", async () => {
      expect(repos((await t.call("GET", "/api/v1/regions/cn-hongkong/repositories", { token: ops })).body)).toEqual([
        "alitest1/test",
      ]);
      expect((await t.call("GET", "/api/v1/namespaces", { token: ops })).body.namespaces).toEqual([]);
    });

    it("can delete it, and then it is gone", async () => {
      expect(
        (await t.call("DELETE", "/api/v1/regions/cn-hongkong/repositories/alitest1/test", { token: ops })).status,
      ).toBe(200);
      expect(
        (await t.call("GET", "/api/v1/regions/cn-hongkong/repositories/alitest1/test", { token: root })).status,
      ).toBe(404);
    });
  });
});
