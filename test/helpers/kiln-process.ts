import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig, type Config } from "../../src/config.ts";
import { databaseEnv, queryKilnDatabase, testDatabaseUrl } from "./database.ts";
import { loadSigningKeys } from "../../src/registry/keys.ts";
import { registryConfig } from "../../src/registry/registry-config.ts";
import { ADMIN_TOKEN, answerOf, type Answer } from "./app.ts";
import { freePort, waitUntil } from "./net.ts";
import { startRegistryProxy } from "./registry-proxy.ts";

const ROOT = new URL("../..", import.meta.url).pathname;
/**
 * Kiln as an operator runs it: `node src/main.ts` in a process of its own (KILN_ROLE=all by
 * default: the API and one worker), so a test can SIGKILL it and start it again on the same port
 * and data directory. One distribution registry (region cn-hongkong) behind a test-owned proxy.
 * Its stdout (pino JSON at `info`) is kept, and every exit is recorded: a process that dies by
 * itself shows in `crashes`.
 */
export async function startKilnProcess(options: { redisUrl: string; env?: Record<string, string> }) {
  const dataDir = mkdtempSync(join(tmpdir(), "kiln-chaos-"));
  const port = await freePort();
  const registryPort = await freePort();
  const behind = await freePort();
  const region = "cn-hongkong";
  const databaseUrl = await testDatabaseUrl();
  const env: Record<string, string> = {
    KILN_DATA_DIR: dataDir,
    ...databaseEnv(databaseUrl),
    KILN_REGIONS: `${region}=127.0.0.1:${registryPort}`,
    KILN_ADMIN_TOKEN: ADMIN_TOKEN,
    KILN_PUBLIC_URL: `http://127.0.0.1:${port}`,
    PORT: String(port),
    REDIS_URL: options.redisUrl,
    KILN_ALLOW_LOCAL_GIT: "1",
    LOG_LEVEL: "info",
    ...options.env,
  };
  // The same configuration the process will load: it writes the secret key and the events token.
  const config: Config = loadConfig(env);
  const keys = await loadSigningKeys(dataDir);
  const base = `http://127.0.0.1:${port}`;

  const proxy = await startRegistryProxy(registryPort, behind);
  let registry: ChildProcess | undefined;
  let registryLog = "";
  async function startRegistry(): Promise<void> {
    const settings = registryConfig(config, config.regions[0]!, keys.caFile) as { http: { addr: string } };
    settings.http.addr = `127.0.0.1:${behind}`;
    const file = join(dataDir, "registry.yml");
    writeFileSync(file, JSON.stringify(settings));
    registry = spawn("docker-registry", ["serve", file], { stdio: ["ignore", "pipe", "pipe"] });
    registry.stdout!.on("data", (d) => (registryLog += d));
    registry.stderr!.on("data", (d) => (registryLog += d));
    await waitUntil(
      async () => (await fetch(`http://127.0.0.1:${behind}/v2/`)).status === 401,
      () => `registry: ${registryLog}`,
    );
  }
  async function stopRegistry(): Promise<void> {
    const child = registry;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      child.once("exit", () => resolve());
      child.kill("SIGTERM");
    });
  }

  let kiln: ChildProcess | undefined;
  let output = "";
  /** Exits that the test did not cause. */
  const crashes: string[] = [];
  let expectedExit = false;
  async function start(extraEnv: Record<string, string> = {}): Promise<void> {
    expectedExit = false;
    const child = spawn(process.execPath, ["--import", "tsx", "src/main.ts"], {
      cwd: ROOT,
      env: { ...process.env, ...env, ...extraEnv },
      stdio: ["ignore", "pipe", "pipe"],
    });
    kiln = child;
    child.stdout!.on("data", (d) => (output += d));
    child.stderr!.on("data", (d) => (output += d));
    child.once("exit", (code, signal) => {
      if (!expectedExit) crashes.push(`kiln exited by itself (code ${code}, signal ${signal})`);
    });
    await waitUntil(
      async () => child.exitCode === null && (await fetch(`${base}/healthz`)).ok,
      () => `kiln did not start: ${output.slice(-4000)}`,
      60_000,
    );
  }
  async function kill(signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
    const child = kiln;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    expectedExit = true;
    const exited = new Promise((r) => child.once("exit", r));
    child.kill(signal);
    await exited;
  }
  const alive = () => kiln !== undefined && kiln.exitCode === null && kiln.signalCode === null;

  async function call(
    method: string,
    path: string,
    opts: { token?: string; body?: unknown; headers?: Record<string, string> } = {},
  ): Promise<Answer> {
    const headers: Record<string, string> = { ...opts.headers };
    if (opts.token) headers.authorization = `Bearer ${opts.token}`;
    if (opts.body !== undefined) headers["content-type"] = "application/json";
    return answerOf(
      await fetch(base + path, {
        method,
        headers,
        body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
      }),
    );
  }

  /** Reads (or, with a statement that is not a select, writes) Kiln's database, while Kiln runs or not. */
  function query<T>(statement: string, ...params: unknown[]): T[] {
    return queryKilnDatabase<T>({ url: databaseUrl, file: join(dataDir, "kiln.db") }, statement, params);
  }

  /** The digest the registry serves for a tag now, or undefined when there is no such tag. */
  const manifestDigest = (repository: string, tag: string, login: { username: string; password: string }) =>
    registryManifestDigest({ kiln: base, region, registry: `127.0.0.1:${behind}` }, repository, tag, login);

  async function stop(): Promise<void> {
    await kill("SIGKILL");
    await stopRegistry();
    await proxy.close();
    rmSync(dataDir, { recursive: true, force: true });
  }

  await startRegistry();
  await start();
  return {
    base,
    config,
    dataDir,
    registry: `127.0.0.1:${registryPort}`,
    proxy,
    crashes,
    output: () => output,
    registryLog: () => registryLog,
    alive,
    start,
    kill,
    call,
    query,
    manifestDigest,
    startRegistry,
    stopRegistry,
    stop,
  };
}

export type KilnProcess = Awaited<ReturnType<typeof startKilnProcess>>;

/**
 * The digest a registry serves for a tag now (HEAD of the manifest, asked straight at the registry,
 * not through a test proxy, with a pull token Kiln gives `login`), or undefined when there is no
 * such tag.
 */
export async function registryManifestDigest(
  at: { kiln: string; region: string; registry: string },
  repository: string,
  tag: string,
  login: { username: string; password: string },
): Promise<string | undefined> {
  const basic = Buffer.from(`${login.username}:${login.password}`).toString("base64");
  const token = (await (
    await fetch(`${at.kiln}/auth/token?service=${at.region}&scope=repository:${repository}:pull`, {
      headers: { authorization: `Basic ${basic}` },
    })
  ).json()) as { token: string };
  const head = await fetch(`http://${at.registry}/v2/${repository}/manifests/${tag}`, {
    method: "HEAD",
    headers: {
      authorization: `Bearer ${token.token}`,
      accept: [
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.v2+json",
      ].join(", "),
    },
  });
  if (head.status === 404) return undefined;
  if (!head.ok) throw new Error(`HEAD manifest ${repository}:${tag}: ${head.status}`);
  return head.headers.get("docker-content-digest") ?? undefined;
}
