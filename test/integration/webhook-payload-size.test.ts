import { serve, type ServerType } from "@hono/node-server";
import examples from "@octokit/webhooks-examples";
import { sql } from "drizzle-orm";
import { createHmac } from "node:crypto";
import { request } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MAX_WEBHOOK_BODY_BYTES } from "../../src/api/app.ts";
import { rows } from "../../src/db/connection.ts";
import { startTestApp, type TestApp } from "../helpers/app.ts";
import { freePort } from "../helpers/net.ts";

const MB = 1000 * 1000;
const MiB = 1024 * 1024;
const example = (examples as unknown as { name: string; examples: any[] }[])
  .find((e) => e.name === "push")!
  .examples.find((p) => p.ref === "refs/heads/master");

/**
 * A real GitHub push of about `bytes` bytes: the octokit example with a long list of commits
 * (GitHub lists up to 2,048 commits in a push; their messages can be long).
 */
function bigPush(bytes: number): Buffer {
  const commits = [];
  for (let i = 0; i < 2048; i++)
    commits.push({
      ...example.head_commit,
      id: i.toString(16).padStart(40, "0"),
      message: `commit ${i}\n\n${"A long commit message body. ".repeat(Math.ceil(bytes / 2048 / 27))}`,
      added: [`src/file-${i}.ts`],
    });
  const body = Buffer.from(JSON.stringify({ ...example, commits }));
  if (body.length < bytes) throw new Error(`the padded push is ${body.length} bytes, less than ${bytes}`);
  return body;
}

/** The same bytes sent with `Transfer-Encoding: chunked` (no Content-Length), 1 MiB at a time. */
function chunked(body: Buffer): ReadableStream<Uint8Array> {
  let offset = 0;
  return new ReadableStream({
    pull(controller) {
      if (offset >= body.length) return controller.close();
      controller.enqueue(body.subarray(offset, offset + MiB));
      offset += MiB;
    },
  });
}

/**
 * Streams up to `total` bytes, chunked, 1 MiB at a time (one reused chunk: the client holds 1 MiB),
 * until the server answers; then stops sending. Resolves with the status and how much was sent.
 */
function streamUntilAnswered(url: string, total: number): Promise<{ status: number; body: string; sent: number }> {
  const chunk = Buffer.alloc(MiB, "x");
  return new Promise((resolve, reject) => {
    let sent = 0;
    let answered = false;
    const req = request(url, {
      method: "POST",
      headers: { "content-type": "application/json", "x-github-event": "push" },
    });
    req.on("response", (res) => {
      answered = true;
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (d) => (body += d));
      res.on("end", () => {
        resolve({ status: res.statusCode!, body, sent });
        req.destroy();
      });
    });
    req.on("error", (err) => {
      if (!answered) reject(err);
    });
    const write = () => {
      while (!answered && sent < total) {
        sent += chunk.length;
        if (!req.write(chunk)) return void req.once("drain", write);
      }
      if (!answered) req.end();
    };
    write();
  });
}

