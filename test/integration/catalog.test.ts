import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "../helpers/app.ts";

describe("namespaces and region-scoped repositories", () => {
  let t: TestApp;
  let root: string;
  beforeAll(async () => {
    t = await startTestApp();
    root = (await t.account("acme")).token;
  });
  afterAll(() => t.close());

  it("a namespace keeps its settings, and new repositories take its default visibility", async () => {
    const ns = await t.call("POST", "/api/v1/namespaces", {
      token: root,
      body: { name: "product", autoCreateRepository: true, defaultVisibility: "public" },
    });
    expect(ns.body).toMatchObject({
      name: "product",
      autoCreateRepository: true,
      defaultVisibility: "public",
      repositoryCount: 0,
    });
    const repo = await t.call("POST", "/api/v1/regions/cn-hongkong/repositories", {
      token: root,
      body: { namespace: "product", name: "web", summary: "the site" },
    });
    expect(repo.body).toMatchObject({
      namespace: "product",
      name: "web",
      region: "cn-hongkong",
      visibility: "public",
      image: "127.0.0.1:5000/product/web",
      summary: "the site",
    });
    const patched = await t.call("PATCH", "/api/v1/namespaces/product", {
      token: root,
      body: { autoCreateRepository: false, defaultVisibility: "private" },
    });
    expect(patched.body).toMatchObject({
      autoCreateRepository: false,
      defaultVisibility: "private",
      repositoryCount: 1,
    });
    expect(
      (
        await t.call("POST", "/api/v1/regions/cn-hongkong/repositories", {
          token: root,
          body: { namespace: "product", name: "api" },
        })
      ).body.visibility,
    ).toBe("private");
  });

  it("a repository made in cn-hongkong is invisible from cn-beijing", async () => {
    expect((await t.call("GET", "/api/v1/regions/cn-beijing/repositories/product/web", { token: root })).status).toBe(
      404,
    );
    expect((await t.call("GET", "/api/v1/regions/cn-beijing/repositories", { token: root })).body.repositories).toEqual(
      [],
    );
    const beijing = await t.call("POST", "/api/v1/regions/cn-beijing/repositories", {
      token: root,
      body: { namespace: "product", name: "web" },
    });
    expect(beijing.status).toBe(201);
    expect(beijing.body.image).toBe("127.0.0.1:5001/product/web");
    expect(
      (await t.call("GET", "/api/v1/regions/cn-hongkong/repositories", { token: root })).body.repositories,
    ).toHaveLength(2);
    expect(
      (await t.call("GET", "/api/v1/regions/cn-beijing/repositories", { token: root })).body.repositories,
    ).toHaveLength(1);
  });

  it("filters the list by namespace", async () => {
    await t.call("POST", "/api/v1/namespaces", { token: root, body: { name: "dev" } });
    await t.call("POST", "/api/v1/regions/cn-hongkong/repositories", {
      token: root,
      body: { namespace: "dev", name: "tool" },
    });
    const res = await t.call("GET", "/api/v1/regions/cn-hongkong/repositories?namespace=dev", { token: root });
    expect(res.body.repositories.map((r: { name: string }) => r.name)).toEqual(["tool"]);
  });

  it("an empty namespace can be deleted once its repositories are gone", async () => {
    expect((await t.call("DELETE", "/api/v1/namespaces/dev", { token: root })).status).toBe(409);
    expect((await t.call("DELETE", "/api/v1/regions/cn-hongkong/repositories/dev/tool", { token: root })).status).toBe(
      200,
    );
    expect((await t.call("DELETE", "/api/v1/namespaces/dev", { token: root })).status).toBe(200);
    expect((await t.call("GET", "/api/v1/namespaces/dev", { token: root })).status).toBe(404);
  });

  it("a namespace policy written for one region decides by the region asked about", async () => {
    const hk = await t.user(root, "hk", {
      Version: "1",
      Statement: [{ Effect: "Allow", Action: "cr:GetNamespace", Resource: "acs:cr:cn-hongkong:*:repository/product" }],
    });
    expect((await t.call("GET", "/api/v1/namespaces/product?region=cn-hongkong", { token: hk })).status).toBe(200);
    expect((await t.call("GET", "/api/v1/namespaces/product?region=cn-beijing", { token: hk })).status).toBe(403);
  });

  it("conditions see the request: cr:Region and acs:UserAgent", async () => {
    const cond = await t.user(root, "cond", {
      Version: "1",
      Statement: [
        {
          Effect: "Allow",
          Action: "cr:ListRepository",
          Resource: "*",
          Condition: { StringEquals: { "cr:Region": "cn-beijing" }, StringLike: { "acs:UserAgent": "kiln-cli/*" } },
        },
      ],
    });
    const beijing = await t.call("GET", "/api/v1/regions/cn-beijing/repositories", {
      token: cond,
      headers: { "user-agent": "kiln-cli/1.0" },
    });
    expect(beijing.body.repositories).toHaveLength(1);
    const otherAgent = await t.call("GET", "/api/v1/regions/cn-beijing/repositories", {
      token: cond,
      headers: { "user-agent": "curl/8" },
    });
    expect(otherAgent.body.repositories).toEqual([]);
    const hongkong = await t.call("GET", "/api/v1/regions/cn-hongkong/repositories", {
      token: cond,
      headers: { "user-agent": "kiln-cli/1.0" },
    });
    expect(hongkong.body.repositories).toEqual([]);
  });
});
