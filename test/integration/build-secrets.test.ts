import { Queue } from "bullmq";
import { sql } from "drizzle-orm";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { jobFor } from "../../src/builds/job-payload.ts";
import { buildsByIds } from "../../src/builds/records.ts";
import { unseal } from "../../src/crypto/seal.ts";
import { rows as rowsOf } from "../../src/db/connection.ts";
import { startTestApp, type Answer, type TestApp } from "../helpers/app.ts";
import { captureLogs, expectNoSecretIn } from "../helpers/logs.ts";
import { waitUntil } from "../helpers/net.ts";
import { startRedis } from "../helpers/redis.ts";

const COMMIT = "6113728f27ae82c7b1a177c8d03f9e96e0adf246";
const NPM_TOKEN = "//registry.npmjs.org/:_authToken=npm_s3cr3tT0kenValue42";
const REPLACED = "//registry.npmjs.org/:_authToken=npm_r3placedT0kenValue77";
const repoPath = "/api/v1/regions/cn-hongkong/repositories/alitest1/app";
const secrets = `${repoPath}/build-secrets`;

/** Every answer of these tests, to search them all for a value at the end. */
const answers: Answer[] = [];
const noValueIn = (answer: Answer, ...values: string[]) => {
  const text = JSON.stringify(answer.body) + JSON.stringify([...answer.headers]);
  for (const value of values) expect(text, "a secret value in an API answer").not.toContain(value);
};

/** Account acme, namespace alitest1, repository app bound to a code repository with one rule. */
async function seed(t: TestApp): Promise<string> {
  const root = (await t.account("acme")).token;
  await t.call("POST", "/api/v1/namespaces", { token: root, body: { name: "alitest1" } });
  for (const name of ["app", "other"])
    await t.call("POST", "/api/v1/regions/cn-hongkong/repositories", {
      token: root,
      body: { namespace: "alitest1", name },
    });
  await t.user(root, "ci", {
    Version: "1",
    Statement: [{ Effect: "Allow", Action: "cr:PushRepository", Resource: "acs:cr:*:*:repository/alitest1/*" }],
  });
  const bound = await t.call("PUT", `${repoPath}/source`, {
    token: root,
    body: { provider: "github", repoUrl: "https://github.com/Codertocat/Hello-World.git", pushUser: "ci" },
  });
  expect(bound.status, JSON.stringify(bound.body)).toBe(200);
  const rule = await t.call("POST", `${repoPath}/build-rules`, {
    token: root,
    body: { sourceType: "branch", source: "main", tags: ["latest"] },
  });
  expect(rule.status, JSON.stringify(rule.body)).toBe(201);
  return root;
}

