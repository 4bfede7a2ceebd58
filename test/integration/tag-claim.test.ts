import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TAG_ORDER_KEY, tagKey } from "../../src/builds/queue.ts";
import { claimTag, whileHoldingTag } from "../../workers/publish.ts";
import { startRedis } from "../helpers/redis.ts";

describe("a tag never moves back: claims ordered by (sequence, build id), pushes of one tag one at a time (real Redis)", () => {
  let redis: Awaited<ReturnType<typeof startRedis>>;
  let client: Redis;
  beforeAll(async () => {
    redis = await startRedis();
    client = new Redis(redis.url, { maxRetriesPerRequest: null });
    // The API's marker: the tags' order is known (restored after any data loss).
    await client.set(TAG_ORDER_KEY, new Date().toISOString());
  });
  afterAll(async () => {
    client?.disconnect();
    await redis?.stop();
  });

  it("equal sequences are ordered by build id; the same build may claim again; an older sequence never", async () => {
    const name = "127.0.0.1:5000/ns/app:equal";
    expect(await claimTag(client, name, 5, "bld-b")).toBe(true);
    expect(await claimTag(client, name, 5, "bld-a"), "same millisecond, lower build id").toBe(false);
    expect(await claimTag(client, name, 5, "bld-b"), "a new attempt of the same build").toBe(true);
    expect(await claimTag(client, name, 5, "bld-c"), "same millisecond, higher build id").toBe(true);
    expect(await claimTag(client, name, 4, "bld-z")).toBe(false);
    expect(await claimTag(client, name, 6, "bld-a")).toBe(true);
    expect(await client.get(tagKey(name))).toBe("6 bld-a");
  });

  it("no claim while the tags' order is unknown (Redis lost its data, the API has not restored it yet)", async () => {
    const name = "127.0.0.1:5000/ns/app:flushed";
    await client.del(TAG_ORDER_KEY);
    try {
      expect(await claimTag(client, name, 9, "bld-a")).toBe("order-unknown");
      expect(await client.get(tagKey(name)), "nothing was written").toBeNull();
    } finally {
      await client.set(TAG_ORDER_KEY, new Date().toISOString());
    }
    expect(await claimTag(client, name, 9, "bld-a")).toBe(true);
  });

  it("a bare sequence written by an older worker is still honoured", async () => {
    const name = "127.0.0.1:5000/ns/app:legacy";
    await client.set(tagKey(name), "7");
    expect(await claimTag(client, name, 6, "bld-z")).toBe(false);
    expect(await claimTag(client, name, 7, "bld-a")).toBe(true);
    expect(await client.get(tagKey(name))).toBe("7 bld-a");
  });

  it("a second build's push of the same tag waits for the first one's to end; a stopped build stops waiting", async () => {
    const name = "127.0.0.1:5000/ns/app:lock";
    const events: string[] = [];
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const first = whileHoldingTag(
      client,
      name,
      "bld-old",
      () => false,
      () => {},
      async () => {
        events.push("old starts");
        await held;
        events.push("old ends");
      },
    );
    await new Promise((r) => setTimeout(r, 100));
    const lines: string[] = [];
    const second = whileHoldingTag(
      client,
      name,
      "bld-new",
      () => false,
      (l) => lines.push(l),
      async () => {
        events.push("new runs");
      },
    );
    let stop = false;
    const third = whileHoldingTag(
      client,
      name,
      "bld-stopped",
      () => stop,
      () => {},
      async () => {
        events.push("stopped runs");
      },
    );
    await new Promise((r) => setTimeout(r, 600));
    expect(events).toEqual(["old starts"]);
    expect(lines).toEqual([`waiting for another build's push of ${name}`]);
    stop = true;
    await expect(third).rejects.toThrow(/stopped while waiting to push/);
    release();
    await Promise.all([first, second]);
    expect(events).toEqual(["old starts", "old ends", "new runs"]);
    expect(await client.exists(`kiln:tag-push:${name}`)).toBe(0);
  });
});
