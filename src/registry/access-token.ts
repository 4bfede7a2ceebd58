import { randomUUID } from "node:crypto";
import { SignJWT } from "jose";
import type { SigningKeys } from "./keys.ts";
import type { Scope } from "./scopes.ts";

/** The `iss` Kiln writes and the registry's `auth.token.issuer` expects. */
export const TOKEN_ISSUER = "kiln";
export const ACCESS_TOKEN_SECONDS = 300;

/**
 * A registry bearer token as distribution's `registry/auth/token` verifies it: ES256, `x5c`
 * chained to the CA in `rootcertbundle`, `aud` the service (region) as a plain string.
 */
export async function signAccessToken(keys: SigningKeys, input: { subject: string; service: string; access: Scope[] }): Promise<{ token: string; issuedAt: Date }> {
  const now = Math.floor(Date.now() / 1000);
  const token = await new SignJWT({ access: input.access })
    .setProtectedHeader({ alg: "ES256", typ: "JWT", x5c: keys.x5c })
    .setIssuer(TOKEN_ISSUER)
    .setSubject(input.subject)
    .setAudience(input.service)
    .setIssuedAt(now)
    .setNotBefore(now - 1)
    .setExpirationTime(now + ACCESS_TOKEN_SECONDS)
    .setJti(randomUUID())
    .sign(keys.privateKey);
  return { token, issuedAt: new Date(now * 1000) };
}
