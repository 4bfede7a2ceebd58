import { and, eq, sql } from "drizzle-orm";
import { createRepository } from "../catalog/repositories.ts";
import type { Config } from "../config.ts";
import type { Db } from "../db/connection.ts";
import { DomainError, type ErrorCode } from "../errors.ts";
import { accounts, namespaces, repositories } from "../db/schema.ts";
import { arn } from "../iam/arn.ts";
import { authorizerFor, denialReason } from "../iam/authorizer.ts";
import { loginNameOf, type Principal } from "../iam/principal.ts";
import type { PolicyStore } from "../iam/policy-store.ts";
import { NAMESPACE } from "../names.ts";
import type { RequestContext } from "../policy/index.ts";
import { ACCESS_TOKEN_SECONDS, signAccessToken } from "./access-token.ts";
import type { Metrics } from "../metrics.ts";
import type { AuditLog } from "./audit-log.ts";
import { REFRESH_TTL_SECONDS, type Authenticated, type RegistryCredentials } from "./credentials.ts";
import type { SigningKeys } from "./keys.ts";
import type { LoginThrottle } from "./login-throttle.ts";
import type { TokenAnswer } from "./schemas.ts";
import { parseScopes, ramActionOf, type Scope, ScopeError } from "./scopes.ts";

export type TokenAuth =
  { kind: "anonymous" } | { kind: "password"; username: string; password: string } | { kind: "refresh"; token: string };

export interface TokenRequest {
  service: string | undefined;
  scopes: string[];
  auth: TokenAuth;
  /** `offline_token=true` (docker login) or `access_type=offline`: answer with a refresh token. */
  offline: boolean;
  context: RequestContext;
  sourceIp?: string;
}

/** Hears why the principal's policies refuse an action of a scope (`pull`, `push`, or a cr: action). */
type Denials = (action: string, reason: string) => void;

/** A failure of the token endpoint, in the Docker token protocol's codes; `message` is what docker shows. */
export class TokenError extends DomainError {
  override readonly name = "TokenError";
  constructor(
    code: Extract<ErrorCode, "INVALID_REQUEST" | "UNSUPPORTED" | "UNAUTHORIZED" | "TOOMANYREQUESTS">,
    message: string,
    readonly retryAfter?: number,
  ) {
    super(code, message);
  }
}

export interface TokenServiceDeps {
  config: Config;
  db: Db;
  policies: PolicyStore;
  keys: SigningKeys;
  credentials: RegistryCredentials;
  throttle: LoginThrottle;
  audit: AuditLog;
  metrics?: Pick<Metrics, "tokenScopes" | "failedLogins">;
}

export class TokenService {
  /** The namespace of a scope and, when it exists in the region, the repository: one query per scope. */
  private readonly scopeTarget;

  constructor(private readonly deps: TokenServiceDeps) {
    this.scopeTarget = deps.db
      .select({ ns: namespaces, repo: repositories })
      .from(namespaces)
      .leftJoin(
        repositories,
        and(
          eq(repositories.namespaceId, namespaces.id),
          eq(repositories.region, sql.placeholder("region")),
          eq(repositories.name, sql.placeholder("repo")),
        ),
      )
      .where(eq(namespaces.name, sql.placeholder("ns")))
      .prepare();
  }

