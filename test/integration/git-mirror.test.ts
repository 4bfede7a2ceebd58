import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { GitMirrors } from "../../workers/git-mirror.ts";
import { makeGitRepo } from "../helpers/git.ts";

describe("git mirrors shared by worker processes (one data dir, as on a shared volume)", () => {
  it("two workers fetching the same repository at once both get the pushed commits", async () => {
    const root = mkdtempSync(join(tmpdir(), "kiln-mirrors-"));
    // Two instances stand for two worker processes: each has its own in-process locks.
    const workers = [new GitMirrors(root), new GitMirrors(root)];
    const source = makeGitRepo();
    const url = `file://${source.dir}`;
    for (let round = 0; round < 5; round++) {
      source.git("commit", "--quiet", "--allow-empty", "-m", `main ${round}`);
      const main = source.commit();
      source.git("checkout", "--quiet", "-B", `feature-${round}`);
      source.git("commit", "--quiet", "--allow-empty", "-m", `feature ${round}`);
      const feature = source.commit();
      source.git("checkout", "--quiet", "main");
      // The first round creates the mirror from both sides at once; later rounds fetch new refs into it.
      const fetched = await Promise.all(
        workers.flatMap((mirrors) => [
          mirrors.fetch(url, "refs/heads/main", null),
          mirrors.fetch(url, `refs/heads/feature-${round}`, null),
        ]),
      );
      expect(fetched.map((f) => f.commit)).toEqual([main, feature, main, feature]);
    }
  });
});
