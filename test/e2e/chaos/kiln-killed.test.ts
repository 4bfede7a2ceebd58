import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { everyBuildEnded, expectRegistryMatches, startChaosStack, statusOf, type Chaos } from "../../helpers/chaos.ts";
import type { KilnProcess } from "../../helpers/kiln-process.ts";
import { waitUntil } from "../../helpers/net.ts";
import { startRedis } from "../../helpers/redis.ts";

/**
 * Chaos, Kiln side (issue 12): the Kiln process (KILN_ROLE=all: the API and its worker) is
 * SIGKILLed in the middle of a build, then started again on the same data directory. The build
 * is taken up again (BullMQ stalled job) and ends succeeded, its tag pushed exactly once.
 */
describe("chaos: Kiln (API and worker in one process) SIGKILLed mid-build, then restarted", () => {
  let redis: Awaited<ReturnType<typeof startRedis>>;
  let kiln: KilnProcess;
  let chaos: Chaos;

  beforeAll(async () => {
    ({ redis, kiln, chaos } = await startChaosStack({ KILN_WORKER_LOCK_SECONDS: "3" }));
  }, 120_000);
  afterAll(async () => {
    await kiln?.stop();
    await redis?.stop();
  });

  it("killed at the build stage: after the restart the build succeeds, pushed once", async () => {
    const [id] = await chaos.webhook("main", chaos.commit("main", 5));
    await waitUntil(
      async () => statusOf(kiln, id!)?.stage === "build",
      () => `the build never reached its build stage: ${JSON.stringify(statusOf(kiln, id!))}`,
      60_000,
    );
    await kiln.kill("SIGKILL");
    expect(kiln.proxy.puts, "nothing was pushed before the kill").toEqual([]);
    await kiln.start();

    const builds = await everyBuildEnded(kiln);
    expect(kiln.crashes, kiln.output().slice(-3000)).toEqual([]);
    expect(builds.map((b) => [b.id, b.status, b.error])).toEqual([[id, "succeeded", null]]);
    await expectRegistryMatches(kiln, chaos, builds);
  }, 180_000);

  it("killed at the push stage (its manifest PUT held at the registry's door): after the restart it succeeds, pushed once", async () => {
    const before = kiln.proxy.puts.length;
    kiln.proxy.hold();
    const [id] = await chaos.webhook("main", chaos.commit("main", 0));
    await waitUntil(
      async () => kiln.proxy.held() > 0,
      () => `the build never reached its manifest PUT: ${JSON.stringify(statusOf(kiln, id!))}`,
      90_000,
    );
    expect(statusOf(kiln, id!)?.status).toBe("running");
    await kiln.kill("SIGKILL");
    // Whether the engine drops the push of a client that died: a push it goes on with reaches
    // the registry (released here, as it would have without the hold) and counts below.
    const dropped = await waitUntil(
      async () => kiln.proxy.held() === 0,
      () => "",
      10_000,
    ).then(
      () => true,
      () => false,
    );
    expect(kiln.proxy.puts.slice(before), "pushed before the kill").toEqual([]);
    const orphans = kiln.proxy.release();
    expect(dropped || orphans > 0, "a held PUT is either dropped or let go").toBe(true);
    await kiln.start();

    const builds = await everyBuildEnded(kiln);
    expect(kiln.crashes, kiln.output().slice(-3000)).toEqual([]);
    expect(builds.map((b) => [b.id, b.status, b.error]).at(-1)).toEqual([id, "succeeded", null]);
    expect(builds.map((b) => b.status)).toEqual(["succeeded", "succeeded"]);
    // The killed attempt's push, if the engine finished it, is a second push of the tag: caught here.
    await expectRegistryMatches(kiln, chaos, builds);
  }, 180_000);
});
