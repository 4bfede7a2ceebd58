import { describe, expect, it } from "vitest";
import { LoginThrottle, MemoryFailures } from "../../src/registry/login-throttle.ts";

describe("login throttle", () => {
  it("blocks a key after the limit until the oldest failure leaves the window", async () => {
    let now = 0;
    const throttle = new LoginThrottle(new MemoryFailures(), 3, 60_000, () => now);
    const keys = ["login:a", "ip:1.2.3.4"];
    for (let i = 0; i < 3; i++) {
      expect(await throttle.retryAfter(keys)).toBe(0);
      await throttle.fail(keys);
      now += 1000;
    }
    expect(await throttle.retryAfter(keys)).toBe(57);
    expect(await throttle.retryAfter(["login:b", "ip:1.2.3.4"])).toBe(57);
    expect(await throttle.retryAfter(["login:b", "ip:5.6.7.8"])).toBe(0);
    now = 60_001;
    expect(await throttle.retryAfter(keys)).toBe(0);
  });

  it("a success clears the login's count but not the address's", async () => {
    const throttle = new LoginThrottle(new MemoryFailures(), 2, 60_000, () => 0);
    await throttle.fail(["login:a", "ip:x"]);
    await throttle.fail(["login:a", "ip:x"]);
    await throttle.succeed("login:a");
    expect(await throttle.retryAfter(["login:a"])).toBe(0);
    expect(await throttle.retryAfter(["ip:x"])).toBeGreaterThan(0);
  });
});
