import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, request, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig, type Config } from "../../src/config.ts";
import { loadSigningKeys } from "../../src/registry/keys.ts";
import { registryConfig } from "../../src/registry/registry-config.ts";
import { ADMIN_TOKEN, answerOf, type Answer } from "./app.ts";
import { databaseEnv, queryKilnDatabase, testDatabaseUrl } from "./database.ts";
import { registryManifestDigest, type KilnProcess } from "./kiln-process.ts";
import { freePort, waitUntil } from "./net.ts";
import { startRegistryProxy } from "./registry-proxy.ts";

const ROOT = new URL("../..", import.meta.url).pathname;
const REGION = "cn-hongkong";

/** The message a replica test fails with when the suite runs on SQLite. */
export const NEEDS_POSTGRES =
  "this test needs PostgreSQL (several Kiln processes share one control-plane database): run it with " +
  "KILN_TEST_DB=postgres KILN_TEST_PG_URL=postgres://user@host:port/postgres (scripts/test.sh's PostgreSQL pass does)";

export interface CallOptions {
  token?: string;
  body?: unknown;
  headers?: Record<string, string>;
}

async function callAt(base: string, method: string, path: string, opts: CallOptions = {}): Promise<Answer> {
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

/**
 * One Kiln process (`node --import tsx src/main.ts`) of a replica set: an API replica (it answers
 * /healthz on `port`) or a worker (ready once it logs "build worker started"). It can be
 * SIGKILLed and started again with the same environment (same port, data directory, database).
 * An exit the test did not cause is recorded in the set's `crashes`.
 */
function kilnChild(name: string, env: Record<string, string>, crashes: string[], port?: number) {
  let child: ChildProcess | undefined;
  let output = "";
  let expectedExit = false;
  const base = port === undefined ? "" : `http://127.0.0.1:${port}`;

  async function start(): Promise<void> {
    expectedExit = false;
    const started = output.length;
    const c = spawn(process.execPath, ["--import", "tsx", "src/main.ts"], {
      cwd: ROOT,
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    child = c;
    c.stdout!.on("data", (d) => (output += d));
    c.stderr!.on("data", (d) => (output += d));
    c.once("exit", (code, signal) => {
      if (!expectedExit) crashes.push(`${name} exited by itself (code ${code}, signal ${signal})`);
    });
    await waitUntil(
      async () =>
        c.exitCode === null &&
        (port === undefined
          ? output.slice(started).includes("build worker started")
          : (await fetch(`${base}/healthz`)).ok),
      () => `${name} did not start: ${output.slice(-4000)}`,
      60_000,
    );
  }

  async function kill(signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
    const c = child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    expectedExit = true;
    const exited = new Promise((r) => c.once("exit", r));
    c.kill(signal);
    await exited;
  }

  return {
    name,
    base,
    port,
    start,
    kill,
    alive: () => child !== undefined && child.exitCode === null && child.signalCode === null,
    output: () => output,
    call: (method: string, path: string, opts?: CallOptions) => callAt(base, method, path, opts),
  };
}

export type KilnChild = ReturnType<typeof kilnChild>;

/**
 * A round-robin HTTP load balancer over the API replicas, as the deployment's proxy is: each
 * request goes to the next replica; one whose port refuses the connection (it is down) is skipped
 * for the next (safe: the request never reached it). Bodies are small (API calls, registry
 * notifications) and are read whole first. `served` counts the requests each replica answered.
 */
async function startRoundRobin(listenPort: number, upstreamPorts: number[]) {
  let next = 0;
  const served = new Map<number, number>(upstreamPorts.map((p) => [p, 0]));
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (d: Buffer) => chunks.push(d));
    req.on("end", () => {
      const body = Buffer.concat(chunks);
      const first = next++ % upstreamPorts.length;
      const attempt = (n: number) => {
        const port = upstreamPorts[(first + n) % upstreamPorts.length]!;
        const upstream = request(
          { host: "127.0.0.1", port, method: req.method, path: req.url, headers: req.headers },
          (answer) => {
            served.set(port, served.get(port)! + 1);
            res.writeHead(answer.statusCode ?? 502, answer.headers);
            answer.pipe(res);
          },
        );
        upstream.on("error", (err: NodeJS.ErrnoException) => {
          if (err.code === "ECONNREFUSED" && n + 1 < upstreamPorts.length) return attempt(n + 1);
          if (!res.headersSent) res.writeHead(502, { "content-type": "text/plain" });
          res.end(`no API replica answered: ${err.message}`);
        });
        upstream.end(body);
      };
      attempt(0);
    });
  });
  await new Promise<void>((resolve) => server.listen(listenPort, "127.0.0.1", () => resolve()));
  return {
    served,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/**
 * Kiln as several processes on one PostgreSQL and one Redis: `apis` API replicas (KILN_ROLE=api,
 * each on a port of its own) behind a round-robin balancer (KILN_PUBLIC_URL: the address clients,
 * the Docker engine's token requests and the registry's notifications use), `workers` build
 * workers (KILN_ROLE=worker), all on one data directory (the shared volume: secret key, signing
 * keys and events token are generated in it before any process starts, as the compose file's
 * registry-config step does), and one distribution registry behind the manifest-PUT counting
 * proxy of startKilnProcess. Fails at once without PostgreSQL (KILN_TEST_DB=postgres).
 */
export async function startReplicaSet(options: {
  redisUrl: string;
  apis?: number;
  workers?: number;
  env?: Record<string, string>;
}) {
  const databaseUrl = await testDatabaseUrl();
  if (!databaseUrl) throw new Error(NEEDS_POSTGRES);
  const dataDir = mkdtempSync(join(tmpdir(), "kiln-replicas-"));
  const lbPort = await freePort();
  const registryPort = await freePort();
  const behind = await freePort();
  const apiPorts: number[] = [];
  for (let i = 0; i < (options.apis ?? 2); i++) apiPorts.push(await freePort());
  const base = `http://127.0.0.1:${lbPort}`;
  const env: Record<string, string> = {
    KILN_DATA_DIR: dataDir,
    ...databaseEnv(databaseUrl),
    KILN_REGIONS: `${REGION}=127.0.0.1:${registryPort}`,
    KILN_ADMIN_TOKEN: ADMIN_TOKEN,
    KILN_PUBLIC_URL: base,
    REDIS_URL: options.redisUrl,
    KILN_ALLOW_LOCAL_GIT: "1",
    LOG_LEVEL: "info",
    ...options.env,
  };
  // The shared secrets, written into the data directory before any Kiln process starts.
  const config: Config = loadConfig(env);
  const keys = await loadSigningKeys(dataDir);

  const proxy = await startRegistryProxy(registryPort, behind);
  let registryLog = "";
  const settings = registryConfig(config, config.regions[0]!, keys.caFile) as { http: { addr: string } };
  settings.http.addr = `127.0.0.1:${behind}`;
  const registryFile = join(dataDir, "registry.yml");
  writeFileSync(registryFile, JSON.stringify(settings));
  const registry = spawn("docker-registry", ["serve", registryFile], { stdio: ["ignore", "pipe", "pipe"] });
  registry.stdout!.on("data", (d) => (registryLog += d));
  registry.stderr!.on("data", (d) => (registryLog += d));
  await waitUntil(
    async () => (await fetch(`http://127.0.0.1:${behind}/v2/`)).status === 401,
    () => `registry: ${registryLog}`,
  );
  const balancer = await startRoundRobin(lbPort, apiPorts);

  const crashes: string[] = [];
  const letter = (i: number) => String.fromCharCode(65 + i);
  const apis = apiPorts.map((port, i) =>
    kilnChild(`api ${letter(i)}`, { ...env, KILN_ROLE: "api", PORT: String(port) }, crashes, port),
  );
  const workers = Array.from({ length: options.workers ?? 2 }, (_, i) =>
    kilnChild(`worker ${i + 1}`, { ...env, KILN_ROLE: "worker" }, crashes),
  );
  // All at once: the API replicas migrate the one database together (under its advisory lock).
  await Promise.all([...apis, ...workers].map((p) => p.start()));

  const everyone = () => [...apis, ...workers];
  const output = () =>
    everyone()
      .map((p) => `----- ${p.name}\n${p.output().slice(-3000)}`)
      .join("\n");

  /** Reads (or writes) the shared PostgreSQL database, whichever Kiln process is up. */
  function query<T>(statement: string, ...params: unknown[]): T[] {
    return queryKilnDatabase<T>({ url: databaseUrl, file: join(dataDir, "kiln.db") }, statement, params);
  }

  /** The digest the registry serves for a tag now, undefined when none. */
  const manifestDigest = (repository: string, tag: string, login: { username: string; password: string }) =>
    registryManifestDigest({ kiln: base, region: REGION, registry: `127.0.0.1:${behind}` }, repository, tag, login);

  const notHere = (what: string) => async () => {
    throw new Error(`${what}: start or kill one process of the replica set instead`);
  };

  /**
   * The replica set in the shape of startKilnProcess's answer, so that the chaos helpers
   * (seedChaos, everyBuildEnded, expectRegistryMatches) work on it: calls go through the
   * balancer, or straight to `through` (one API replica) when given; `crashes` and `output`
   * cover every process of the set.
   */
  function asKilnProcess(through?: KilnChild): KilnProcess {
    const at = through?.base ?? base;
    return {
      base: at,
      config,
      dataDir,
      registry: `127.0.0.1:${registryPort}`,
      proxy,
      crashes,
      output,
      registryLog: () => registryLog,
      alive: () => everyone().every((p) => p.alive()),
      start: notHere("start"),
      kill: notHere("kill"),
      call: (method: string, path: string, opts?: CallOptions) => callAt(at, method, path, opts),
      query,
      manifestDigest,
      startRegistry: notHere("startRegistry"),
      stopRegistry: notHere("stopRegistry"),
      stop: notHere("stop"),
    };
  }

  async function stop(): Promise<void> {
    await Promise.all(everyone().map((p) => p.kill("SIGKILL")));
    if (registry.exitCode === null && registry.signalCode === null)
      await new Promise<void>((resolve) => {
        registry.once("exit", () => resolve());
        registry.kill("SIGTERM");
      });
    await balancer.close();
    await proxy.close();
    rmSync(dataDir, { recursive: true, force: true });
  }

  return {
    /** The balancer's address (KILN_PUBLIC_URL). */
    base,
    apis,
    workers,
    balancer,
    config,
    dataDir,
    databaseUrl,
    proxy,
    crashes,
    output,
    registryLog: () => registryLog,
    call: (method: string, path: string, opts?: CallOptions) => callAt(base, method, path, opts),
    query,
    manifestDigest,
    asKilnProcess,
    stop,
  };
}

export type ReplicaSet = Awaited<ReturnType<typeof startReplicaSet>>;
