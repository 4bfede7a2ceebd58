import examples from "@octokit/webhooks-examples";
import { spawn } from "node:child_process";
import { createHmac } from "node:crypto";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.ts";
import { FILES_THAT_TRAVEL } from "../../src/db/backup.ts";
import { createDeps } from "../../src/deps.ts";
import { createLogger } from "../../src/logger.ts";
import { createServer } from "../../src/server.ts";
import { ADMIN_TOKEN, answerOf, startTestApp, type Answer, type TestApp } from "../helpers/app.ts";

const ROOT = new URL("../..", import.meta.url).pathname;
const REGIONS = "cn-hongkong=127.0.0.1:5000,cn-beijing=127.0.0.1:5001";
const COMMIT = "6113728f27ae82c7b1a177c8d03f9e96e0adf246";
const githubPush = JSON.stringify(
  (examples as unknown as { name: string; examples: any[] }[])
    .find((e) => e.name === "push")!
    .examples.find((p) => p.ref === "refs/heads/master"),
);
const repoPath = (name: string) => `/api/v1/regions/cn-hongkong/repositories/shop/${name}`;

/** `bin/kiln backup <file>`, the real command, while the API keeps running and writing. */
function kilnBackup(dataDir: string, file: string): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(join(ROOT, "bin/kiln"), ["backup", file], {
      env: { ...process.env, KILN_DATA_DIR: dataDir, KILN_ADMIN_TOKEN: ADMIN_TOKEN, KILN_REGIONS: REGIONS },
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("exit", (status) => resolve({ status, stdout, stderr }));
  });
}

