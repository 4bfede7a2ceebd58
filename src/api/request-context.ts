import { getConnInfo } from "@hono/node-server/conninfo";
import type { Context, MiddlewareHandler } from "hono";

/** The condition keys Kiln fills on a real request (DESIGN §4). */
export function requestContext(c: Context, region?: string): Record<string, string> {
  const context: Record<string, string> = {
    "acs:CurrentTime": new Date().toISOString(),
    "acs:SecureTransport": String(new URL(c.req.url).protocol === "https:"),
    "acs:MFAPresent": "false",
  };
  const ip = sourceIp(c);
  if (ip) context["acs:SourceIp"] = ip;
  const agent = c.req.header("user-agent");
  if (agent) context["acs:UserAgent"] = agent;
  if (region) context["cr:Region"] = region;
  return context;
}

/** The client's address: as the trusted proxies forwarded it (`trustProxies`), else the socket's peer. */
export function sourceIp(c: Context): string | undefined {
  const forwarded = (c.var as { clientIp?: string }).clientIp;
  if (forwarded) return forwarded;
  try {
    return getConnInfo(c).remote.address;
  } catch {
    return undefined; // no socket: an in-process request
  }
}

/**
 * Behind `hops` proxies of the operator's own (KILN_TRUST_PROXY), the client is the address the
 * outermost of them saw: X-Forwarded-For's entry `hops` from its right end. Entries further left
 * were written by the client and prove nothing. Without the header (or with fewer entries), the
 * socket's peer stands.
 */
export function trustProxies(hops: number): MiddlewareHandler {
  return async (c, next) => {
    if (hops > 0) {
      const chain = (c.req.header("x-forwarded-for") ?? "")
        .split(",")
        .map((part) => part.trim())
        .filter(Boolean);
      const client = chain[chain.length - hops];
      if (client) c.set("clientIp" as never, client as never);
    }
    await next();
  };
}
