/**
 * Clone URLs Kiln accepts (DESIGN §10): https://, http://, ssh://, and scp-like `git@host:path`;
 * `file://` and absolute local paths only when local git is allowed. Pure.
 */
export type RepoUrlCheck = { ok: true; key: string } | { ok: false; reason: string };

const SCP_LIKE = /^([A-Za-z0-9._-]+)@([A-Za-z0-9.-]+):(?!\/\/)(.+)$/;

export function checkRepoUrl(url: string, allowLocal: boolean): RepoUrlCheck {
  if (url.length > 2048) return { ok: false, reason: "is longer than 2048 characters" };
  if (/[\s\0]/.test(url) || url.startsWith("-"))
    return { ok: false, reason: "must not hold spaces or control characters, nor start with '-'" };
  const scp = SCP_LIKE.exec(url);
  if (scp) return { ok: true, key: keyOf(scp[2]!, scp[3]!) };
  if (url.startsWith("/") || url.startsWith("file://")) {
    if (!allowLocal) return { ok: false, reason: "local repositories (file:// or a path) need KILN_ALLOW_LOCAL_GIT=1" };
    const path = url.startsWith("file://") ? url.slice(7) : url;
    if (!path.startsWith("/") || path.split("/").includes(".."))
      return { ok: false, reason: "a local repository must be an absolute path without '..'" };
    return { ok: true, key: `file${path.replace(/\/+$/, "").replace(/\.git$/, "")}` };
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return { ok: false, reason: "is not a URL (https://, http://, ssh:// or git@host:path)" };
  }
  if (!["https:", "http:", "ssh:"].includes(parsed.protocol))
    return { ok: false, reason: `scheme ${parsed.protocol} is not allowed (https, http, ssh or git@host:path)` };
  if (!parsed.hostname) return { ok: false, reason: "names no host" };
  if (parsed.password) return { ok: false, reason: "must not carry a password: give credentials separately" };
  return { ok: true, key: keyOf(parsed.hostname, parsed.pathname) };
}

/** `github.com/owner/repo`: the same code repository whatever the scheme, case or `.git`. */
function keyOf(host: string, path: string): string {
  const clean = path
    .replace(/^\/+/, "")
    .replace(/\/+$/, "")
    .replace(/\.git$/, "");
  return `${host.toLowerCase()}/${clean.toLowerCase()}`;
}
