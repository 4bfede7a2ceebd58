import type { Context, MiddlewareHandler } from "hono";
import { findBuild } from "../builds/records.ts";
import { authorize, authorizerFor, fillResource } from "../iam/authorizer.ts";
import { resolveBearer } from "../iam/tokens.ts";
import { constantTimeEqual } from "../iam/secrets.ts";
import type { AccessRule } from "./access-table.ts";
import type { AppEnv, Deps } from "./env.ts";
import { DomainError, notFound } from "../errors.ts";
import { requestContext } from "./request-context.ts";
import { CONSOLE_HEADER, sessionFromCookie } from "./session-cookie.ts";

function bearer(c: Context): string | undefined {
  const header = c.req.header("authorization");
  const m = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
  return m?.[1];
}

const unauthorized = (message: string) => new DomainError("Unauthorized", message);
const SAFE_METHODS = new Set(["GET", "HEAD"]);

/** The caller's token: the Authorization header, else the console's session cookie (CSRF-guarded). */
export function callerToken(c: Context): string | undefined {
  const header = bearer(c);
  if (header) return header;
  const cookie = sessionFromCookie(c);
  if (cookie && !SAFE_METHODS.has(c.req.method) && c.req.header(CONSOLE_HEADER) === undefined) {
    throw new DomainError(
      "CsrfRejected",
      `a call signed in by the console cookie must send the ${CONSOLE_HEADER} header`,
    );
  }
  return cookie;
}

/** Runs before validation: who is calling. */
export function authenticate(deps: Deps, rule: AccessRule): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    if (rule.auth === "none" || rule.auth === "console") return next();
    if (rule.auth === "admin" || rule.auth === "registry-events") {
      const token = bearer(c);
      if (!token) throw unauthorized("this call needs an Authorization: Bearer token");
      const expected = rule.auth === "admin" ? deps.config.adminToken : deps.config.registryEventsToken;
      if (!constantTimeEqual(token, expected))
        throw unauthorized(`the ${rule.auth === "admin" ? "admin" : "registry events"} token is wrong`);
      return next();
    }
    const token = callerToken(c);
    if (!token) throw unauthorized("this call needs an Authorization: Bearer token (or the console's session cookie)");
    const principal = await resolveBearer(deps.db, token);
    if (!principal) throw unauthorized("the token is invalid or has expired");
    if (rule.auth === "root" && principal.kind !== "root")
      throw new DomainError("AccessDenied", "only the account's root may do this", { decision: "RootOnly" });
    c.set("principal", principal);
    return next();
  };
}

/** Runs after validation: may the caller do this to that resource. */
export async function enforce(deps: Deps, rule: AccessRule, c: Context<AppEnv>): Promise<void> {
  if (rule.auth !== "policy") return;
  const principal = c.get("principal");
  const region = resolveRegion(deps, c, rule.resource);
  const context = requestContext(c, region);
  // `{build.*}` names the repository of the build `{id}`: looked up before the resource is filled.
  const build = rule.resource.includes("{build.")
    ? await findBuild(deps.db, principal.accountId, c.req.param("id") ?? "")
    : undefined;
  const fill = (extra: Record<string, string>) => {
    const filled = fillResource(
      rule.resource,
      principal.accountId,
      (key) => extra[key] ?? lookup(c, key, region, build),
    );
    if ("missing" in filled) throw new Error(`access table: no value for {${filled.missing}} in ${rule.resource}`);
    return filled.resource;
  };
  if (rule.perItem) {
    const decide = await authorizerFor(deps.policies, principal);
    c.set("filterAllowed", (items, partsOf) =>
      principal.kind === "root"
        ? items
        : items.filter(
            (item) => decide({ action: rule.action, resource: fill(partsOf(item)), context }).decision === "Allow",
          ),
    );
    return;
  }
  const resource = fill({});
  const result = await authorize(deps.policies, principal, { action: rule.action, resource, context });
  if (result.decision !== "Allow") {
    throw new DomainError("AccessDenied", `${rule.action} on ${resource} is not allowed (${result.decision})`, {
      action: rule.action,
      resource,
      decision: result.decision,
      matched: result.matched,
    });
  }
}

function resolveRegion(deps: Deps, c: Context<AppEnv>, template: string): string | undefined {
  if (!template.includes("{region}")) return undefined;
  const asked = c.req.param("region") ?? c.req.query("region") ?? deps.config.defaultRegion;
  if (!deps.config.regions.some((r) => r.id === asked)) throw notFound("region", asked, "RegionNotFound");
  c.set("region", asked);
  return asked;
}

function lookup(
  c: Context,
  key: string,
  region: string | undefined,
  build: Awaited<ReturnType<typeof findBuild>> | undefined,
): string | undefined {
  if (key === "region") return region;
  if (key.startsWith("build.")) {
    if (!build) return undefined;
    const [ns, repo] = build.repository.split("/");
    return ({ "build.region": build.region, "build.ns": ns, "build.repo": repo } as Record<string, string | undefined>)[
      key
    ];
  }
  if (key.startsWith("body.")) {
    const body = (c.req as unknown as { valid(t: "json"): Record<string, unknown> }).valid("json");
    const value = body?.[key.slice(5)];
    return typeof value === "string" ? value : undefined;
  }
  return c.req.param(key);
}
