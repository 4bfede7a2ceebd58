import { hash, verify } from "@node-rs/argon2";
import { createHash, randomBytes, randomInt, timingSafeEqual } from "node:crypto";

export const sha256 = (text: string): string => createHash("sha256").update(text).digest("base64url");

export function randomSecret(bytes = 32): string {
  return randomBytes(bytes).toString("base64url");
}

const ID_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789";
export function randomId(length = 16): string {
  let id = "";
  for (let i = 0; i < length; i++) id += ID_ALPHABET[randomInt(ID_ALPHABET.length)];
  return id;
}

export function constantTimeEqual(a: string, b: string): boolean {
  const x = createHash("sha256").update(a).digest();
  const y = createHash("sha256").update(b).digest();
  return timingSafeEqual(x, y);
}

export function hashSecret(secret: string): Promise<string> {
  // argon2id is the library's default algorithm (RFC 9106 recommendation).
  return hash(secret);
}

/**
 * Verified (stored hash, secret) pairs are remembered briefly, keyed by a fast hash of both, so
 * repeated logins skip argon2; a changed password has a new stored hash and misses the cache.
 * Failures are never cached.
 */
const VERIFIED_TTL_MS = 60_000;
const VERIFIED_MAX = 10_000;
const verified = new Map<string, number>();

export async function verifySecret(storedHash: string, secret: string): Promise<boolean> {
  const key = sha256(`${storedHash}\u0000${secret}`);
  const now = Date.now();
  const until = verified.get(key);
  if (until !== undefined && until > now) return true;
  let ok = false;
  try {
    ok = await verify(storedHash, secret);
  } catch {
    ok = false;
  }
  if (ok) {
    if (verified.size >= VERIFIED_MAX) verified.clear();
    verified.set(key, now + VERIFIED_TTL_MS);
  }
  return ok;
}