  async issue(req: TokenRequest): Promise<TokenAnswer> {
    const service = req.service;
    if (!service) throw new TokenError("INVALID_REQUEST", "the service parameter is required");
    if (!this.deps.config.regions.some((r) => r.id === service))
      throw new TokenError("INVALID_REQUEST", `unknown service "${service}": not a region of this Kiln`);
    let scopes: Scope[];
    try {
      scopes = parseScopes(req.scopes);
    } catch (err) {
      if (err instanceof ScopeError) throw new TokenError("INVALID_REQUEST", err.message);
      throw err;
    }
    const authenticated = await this.authenticate(req);
    const principal = authenticated?.principal;
    const only = authenticated?.onlyRepository;
    const denied: NonNullable<TokenAnswer["denied"]> = [];
    // One scope after another, as they were asked: each may write (an auto-created repository, its audit row).
    const access: Scope[] = [];
    for (const scope of scopes) {
      if (only === undefined) {
        access.push(await this.grant(scope, service, principal, req));
        continue;
      }
      // A build credential pushes to its own repository only, and pulls what the push user may pull.
      const mayAsk = only === `${service}:${scope.name}` ? ["pull", "push"] : ["pull"];
      const asked = { ...scope, actions: scope.actions.filter((a) => mayAsk.includes(a)) };
      if (asked.actions.length === 0) {
        access.push(
          await this.recorded(
            { ...asked, actions: [] },
            scope,
            principal,
            req,
            `a build credential pushes only to ${only}`,
          ),
        );
        continue;
      }
      const reasons = new Map<string, string>();
      const granted = await this.grant(asked, service, principal, req, (action, reason) => reasons.set(action, reason));
      const pullReason = reasons.get("pull");
      if (pullReason && asked.actions.includes("pull") && !granted.actions.includes("pull"))
        denied.push({ scope: `${scope.type}:${scope.name}:pull`, reason: `push user ${pullReason}` });
      access.push(granted);
    }
    const subject = principal ? loginNameOf(principal) : "";
    const { token, issuedAt } = signAccessToken(this.deps.keys, { subject, service, access });
    const answer: TokenAnswer = {
      token,
      access_token: token,
      expires_in: ACCESS_TOKEN_SECONDS,
      issued_at: issuedAt.toISOString(),
    };
    if (req.offline && principal && req.auth.kind === "password" && only === undefined) {
      answer.refresh_token = (await this.deps.credentials.issue("refresh", principal, REFRESH_TTL_SECONDS)).token;
    }
    if (denied.length) answer.denied = denied;
    return answer;
  }

  private async authenticate(req: TokenRequest): Promise<Authenticated | undefined> {
    const { auth } = req;
    if (auth.kind === "anonymous") return undefined;
    if (auth.kind === "refresh") {
      const principal = await this.deps.credentials.withRefreshToken(auth.token);
      if (!principal) {
        await this.audit(undefined, "refresh-token", req, {
          outcome: "denied",
          reason: "refresh token invalid, expired or revoked",
        });
        throw new TokenError(
          "UNAUTHORIZED",
          "the refresh token is invalid or was revoked (the registry password changed or the user was deleted); log in again",
        );
      }
      return { principal };
    }
    const keys = [`login:${auth.username}`, ...(req.sourceIp ? [`ip:${req.sourceIp}`] : [])];
    const wait = await this.deps.throttle.retryAfter(keys);
    if (wait > 0) {
      this.deps.metrics?.failedLogins.inc();
      await this.audit(undefined, "login", req, { outcome: "throttled", resource: auth.username });
      throw new TokenError("TOOMANYREQUESTS", `too many failed logins; try again in ${wait} s`, wait);
    }
    const authenticated = await this.deps.credentials.withPassword(auth.username, auth.password);
    if (!authenticated) {
      await this.deps.throttle.fail(keys);
      this.deps.metrics?.failedLogins.inc();
      await this.audit(undefined, "login", req, {
        outcome: "denied",
        resource: auth.username,
        reason: "wrong login name or registry password",
      });
      throw new TokenError(
        "UNAUTHORIZED",
        `login failed for "${auth.username}": wrong login name or registry password (the registry password is set in Kiln, apart from the console password)`,
      );
    }
    await this.deps.throttle.succeed(keys[0]!);
    return authenticated;
  }

