import { and, eq, sql } from "drizzle-orm";
import { hkdfSync } from "node:crypto";
import type { Db } from "../db/connection.ts";
import { accounts, users } from "../db/schema.ts";
import { loginNameOf, parseLoginName, type Principal } from "../iam/principal.ts";
import { verifySecret } from "../iam/secrets.ts";
import { peekPayload, signHs256, verifyHs256 } from "./jwt.ts";

/**
 * Who may log in to the registry: `{alias}` (root) and `{user}@{alias}` with their registry
 * password, a temporary credential from `cr:GetAuthorizationToken`, or a refresh token that
 * `docker login` stored. Refresh and temporary credentials are HS256 JWTs under keys derived from
 * KILN_SECRET_KEY; both carry the registry password's change time, so a password change kills them.
 */
export const REFRESH_TTL_SECONDS = 90 * 24 * 3600;
export const TEMPORARY_MAX_SECONDS = 3600;

type Kind = "refresh" | "temporary" | "build";

/** A principal as a credential proved it; a build credential is good for one repository only. */
export interface Authenticated {
  principal: Principal;
  /** `region:namespace/repository` that a build credential is limited to. */
  onlyRepository?: string;
}

export class RegistryCredentials {
  private readonly keys: Record<Kind, Uint8Array>;
  // Prepared once: every token request looks the caller up.
  private readonly accountByAlias;
  private readonly userByName;

  constructor(db: Db, secretKey: Buffer) {
    const derive = (info: string) => new Uint8Array(hkdfSync("sha256", secretKey, Buffer.alloc(0), info, 32));
    this.keys = {
      refresh: derive("kiln registry refresh token"),
      temporary: derive("kiln registry temporary credential"),
      build: derive("kiln registry build credential"),
    };
    this.accountByAlias = db
      .select()
      .from(accounts)
      .where(eq(accounts.alias, sql.placeholder("alias")))
      .prepare();
    this.userByName = db
      .select({ accountId: accounts.id, user: users })
      .from(users)
      .innerJoin(accounts, eq(accounts.id, users.accountId))
      .where(and(eq(accounts.alias, sql.placeholder("alias")), eq(users.name, sql.placeholder("name"))))
      .prepare();
  }

  /** Basic auth at the token endpoint: the registry password, a temporary credential or a build credential. */
  async withPassword(loginName: string, password: string): Promise<Authenticated | undefined> {
    const found = await this.lookup(loginName);
    if (!found) return undefined;
    if (password.startsWith("ktmp.")) {
      const principal = await this.verify("temporary", password.slice(5), found);
      return principal ? { principal } : undefined;
    }
    if (password.startsWith("kbld.")) {
      const claims = verifyHs256(password.slice(5), this.keys.build);
      const principal = claims ? await this.verify("build", password.slice(5), found) : undefined;
      return principal && typeof claims?.repo === "string" ? { principal, onlyRepository: claims.repo } : undefined;
    }
    if (!found.registryPasswordHash || !(await verifySecret(found.registryPasswordHash, password))) return undefined;
    return { principal: found.principal };
  }

  /** A password for one build's push: the push user's, for one repository, for the build's time. */
  async issueBuildCredential(
    principal: Principal,
    repository: string,
    ttlSeconds: number,
  ): Promise<{ username: string; password: string; expiresAt: Date }> {
    const found = await this.lookup(loginNameOf(principal));
    if (!found) throw new Error("the push user no longer exists");
    const now = Math.floor(Date.now() / 1000);
    const jwt = signHs256(
      {
        typ: "build",
        pwt: found.passwordChangedAt ?? "",
        sub: loginNameOf(principal),
        repo: repository,
        iat: now,
        exp: now + ttlSeconds,
      },
      this.keys.build,
    );
    return {
      username: loginNameOf(principal),
      password: `kbld.${jwt}`,
      expiresAt: new Date((now + ttlSeconds) * 1000),
    };
  }

  async withRefreshToken(token: string): Promise<Principal | undefined> {
    const sub = peekPayload(token)?.sub;
    const found = typeof sub === "string" ? await this.lookup(sub) : undefined;
    return found ? this.verify("refresh", token, found) : undefined;
  }

  async issue(
    kind: "refresh" | "temporary",
    principal: Principal,
    ttlSeconds: number,
  ): Promise<{ token: string; expiresAt: Date }> {
    const found = await this.lookup(loginNameOf(principal));
    if (!found) throw new Error("the principal no longer exists");
    const now = Math.floor(Date.now() / 1000);
    const jwt = signHs256(
      { typ: kind, pwt: found.passwordChangedAt ?? "", sub: loginNameOf(principal), iat: now, exp: now + ttlSeconds },
      this.keys[kind],
    );
    return { token: kind === "temporary" ? `ktmp.${jwt}` : jwt, expiresAt: new Date((now + ttlSeconds) * 1000) };
  }

  private async verify(kind: Kind, token: string, found: Found): Promise<Principal | undefined> {
    const claims = verifyHs256(token, this.keys[kind]);
    if (!claims || claims.typ !== kind || claims.sub !== loginNameOf(found.principal)) return undefined;
    return claims.pwt === (found.passwordChangedAt ?? "") ? found.principal : undefined;
  }

  private async lookup(loginName: string): Promise<Found | undefined> {
    const { alias, userName } = parseLoginName(loginName);
    if (userName === undefined) {
      const account = await this.accountByAlias.get({ alias });
      if (!account) return undefined;
      return {
        principal: { accountId: account.id, alias, kind: "root" },
        registryPasswordHash: account.registryPasswordHash,
        passwordChangedAt: account.registryPasswordChangedAt,
      };
    }
    const found = await this.userByName.get({ alias, name: userName });
    if (!found) return undefined;
    const { accountId, user } = found;
    return {
      principal: { accountId, alias, kind: "user", userId: user.id, userName: user.name },
      registryPasswordHash: user.registryPasswordHash,
      passwordChangedAt: user.registryPasswordChangedAt,
    };
  }
}

interface Found {
  principal: Principal;
  registryPasswordHash: string | null;
  passwordChangedAt: string | null;
}
