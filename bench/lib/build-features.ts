/**
 * The workloads of the build bench's second part (issue 13): the registry cache on a cold worker,
 * and a 2-platform build against a 1-platform build of the same Dockerfile.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { ensureBaseImageFor } from "../../test/helpers/docker.ts";

const DOCKER = "/usr/bin/docker";

/**
 * Expensive step first, with nothing of the commit in it (a seed of its own per repository, so
 * that no other repository's cache answers it), then the commit's file: a new commit changes only
 * the late layer, and only a cache can spare the early step.
 */
export function expensiveFirstDockerfile(base: string, seed: string, rounds: number): string {
  const hash = `h="${seed}"; i=0; while [ $i -lt ${rounds} ]; do h=$({ echo "$h"; cat /payload.bin; } | sha256sum); i=$((i + 1)); done; echo "$h" > /hash`;
  return [
    `FROM ${base}`,
    "COPY payload.bin /payload.bin",
    `RUN set -e; ${hash}`,
    "COPY commit.txt /commit.txt",
    "",
  ].join("\n");
}

/** The same CPU work after the commit's file, on the base of the platform being built. */
export function perPlatformDockerfile(basePrefix: string, rounds: number): string {
  const hash = `h="$(cat /commit.txt)"; i=0; while [ $i -lt ${rounds} ]; do h=$({ echo "$h"; cat /payload.bin; } | sha256sum); i=$((i + 1)); done; echo "$h" > /hash`;
  // TARGETARCH is an automatic global arg: declared again before FROM, the engine's frontend would empty it.
  return [
    `FROM ${basePrefix}-\${TARGETARCH}:latest`,
    "COPY payload.bin /payload.bin",
    "COPY commit.txt /commit.txt",
    `RUN set -e; ${hash}`,
    "",
  ].join("\n");
}

/** `<prefix>-amd64` and `<prefix>-arm64` bases: the bench's amd64 base, and the tests' arm64 busybox (needs QEMU). */
export async function ensurePlatformBases(amd64Base: string, prefix: string): Promise<void> {
  const arm64 = await ensureBaseImageFor("linux/arm64");
  for (const [from, to] of [
    [amd64Base, `${prefix}-amd64:latest`],
    [arm64, `${prefix}-arm64:latest`],
  ]) {
    const tagged = spawnSync(DOCKER, ["tag", from!, to!], { encoding: "utf8" });
    if (tagged.status !== 0) throw new Error(`docker tag ${from} ${to}: ${tagged.stderr}`);
  }
}

/** A worker process (as production runs it) on the engine at `dockerHost`, with a fresh data dir. */
export function startWorkerOn(dockerHost: string, env: NodeJS.ProcessEnv): ChildProcess {
  return spawn("bin/kiln-server", [], {
    env: { ...process.env, ...env, KILN_ROLE: "worker", DOCKER_HOST: dockerHost },
    stdio: ["ignore", "inherit", "inherit"],
  });
}

export async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  child.kill("SIGTERM");
  await new Promise((resolve) => child.once("exit", resolve));
}
