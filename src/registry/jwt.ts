import { createHmac, sign, timingSafeEqual, type KeyObject } from "node:crypto";

/**
 * Compact JWS for the token endpoint's hot path, on node:crypto directly: jose 6 goes through
 * WebCrypto, whose per-call overhead halved token throughput. The tests verify what this signs
 * with jose, so the format stays standard.
 */
const b64url = (data: string | Buffer) => Buffer.from(data).toString("base64url");

/** ES256: ECDSA P-256 over SHA-256, signature as the raw r||s pair (RFC 7518 §3.4). */
export function signEs256(header: Record<string, unknown>, payload: Record<string, unknown>, key: KeyObject): string {
  const input = `${b64url(JSON.stringify({ ...header, alg: "ES256" }))}.${b64url(JSON.stringify(payload))}`;
  const signature = sign("sha256", Buffer.from(input), { key, dsaEncoding: "ieee-p1363" });
  return `${input}.${b64url(signature)}`;
}

export function signHs256(payload: Record<string, unknown>, key: Uint8Array): string {
  const input = `${b64url(JSON.stringify({ alg: "HS256", typ: "JWT" }))}.${b64url(JSON.stringify(payload))}`;
  return `${input}.${createHmac("sha256", key).update(input).digest("base64url")}`;
}

/** The payload of a valid, unexpired HS256 token, else undefined. */
export function verifyHs256(
  token: string,
  key: Uint8Array,
  nowSeconds = Math.floor(Date.now() / 1000),
): Record<string, unknown> | undefined {
  const parts = token.split(".");
  if (parts.length !== 3) return undefined;
  const [header, payload, signature] = parts as [string, string, string];
  const expected = createHmac("sha256", key).update(`${header}.${payload}`).digest();
  const given = Buffer.from(signature, "base64url");
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
  try {
    if (JSON.parse(Buffer.from(header, "base64url").toString("utf8")).alg !== "HS256") return undefined;
    const claims = JSON.parse(Buffer.from(payload, "base64url").toString("utf8"));
    if (typeof claims !== "object" || claims === null) return undefined;
    if (typeof claims.exp !== "number" || claims.exp <= nowSeconds) return undefined;
    return claims;
  } catch {
    return undefined;
  }
}

/** The unverified payload, only to learn whose key state to verify a token against. */
export function peekPayload(token: string): Record<string, unknown> | undefined {
  const payload = token.split(".")[1];
  if (!payload) return undefined;
  try {
    const claims = JSON.parse(Buffer.from(payload, "base64url").toString("utf8"));
    return typeof claims === "object" && claims !== null ? claims : undefined;
  } catch {
    return undefined;
  }
}
