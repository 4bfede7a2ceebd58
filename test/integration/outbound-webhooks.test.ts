import { mkdtempSync, rmSync } from "node:fs";
import { testDatabaseUrl } from "../helpers/database.ts";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { finishBuild } from "../../src/builds/records.ts";
import { eq, sql } from "drizzle-orm";
import { closeDatabase, openDatabase, rows } from "../../src/db/connection.ts";
import { accounts, namespaces, repositories, webhookDeliveries, webhooks } from "../../src/db/schema.ts";
import { sweep } from "../../src/db/retention.ts";
import { claimDue, enqueueTagPushed, recordAttempt, releaseLeases } from "../../src/notifications/outbox.ts";
import { startTestApp, type TestApp } from "../helpers/app.ts";
import { waitUntil } from "../helpers/net.ts";
import { startReceiver, type Receiver } from "../helpers/receiver.ts";
import { seedBuildableRepository } from "../helpers/seed.ts";

const MANIFEST = "application/vnd.docker.distribution.manifest.v2+json";
let eventSeq = 0;
const push = (tag: string, digest = `sha256:${"a".repeat(63)}${eventSeq % 10}`, id = `ev-${++eventSeq}`) => ({
  id,
  timestamp: new Date().toISOString(),
  action: "push",
  target: { mediaType: MANIFEST, size: 527, digest, repository: "alitest1/app", tag },
  actor: { name: "dev1@acme" },
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("outbound webhooks (ACR's triggers): a real receiver, signatures, filters, retries", () => {
  let t: TestApp;
  let root: string;
  let repoPath: string;
  const receivers: Receiver[] = [];
  const hooksOf = () => `${repoPath}/webhooks`;

  const notify = (events: unknown[]) =>
    t.call("POST", "/registry/events", {
      token: t.deps.config.registryEventsToken,
      raw: JSON.stringify({ events }),
      headers: { "content-type": "application/vnd.docker.distribution.events.v1+json", "x-kiln-region": "cn-hongkong" },
    });

  /** A receiver and a webhook pointing at it, the receiver knowing the webhook's secret. */
  async function hookWith(body: Record<string, unknown>, answer?: Parameters<typeof startReceiver>[0]) {
    const receiver = await startReceiver(answer);
    receivers.push(receiver);
    const created = await t.call("POST", hooksOf(), { token: root, body: { url: receiver.url, ...body } });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    receiver.secret = created.body.secret;
    return { receiver, hook: created.body as { id: number; secret: string } };
  }
  const deliveriesOf = async (id: number) =>
    (await t.call("GET", `${hooksOf()}/${id}/deliveries?limit=200`, { token: root })).body.deliveries as any[];

  beforeAll(async () => {
    // Retries after 0.3 s, 1.5 s, …: the schedule of an hour, shrunk.
    t = await startTestApp({ KILN_NOTIFY_RETRY_BASE_MS: "300" });
    ({ root, repoPath } = await seedBuildableRepository(t.call, "app"));
  });
  afterAll(async () => {
    await t.close();
    for (const r of receivers) await r.close();
  });

  it("bad input answers 400 naming the field", async () => {
    const bad = async (body: unknown) => (await t.call("POST", hooksOf(), { token: root, body })).body;
    const url = "http://127.0.0.1:9/hook";
    expect(await bad({ url: "ftp://example.com/x", events: ["tag.pushed"] })).toMatchObject({
      error: "InvalidParameter",
      field: "url",
    });
    expect(await bad({ url: "not a url", events: ["tag.pushed"] })).toMatchObject({ field: "url" });
    expect(await bad({ url, events: ["tag.deleted"] })).toMatchObject({ field: "events[0]" });
    expect(await bad({ url, events: [] })).toMatchObject({ field: "events" });
    const regex = await bad({ url, events: ["tag.pushed"], tagFilter: { kind: "regex", regex: "v(\\d+" } });
    expect(regex).toMatchObject({ error: "InvalidParameter", field: "tagFilter.regex" });
    expect(regex.message).toMatch(/not a valid regular expression/);
    expect(await bad({ url, events: ["tag.pushed"], tagFilter: { kind: "list", tags: ["ok", "-bad"] } })).toMatchObject(
      { field: "tagFilter.tags[1]" },
    );
    expect(await bad({ url, events: ["tag.pushed"], secret: "mine" })).toMatchObject({ field: "secret" });
    expect((await t.call("GET", hooksOf(), { token: root })).body.webhooks).toEqual([]);
  });

  it("a user without cr:CreateWebHook gets 403; with cr:ListWebHook it lists", async () => {
    const reader = await t.user(root, "reader", {
      Version: "1",
      Statement: [{ Effect: "Allow", Action: ["cr:Get*", "cr:List*"], Resource: "acs:cr:*:*:repository/alitest1/*" }],
    });
    const denied = await t.call("POST", hooksOf(), {
      token: reader,
      body: { url: "http://127.0.0.1:9/hook", events: ["tag.pushed"] },
    });
    expect(denied.status).toBe(403);
    expect(denied.body).toMatchObject({ error: "AccessDenied", action: "cr:CreateWebHook" });
    expect((await t.call("GET", hooksOf(), { token: reader })).status).toBe(200);
    const actions = (await t.call("GET", "/api/v1/actions")).body.actions.map((a: { action?: string }) => a.action);
    for (const a of ["cr:CreateWebHook", "cr:ListWebHook", "cr:UpdateWebHook", "cr:DeleteWebHook"])
      expect(actions).toContain(a);
  });

  it("the OpenAPI document describes the routes and the answers", async () => {
    const doc = (await t.call("GET", "/openapi.json")).body;
    for (const path of ["", "/{id}", "/{id}/deliveries", "/{id}/deliveries/{deliveryId}/redeliver"])
      expect(Object.keys(doc.paths)).toContain(`/api/v1/regions/{region}/repositories/{ns}/{repo}/webhooks${path}`);
    expect(Object.keys(doc.components.schemas)).toEqual(
      expect.arrayContaining(["WebHook", "WebHookWithSecret", "WebHookDelivery"]),
    );
    expect(Object.keys(doc.components.schemas.WebHookDelivery.properties)).toEqual(
      expect.arrayContaining(["status", "attempts", "lastStatusCode", "latencyMs", "response", "error"]),
    );
  });

  it("a pushed tag that matches the filter is delivered exactly once, signed; one that does not is not", async () => {
    const { receiver, hook } = await hookWith({
      events: ["tag.pushed"],
      tagFilter: { kind: "regex", regex: "v\\d+\\.\\d+" },
    });
    const listed = (await t.call("GET", hooksOf(), { token: root })).body.webhooks;
    expect(JSON.stringify(listed)).not.toContain(hook.secret);
    expect(JSON.stringify(await rows(t.deps.db, sql`select * from webhooks`))).not.toContain(hook.secret);

    const matching = push("v1.2", "sha256:" + "b".repeat(64));
    expect((await notify([matching, push("latest"), push("v1.2-rc1")])).status).toBe(200);
    expect((await notify([matching])).body.recorded).toBe(0); // the registry retried the same event
    await waitUntil(
      async () => receiver.received.length >= 1,
      () => "no delivery",
    );
    await sleep(1500); // a second copy would have come by now
    expect(receiver.received).toHaveLength(1);
    const got = receiver.received[0]!;
    expect(got.signatureValid).toBe(true);
    expect(got.headers["user-agent"]).toBe("Kiln-Hookshot");
    expect(got.headers["content-type"]).toBe("application/json");
    expect(got.headers["x-kiln-event"]).toBe("tag.pushed");
    expect(got.body).toEqual({
      event: "tag.pushed",
      push_data: {
        digest: "sha256:" + "b".repeat(64),
        pushed_at: matching.timestamp,
        tag: "v1.2",
        pusher: "dev1@acme",
      },
      repository: {
        name: "app",
        namespace: "alitest1",
        region: "cn-hongkong",
        repo_full_name: "alitest1/app",
        repo_type: "PRIVATE",
      },
    });
    const [delivery, ...more] = await deliveriesOf(hook.id);
    expect(more).toEqual([]);
    expect(delivery).toMatchObject({
      id: got.headers["x-kiln-delivery"],
      event: "tag.pushed",
      status: "delivered",
      attempts: 1,
      lastStatusCode: 200,
      error: null,
      response: `answer 200 to ${got.headers["x-kiln-delivery"]}`,
    });
    expect(delivery.latencyMs).toBeGreaterThanOrEqual(0);
    expect(delivery.attemptLog).toEqual([expect.objectContaining({ attempt: 1, statusCode: 200 })]);
  });

  it("a tag list filter and a disabled webhook", async () => {
    const { receiver, hook } = await hookWith({
      events: ["tag.pushed"],
      tagFilter: { kind: "list", tags: ["stable"] },
    });
    const off = await hookWith({ events: ["tag.pushed"], enabled: false });
    await notify([push("nightly"), push("stable")]);
    await waitUntil(
      async () => receiver.received.length >= 1,
      () => "no delivery",
    );
    await sleep(800);
    expect(receiver.received.map((r) => r.body.push_data.tag)).toEqual(["stable"]);
    expect(off.receiver.received).toEqual([]);
    expect(await deliveriesOf(off.hook.id)).toEqual([]);
    expect((await deliveriesOf(hook.id)).map((d) => d.status)).toEqual(["delivered"]);
    for (const id of [hook.id, off.hook.id])
      expect((await t.call("DELETE", `${hooksOf()}/${id}`, { token: root })).status).toBe(200);
  });

  it("a receiver answering 500 and then 200 gets the delivery on the retry; redeliver sends it again", async () => {
    const { receiver, hook } = await hookWith({ events: ["tag.pushed"] }, (n) => (n === 0 ? 500 : 200));
    await notify([push("retry-me")]);
    await waitUntil(
      async () => (await deliveriesOf(hook.id))[0]?.status === "delivered",
      () => JSON.stringify(receiver.received.map((r) => r.headers["x-kiln-delivery"])),
      10_000,
    );
    const [delivery] = await deliveriesOf(hook.id);
    expect(delivery).toMatchObject({ status: "delivered", attempts: 2, lastStatusCode: 200 });
    expect(delivery.attemptLog.map((a: { statusCode: number }) => a.statusCode)).toEqual([500, 200]);
    expect(delivery.attemptLog[0].response).toBe(`answer 500 to ${delivery.id}`);
    const metrics = (await t.call("GET", "/metrics")).body as string;
    expect(metrics).toMatch(/kiln_outbound_webhook_tries_total\{event="tag.pushed",outcome="retry"\} [1-9]/);
    expect(metrics).toMatch(/kiln_outbound_webhook_tries_total\{event="tag.pushed",outcome="delivered"\} [1-9]/);
    expect(receiver.received).toHaveLength(2);
    expect(receiver.received[1]!.at - receiver.received[0]!.at).toBeGreaterThanOrEqual(250); // waited for its turn
    expect(receiver.received.every((r) => r.signatureValid && r.headers["x-kiln-delivery"] === delivery.id)).toBe(true);

    const again = await t.call("POST", `${hooksOf()}/${hook.id}/deliveries/${delivery.id}/redeliver`, { token: root });
    expect(again.status).toBe(202);
    expect(again.body).toMatchObject({ status: "pending", redeliveryOf: delivery.id, attempts: 0 });
    expect(again.body.id).not.toBe(delivery.id);
    await waitUntil(
      async () => receiver.received.length >= 3,
      () => "no redelivery",
    );
    const third = receiver.received[2]!;
    expect(third.headers["x-kiln-delivery"]).toBe(again.body.id);
    expect(third.raw).toBe(receiver.received[0]!.raw);
    expect(third.signatureValid).toBe(true);
    const unknown = await t.call("POST", `${hooksOf()}/${hook.id}/deliveries/whd-nope/redeliver`, { token: root });
    expect(unknown.status).toBe(404);
    await t.call("DELETE", `${hooksOf()}/${hook.id}`, { token: root });
  });

  it("rotating the secret signs later deliveries with the new one", async () => {
    const { receiver, hook } = await hookWith({ events: ["tag.pushed"], tagFilter: { kind: "list", tags: ["rot"] } });
    const rotated = await t.call("PATCH", `${hooksOf()}/${hook.id}`, { token: root, body: { rotateSecret: true } });
    expect(rotated.status).toBe(200);
    expect(rotated.body.secret).toBeTruthy();
    expect(rotated.body.secret).not.toBe(hook.secret);
    receiver.secret = rotated.body.secret;
    await notify([push("rot")]);
    await waitUntil(
      async () => receiver.received.length >= 1,
      () => "no delivery",
    );
    expect(receiver.received[0]!.signatureValid).toBe(true);
    const plain = await t.call("PATCH", `${hooksOf()}/${hook.id}`, { token: root, body: { enabled: false } });
    expect(plain.body.secret).toBeUndefined();
    await t.call("DELETE", `${hooksOf()}/${hook.id}`, { token: root });
  });

  it("a build that ends sends build.succeeded or build.failed, with the build", async () => {
    await t.call("PUT", `${repoPath}/source`, {
      token: root,
      body: { provider: "git", repoUrl: "https://git.example.com/acme/app.git", pushUser: "ci" },
    });
    await t.call("POST", `${repoPath}/build-rules`, {
      token: root,
      body: { sourceType: "branch", source: "/.*/", tags: ["{sourceref}", "latest"] },
    });
    const { receiver, hook } = await hookWith({
      events: ["build.succeeded", "build.failed"],
      tagFilter: { kind: "list", tags: ["latest"] },
    });
    const tagsOnly = await hookWith({ events: ["tag.pushed"] });
    const start = async (ref: string) =>
      (await t.call("POST", `${repoPath}/builds`, { token: root, body: { ref } })).body.builds[0].id as string;
    const ok = await start("main");
    const bad = await start("feature");
    expect(
      await finishBuild(t.deps.db, ok, {
        status: "succeeded",
        digest: "sha256:" + "c".repeat(64),
        size: 1,
        commit: "abc",
      }),
    ).toBe(true);
    expect(await finishBuild(t.deps.db, bad, { status: "failed", error: "RUN make: exit code 2" })).toBe(true);
    expect(await finishBuild(t.deps.db, ok, { status: "failed", error: "late" })).toBe(false); // ended already: no event
    await waitUntil(
      async () => receiver.received.length >= 2,
      () => `${receiver.received.length} deliveries`,
    );
    await sleep(500);
    expect(receiver.received).toHaveLength(2);
    const byEvent = Object.fromEntries(receiver.received.map((r) => [r.body.event, r]));
    expect(byEvent["build.succeeded"]!.body).toMatchObject({
      push_data: { digest: "sha256:" + "c".repeat(64), tag: "latest", pusher: "ci@acme" },
      repository: { repo_full_name: "alitest1/app" },
      build: { id: ok, status: "succeeded", ref: "refs/heads/main", tags: ["main", "latest"] },
    });
    expect(byEvent["build.failed"]!.body).toMatchObject({
      push_data: { digest: null, pushed_at: null, tag: "latest" },
      build: { id: bad, status: "failed", error: "RUN make: exit code 2" },
    });
    expect(byEvent["build.failed"]!.headers["x-kiln-event"]).toBe("build.failed");
    expect(receiver.received.every((r) => r.signatureValid)).toBe(true);
    expect(tagsOnly.receiver.received).toEqual([]);

    // A build whose push user may not push is born failed: that is an end too.
    await t.call("PUT", `${repoPath}/source`, {
      token: root,
      body: { provider: "git", repoUrl: "https://git.example.com/acme/app.git", pushUser: "reader" },
    });
    const denied = await t.call("POST", `${repoPath}/builds`, { token: root, body: { ref: "main" } });
    expect(denied.body.builds[0].status).toBe("failed");
    await waitUntil(
      async () => receiver.received.length >= 3,
      () => `${receiver.received.length} deliveries`,
    );
    expect(receiver.received[2]!.body).toMatchObject({
      event: "build.failed",
      push_data: { pusher: "reader@acme" },
      build: { id: denied.body.builds[0].id, error: expect.stringContaining("may not cr:PushRepository") },
    });
    await t.call("PUT", `${repoPath}/source`, {
      token: root,
      body: { provider: "git", repoUrl: "https://git.example.com/acme/app.git", pushUser: "ci" },
    });
    await t.call("DELETE", `${hooksOf()}/${hook.id}`, { token: root });
    await t.call("DELETE", `${hooksOf()}/${tagsOnly.hook.id}`, { token: root });
  });

  it("a receiver that never answers slows neither registry notifications nor webhook intake", async () => {
    const { receiver, hook } = await hookWith(
      { events: ["tag.pushed", "build.failed", "build.succeeded"] },
      () => "hang",
    );
    const source = (await t.call("GET", `${repoPath}/source`, { token: root })).body;
    const secret = (
      await t.call("PUT", `${repoPath}/source`, {
        token: root,
        body: { provider: "git", repoUrl: "https://git.example.com/acme/app.git", pushUser: "ci", rotateSecret: true },
      })
    ).body.webhookSecret as string;
    const slowest = { notify: 0, intake: 0 };
    for (let i = 0; i < 20; i++) {
      let began = performance.now();
      expect((await notify([push(`hang-${i}`)])).status).toBe(200);
      slowest.notify = Math.max(slowest.notify, performance.now() - began);
      began = performance.now();
      const res = await t.call("POST", new URL(source.webhookUrl).pathname, {
        raw: JSON.stringify({ ref: `refs/heads/b${i}`, commit: "0123456789abcdef0123456789abcdef01234567" }),
        headers: { "content-type": "application/json", authorization: `Bearer ${secret}` },
      });
      expect(res.status).toBe(202);
      slowest.intake = Math.max(slowest.intake, performance.now() - began);
      await sleep(20);
    }
    // The receiver holds connections open meanwhile: deliveries were under way and never answered.
    await waitUntil(
      async () => receiver.hanging.length >= 2,
      () => `${receiver.hanging.length} hanging`,
    );
    // A path that waited for the receiver would take its 10 s limit; these answer in milliseconds.
    expect(slowest.notify).toBeLessThan(1000);
    expect(slowest.intake).toBeLessThan(1000);

    // Nor does its backlog hold up another webhook: 40 more deliveries to the dead receiver are
    // due before the healthy one's, yet the healthy receiver has its delivery at once.
    const healthy = await hookWith({ events: ["tag.pushed"], tagFilter: { kind: "list", tags: ["fair"] } });
    await notify(Array.from({ length: 40 }, (_, i) => push(`backlog-${i}`)));
    await sleep(50);
    const sent = Date.now();
    await notify([push("fair")]);
    await waitUntil(
      async () => healthy.receiver.received.length === 1,
      () => "the healthy receiver got nothing",
      5_000,
    );
    expect(healthy.receiver.received[0]!.at - sent).toBeLessThan(2_000);
    expect(receiver.hanging.length).toBeLessThanOrEqual(2); // at most two tries at once per webhook
    // The 10 s limit ends each hanging try, recorded as such, and the delivery waits for its retry.
    await waitUntil(
      async () => (await deliveriesOf(hook.id)).some((d) => d.attempts >= 1),
      () => "no try ended",
      15_000,
    );
    const tried = (await deliveriesOf(hook.id)).find((d) => d.attempts >= 1)!;
    expect(tried).toMatchObject({ status: "pending", lastStatusCode: null, error: "no answer within 10 s" });
    expect(tried.latencyMs).toBeGreaterThanOrEqual(9_900);
  }, 40_000);
});

describe("outbound webhooks: a receiver that always fails", () => {
  let t: TestApp;
  let receiver: Receiver;
  beforeAll(async () => {
    // The hour of the real schedule (waits of 1, 5, 10, 20 and 25 minutes) in 61 × 50 ms.
    t = await startTestApp({ KILN_NOTIFY_RETRY_BASE_MS: "50" });
    receiver = await startReceiver(() => 503);
  });
  afterAll(async () => {
    await t.close();
    await receiver.close();
  });

  it("is tried six times on the schedule, then the delivery ends failed", async () => {
    const { root, repoPath } = await seedBuildableRepository(t.call, "app");
    const hook = (
      await t.call("POST", `${repoPath}/webhooks`, { token: root, body: { url: receiver.url, events: ["tag.pushed"] } })
    ).body;
    receiver.secret = hook.secret;
    await t.call("POST", "/registry/events", {
      token: t.deps.config.registryEventsToken,
      raw: JSON.stringify({ events: [push("always-fails")] }),
      headers: { "content-type": "application/json", "x-kiln-region": "cn-hongkong" },
    });
    const deliveries = async () =>
      (await t.call("GET", `${repoPath}/webhooks/${hook.id}/deliveries`, { token: root })).body.deliveries as any[];
    await waitUntil(
      async () => (await deliveries())[0]?.status === "failed",
      () => "not failed yet",
      15_000,
    );
    const [delivery] = await deliveries();
    expect(delivery).toMatchObject({ status: "failed", attempts: 6, lastStatusCode: 503, nextAttemptAt: null });
    expect(delivery.finishedAt).toBeTruthy();
    expect(receiver.received).toHaveLength(6);
    expect(receiver.received.every((r) => r.signatureValid)).toBe(true);
    const gaps = receiver.received.slice(1).map((r, i) => r.at - receiver.received[i]!.at);
    [1, 5, 10, 20, 25].forEach((units, i) => expect(gaps[i]).toBeGreaterThanOrEqual(units * 50 - 20));
    await sleep(600);
    expect(receiver.received).toHaveLength(6);
  });
});

describe("the outbound outbox's lease", () => {
  it("a claimed delivery is not claimed by a second dispatcher until its lease runs out", async () => {
    const dir = mkdtempSync(join(tmpdir(), "kiln-lease-"));
    const db = await openDatabase(dir, { url: await testDatabaseUrl() });
    try {
      await db.insert(accounts).values({ id: "1000000000000001", alias: "acme" }).run();
      await db.insert(namespaces).values({ accountId: "1000000000000001", name: "alitest1" }).run();
      await db
        .insert(repositories)
        .values({
          accountId: "1000000000000001",
          region: "cn-hongkong",
          namespaceId: 1,
          name: "app",
          visibility: "private",
        })
        .run();
      await db
        .insert(webhooks)
        .values({
          repositoryId: 1,
          url: "http://127.0.0.1:9/",
          events: ["tag.pushed"],
          tagFilter: { kind: "all" },
          secretSealed: "x",
        })
        .run();
      expect(await enqueueTagPushed(db, 1, { tag: "v1", digest: "sha256:1", pushedAt: null, pusher: null })).toBe(1);
      expect(await enqueueTagPushed(db, 1, { tag: "v2", digest: "sha256:2", pushedAt: null, pusher: null })).toBe(1);
      const a = await claimDue(db, "replica-a", 60_000, 10);
      expect(a.map((c) => c.body.includes('"v1"') || c.body.includes('"v2"'))).toEqual([true, true]);
      expect(await claimDue(db, "replica-b", 60_000, 10)).toEqual([]);
      // A dispatcher that stops gives its rows back at once; one that dies holds them until the lease ends.
      await releaseLeases(db, "replica-a");
      const b = await claimDue(db, "replica-b", 50, 10);
      expect(b).toHaveLength(2);
      expect(await claimDue(db, "replica-c", 50, 10)).toEqual([]);
      await sleep(80);
      expect(await claimDue(db, "replica-c", 60_000, 10)).toHaveLength(2);
      // Only the lease's holder moves the row on: replica-b's late answer is kept as a try, nothing more.
      const at = new Date().toISOString();
      await recordAttempt(
        db,
        "replica-b",
        b[0]!,
        { at, statusCode: 200, latencyMs: 1, response: "", error: null },
        1000,
      );
      const [row] = await rows(
        db,
        sql`select status, lease_owner as owner from webhook_deliveries where id = ${b[0]!.id}`,
      );
      expect(row).toEqual({ status: "pending", owner: "replica-c" });

      // The retention sweep deletes outbound deliveries (and their tries) after KILN_RETAIN_DELIVERIES_DAYS.
      await db
        .update(webhookDeliveries)
        .set({ createdAt: "2020-01-01T00:00:00.000Z" })
        .where(eq(webhookDeliveries.id, b[0]!.id))
        .run();
      const retention = { deliveriesDays: 30, auditDays: 0, registryEventsDays: 0, buildLogsDays: 0 };
      expect(await sweep(db, retention)).toMatchObject({ webhook_deliveries: 1 });
      expect(await rows(db, sql`select cast(count(*) as integer) as n from webhook_deliveries`)).toEqual([{ n: 1 }]);
      expect(
        await rows(
          db,
          sql`select cast(count(*) as integer) as n from webhook_attempts where delivery_id = ${b[0]!.id}`,
        ),
      ).toEqual([{ n: 0 }]);
    } finally {
      await closeDatabase(db);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
