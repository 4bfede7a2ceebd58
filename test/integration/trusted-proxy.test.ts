import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp } from "../helpers/app.ts";

type App = Awaited<ReturnType<typeof startTestApp>>;

/** Ten failed console logins from one address, each for a different login name. */
async function failTenTimes(t: App, forwardedFor: string) {
  for (let i = 0; i < 10; i++) {
    const answer = await t.call("POST", "/api/v1/sessions", {
      headers: { "x-forwarded-for": forwardedFor },
      body: { loginName: `nobody${i}@acme`, password: "wrong" },
    });
    expect(answer.status).toBe(401);
  }
}

const loginFrom = (t: App, forwardedFor: string) =>
  t.call("POST", "/api/v1/sessions", {
    headers: { "x-forwarded-for": forwardedFor },
    body: { loginName: "someone-else@acme", password: "wrong" },
  });

describe("API replicas behind a load balancer: the client's address (KILN_TRUST_PROXY)", () => {
  let behindProxy: App;
  let direct: App;
  beforeAll(async () => {
    behindProxy = await startTestApp({ KILN_TRUST_PROXY: "1" });
    direct = await startTestApp();
  });
  afterAll(async () => {
    await behindProxy?.close();
    await direct?.close();
  });

  it("behind one trusted proxy, the address it forwarded is throttled, not the proxy's", async () => {
    // The client wrote "6.6.6.6" itself; the proxy appended the address it saw.
    await failTenTimes(behindProxy, "6.6.6.6, 203.0.113.7");
    expect((await loginFrom(behindProxy, "203.0.113.7")).status).toBe(429);
    // Another client behind the same proxy may still try: before, everyone shared the proxy's address.
    expect((await loginFrom(behindProxy, "198.51.100.9")).status).toBe(401);
    // A client cannot shed its count by writing a header of its own in front.
    expect((await loginFrom(behindProxy, "198.51.100.9, 203.0.113.7")).status).toBe(429);
  });

  it("without KILN_TRUST_PROXY the header is the client's own word and is ignored", async () => {
    await failTenTimes(direct, "203.0.113.7");
    // In-process requests have no socket address: only the login names were counted, so a header
    // naming the "same" address changes nothing, and neither does one naming another.
    expect((await loginFrom(direct, "203.0.113.7")).status).toBe(401);
  });
});
