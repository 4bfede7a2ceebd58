import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { registryEvents } from "../../src/db/schema.ts";
import { startTestApp, type TestApp } from "../helpers/app.ts";

const MANIFEST = "application/vnd.docker.distribution.manifest.v2+json";
const push = (id: string, repository: string, tag: string, digest: string) => ({
  id,
  timestamp: new Date().toISOString(),
  action: "push",
  target: { mediaType: MANIFEST, size: 527, digest, repository, tag },
  actor: { name: "dev1@acme" },
});

describe("registry notifications", () => {
  let t: TestApp;
  let root: string;
  const send = (events: unknown[], token = t.deps.config.registryEventsToken, region = "cn-hongkong") =>
    t.call("POST", "/registry/events", {
      token,
      raw: JSON.stringify({ events }),
      headers: { "content-type": "application/vnd.docker.distribution.events.v1+json", "x-kiln-region": region },
    });
  const tagsOf = async (repo: string) =>
    (await t.call("GET", `/api/v1/regions/cn-hongkong/repositories/${repo}/tags`, { token: root })).body.tags;

  beforeAll(async () => {
    t = await startTestApp();
    root = (await t.account("acme")).token;
    await t.call("POST", "/api/v1/namespaces", { token: root, body: { name: "alitest1" } });
    await t.call("POST", "/api/v1/regions/cn-hongkong/repositories", {
      token: root,
      body: { namespace: "alitest1", name: "test" },
    });
  });
  afterAll(() => t.close());

  it("needs the events token", async () => {
    expect((await send([push("e0", "alitest1/test", "x", "sha256:0")], "wrong-token-0123456789")).status).toBe(401);
    expect(await tagsOf("alitest1/test")).toEqual([]);
  });

  it("records a pushed tag with digest, size, actor and time", async () => {
    const res = await send([push("e1", "alitest1/test", "node6", "sha256:aaa")]);
    expect(res.body).toEqual({ recorded: 1, unknownRepositories: 0 });
    expect(await tagsOf("alitest1/test")).toEqual([
      expect.objectContaining({ tag: "node6", digest: "sha256:aaa", size: 527, pushedBy: "dev1@acme" }),
    ]);
  });

  it("a redelivered event changes nothing; a new push moves the tag", async () => {
    expect((await send([push("e1", "alitest1/test", "node6", "sha256:aaa")])).body.recorded).toBe(0);
    await send([
      push("e2", "alitest1/test", "node6", "sha256:bbb"),
      push("e3", "alitest1/test", "node8", "sha256:bbb"),
    ]);
    const tags = await tagsOf("alitest1/test");
    expect(tags.map((x: { tag: string; digest: string }) => `${x.tag}@${x.digest}`).sort()).toEqual([
      "node6@sha256:bbb",
      "node8@sha256:bbb",
    ]);
  });

  it("a deleted manifest takes its tags with it", async () => {
    await send([
      {
        id: "d1",
        timestamp: new Date().toISOString(),
        action: "delete",
        target: { repository: "alitest1/test", digest: "sha256:bbb" },
      },
    ]);
    expect(await tagsOf("alitest1/test")).toEqual([]);
  });

  it("events for unknown repositories are recorded as such, not dropped", async () => {
    const res = await send([push("u1", "ghost/repo", "v1", "sha256:ccc")]);
    expect(res.body).toEqual({ recorded: 1, unknownRepositories: 1 });
    const row = await t.deps.db
      .select({
        repository: registryEvents.repository,
        repositoryId: registryEvents.repositoryId,
        tag: registryEvents.tag,
      })
      .from(registryEvents)
      .where(eq(registryEvents.id, "u1"))
      .get();
    expect(row).toEqual({ repository: "ghost/repo", repositoryId: null, tag: "v1" });
  });

  it("an unknown region header or a malformed envelope: 400", async () => {
    expect((await send([], undefined, "mars")).status).toBe(400);
    const bad = await t.call("POST", "/registry/events", {
      token: t.deps.config.registryEventsToken,
      raw: "{nope",
      headers: { "content-type": "application/json" },
    });
    expect(bad.status).toBe(400);
  });
});
