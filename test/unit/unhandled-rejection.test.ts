import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = new URL("../..", import.meta.url).pathname;

/** Runs a script in a Node process of its own (as src/main.ts runs), with or without the guard. */
function run(guarded: boolean) {
  const dir = mkdtempSync(join(tmpdir(), "kiln-rejection-"));
  const script = join(dir, "script.ts");
  writeFileSync(
    script,
    `import { containUnhandledRejections, createLogger } from ${JSON.stringify(join(ROOT, "src/logger.ts"))};
const log = createLogger("info");
if (${guarded}) containUnhandledRejections(log);
// What BullMQ's job.log rejects with once Redis lost the job, carrying secrets as a careless library might.
void Promise.reject(new Error("Missing key for job bld-1. addLog redis://kiln:hunter2@10.0.0.5:6379 Bearer kbld.eyJhbGciOi.eyJzdWIi.c2lnbmF0dXJl"));
setTimeout(() => { console.log("still serving"); }, 300);
`,
  );
  return spawnSync(process.execPath, ["--import", "tsx", script], { cwd: ROOT, encoding: "utf8", timeout: 20_000 });
}

describe("an unhandled rejection is logged and contained, not fatal (src/main.ts installs the guard)", () => {
  it("without the guard Node ends the process: the case the guard exists for", () => {
    const bare = run(false);
    expect(bare.status).not.toBe(0);
    expect(bare.stdout).not.toContain("still serving");
  });

  it("with the guard the process goes on, and the log line names the error without its secrets", () => {
    const guarded = run(true);
    expect(guarded.status, guarded.stderr).toBe(0);
    expect(guarded.stdout).toContain("still serving");
    const line = JSON.parse(guarded.stdout.split("\n").find((l) => l.includes("unhandled promise rejection"))!);
    expect(line.level).toBe(50);
    expect(line.err.message).toContain("Missing key for job bld-1. addLog");
    expect(guarded.stdout).not.toMatch(/hunter2|eyJhbGciOi|c2lnbmF0dXJl/);
  });
});
