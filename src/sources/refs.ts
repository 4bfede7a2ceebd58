import { createHmac, timingSafeEqual } from "node:crypto";
import type { EventKind } from "./types.ts";

export const ZERO_SHA = /^0+$/;

/** `refs/heads/x` → branch x; `refs/tags/x` → tag x; anything else is not built. */
export function parseRef(ref: unknown): { kind: Extract<EventKind, "branch" | "tag">; name: string } | undefined {
  if (typeof ref !== "string") return undefined;
  if (ref.startsWith("refs/heads/") && ref.length > 11) return { kind: "branch", name: ref.slice(11) };
  if (ref.startsWith("refs/tags/") && ref.length > 10) return { kind: "tag", name: ref.slice(10) };
  return undefined;
}

export function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export function hmacHex(secret: string, body: Buffer, algorithm = "sha256"): string {
  return createHmac(algorithm, secret).update(body).digest("hex");
}

/** Unique changed paths of GitHub/GitLab-style commit lists (`added`, `modified`, `removed`). */
export function changedFilesOf(commits: unknown): string[] | undefined {
  if (!Array.isArray(commits) || commits.length === 0) return undefined;
  const files = new Set<string>();
  for (const c of commits as Record<string, unknown>[]) {
    for (const key of ["added", "modified", "removed"]) {
      const list = c?.[key];
      if (Array.isArray(list)) for (const f of list) if (typeof f === "string") files.add(f);
    }
  }
  return [...files];
}

export const str = (v: unknown): string | undefined => (typeof v === "string" && v.length > 0 ? v : undefined);
export const urls = (...candidates: unknown[]): string[] => [
  ...new Set(candidates.filter((u): u is string => typeof u === "string" && u.length > 0)),
];
