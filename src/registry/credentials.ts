import { and, eq } from "drizzle-orm";
import { hkdfSync } from "node:crypto";
import { jwtVerify, SignJWT } from "jose";
import type { Db } from "../db/connection.ts";
import { accounts, users } from "../db/schema.ts";
import { loginNameOf, parseLoginName, type Principal } from "../iam/principal.ts";
import { verifySecret } from "../iam/secrets.ts";

/**
 * Who may log in to the registry: `{alias}` (root) and `{user}@{alias}` with their registry
 * password, a temporary credential from `cr:GetAuthorizationToken`, or a refresh token that
 * `docker login` stored. Refresh and temporary credentials are HS256 JWTs under keys derived from
 * KILN_SECRET_KEY; both carry the registry password's change time, so a password change kills them.
 */
export const REFRESH_TTL_SECONDS = 90 * 24 * 3600;
export const TEMPORARY_MAX_SECONDS = 3600;

type Kind = "refresh" | "temporary";

export class RegistryCredentials {
  private readonly keys: Record<Kind, Uint8Array>;

  constructor(
    private readonly db: Db,
    secretKey: Buffer,
  ) {
    const derive = (info: string) => new Uint8Array(hkdfSync("sha256", secretKey, Buffer.alloc(0), info, 32));
    this.keys = { refresh: derive("kiln registry refresh token"), temporary: derive("kiln registry temporary credential") };
  }

  /** Basic auth at the token endpoint: the registry password or a temporary credential. */
  async withPassword(loginName: string, password: string): Promise<Principal | undefined> {
    const found = this.lookup(loginName);
    if (!found) return undefined;
    if (password.startsWith("ktmp.")) {
      const principal = await this.verify("temporary", password.slice(5), found);
      return principal && loginNameOf(principal) === loginName ? principal : undefined;
    }
    if (!found.registryPasswordHash || !(await verifySecret(found.registryPasswordHash, password))) return undefined;
    return found.principal;
  }

  async withRefreshToken(token: string): Promise<Principal | undefined> {
    const sub = subjectOf(token);
    const found = sub ? this.lookup(sub) : undefined;
    return found ? this.verify("refresh", token, found) : undefined;
  }

  async issue(kind: Kind, principal: Principal, ttlSeconds: number): Promise<{ token: string; expiresAt: Date }> {
    const found = this.lookup(loginNameOf(principal));
    if (!found) throw new Error("the principal no longer exists");
    const now = Math.floor(Date.now() / 1000);
    const jwt = await new SignJWT({ typ: kind, pwt: found.passwordChangedAt ?? "" })
      .setProtectedHeader({ alg: "HS256" })
      .setSubject(loginNameOf(principal))
      .setIssuedAt(now)
      .setExpirationTime(now + ttlSeconds)
      .sign(this.keys[kind]);
    return { token: kind === "temporary" ? `ktmp.${jwt}` : jwt, expiresAt: new Date((now + ttlSeconds) * 1000) };
  }

  private async verify(kind: Kind, token: string, found: Found): Promise<Principal | undefined> {
    try {
      const { payload } = await jwtVerify(token, this.keys[kind], { algorithms: ["HS256"], subject: loginNameOf(found.principal) });
      if (payload.typ !== kind || payload.pwt !== (found.passwordChangedAt ?? "")) return undefined;
      return found.principal;
    } catch {
      return undefined;
    }
  }

  private lookup(loginName: string): Found | undefined {
    const { alias, userName } = parseLoginName(loginName);
    const account = this.db.select().from(accounts).where(eq(accounts.alias, alias)).get();
    if (!account) return undefined;
    if (userName === undefined) {
      return {
        principal: { accountId: account.id, alias, kind: "root" },
        registryPasswordHash: account.registryPasswordHash,
        passwordChangedAt: account.registryPasswordChangedAt,
      };
    }
    const user = this.db.select().from(users).where(and(eq(users.accountId, account.id), eq(users.name, userName))).get();
    if (!user) return undefined;
    return {
      principal: { accountId: account.id, alias, kind: "user", userId: user.id, userName: user.name },
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

/** The unverified `sub` of a JWT, only to find whose key state to verify it against. */
function subjectOf(token: string): string | undefined {
  const payload = token.split(".")[1];
  if (!payload) return undefined;
  try {
    const sub = JSON.parse(Buffer.from(payload, "base64url").toString("utf8")).sub;
    return typeof sub === "string" ? sub : undefined;
  } catch {
    return undefined;
  }
}
