import { spawn, type ChildProcess } from "node:child_process";
import { createConnection } from "node:net";
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

/** A real redis-server (Debian's) on a free port, without persistence, that a test can stop and start again. */
export async function startRedis() {
  const port = await freePort();
  let child: ChildProcess | undefined;
  let log = "";

  async function start(): Promise<void> {
    child = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], {
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
