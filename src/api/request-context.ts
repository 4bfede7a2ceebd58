import { getConnInfo } from "@hono/node-server/conninfo";
import type { Context } from "hono";

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

export function sourceIp(c: Context): string | undefined {
  try {
    return getConnInfo(c).remote.address;
  } catch {
    return undefined; // no socket: an in-process request
  }
}
