import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";

/** Secrets at rest (webhook secrets, git tokens): AES-256-GCM under KILN_SECRET_KEY, as `v1.<base64 iv|tag|data>`. */
export function seal(key: Buffer, plaintext: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", key, iv);
  const data = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()]);
  return `v1.${Buffer.concat([iv, cipher.getAuthTag(), data]).toString("base64")}`;
}

export function unseal(key: Buffer, sealed: string): string {
  if (!sealed.startsWith("v1.")) throw new Error("unknown sealed format");
  const raw = Buffer.from(sealed.slice(3), "base64");
  const decipher = createDecipheriv("aes-256-gcm", key, raw.subarray(0, 12));
  decipher.setAuthTag(raw.subarray(12, 28));
  return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString("utf8");
}
