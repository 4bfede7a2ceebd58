import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, rmSync } from "node:fs";
import { withFileLock } from "./file-lock.ts";
import { join } from "node:path";
import { DeterministicError, DiskFullError } from "./errors.ts";

export interface GitCredentials {
  username?: string;
  token: string;
}

/**
 * What git prints when the server refuses the credentials or does not know the repository: asking
 * again would be refused again, so the build fails at once instead of retrying.
 */
const REFUSED =
  /Authentication failed|could not read Username|terminal prompts disabled|The requested URL returned error: (401|403|404)|Repository not found|does not appear to be a git repository/i;

/** Runs git with arguments that never come from a ref or URL where an option could hide. */
function git(args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn("git", args, {
      cwd: opts.cwd,
      env: { ...process.env, GIT_TERMINAL_PROMPT: "0", ...opts.env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (err += d));
    child.on("error", reject);
    child.on("close", (code) => {
      if (code === 0) return resolve(out.trim());
      const reason = `git ${args[0] === "-C" ? args[2] : args[0]} failed: ${err.trim().split("\n").slice(-3).join(" ")}`;
      reject(REFUSED.test(err) ? new DeterministicError(reason) : new Error(reason));
    });
  });
}

/** Credentials go to git through environment config, never through argv (visible in ps) or the URL. */
function credentialEnv(creds?: GitCredentials): NodeJS.ProcessEnv {
  if (!creds) return {};
  const basic = Buffer.from(`${creds.username ?? "x-access-token"}:${creds.token}`).toString("base64");
  return {
    GIT_CONFIG_COUNT: "1",
    GIT_CONFIG_KEY_0: "http.extraHeader",
    GIT_CONFIG_VALUE_0: `Authorization: Basic ${basic}`,
  };
}

/**
 * One bare mirror per clone URL under `root`, fetched by one build at a time; builds of the same
 * repository share its objects. Builds that arrive while a fetch runs share the one fetch queued
 * behind it (when their credentials are the same), so the variants of one push fetch twice at
 * most, not once each.
 */
export class GitMirrors {
  private readonly locks = new Map<string, Promise<unknown>>();
  /** Per mirror and credentials: a fetch queued behind the running one, not started yet. */
  private readonly queued = new Map<string, Promise<void>>();

  constructor(private readonly root: string) {
    mkdirSync(root, { recursive: true });
  }

  private async locked<T>(key: string, work: () => Promise<T>): Promise<T> {
    const previous = this.locks.get(key) ?? Promise.resolve();
    const next = previous.catch(() => {}).then(work);
    this.locks.set(key, next);
    try {
      return await next;
    } finally {
      if (this.locks.get(key) === next) this.locks.delete(key);
    }
  }

  /** A fetch that starts after this call: the one already queued, or a new one. */
  private refresh(mirror: string, url: string, creds?: GitCredentials): Promise<void> {
    const key = `${mirror}\0${createHash("sha256")
      .update(JSON.stringify(creds ?? null))
      .digest("hex")}`;
    const waiting = this.queued.get(key);
    if (waiting) return waiting;
    // Worker processes sharing the data dir share the mirror too: git fails when two fetch into
    // one repository at once, or both create it. The file lock orders them across processes.
    const fetched = this.locked(mirror, () =>
      withFileLock(`${mirror}.lock`, async () => {
        this.queued.delete(key);
        if (!existsSync(mirror)) {
          await git(["init", "--quiet", "--bare", mirror]);
          await git(["-C", mirror, "remote", "add", "--mirror=fetch", "origin", "--", url]);
        }
        await git(["-C", mirror, "fetch", "--quiet", "--prune", "--force", "origin"], {
          env: credentialEnv(creds),
        }).catch((err: Error) => {
          // A fetch that ran out of disk leaves loose objects behind that keep the disk full: the
          // mirror is only a cache, so it goes, and the next build fetches it anew.
          if (DiskFullError.matches(err)) rmSync(mirror, { recursive: true, force: true });
          throw err;
        });
      }),
    );
    this.queued.set(key, fetched);
    return fetched;
  }

  /** Fetches the mirror and resolves `commit` (or, without one, the head of `ref`). */
  async fetch(
    url: string,
    ref: string,
    commit: string | null,
    creds?: GitCredentials,
  ): Promise<{ mirror: string; commit: string }> {
    const mirror = join(this.root, `${createHash("sha256").update(url).digest("hex").slice(0, 32)}.git`);
    await this.refresh(mirror, url, creds);
    const wanted = commit ?? ref;
    const resolved = await git([
      "-C",
      mirror,
      "rev-parse",
      "--verify",
      "--quiet",
      "--end-of-options",
      `${wanted}^{commit}`,
    ]).catch(() => {
      throw new DeterministicError(`${commit ? `commit ${commit}` : `ref ${ref}`} is not in ${redactUrl(url)}`);
    });
    return { mirror, commit: resolved };
  }
}

/** `git archive` of one tree, as a tar stream on stdout. */
export function archive(mirror: string, treeish: string) {
  return spawn("git", ["-C", mirror, "archive", "--format=tar", "--end-of-options", treeish], {
    stdio: ["ignore", "pipe", "pipe"],
  });
}

export function redactUrl(url: string): string {
  return url.replace(/\/\/[^@/]*@/, "//***@");
}
