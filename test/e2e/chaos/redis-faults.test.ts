import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  allBuilds,
  atStage,
  everyBuildEnded,
  expectRegistryMatches,
  flushAll,
  startChaosStack,
  statusOf,
  type Chaos,
} from "../../helpers/chaos.ts";
import type { KilnProcess } from "../../helpers/kiln-process.ts";
import { waitUntil } from "../../helpers/net.ts";
import { startRedis } from "../../helpers/redis.ts";

/**
 * Chaos, Redis side (issue 12): Kiln runs as an operator runs it (`node src/main.ts`,
 * KILN_ROLE=all) with a redis-server of the test's own. Each case ends with the state of every
 * build and the registry's content (see expectRegistryMatches).
 */

describe("chaos: Redis loses its data (FLUSHALL) while a build is at its build stage", () => {
  let redis: Awaited<ReturnType<typeof startRedis>>;
  let kiln: KilnProcess;
  let chaos: Chaos;

  beforeAll(async () => {
    ({ redis, kiln, chaos } = await startChaosStack({ KILN_WORKER_LOCK_SECONDS: "5" }));
  }, 120_000);
  afterAll(async () => {
    await kiln?.stop();
    await redis?.stop();
  });

  it("no process dies, the build ends succeeded and its tag is pushed once; a later build still runs", async () => {
    const [id] = await chaos.webhook("main", chaos.commit("main", 5));
    await atStage(kiln, id!, "build");
    await flushAll(redis.url);

    let builds = await everyBuildEnded(kiln);
    expect(kiln.crashes, kiln.output().slice(-3000)).toEqual([]);
    expect(builds.map((b) => [b.id, b.status, b.error])).toEqual([[id, "succeeded", null]]);
    await expectRegistryMatches(kiln, chaos, builds);

    // Kiln goes on working on the emptied Redis.
    const [next] = await chaos.webhook("dev", chaos.commit("dev", 0));
    builds = await everyBuildEnded(kiln);
    expect(kiln.crashes, kiln.output().slice(-3000)).toEqual([]);
    expect(builds.map((b) => [b.id, b.status, b.error])).toEqual([
      [id, "succeeded", null],
      [next, "succeeded", null],
    ]);
    await expectRegistryMatches(kiln, chaos, builds);
  }, 240_000);
});

describe("chaos: Redis killed mid-build and started again 8 s later with its data; a webhook arrives meanwhile", () => {
  let redis: Awaited<ReturnType<typeof startRedis>>;
  let kiln: KilnProcess;
  let chaos: Chaos;

  beforeAll(async () => {
    // The default worker lock (30 s) outlasts the outage: the worker keeps its job through it.
    ({ redis, kiln, chaos } = await startChaosStack({}, { persist: true }));
  }, 120_000);
  afterAll(async () => {
    await kiln?.stop();
    await redis?.stop();
  });

  it("the running build and the one accepted during the outage both succeed; each tag holds its build's image, pushed once", async () => {
    const [running] = await chaos.webhook("main", chaos.commit("main", 5));
    await atStage(kiln, running!, "build");
    await redis.stop();
    const down = Date.now();

    // The API takes the webhook with Redis down: the build waits in SQLite's outbox.
    const [accepted] = await chaos.webhook("dev", chaos.commit("dev", 1));
    expect(statusOf(kiln, accepted!)?.status).toBe("queued");
    await waitUntil(
      async () => (await fetch(`${kiln.base}/readyz`)).status === 503,
      () => "Redis down does not show in readiness",
    );
    await new Promise((r) => setTimeout(r, Math.max(0, down + 8000 - Date.now())));
    await redis.start();

    const builds = await everyBuildEnded(kiln);
    expect(kiln.crashes, kiln.output().slice(-3000)).toEqual([]);
    expect(builds.map((b) => [b.id, b.status, b.error])).toEqual([
      [running, "succeeded", null],
      [accepted, "succeeded", null],
    ]);
    await expectRegistryMatches(kiln, chaos, builds);
    expect(allBuilds(kiln).map((b) => b.tags)).toEqual([["latest"], ["dev"]]);
  }, 240_000);
});