describe("build secrets: a repository's write-only values for RUN --mount=type=secret", () => {
  let t: TestApp;
  let root: string;
  const logs = captureLogs();
  const call = async (...args: Parameters<TestApp["call"]>) => {
    const answer = await t.call(...args);
    answers.push(answer);
    return answer;
  };
  const put = (id: string, value: unknown, token = root) => call("PUT", `${secrets}/${id}`, { token, body: { value } });

  beforeAll(async () => {
    t = await startTestApp({}, { log: logs.log });
    root = await seed(t);
  });
  afterAll(async () => {
    await t?.close();
  });

  it("set answers 201 then 200 with the id and times; the list holds ids and times only; delete answers 204", async () => {
    const created = await put("npmrc", NPM_TOKEN);
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(Object.keys(created.body).sort()).toEqual(["createdAt", "id", "updatedAt"]);
    expect(created.body.id).toBe("npmrc");
    expect(created.body.createdAt).toBe(created.body.updatedAt);

    await new Promise((r) => setTimeout(r, 5));
    const replaced = await put("npmrc", REPLACED);
    expect(replaced.status).toBe(200);
    expect(replaced.body.createdAt).toBe(created.body.createdAt);
    expect(replaced.body.updatedAt > created.body.updatedAt).toBe(true);

    expect((await put("pip.conf", "[global]\nindex-url = https://u:pw-0123456789@pypi.example/simple")).status).toBe(
      201,
    );
    const list = await call("GET", secrets, { token: root });
    expect(list.status).toBe(200);
    expect(list.body).toEqual({
      secrets: [
        { id: "npmrc", createdAt: created.body.createdAt, updatedAt: replaced.body.updatedAt },
        { id: "pip.conf", createdAt: expect.any(String), updatedAt: expect.any(String) },
      ],
    });

    const deleted = await call("DELETE", `${secrets}/pip.conf`, { token: root });
    expect(deleted.status).toBe(204);
    expect(deleted.body).toBe("");
    expect((await call("GET", secrets, { token: root })).body.secrets.map((s: { id: string }) => s.id)).toEqual([
      "npmrc",
    ]);
    const again = await call("DELETE", `${secrets}/pip.conf`, { token: root });
    expect(again.status).toBe(404);
    expect(again.body).toMatchObject({
      error: "BuildSecretNotFound",
      message: 'build secret "pip.conf" does not exist',
    });
  });

  it("the database holds the value sealed with KILN_SECRET_KEY, never in clear", async () => {
    const rows = await rowsOf(t.deps.db, sql`select * from build_secrets`);
    expect(rows).toHaveLength(1);
    const whole = JSON.stringify(rows);
    expect(whole).not.toContain("npm_r3placedT0kenValue77");
    expect(whole).not.toContain(Buffer.from(REPLACED).toString("base64"));
    expect(whole).not.toContain("npm_s3cr3tT0kenValue42");
    const row = rows[0] as { name: string; value_sealed: string };
    expect(row.name).toBe("npmrc");
    expect(row.value_sealed).toMatch(/^v1\./);
    expect(unseal(t.deps.config.secretKey, row.value_sealed)).toBe(REPLACED);
  });

  it("a build's job carries every secret of its repository sealed; the build's answers hold none", async () => {
    const made = await call("POST", `${repoPath}/builds`, { token: root, body: { ref: "main", commit: COMMIT } });
    expect(made.status, JSON.stringify(made.body)).toBe(202);
    const id = made.body.builds[0].id as string;
    const [row] = await buildsByIds(t.deps.db, [id]);
    const job = await jobFor(t.deps.db, t.deps.config, t.deps.credentials, row!);
    expect(Object.keys(job.secrets)).toEqual(["npmrc"]);
    expect(JSON.stringify(job)).not.toContain("npm_r3placedT0kenValue77");
    expect(unseal(t.deps.config.secretKey, job.secrets.npmrc!)).toBe(REPLACED);

    expect((await call("GET", `${repoPath}/builds`, { token: root })).status).toBe(200);
    expect((await call("GET", `/api/v1/builds/${id}`, { token: root })).status).toBe(200);
    expect((await call("GET", repoPath, { token: root })).status).toBe(200);
  });

  it("a bad id or value is refused with 400 naming the field, and the message never quotes the value", async () => {
    const cases: [string, unknown, string][] = [
      ["-npmrc", NPM_TOKEN, "id"],
      ["a".repeat(65), NPM_TOKEN, "id"],
      ["np%20mrc", NPM_TOKEN, "id"],
      ["npmrc", "", "value"],
      ["npmrc", 42, "value"],
      ["npmrc", "x".repeat(64 * 1024 + 1), "value"],
      ["npmrc", "é".repeat(32 * 1024 + 1), "value"], // 64 KiB + 2 bytes in UTF-8
    ];
    for (const [id, value, field] of cases) {
      const res = await put(id, value);
      expect([id.slice(0, 10), res.status, res.body.error, res.body.field]).toEqual([
        id.slice(0, 10),
        400,
        "InvalidParameter",
        field,
      ]);
      expect(res.body.message).toMatch(new RegExp(`^${field}: `));
      noValueIn(res, NPM_TOKEN, "xxxxxxxxxx", "éééééé");
    }
    const missing = await call("PUT", `${secrets}/npmrc`, { token: root, body: {} });
    expect([missing.status, missing.body.field]).toEqual([400, "value"]);
    const extra = await call("PUT", `${secrets}/npmrc`, { token: root, body: { value: NPM_TOKEN, note: "x" } });
    expect([extra.status, extra.body.field]).toEqual([400, "note"]);
    noValueIn(extra, NPM_TOKEN);
    expect((await put("a".repeat(64), "x".repeat(64 * 1024))).status).toBe(201);
    expect((await call("DELETE", `${secrets}/${"a".repeat(64)}`, { token: root })).status).toBe(204);
    // Nothing of the refused calls was stored.
    const ids = (await call("GET", secrets, { token: root })).body.secrets.map((s: { id: string }) => s.id);
    expect(ids).toEqual(["npmrc"]);
  });

  it("an unknown repository or region answers 404; another repository's secrets are its own", async () => {
    const gone = await call("PUT", "/api/v1/regions/cn-hongkong/repositories/alitest1/nope/build-secrets/npmrc", {
      token: root,
      body: { value: NPM_TOKEN },
    });
    expect([gone.status, gone.body.error]).toEqual([404, "RepositoryNotFound"]);
    const elsewhere = await call("GET", "/api/v1/regions/cn-beijing/repositories/alitest1/app/build-secrets", {
      token: root,
    });
    expect([elsewhere.status, elsewhere.body.error]).toEqual([404, "RepositoryNotFound"]);
    const other = await call("GET", "/api/v1/regions/cn-hongkong/repositories/alitest1/other/build-secrets", {
      token: root,
    });
    expect(other.body).toEqual({ secrets: [] });
    const unknown = await call(
      "DELETE",
      "/api/v1/regions/cn-hongkong/repositories/alitest1/other/build-secrets/npmrc",
      {
        token: root,
      },
    );
    expect([unknown.status, unknown.body.error]).toEqual([404, "BuildSecretNotFound"]);
  });

  it("sub-accounts need the actions on the repository's resource name", async () => {
    const nobody = await t.user(root, "nobody", {
      Version: "1",
      Statement: [{ Effect: "Allow", Action: ["cr:GetRepository", "cr:ListRepository"], Resource: "*" }],
    });
    for (const [method, path, action] of [
      ["GET", secrets, "cr:ListRepositoryBuildSecret"],
      ["PUT", `${secrets}/npmrc`, "cr:UpdateRepositoryBuildSecret"],
      ["DELETE", `${secrets}/npmrc`, "cr:DeleteRepositoryBuildSecret"],
    ] as const) {
      const res = await call(method, path, {
        token: nobody,
        body: method === "PUT" ? { value: "stolen-value-1" } : undefined,
      });
      expect([res.status, res.body.error, res.body.action, res.body.resource, res.body.decision]).toEqual([
        403,
        "AccessDenied",
        action,
        expect.stringMatching(/^acs:cr:cn-hongkong:\d{16}:repository\/alitest1\/app$/),
        "ImplicitDeny",
      ]);
    }

    const setter = await t.user(root, "setter", {
      Version: "1",
      Statement: [
        { Effect: "Allow", Action: "cr:UpdateRepositoryBuildSecret", Resource: "acs:cr:*:*:repository/alitest1/app" },
      ],
    });
    const set = await put("setter-token", "set-by-setter-0001", setter);
    expect(set.status, JSON.stringify(set.body)).toBe(201);
    // Only that repository, and only setting: listing and deleting are other actions.
    const there = await call("PUT", "/api/v1/regions/cn-hongkong/repositories/alitest1/other/build-secrets/x", {
      token: setter,
      body: { value: "set-by-setter-0002" },
    });
    expect([there.status, there.body.action]).toEqual([403, "cr:UpdateRepositoryBuildSecret"]);
    expect((await call("GET", secrets, { token: setter })).status).toBe(403);
    expect((await call("DELETE", `${secrets}/setter-token`, { token: setter })).status).toBe(403);

    // The read-only system policy lists ids (never values) but changes nothing.
    const reader = await t.user(root, "reader");
    await t.call("POST", "/api/v1/users/reader/policies", {
      token: root,
      body: { policyName: "AliyunContainerRegistryReadOnlyAccess" },
    });
    const listed = await call("GET", secrets, { token: reader });
    expect(listed.status).toBe(200);
    expect(listed.body.secrets.map((s: { id: string }) => s.id)).toEqual(["npmrc", "setter-token"]);
    expect((await put("npmrc", "reader-value-0001", reader)).status).toBe(403);
    expect((await call("DELETE", `${secrets}/setter-token`, { token: root })).status).toBe(204);
  });

  it("GET /api/v1/actions lists the three actions with their routes", async () => {
    const { actions } = (await call("GET", "/api/v1/actions")).body as {
      actions: { route: string; action?: string; resource?: string }[];
    };
    const ours = actions.filter((a) => a.route.includes("/build-secrets"));
    expect(ours.map((a) => [a.route, a.action, a.resource])).toEqual([
      [
        "GET /api/v1/regions/{region}/repositories/{ns}/{repo}/build-secrets",
        "cr:ListRepositoryBuildSecret",
        "acs:cr:{region}:{accountId}:repository/{ns}/{repo}",
      ],
      [
        "PUT /api/v1/regions/{region}/repositories/{ns}/{repo}/build-secrets/{id}",
        "cr:UpdateRepositoryBuildSecret",
        "acs:cr:{region}:{accountId}:repository/{ns}/{repo}",
      ],
      [
        "DELETE /api/v1/regions/{region}/repositories/{ns}/{repo}/build-secrets/{id}",
        "cr:DeleteRepositoryBuildSecret",
        "acs:cr:{region}:{accountId}:repository/{ns}/{repo}",
      ],
    ]);
    const doc = (await call("GET", "/openapi.json")).body;
    expect(
      Object.keys(doc.paths["/api/v1/regions/{region}/repositories/{ns}/{repo}/build-secrets/{id}"]).sort(),
    ).toEqual(["delete", "put"]);
  });

  it("root's audit log shows who set and deleted which secret, without the value", async () => {
    const audit = await call("GET", "/api/v1/audit?limit=1000", { token: root });
    const ours = (audit.body.events as { event: string; actor: string; requested: string; outcome: string }[])
      .filter((e) => e.event.startsWith("build-secret:"))
      .reverse()
      .map((e) => [e.event, e.actor, e.requested, e.outcome]);
    expect(ours).toEqual([
      ["build-secret:set", "acme", "npmrc", "created"],
      ["build-secret:set", "acme", "npmrc", "replaced"],
      ["build-secret:set", "acme", "pip.conf", "created"],
      ["build-secret:delete", "acme", "pip.conf", "deleted"],
      ["build-secret:set", "acme", "a".repeat(64), "created"],
      ["build-secret:delete", "acme", "a".repeat(64), "deleted"],
      ["build-secret:set", "setter@acme", "setter-token", "created"],
      ["build-secret:delete", "acme", "setter-token", "deleted"],
    ]);
    expect(audit.body.events.find((e: { event: string }) => e.event === "build-secret:set").resource).toMatch(
      /^acs:cr:cn-hongkong:\d{16}:repository\/alitest1\/app$/,
    );
  });

  it("no answer and no service log line held a value", () => {
    const values = [NPM_TOKEN, REPLACED, "pw-0123456789", "set-by-setter-0001", "stolen-value-1", "reader-value-0001"];
    expect(answers.length).toBeGreaterThan(30);
    for (const answer of answers) noValueIn(answer, ...values);
    expectNoSecretIn(logs.lines, values);
  });

  it("deleting the repository deletes its secrets: a new repository of that name starts with none", async () => {
    expect((await t.call("DELETE", repoPath, { token: root })).status).toBe(200);
    expect(await rowsOf(t.deps.db, sql`select cast(count(*) as integer) as n from build_secrets`)).toEqual([{ n: 0 }]);
    await t.call("POST", "/api/v1/regions/cn-hongkong/repositories", {
      token: root,
      body: { namespace: "alitest1", name: "app" },
    });
    expect((await t.call("GET", secrets, { token: root })).body).toEqual({ secrets: [] });
  });
});

