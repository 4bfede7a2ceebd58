import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { everyBuildEnded, expectRegistryMatches, startChaosStack, statusOf, type Chaos } from "../../helpers/chaos.ts";
import type { KilnProcess } from "../../helpers/kiln-process.ts";
import { waitUntil } from "../../helpers/net.ts";
import { startRedis } from "../../helpers/redis.ts";

/**
 * Chaos, registry side (issue 12): the registry goes down while a build pushes (its manifest PUT
 * is held at the registry's door, the registry stopped, the PUT let go: it fails), a webhook
 * arrives during the outage, then the registry comes back. The failed push is retried.
 */
describe("chaos: the registry down during a push, then back", () => {
  let redis: Awaited<ReturnType<typeof startRedis>>;
  let kiln: KilnProcess;
  let chaos: Chaos;

  beforeAll(async () => {
    ({ redis, kiln, chaos } = await startChaosStack());
  }, 120_000);
  afterAll(async () => {
    await kiln?.stop();
    await redis?.stop();
  });

  it("the push fails, is retried once the registry is back, and every build succeeds, each tag pushed once", async () => {
    kiln.proxy.hold();
    const [pushing] = await chaos.webhook("main", chaos.commit("main", 0));
    await waitUntil(
      async () => kiln.proxy.held() > 0,
      () => `the build never reached its manifest PUT: ${JSON.stringify(statusOf(kiln, pushing!))}`,
      90_000,
    );
    await kiln.stopRegistry();
    expect(kiln.proxy.release(), "the held PUT goes on, to a registry that is gone").toBe(1);
    const [accepted] = await chaos.webhook("dev", chaos.commit("dev", 0));

    const log = async () =>
      (await kiln.call("GET", `/api/v1/builds/${pushing}/logs`, { token: chaos.root })).body.lines as string[];
    await waitUntil(
      async () => (await log()).some((l) => /^error: push of .* failed/.test(l)),
      () => `no failed push in the log of ${pushing}`,
      60_000,
    );
    expect(statusOf(kiln, pushing!)?.status, "a push that will be retried does not end the build").toBe("running");
    expect(
      kiln.proxy.puts.filter((p) => p.tag === "latest").map((p) => p.status),
      "the PUT met the outage",
    ).toContain(502);
    await kiln.startRegistry();

    const builds = await everyBuildEnded(kiln);
    expect(kiln.crashes, kiln.output().slice(-3000)).toEqual([]);
    expect(builds.map((b) => [b.id, b.status, b.error])).toEqual([
      [pushing, "succeeded", null],
      [accepted, "succeeded", null],
    ]);
    await expectRegistryMatches(kiln, chaos, builds);
  }, 180_000);
});
