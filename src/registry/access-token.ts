import { randomUUID } from "node:crypto";
import { signEs256 } from "./jwt.ts";
import type { SigningKeys } from "./keys.ts";
import type { Scope } from "./scopes.ts";

/** The `iss` Kiln writes and the registry's `auth.token.issuer` expects. */
export const TOKEN_ISSUER = "kiln";
export const ACCESS_TOKEN_SECONDS = 300;

/**
 * A registry bearer token as distribution's `registry/auth/token` verifies it: ES256, `x5c`
 * chained to the CA in `rootcertbundle`, `aud` the service (region) as a plain string.
 */
export function signAccessToken(
  keys: SigningKeys,
  input: { subject: string; service: string; access: Scope[] },
): { token: string; issuedAt: Date } {
  const now = Math.floor(Date.now() / 1000);
  const claims = {
    iss: TOKEN_ISSUER,
    sub: input.subject,
    aud: input.service,
    iat: now,
    nbf: now - 1,
    exp: now + ACCESS_TOKEN_SECONDS,
    jti: randomUUID(),
    access: input.access,
  };
  return { token: signEs256({ typ: "JWT", x5c: keys.x5c }, claims, keys.privateKey), issuedAt: new Date(now * 1000) };
}
