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

/**
 * Kiln as production runs it (`npm run build`, then `bin/kiln-server`), in its own process with a
 * fresh data dir. BENCH_NODE_ARGS adds node flags (e.g. --cpu-prof).
 */
export async function startKiln(env: Record<string, string>) {
  const built = spawnSync("npm", ["run", "--silent", "build"], { stdio: "inherit" });
  if (built.status !== 0) throw new Error("npm run build failed");
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const dataDir = mkdtempSync(join(tmpdir(), "kiln-bench-"));
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
  for (let i = 0; ; i++) {
    try {
      if ((await fetch(`${base}/healthz`)).ok) break;
    } catch {
      // starting
    }
    if (i > 300) throw new Error("kiln did not start");
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

  async function stop(): Promise<void> {
    server.kill("SIGTERM");
    await sleep(300);
    rmSync(dataDir, { recursive: true, force: true });
  }

  return { base, dataDir, pid: server.pid!, call, peakRssMb, stop };
}
