import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DOCKER } from "./docker.ts";
import { waitUntil } from "./net.ts";

export interface Engine {
  /** `unix://…` of the engine's socket, for a worker's DOCKER_HOST. */
  host: string;
  /** Runs the docker client against this engine. */
  docker(args: string[], input?: Buffer | string): { status: number; stdout: string; stderr: string };
  stop(): Promise<void>;
}

/**
 * A second Docker engine on this machine, with its own data root, build cache and bridge: a
 * worker on it stands in for a worker on a new machine (nothing of the main engine's cache or
 * images), without emptying the engine that other tests share. `images` are copied over from
 * the main engine (`docker save | docker load`), as a new machine would have its bases.
 */
export async function startSecondEngine(images: string[] = []): Promise<Engine> {
  const dir = mkdtempSync(join(tmpdir(), "kiln-engine-"));
  const socket = join(dir, "docker.sock");
  // Interface names are at most 15 bytes; the subnet is picked so that two engines rarely meet.
  const bridge = `kiln${process.pid.toString(36).slice(-5)}${Math.floor(Math.random() * 1296).toString(36)}`;
  const subnet = `172.31.${1 + Math.floor(Math.random() * 250)}`;
  const ip = (...args: string[]) => spawnSync("ip", args, { encoding: "utf8" });
  ip("link", "add", bridge, "type", "bridge");
  ip("addr", "add", `${subnet}.1/24`, "dev", bridge);
  ip("link", "set", bridge, "up");
  const daemon: ChildProcess = spawn(
    "/usr/sbin/dockerd",
    [
      "-H",
      `unix://${socket}`,
      "--data-root",
      join(dir, "data"),
      "--exec-root",
      join(dir, "exec"),
      "--pidfile",
      join(dir, "docker.pid"),
      `--bridge=${bridge}`,
      "--iptables=false",
      "--ip-masq=false",
    ],
    { stdio: "ignore" },
  );
  const run = (args: string[], input?: Buffer | string) => {
    const r = spawnSync(DOCKER, ["-H", `unix://${socket}`, ...args], { input, maxBuffer: 512 * 1024 * 1024 });
    return { status: r.status ?? -1, stdout: String(r.stdout ?? ""), stderr: String(r.stderr ?? "") };
  };
  const stop = async () => {
    daemon.kill("SIGTERM");
    await new Promise((resolve) => (daemon.exitCode !== null ? resolve(null) : daemon.once("exit", resolve)));
    ip("link", "delete", bridge);
    spawnSync("sh", ["-c", `grep -o '${dir}[^ ]*' /proc/mounts | sort -r | xargs -r umount -l`]);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitUntil(
      async () => run(["info"]).status === 0,
      () => "the second dockerd did not come up",
      30_000,
    );
    for (const image of images) {
      const saved = spawnSync(DOCKER, ["save", image], { maxBuffer: 512 * 1024 * 1024 });
      const loaded = run(["load"], saved.stdout);
      if (loaded.status !== 0) throw new Error(`could not load ${image} into the second engine: ${loaded.stderr}`);
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return { host: `unix://${socket}`, docker: run, stop };
}