describe("webhook payloads as large as GitHub sends (25 MB), read with bounded memory", () => {
  let t: TestApp;
  let server: ServerType;
  let base: string;
  let hook: { url: string; secret: string };
  const buildCount = async () =>
    (await rows<{ n: number }>(t.deps.db, sql`select cast(count(*) as integer) as n from builds`))[0]!.n;
  const headers = (body: Buffer, delivery: string) => ({
    "content-type": "application/json",
    "x-github-event": "push",
    "x-github-delivery": delivery,
    "x-hub-signature-256": `sha256=${createHmac("sha256", hook.secret).update(body).digest("hex")}`,
  });

  beforeAll(async () => {
    t = await startTestApp();
    const port = await freePort();
    server = serve({ fetch: t.app.fetch, port, hostname: "127.0.0.1" });
    base = `http://127.0.0.1:${port}`;
    const root = (await t.account("acme")).token;
    await t.call("POST", "/api/v1/namespaces", { token: root, body: { name: "big" } });
    await t.call("POST", "/api/v1/regions/cn-hongkong/repositories", {
      token: root,
      body: { namespace: "big", name: "app" },
    });
    await t.user(root, "ci", {
      Version: "1",
      Statement: [{ Effect: "Allow", Action: "cr:PushRepository", Resource: "acs:cr:*:*:repository/big/*" }],
    });
    const repo = "/api/v1/regions/cn-hongkong/repositories/big/app";
    const bound = await t.call("PUT", `${repo}/source`, {
      token: root,
      body: { provider: "github", repoUrl: "https://github.com/Codertocat/Hello-World.git", pushUser: "ci" },
    });
    expect(bound.status).toBe(200);
    hook = { url: `${base}${new URL(bound.body.webhookUrl).pathname}`, secret: bound.body.webhookSecret };
    const rule = await t.call("POST", `${repo}/build-rules`, {
      token: root,
      body: { sourceType: "branch", source: "master", tags: ["{sourceref}"] },
    });
    expect(rule.status).toBe(201);
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
    await t.close();
  });

  it("a signed 20 MB push is accepted and builds, with its length declared or chunked", async () => {
    const body = bigPush(20 * MB);
    expect(body.length).toBeLessThan(MAX_WEBHOOK_BODY_BYTES);
    const before = await buildCount();

    const declared = await fetch(hook.url, { method: "POST", headers: headers(body, "big-1"), body });
    const declaredBody = (await declared.json()) as any;
    expect([declared.status, declaredBody.outcome, declaredBody.builds.length]).toEqual([202, "accepted", 1]);
    expect(declaredBody.builds[0]).toMatchObject({ ref: "refs/heads/master", tags: ["master"] });

    const streamed = await fetch(hook.url, {
      method: "POST",
      headers: headers(body, "big-2"),
      body: chunked(body),
      duplex: "half",
    } as RequestInit);
    expect(streamed.status).toBe(202);
    expect(((await streamed.json()) as any).builds).toHaveLength(1);
    expect(await buildCount()).toBe(before + 2);
  }, 60_000);

  it("a 26 MB body answers 413, declared or chunked, and builds nothing", async () => {
    const body = bigPush(26 * MB);
    expect(body.length).toBeGreaterThan(MAX_WEBHOOK_BODY_BYTES);
    const before = await buildCount();
    const declared = await fetch(hook.url, { method: "POST", headers: headers(body, "huge-1"), body });
    expect(declared.status).toBe(413);
    expect(((await declared.json()) as any).error).toBe("PayloadTooLarge");
    const streamed = await fetch(hook.url, {
      method: "POST",
      headers: headers(body, "huge-2"),
      body: chunked(body),
      duplex: "half",
    } as RequestInit);
    expect(streamed.status).toBe(413);
    expect(((await streamed.json()) as any).error).toBe("PayloadTooLarge");
    expect(await buildCount()).toBe(before);
  }, 60_000);

  it("a chunked body is cut off at the limit: 413 before it is all sent, and memory stays bounded", async () => {
    const rssBefore = process.memoryUsage().rss;
    let peak = rssBefore;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 5);
    try {
      for (let round = 0; round < 3; round++) {
        const total = 200 * MiB;
        const answer = await streamUntilAnswered(hook.url, total);
        expect(answer.status).toBe(413);
        expect(JSON.parse(answer.body).error).toBe("PayloadTooLarge");
        // The answer came once the limit was passed, long before the 200 MiB were all sent.
        expect(answer.sent).toBeLessThan(total / 2);
      }
    } finally {
      clearInterval(sampler);
    }
    // Three over-long bodies of 200 MiB: the server never held much more than one 25 MiB limit.
    expect(peak - rssBefore).toBeLessThan(100 * MiB);
  }, 60_000);

  it("other routes keep their 1 MiB limit", async () => {
    const res = await fetch(`${base}/api/v1/policies`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name: "big", document: "x".repeat(MiB + 10) }),
    });
    expect(res.status).toBe(413);
  });
});
