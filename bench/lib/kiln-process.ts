import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const ADMIN = "bench-admin-token-0123456789";
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export const freePort = () =>
  new Promise<number>((resolve) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });

/** The production build (`npm run build` into dist/). */
export function buildKiln(): void {
  const built = spawnSync("npm", ["run", "--silent", "build"], { stdio: "inherit" });
  if (built.status !== 0) throw new Error("npm run build failed");
}

/** CPU time (user + system) a process has used so far, in seconds, from /proc (0 once it is gone). */
export function processCpuSeconds(pid: number): number {
  try {
    // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th.
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / 100; // USER_HZ: 100 on Linux
  } catch {
    return 0;
  }
}

/**
 * Kiln as production runs it (`npm run build`, then `bin/kiln-server`), in its own process with a
 * fresh data dir. BENCH_NODE_ARGS adds node flags (e.g. --cpu-prof).
 * Options: `build: false` when buildKiln() already ran; `dataDir` to share one data directory
 * between several Kiln processes (API replicas): it is then the caller's to delete.
 */
export async function startKiln(env: Record<string, string>, options: { build?: boolean; dataDir?: string } = {}) {
  if (options.build !== false) buildKiln();
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), "kiln-bench-"));
  const nodeArgs = process.env.BENCH_NODE_ARGS?.split(" ").filter(Boolean) ?? [];
  const server = spawn("bin/kiln-server", nodeArgs, {
    env: {
      ...process.env,
      PORT: String(port),
      KILN_DATA_DIR: dataDir,
      KILN_ROLE: "api",
      KILN_ADMIN_TOKEN: ADMIN,
      LOG_LEVEL: "warn",
      KILN_REGIONS: "local=127.0.0.1:5000",
      ...env,
    },
    stdio: ["ignore", "inherit", "inherit"],
  });
  const exited = new Promise<void>((resolve) => server.once("exit", () => resolve()));
  const running = () => server.exitCode === null && server.signalCode === null;

  async function stop(): Promise<void> {
    if (running()) {
      server.kill("SIGTERM");
      // A clean shutdown closes its connections (Redis, PostgreSQL); one that hangs is killed.
      if ((await Promise.race([exited.then(() => true), sleep(5000).then(() => false)])) === false)
        server.kill("SIGKILL");
      await Promise.race([exited, sleep(1000)]);
    }
    if (!options.dataDir) rmSync(dataDir, { recursive: true, force: true });
  }

  for (let i = 0; ; i++) {
    try {
      if ((await fetch(`${base}/healthz`)).ok) break;
    } catch {
      // starting
    }
    if (i > 300 || !running()) {
      const why = running() ? "kiln did not start" : `kiln exited while starting (code ${server.exitCode})`;
      await stop();
      throw new Error(why);
    }
    await sleep(100);
  }

  async function call(method: string, path: string, token: string, body?: unknown): Promise<any> {
    const init = {
      method,
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    };
    // A request racing the server's close of an idle keep-alive socket is sent once more.
    const res = await fetch(base + path, init).catch(() => fetch(base + path, init));
    if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
    return res.json();
  }

  /** Peak resident memory of the Kiln process so far (VmHWM), in MB. */
  const peakRssMb = () =>
    Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${server.pid}/status`, "utf8"))?.[1] ?? 0) / 1024;

  /** CPU time the Kiln process has used so far, in seconds. */
  const cpuSeconds = () => processCpuSeconds(server.pid!);

  return { base, dataDir, pid: server.pid!, call, peakRssMb, cpuSeconds, stop };
}
