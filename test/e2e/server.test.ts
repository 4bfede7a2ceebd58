import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { databaseEnv, testDatabaseUrl } from "../helpers/database.ts";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort, waitUntil } from "../helpers/net.ts";
import { startRedis } from "../helpers/redis.ts";

const ROOT = new URL("../..", import.meta.url).pathname;

describe("the real process (the production build): `kiln account create`, then the API over HTTP", () => {
  let dataDir: string;
  let server: ChildProcess;
  let base: string;
  let logs = "";
  let redis: Awaited<ReturnType<typeof startRedis>>;
  let databaseUrl: string | undefined;
  /** The readiness check of the control plane's database is named after it. */
  const databaseCheck = () => (databaseUrl ? "postgres" : "sqlite");
  const env = () => ({
    ...process.env,
    KILN_DATA_DIR: dataDir,
    ...databaseEnv(databaseUrl),
    KILN_REGIONS: "local=127.0.0.1:5000",
    LOG_LEVEL: "info",
    KILN_ADMIN_TOKEN: "",
    KILN_SECRET_KEY: "",
    REDIS_URL: redis.url,
  });

  beforeAll(async () => {
    redis = await startRedis();
    databaseUrl = await testDatabaseUrl();
    dataDir = mkdtempSync(join(tmpdir(), "kiln-e2e-"));
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    // The production path: the esbuild bundle run by bin/kiln-server, as npm start and the Dockerfile do.
    const built = spawnSync("npm", ["run", "--silent", "build"], { cwd: ROOT, encoding: "utf8" });
    expect(built.status, built.stderr).toBe(0);
    server = spawn(join(ROOT, "bin/kiln-server"), [], {
      cwd: ROOT,
      env: { ...env(), PORT: String(port), KILN_ROLE: "api" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    server.stdout!.on("data", (d) => (logs += d));
    server.stderr!.on("data", (d) => (logs += d));
    await waitUntil(
      async () => (await fetch(`${base}/healthz`)).ok,
      () => `kiln did not answer:\n${logs}`,
    );
  });
  afterAll(async () => {
    server?.kill("SIGTERM");
    await redis?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it("serves health, readiness, metrics, the OpenAPI document and the docs page", async () => {
    expect(await (await fetch(`${base}/healthz`)).json()).toEqual({ status: "ok" });
    expect(await (await fetch(`${base}/readyz`)).json()).toEqual({
      status: "ready",
      checks: { [databaseCheck()]: { ok: true }, redis: { ok: true } },
    });
    expect(await (await fetch(`${base}/metrics`)).text()).toContain("kiln_http_requests_total");
    const doc = (await (await fetch(`${base}/openapi.json`)).json()) as {
      paths: Record<string, unknown>;
      components: { schemas: Record<string, { properties?: object }> };
    };
    expect(Object.keys(doc.paths)).toContain("/api/v1/regions/{region}/repositories/{ns}/{repo}");
    const ruleFields = [
      "id",
      "sourceType",
      "source",
      "tags",
      "dockerfileDir",
      "dockerfileName",
      "context",
      "buildArgs",
      "target",
      "noCache",
      "includePaths",
      "excludePaths",
      "enabled",
    ];
    expect(
      Object.keys(doc.components.schemas.BuildRule?.properties ?? {}),
      "the BuildRule schema names every rule field",
    ).toEqual(expect.arrayContaining(ruleFields));
    const docs = await (await fetch(`${base}/docs`)).text();
    expect(docs).toContain("SwaggerUIBundle");
    expect(docs, "no CDN: the docs work offline").not.toMatch(/https?:\/\//);
    for (const file of ["swagger-ui.css", "swagger-ui-bundle.js"])
      expect((await fetch(`${base}/docs/assets/${file}`)).status).toBe(200);
  });

  it("the production bundle serves the console: the login page and its own script and styles", async () => {
    const login = await fetch(`${base}/console/login`);
    expect(login.status).toBe(200);
    expect(await login.text()).toContain('action="/console/login"');
    for (const file of ["console.js", "console.css"])
      expect((await fetch(`${base}/console/assets/${file}`)).status).toBe(200);
    const root = await fetch(`${base}/`, { redirect: "manual" });
    expect(root.headers.get("location")).toBe("/console");
  });

  it("refuses bodies over 1 MiB with 413, whether the length is declared or the body is chunked", async () => {
    const big = JSON.stringify({ name: "x", document: "y".repeat(1024 * 1024) });
    const declared = await fetch(`${base}/api/v1/policies`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: big,
    });
    expect(declared.status).toBe(413);
    const chunks = [big.slice(0, 600_000), big.slice(600_000)];
    const stream = new ReadableStream({
      pull(controller) {
        const next = chunks.shift();
        if (next === undefined) controller.close();
        else controller.enqueue(new TextEncoder().encode(next));
      },
    });
    const chunked = await fetch(`${base}/api/v1/policies`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: stream,
      duplex: "half",
    } as RequestInit);
    expect(chunked.status).toBe(413);
    expect(((await chunked.json()) as { error: string }).error).toBe("PayloadTooLarge");
  });

  it("generates its secrets into the data dir, readable by the owner only", () => {
    for (const file of ["admin-token", "secret-key", "registry-events-token"]) {
      expect((statSync(join(dataDir, file)).mode & 0o777).toString(8)).toBe("600");
    }
  });

  it("the CLI bootstraps an account whose root token works against the server", async () => {
    const cli = spawnSync(join(ROOT, "bin/kiln"), ["account", "create", "acme"], { env: env(), encoding: "utf8" });
    expect(cli.status).toBe(0);
    const account = JSON.parse(cli.stdout);
    expect(account.id).toMatch(/^[1-9]\d{15}$/);
    const headers = { authorization: `Bearer ${account.rootToken}`, "content-type": "application/json" };
    const created = await fetch(`${base}/api/v1/namespaces`, {
      method: "POST",
      headers,
      body: JSON.stringify({ name: "alitest1" }),
    });
    expect(created.status).toBe(201);
    const listed = (await (await fetch(`${base}/api/v1/namespaces`, { headers })).json()) as {
      namespaces: { name: string }[];
    };
    expect(listed.namespaces.map((n: { name: string }) => n.name)).toEqual(["alitest1"]);
  });

  it("the CLI prints a registry configuration that trusts Kiln's CA and reports to Kiln", () => {
    const cli = spawnSync(join(ROOT, "bin/kiln"), ["registry", "config", "--region", "local"], {
      env: env(),
      encoding: "utf8",
    });
    expect(cli.status).toBe(0);
    const config = JSON.parse(cli.stdout);
    expect(config.auth.token).toEqual({
      realm: "http://127.0.0.1:8080/auth/token",
      service: "local",
      issuer: "kiln",
      rootcertbundle: join(dataDir, "registry-auth/ca.pem"),
    });
    expect(config.notifications.endpoints[0].url).toBe("http://127.0.0.1:8080/registry/events");
    expect(config.notifications.endpoints[0].headers["X-Kiln-Region"]).toEqual(["local"]);
    expect(config.http.addr).toBe("127.0.0.1:5000");
  });

  it("the CLI refuses a bad alias with a clear message", () => {
    const cli = spawnSync(join(ROOT, "bin/kiln"), ["account", "create", "X"], { env: env(), encoding: "utf8" });
    expect(cli.status).toBe(2);
    expect(cli.stderr).toMatch(/alias: must be/);
  });

  it("never writes a token or password to its log", async () => {
    await fetch(`${base}/api/v1/sessions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ loginName: "acme", password: "Guessing-123" }),
    });
    expect(logs).toContain("kiln api listening");
    expect(logs).not.toMatch(/kak_|kss_|Guessing-123/);
  });

  it("a dead Redis shows in /readyz, and the control plane keeps serving", async () => {
    await redis.stop();
    const ready = await fetch(`${base}/readyz`);
    expect(ready.status).toBe(503);
    const body = (await ready.json()) as { status: string; checks: Record<string, { ok: boolean; detail?: string }> };
    expect(body.status).toBe("unready");
    expect(body.checks[databaseCheck()]!.ok).toBe(true);
    expect(body.checks.redis).toEqual({ ok: false, detail: `no answer from ${redis.url}` });
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    await redis.start();
    await waitUntil(
      async () => (await fetch(`${base}/readyz`)).status === 200,
      () => "readyz did not recover after Redis came back",
    );
  });

  it("refuses to start on a bad configuration, naming the variable", () => {
    const run = spawnSync(process.execPath, ["--import", "tsx", "src/main.ts"], {
      cwd: ROOT,
      env: { ...env(), PORT: "not-a-port" },
      encoding: "utf8",
      timeout: 20_000,
    });
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(/PORT/);
  });
});
