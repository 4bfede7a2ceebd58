/**
 * Dockerfile dir/name and context are paths inside the repository: relative (a leading `/` means
 * the repository root), no `..`, no backslashes or NUL. Returns the normalised path or a reason.
 * Symlinks that leave the tree are the worker's to refuse when it has the files. Pure.
 */
export function repoPath(value: string, what: string): { ok: true; path: string } | { ok: false; reason: string } {
  if (value.length > 1024) return { ok: false, reason: `${what} is longer than 1024 characters` };
  if (/[\\\0]/.test(value)) return { ok: false, reason: `${what} must not hold backslashes or NUL` };
  const parts = value.split("/").filter((p) => p !== "" && p !== ".");
  if (parts.includes("..")) return { ok: false, reason: `${what} leaves the repository ('..')` };
  return { ok: true, path: parts.join("/") };
}
