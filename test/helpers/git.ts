import { execFileSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const GIT_ENV = { GIT_AUTHOR_NAME: "t", GIT_AUTHOR_EMAIL: "t@e", GIT_COMMITTER_NAME: "t", GIT_COMMITTER_EMAIL: "t@e" };

/** A real, empty git repository on branch `main`, and a way to run git in it. */
export function makeGitRepo(): { dir: string; git: (...args: string[]) => string; commit: () => string } {
  const dir = mkdtempSync(join(tmpdir(), "kiln-src-"));
  const git = (...args: string[]) =>
    execFileSync("git", ["-C", dir, ...args], { encoding: "utf8", env: { ...process.env, ...GIT_ENV } }).trim();
  git("init", "--quiet", "--initial-branch=main");
  return { dir, git, commit: () => git("rev-parse", "HEAD") };
}