  /** The actions of one scope that the principal may have; never `*`, never the catalog. */
  private async grant(
    scope: Scope,
    region: string,
    principal: Principal | undefined,
    req: TokenRequest,
    why?: Denials,
  ): Promise<Scope> {
    const none = { type: scope.type, name: scope.name, actions: [] as string[] };
    if (scope.type !== "repository")
      return this.recorded(none, scope, principal, req, "only repository scopes are granted");
    const [nsName, repoName, ...rest] = scope.name.split("/");
    if (!nsName || !repoName || rest.length > 0 || !NAMESPACE.test(nsName) || !NAMESPACE.test(repoName)) {
      return this.recorded(none, scope, principal, req, "not a namespace/repository name");
    }
    const { db } = this.deps;
    const target = await this.scopeTarget.get({ ns: nsName, region, repo: repoName });
    const ns = target?.ns;
    const repo = target?.repo ?? undefined;
    const publicPull = repo?.visibility === "public" && scope.actions.includes("pull") ? ["pull"] : [];
    if (!principal || !ns || ns.accountId !== principal.accountId) {
      if (principal && !publicPull.length)
        why?.(
          "pull",
          `"${loginNameOf(principal)}" may not pull ${scope.name}: ${ns ? "its namespace belongs to another account" : "there is no such namespace"}`,
        );
      return this.recorded(
        { ...none, actions: publicPull },
        scope,
        principal,
        req,
        publicPull.length ? "public repository" : "no rights here",
      );
    }
    const resource = arn.repository(region, principal.accountId, nsName, repoName);
    const decide = await authorizerFor(this.deps.policies, principal);
    const allowed = (action: string) => {
      const result = decide({ action, resource, context: { ...req.context, "cr:Region": region } });
      if (result.decision !== "Allow")
        why?.(
          action === "cr:PullRepository" ? "pull" : action,
          `"${loginNameOf(principal)}" may not ${action} on ${resource} (${result.decision}: ${denialReason(result)})`,
        );
      return result.decision === "Allow";
    };
    const granted = scope.actions.filter((a) => {
      const action = ramActionOf(a);
      return action !== undefined && allowed(action);
    });
    for (const a of publicPull) if (!granted.includes(a)) granted.push(a);
    // Pushing needs reading: docker checks which layers the registry has before it uploads.
    if (granted.includes("push") && scope.actions.includes("pull") && !granted.includes("pull"))
      granted.unshift("pull");
    if (!repo && granted.includes("push")) {
      if (ns.autoCreateRepository && allowed("cr:CreateRepository")) {
        await createRepository(db, principal.accountId, region, { namespace: nsName, name: repoName });
      } else {
        granted.splice(granted.indexOf("push"), 1);
        return this.recorded(
          { ...none, actions: granted },
          scope,
          principal,
          req,
          `repository ${scope.name} does not exist in ${region} (auto-create is off, or cr:CreateRepository is not allowed)`,
        );
      }
    }
    return this.recorded({ ...none, actions: granted }, scope, principal, req);
  }

  private async recorded(
    result: Scope,
    asked: Scope,
    principal: Principal | undefined,
    req: TokenRequest,
    reason?: string,
  ): Promise<Scope> {
    const outcome =
      result.actions.length === asked.actions.length ? "granted" : result.actions.length ? "partial" : "denied";
    this.deps.metrics?.tokenScopes.inc({ outcome });
    await this.audit(principal, "token", req, {
      resource: `${asked.type}:${asked.name}`,
      requested: asked.actions.join(","),
      granted: result.actions.join(","),
      outcome,
      reason,
    });
    return result;
  }

  private async audit(
    principal: Principal | undefined,
    event: string,
    req: TokenRequest,
    fields: { outcome: string; resource?: string; requested?: string; granted?: string; reason?: string },
  ): Promise<void> {
    const accountId =
      principal?.accountId ?? (req.auth.kind === "password" ? await this.accountOfLogin(req.auth.username) : undefined);
    this.deps.audit.record({
      accountId: accountId ?? null,
      actor: principal ? loginNameOf(principal) : req.auth.kind === "password" ? req.auth.username : "anonymous",
      sourceIp: req.sourceIp ?? null,
      event: `registry:${event}`,
      resource: fields.resource ?? null,
      requested: fields.requested ?? null,
      granted: fields.granted ?? null,
      outcome: fields.outcome,
      reason: fields.reason ?? null,
    });
  }

  /** Failed logins go to the audit log of the account the login name names, so its root sees them. */
  private async accountOfLogin(loginName: string): Promise<string | undefined> {
    const alias = loginName.slice(loginName.lastIndexOf("@") + 1);
    const row = await this.deps.db.select({ id: accounts.id }).from(accounts).where(eq(accounts.alias, alias)).get();
    return row?.id;
  }
}
