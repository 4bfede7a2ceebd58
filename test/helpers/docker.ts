import { spawn, spawnSync } from "node:child_process";
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** The Docker engine's own client (Debian docker.io), never a stand-in. */
export const DOCKER = "/usr/bin/docker";
export const BASE_IMAGE = "kiln-test/busybox:latest";

export interface DockerResult {
  status: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs the docker client with its own config dir, so logins of one test never leak into another.
 * Asynchronous: the Kiln under test may live in this very process and must keep answering.
 */
export function docker(args: string[], opts: { configDir?: string; input?: string } = {}): Promise<DockerResult> {
  const env = { ...process.env };
  if (opts.configDir) env.DOCKER_CONFIG = opts.configDir;
  return new Promise((resolve, reject) => {
    const child = spawn(DOCKER, args, { env, stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), 120_000);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ status: code ?? -1, stdout, stderr });
    });
    child.stdin.end(opts.input ?? "");
  });
}

export async function assertDockerEngine(): Promise<void> {
  const info = await docker(["info", "--format", "{{.ServerVersion}}"]);
  if (info.status !== 0)
    throw new Error(`the Docker engine does not answer (start it with scripts/test.sh): ${info.stderr.trim()}`);
}

/** A base image without the internet: `docker import` of a root filesystem holding static busybox. */
export async function ensureBaseImage(): Promise<void> {
  if ((await docker(["image", "inspect", BASE_IMAGE])).status === 0) return;
  const busybox = ["/bin/busybox", "/usr/bin/busybox"].find((p) => existsSync(p));
  if (!busybox) throw new Error("busybox is missing: apt-get install busybox-static");
  const root = mkdtempSync(join(tmpdir(), "kiln-rootfs-"));
  try {
    mkdirSync(join(root, "bin"));
    copyFileSync(busybox, join(root, "bin/busybox"));
    chmodSync(join(root, "bin/busybox"), 0o755);
    symlinkSync("busybox", join(root, "bin/sh"));
    const tar = spawnSync("tar", ["-C", root, "-c", "."], { maxBuffer: 64 * 1024 * 1024 });
    const imported = spawnSync(DOCKER, ["import", "-", BASE_IMAGE], { input: tar.stdout, encoding: "utf8" });
    if (imported.status !== 0) throw new Error(`docker import failed: ${imported.stderr}`);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}
