import { serve, type ServerType } from "@hono/node-server";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createServer } from "../../src/server.ts";
import { loadConfig, type Config } from "../../src/config.ts";
import { createDeps } from "../../src/deps.ts";
import { createLogger, type Logger } from "../../src/logger.ts";
import { registryConfig } from "../../src/registry/registry-config.ts";
import { ADMIN_TOKEN, answerOf, type Answer } from "./app.ts";
import { databaseEnv, testDatabaseUrl } from "./database.ts";
import { freePort, waitUntil } from "./net.ts";
import { startRegistryProxy, type RegistryProxy } from "./registry-proxy.ts";

/**
 * Kiln listening on a real port, with one real distribution registry (Debian docker-registry)
 * per region, configured exactly as `kiln registry config` writes it.
 */
export async function startKilnWithRegistries(
  regionIds: string[],
  options: {
    env?: Record<string, string>;
    queue?: boolean;
    /**
     * Puts a test-owned HTTP proxy at each region's registry address, the registry behind it:
     * it counts manifest PUTs and can hold them (see registry-proxy.ts).
     */
    proxy?: boolean;
    /** The API's logger (silent when absent). */
    log?: Logger;
  } = {},
) {
  const dataDir = mkdtempSync(join(tmpdir(), "kiln-e2e-"));
  const port = await freePort();
  const regions: string[] = [];
  for (const id of regionIds) regions.push(`${id}=127.0.0.1:${await freePort()}`);
  const config: Config = loadConfig({
    KILN_DATA_DIR: dataDir,
    ...databaseEnv(await testDatabaseUrl()),
    KILN_REGIONS: regions.join(","),
    KILN_ADMIN_TOKEN: ADMIN_TOKEN,
    KILN_PUBLIC_URL: `http://127.0.0.1:${port}`,
    PORT: String(port),
    ...options.env,
  });
  const deps = await createDeps(config, options.log ?? createLogger("silent"), { queue: options.queue });
  const app = createServer(deps);
  const server: ServerType = serve({ fetch: app.fetch, port, hostname: "127.0.0.1" });
  const base = `http://127.0.0.1:${port}`;

  const registries = new Map<string, ChildProcess>();
  /** With `proxy`: the proxy at each region's address, and the port its registry listens on behind it. */
  const proxies = new Map<string, RegistryProxy>();
  const behind = new Map<string, number>();
  if (options.proxy)
    for (const region of config.regions) {
      const upstream = await freePort();
      behind.set(region.id, upstream);
      proxies.set(region.id, await startRegistryProxy(Number(region.registry.split(":")[1]), upstream));
    }
  const registryLogs: Record<string, string> = {};
  /** Starts (or starts again, on the same port and storage) the registry of a region. */
  async function startRegistry(regionId: string): Promise<void> {
    const region = config.regions.find((r) => r.id === regionId)!;
    const file = join(dataDir, `registry-${region.id}.yml`);
    const settings = registryConfig(config, region, deps.keys.caFile) as { http: { addr: string } };
    const address = behind.has(region.id) ? `127.0.0.1:${behind.get(region.id)}` : region.registry;
    settings.http.addr = address;
    writeFileSync(file, JSON.stringify(settings));
    const child = spawn("docker-registry", ["serve", file], { stdio: ["ignore", "pipe", "pipe"] });
    registryLogs[region.id] ??= "";
    child.stdout!.on("data", (d) => (registryLogs[region.id] += d));
    child.stderr!.on("data", (d) => (registryLogs[region.id] += d));
    registries.set(region.id, child);
    await waitUntil(
      async () => (await fetch(`http://${address}/v2/`)).status === 401,
      () => `registry ${region.id}: ${registryLogs[region.id]}`,
    );
  }
  async function stopRegistry(regionId: string): Promise<void> {
    const child = registries.get(regionId);
    if (!child || child.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      child.once("exit", () => resolve());
      child.kill("SIGTERM");
    });
  }
  for (const region of config.regions) await startRegistry(region.id);

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

  async function stop(): Promise<void> {
    for (const r of registries.values()) r.kill("SIGTERM");
    for (const p of proxies.values()) await p.close();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await deps.close();
    rmSync(dataDir, { recursive: true, force: true });
  }

  const registryOf = (region: string) => config.regions.find((r) => r.id === region)!.registry;
  return {
    base,
    config,
    deps,
    call,
    stop,
    registryOf,
    registryLogs,
    dataDir,
    startRegistry,
    stopRegistry,
    proxyOf: (region: string) => proxies.get(region)!,
  };
}
