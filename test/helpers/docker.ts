import { spawn, spawnSync } from "node:child_process";
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

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
export function docker(
  args: string[],
  opts: { configDir?: string; input?: string; env?: Record<string, string> } = {},
): Promise<DockerResult> {
  const env = { ...process.env, ...opts.env };
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

/**
 * The platforms the tests have a base image for, and its name. A Dockerfile picks the one of the
 * platform it is built for with `FROM kiln-test/busybox-${TARGETARCH}` (no `ARG TARGETARCH` before
 * it: the 20.10 engine's built-in frontend then leaves it empty).
 */
export const PLATFORM_BASE_IMAGES = {
  "linux/amd64": "kiln-test/busybox-amd64:latest",
  "linux/arm64": "kiln-test/busybox-arm64:latest",
} as const;
export type TestPlatform = keyof typeof PLATFORM_BASE_IMAGES;

/** Where scripts/test.sh puts Debian's arm64 busybox-static package (`apt-get download busybox-static:arm64`). */
export const DEBS_DIR = resolve(import.meta.dirname, "../../.kiln-test/debs");

async function architectureOf(image: string): Promise<string | undefined> {
  const res = await docker(["image", "inspect", "--format", "{{.Architecture}}", image]);
  return res.status === 0 ? res.stdout.trim() : undefined;
}

/**
 * A busybox base image of `platform`, made offline; returns its name.
 * - linux/amd64: another name of BASE_IMAGE (`docker import` of the machine's amd64 busybox).
 * - linux/arm64: Debian's arm64 busybox-static, from the .deb that scripts/test.sh downloads into
 *   .kiln-test/debs. `docker import --platform` is ignored by the 20.10 engine (the image says
 *   amd64), so the image is a BuildKit build of `FROM scratch` + `COPY bin /bin` with
 *   `--platform linux/arm64`: its config then says arm64, and it runs under QEMU.
 */
export async function ensureBaseImageFor(platform: TestPlatform): Promise<string> {
  const image = PLATFORM_BASE_IMAGES[platform];
  const arch = platform.split("/")[1]!;
  if ((await architectureOf(image)) === arch) return image;
  if (platform === "linux/amd64") {
    await ensureBaseImage();
    const base = await architectureOf(BASE_IMAGE);
    if (base !== arch) throw new Error(`${BASE_IMAGE} is ${base}, not ${arch}: the amd64 alias needs an amd64 machine`);
    const tagged = await docker(["tag", BASE_IMAGE, image]);
    if (tagged.status !== 0) throw new Error(`docker tag ${BASE_IMAGE} ${image} failed: ${tagged.stderr}`);
    return image;
  }
  const deb = existsSync(DEBS_DIR)
    ? readdirSync(DEBS_DIR).find((f) => /^busybox-static_.*_arm64\.deb$/.test(f))
    : undefined;
  if (!deb)
    throw new Error(
      `the arm64 busybox package is missing from ${DEBS_DIR}: scripts/test.sh downloads it ` +
        "(ensure_arm64_busybox_deb: dpkg --add-architecture arm64, apt-get update, apt-get download busybox-static:arm64; as root)",
    );
  const dir = mkdtempSync(join(tmpdir(), "kiln-arm64-base-"));
  try {
    const unpacked = spawnSync("dpkg-deb", ["-x", join(DEBS_DIR, deb), join(dir, "deb")], { encoding: "utf8" });
    if (unpacked.status !== 0) throw new Error(`dpkg-deb -x ${deb} failed: ${unpacked.stderr}`);
    const context = join(dir, "context");
    mkdirSync(join(context, "bin"), { recursive: true });
    copyFileSync(join(dir, "deb/bin/busybox"), join(context, "bin/busybox"));
    chmodSync(join(context, "bin/busybox"), 0o755);
    symlinkSync("busybox", join(context, "bin/sh"));
    writeFileSync(join(context, "Dockerfile"), "FROM scratch\nCOPY bin /bin\n");
    const built = await docker(["build", "--platform", platform, "-t", image, context], {
      env: { DOCKER_BUILDKIT: "1" },
    });
    if (built.status !== 0) throw new Error(`building ${image} failed: ${built.stderr}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const made = await architectureOf(image);
  if (made !== arch) throw new Error(`${image} was built, yet its architecture is ${made}, not ${arch}`);
  return image;
}
