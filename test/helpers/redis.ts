import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { createConnection } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, waitUntil } from "./net.ts";

function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ port, host: "127.0.0.1" }, () => socket.write("PING\r\n"));
    socket.on("data", (d) => {
      resolve(d.toString().startsWith("+PONG"));
      socket.destroy();
    });
    socket.on("error", () => resolve(false));
  });
}

/**
 * A real redis-server (Debian's) on a free port that a test can stop (SIGKILL) and start again:
 * without persistence, or with `persist` an append-only file fsynced at every write in a
 * directory of its own, so that a restart finds every write made before the kill.
 */
export async function startRedis(options: { persist?: boolean } = {}) {
  const port = await freePort();
  const dir = options.persist ? mkdtempSync(join(tmpdir(), "kiln-redis-")) : undefined;
  const persistence = dir
    ? ["--dir", dir, "--save", "", "--appendonly", "yes", "--appendfsync", "always"]
    : ["--save", "", "--appendonly", "no"];
  let child: ChildProcess | undefined;
  let log = "";

  async function start(): Promise<void> {
    child = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", ...persistence], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    child.stdout!.on("data", (d) => (log += d));
    child.stderr!.on("data", (d) => (log += d));
    await waitUntil(
      () => answers(port),
      () => `redis-server on ${port}: ${log}`,
    );
  }

  async function stop(): Promise<void> {
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((r) => child!.once("exit", r));
    child.kill("SIGKILL");
    await exited;
  }

  await start();
  return { url: `redis://127.0.0.1:${port}`, port, start, stop };
}