describe("kiln backup, restored into a fresh data dir: Kiln starts on it with the same data", () => {
  let t: TestApp;
  let root: string;
  let hook: { path: string; secret: string };
  const work = mkdtempSync(join(tmpdir(), "kiln-backup-"));
  const backupFile = join(work, "kiln-backup.db");
  const restoredDir = join(work, "restored");
  const webhook = (call: TestApp["call"], delivery: string) =>
    call("POST", hook.path, {
      raw: githubPush,
      headers: {
        "x-github-event": "push",
        "x-github-delivery": delivery,
        "x-hub-signature-256": `sha256=${createHmac("sha256", hook.secret).update(githubPush).digest("hex")}`,
      },
    });

  beforeAll(async () => {
    t = await startTestApp();
    root = (await t.account("acme")).token;
    const alice = await t.call("POST", "/api/v1/users", {
      token: root,
      body: { name: "alice", password: "Console-pass1" },
    });
    expect(alice.status).toBe(201);
    await t.user(root, "ci", {
      Version: "1",
      Statement: [{ Effect: "Allow", Action: "cr:PushRepository", Resource: "acs:cr:*:*:repository/shop/*" }],
    });
    await t.call("POST", "/api/v1/namespaces", { token: root, body: { name: "shop" } });
    for (const name of ["web", "api"])
      await t.call("POST", "/api/v1/regions/cn-hongkong/repositories", {
        token: root,
        body: { namespace: "shop", name },
      });
    const bound = await t.call("PUT", `${repoPath("web")}/source`, {
      token: root,
      body: {
        provider: "github",
        repoUrl: "https://github.com/Codertocat/Hello-World.git",
        pushUser: "ci",
        credentials: { username: "x-access-token", token: "ghp_sealed0123456789abcdef" },
      },
    });
    expect(bound.status).toBe(200);
    hook = { path: new URL(bound.body.webhookUrl).pathname, secret: bound.body.webhookSecret };
    const rule = await t.call("POST", `${repoPath("web")}/build-rules`, {
      token: root,
      body: { sourceType: "branch", source: "master", tags: ["{sourceref}-{shortsha}"] },
    });
    expect(rule.status).toBe(201);
    expect((await webhook(t.call, "before-backup")).status).toBe(202);
    const manual = await t.call("POST", `${repoPath("web")}/builds`, {
      token: root,
      body: { ref: "master", commit: COMMIT },
    });
    expect(manual.status, JSON.stringify(manual.body)).toBe(202);
  });
  afterAll(async () => {
    await t.close();
    rmSync(work, { recursive: true, force: true });
  });

  it("backs up online, restores, and serves the same accounts, repositories and builds", async () => {
    // What the API shows before the backup.
    const views = async (call: TestApp["call"]): Promise<Answer["body"][]> =>
      Promise.all(
        [
          "/api/v1/me",
          "/api/v1/users",
          "/api/v1/namespaces",
          "/api/v1/regions/cn-hongkong/repositories",
          `${repoPath("web")}/source`,
          `${repoPath("web")}/build-rules`,
          `${repoPath("web")}/builds`,
        ].map(async (path) => {
          const res = await call("GET", path, { token: root });
          expect(res.status, path).toBe(200);
          return res.body;
        }),
      );
    // The running API keeps writing (policies) while the backup is taken.
    let writing = true;
    let written = 0;
    const writes = (async () => {
      for (let i = 0; writing; i++) {
        const policy = await t.call("POST", "/api/v1/policies", {
          token: root,
          body: {
            name: `during-backup-${i}`,
            document: { Version: "1", Statement: [{ Effect: "Allow", Action: "cr:Get*", Resource: "*" }] },
          },
        });
        expect(policy.status, JSON.stringify(policy.body)).toBe(201);
        written++;
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    })();
    const before = await views(t.call);
    const backup = await kilnBackup(t.dataDir, backupFile);
    writing = false;
    await writes;
    expect(written).toBeGreaterThan(0);
    expect(backup.status, backup.stderr).toBe(0);
    expect(backup.stdout.trim()).toMatch(new RegExp(`^${backupFile} \\d+$`));
    expect(backup.stderr).toContain("secret-key");
    expect(readFileSync(backupFile).subarray(0, 16).toString()).toBe("SQLite format 3\0");
    // A second backup into the same file is refused: an existing file is never overwritten.
    expect((await kilnBackup(t.dataDir, backupFile)).status).toBe(1);

    // The restore, as the README says: the file as kiln.db, plus the secrets beside it.
    mkdirSync(restoredDir);
    cpSync(backupFile, join(restoredDir, "kiln.db"));
    for (const file of FILES_THAT_TRAVEL)
      if (existsSync(join(t.dataDir, file)))
        cpSync(join(t.dataDir, file), join(restoredDir, file), { recursive: true });
    const config = loadConfig({
      KILN_DATA_DIR: restoredDir,
      KILN_REGIONS: REGIONS,
      KILN_ADMIN_TOKEN: ADMIN_TOKEN,
      LOG_LEVEL: "silent",
    });
    const deps = await createDeps(config, createLogger("silent"));
    try {
      const app = createServer(deps);
      const call: TestApp["call"] = async (method, path, opts = {}) => {
        const headers: Record<string, string> = { ...opts.headers };
        if (opts.token) headers.authorization = `Bearer ${opts.token}`;
        const body = opts.raw ?? (opts.body === undefined ? undefined : JSON.stringify(opts.body));
        if (body !== undefined) headers["content-type"] ??= "application/json";
        return answerOf(await app.request(path, { method, headers, body }));
      };

      // The same root token, users, repositories, binding, rules and builds.
      expect(await views(call)).toEqual(before);
      expect(before[6].builds).toHaveLength(2);
      // Policies written while the backup ran: it holds those of one moment, with no gap.
      const policies = JSON.stringify((await call("GET", "/api/v1/policies", { token: root })).body);
      const kept = [...policies.matchAll(/"during-backup-(\d+)"/g)].map((m) => Number(m[1])).sort((a, b) => a - b);
      expect(kept).toEqual(kept.map((_, i) => i));

      // A password login, and the registry token signer with the same CA.
      const login = await call("POST", "/api/v1/sessions", {
        body: { loginName: "alice@acme", password: "Console-pass1" },
      });
      expect(login.status).toBe(200);
      expect(deps.keys.caPem).toBe(t.deps.keys.caPem);

      // The sealed webhook secret opens with the key that travelled: the old secret still verifies.
      const push = await webhook(call, "after-restore");
      expect([push.status, push.body.outcome]).toEqual([202, "accepted"]);
    } finally {
      await deps.close();
    }
  }, 60_000);
});