describe("build secrets in the job the dispatcher puts in BullMQ (real Redis)", () => {
  let redis: Awaited<ReturnType<typeof startRedis>>;
  let t: TestApp;
  let inspect: Queue;

  beforeAll(async () => {
    redis = await startRedis();
    t = await startTestApp({ REDIS_URL: redis.url }, { queue: true });
    inspect = new Queue("builds", { connection: new Redis(redis.url, { maxRetriesPerRequest: null }) });
  });
  afterAll(async () => {
    await inspect?.close();
    await t?.close();
    await redis?.stop();
  });

  it("the queued job holds each value sealed, and unsealing gives it back", async () => {
    const root = await seed(t);
    expect((await t.call("PUT", `${secrets}/npmrc`, { token: root, body: { value: NPM_TOKEN } })).status).toBe(201);
    const made = await t.call("POST", `${repoPath}/builds`, { token: root, body: { ref: "main", commit: COMMIT } });
    expect(made.status, JSON.stringify(made.body)).toBe(202);
    const id = made.body.builds[0].id as string;
    await waitUntil(
      async () => (await inspect.getJob(id)) !== undefined,
      () => `build ${id} was not enqueued`,
    );
    const job = await inspect.getJob(id);
    // The job as Redis stores it, byte for byte.
    const client = new Redis(redis.url);
    const raw = await client.hget(`bull:builds:${id}`, "data").finally(() => client.disconnect());
    expect(raw).toBeTruthy();
    expect(raw).not.toContain("npm_s3cr3tT0kenValue42");
    expect(JSON.stringify(job!.data)).not.toContain("npm_s3cr3tT0kenValue42");
    expect(Object.keys(job!.data.secrets)).toEqual(["npmrc"]);
    expect(unseal(t.deps.config.secretKey, job!.data.secrets.npmrc)).toBe(NPM_TOKEN);
  });
});
