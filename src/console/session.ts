import type { Hono, MiddlewareHandler } from "hono";
import type { Deps } from "../api/env.ts";
import { requestContext } from "../api/request-context.ts";
import { sessionFromCookie } from "../api/session-cookie.ts";
import { loginNameOf, type Principal } from "../iam/principal.ts";
import { resolveBearer } from "../iam/tokens.ts";
import { consoleApi, type ConsoleApi } from "./api-client.ts";
import { permits, type ResourceParts } from "./permissions.ts";

/** What every signed-in page knows about its caller. */
export interface ConsoleSession {
  principal: Principal;
  loginName: string;
  api: ConsoleApi;
  /** May the caller make this call (an access-table key)? Decides which actions a page offers. */
  can(routeKey: string, parts?: ResourceParts): boolean;
  regions: string[];
  defaultRegion: string;
}

export interface ConsoleEnv {
  Variables: { session: ConsoleSession };
}

/** Pages need a live session cookie; without one the browser goes to the login page and comes back. */
export function signedIn(deps: Deps, api: Hono<any>): MiddlewareHandler<ConsoleEnv> {
  return async (c, next) => {
    const token = sessionFromCookie(c);
    const principal = token ? await resolveBearer(deps.db, token) : undefined;
    if (!token || !principal) {
      const here = new URL(c.req.url);
      return c.redirect(`/console/login?next=${encodeURIComponent(here.pathname + here.search)}`, 303);
    }
    const contextFor = (region?: string) => requestContext(c, region);
    // Loaded once, before the page renders: can() answers as the page renders.
    const policies = principal.kind === "root" ? [] : await deps.policies.forUser(principal.userId!);
    const policiesOf = () => policies;
    c.set("session", {
      principal,
      loginName: loginNameOf(principal),
      api: consoleApi(api, c, token),
      can: (routeKey, parts = {}) =>
        permits(principal, policiesOf, routeKey, parts, contextFor(parts.region ?? parts["build.region"])),
      regions: deps.config.regions.map((r) => r.id),
      defaultRegion: deps.config.defaultRegion,
    });
    await next();
  };
}
