/**
 * Build speed, side by side on one machine and one Docker cache state (issue 5):
 *  - Kiln: from the webhook to every variant's image pushed (pullable), with 1 and 4 variants;
 *  - a plain script doing the same by hand: git clone, docker build of each variant, docker push;
 *  - webhook → build start latency with an idle worker (p50 of 10);
 *  - a worker process building a repository with 500 MB of files: its peak RSS.
 * Prints one JSON summary line last. Goals: 1 variant ≤ 1.10× the script, 4 variants ≤ 0.6×,
 * start p50 < 200 ms, worker peak RSS < 250 MB.
 */
import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ADMIN, freePort, sleep, startKiln } from "./lib/kiln-process.ts";

const BASE = "kiln-test/busybox:latest";
const DOCKER = "/usr/bin/docker";
const STEP_SECONDS = Number(process.env.BENCH_STEP_SECONDS ?? 3);

function sh(cmd: string, args: string[], opts: { cwd?: string; input?: string; env?: NodeJS.ProcessEnv } = {}): string {
  const r = spawnSync(cmd, args, { cwd: opts.cwd, input: opts.input, env: opts.env ?? process.env, encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")}: ${r.stderr}`);
  return r.stdout.trim();
}

function ensureBase(): void {
  if (spawnSync(DOCKER, ["image", "inspect", BASE]).status === 0) return;
  const root = mkdtempSync(join(tmpdir(), "kiln-rootfs-"));
  sh("mkdir", ["-p", join(root, "bin")]);
  sh("cp", ["/bin/busybox", join(root, "bin/busybox")]);
  sh("ln", ["-s", "busybox", join(root, "bin/sh")]);
  const tar = spawnSync("tar", ["-C", root, "-c", "."], { maxBuffer: 64 * 1024 * 1024 });
  spawnSync(DOCKER, ["import", "-", BASE], { input: tar.stdout });
  rmSync(root, { recursive: true, force: true });
}

/**
 * Node's server closes idle keep-alive sockets after 5 s; a request that races that close fails
 * with "other side closed" and is simply sent again (webhooks are idempotent by delivery).
 */
async function post(url: string, init: RequestInit): Promise<Response> {
  try {
    return await fetch(url, init);
  } catch {
    return fetch(url, init);
  }
}

const gitEnv = { ...process.env, GIT_AUTHOR_NAME: "b", GIT_AUTHOR_EMAIL: "b@e", GIT_COMMITTER_NAME: "b", GIT_COMMITTER_EMAIL: "b@e" };
const git = (dir: string, ...args: string[]) => sh("git", ["-C", dir, ...args], { env: gitEnv });

/** A repository whose variants each take STEP_SECONDS to build; `run` busts the cache for both sides alike. */
function writeVariants(dir: string, count: number, run: string): string[] {
  const variants = Array.from({ length: count }, (_, i) => `v${i + 1}`);
  for (const v of variants) writeFileSync(join(dir, `Dockerfile.${v}`), `FROM ${BASE}\nCOPY app.txt /app.txt\nRUN sleep ${STEP_SECONDS} && echo ${v}-${run} > /variant\n`);
  writeFileSync(join(dir, "app.txt"), `${run}\n`);
  git(dir, "add", "-A");
  git(dir, "commit", "--quiet", "-m", run);
  return variants;
}

const redisPort = await freePort();
const redis = spawn("redis-server", ["--port", String(redisPort), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], { stdio: "ignore" });
const registryPort = await freePort();
const registry = `127.0.0.1:${registryPort}`;
await sleep(300);
ensureBase();
const kiln = await startKiln({ REDIS_URL: `redis://127.0.0.1:${redisPort}`, KILN_ROLE: "api", KILN_ALLOW_LOCAL_GIT: "1", KILN_REGIONS: `local=${registry}` });
// The worker is a process of its own (as in production), so that its peak RSS can be read.
const workerDir = mkdtempSync(join(tmpdir(), "kiln-bench-worker-"));
const worker = spawn("bin/kiln-server", [], {
  env: { ...process.env, KILN_ROLE: "worker", KILN_WORKER_CONCURRENCY: "4", KILN_DATA_DIR: workerDir, REDIS_URL: `redis://127.0.0.1:${redisPort}`, KILN_SECRET_KEY: readFileSync(join(kiln.dataDir, "secret-key"), "utf8").trim(), LOG_LEVEL: "warn", KILN_REGIONS: `local=${registry}` },
  stdio: ["ignore", "inherit", "inherit"],
});
const workerPeakRssMb = () => Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${worker.pid}/status`, "utf8"))?.[1] ?? 0) / 1024;
const configs = mkdtempSync(join(tmpdir(), "kiln-bench-registry-"));
const registryProcess = (() => {
  const env = { ...process.env, KILN_DATA_DIR: kiln.dataDir, KILN_REGIONS: `local=${registry}`, KILN_PUBLIC_URL: kiln.base, KILN_ADMIN_TOKEN: ADMIN };
  const line = sh("node", ["--import", "tsx", "src/cli.ts", "registry", "write-configs"], { env });
  const file = line.split(" ")[1]!;
  return spawn("docker-registry", ["serve", file], { stdio: "ignore" });
})();
await sleep(800);

try {
  const { call } = kiln;
  const root = (await call("POST", "/api/v1/accounts", ADMIN, { alias: "bench" })).rootToken;
  await call("POST", "/api/v1/namespaces", root, { name: "bench", autoCreateRepository: true });
  await call("PUT", "/api/v1/me/registry-password", root, { password: "Bench-registry-1" });
  await call("POST", "/api/v1/users", root, { name: "ci" });
  await call("POST", "/api/v1/users/ci/policies", root, { policyName: "AliyunContainerRegistryFullAccess" });
  const dockerHome = mkdtempSync(join(tmpdir(), "kiln-bench-docker-"));
  sh(DOCKER, ["login", registry, "-u", "bench", "--password-stdin"], { input: "Bench-registry-1\n", env: { ...process.env, DOCKER_CONFIG: dockerHome } });

  /** One Kiln repository bound to `dir` with one rule per variant; returns a function that pushes and waits. */
  async function kilnSide(name: string, dir: string, variants: string[]) {
    await call("POST", "/api/v1/regions/local/repositories", root, { namespace: "bench", name });
    const path = `/api/v1/regions/local/repositories/bench/${name}`;
    const bound = await call("PUT", `${path}/source`, root, { provider: "git", repoUrl: `file://${dir}`, pushUser: "ci" });
    for (const v of variants) await call("POST", `${path}/build-rules`, root, { sourceType: "branch", source: "main", dockerfileName: `Dockerfile.${v}`, tags: [v] });
    return async (commit: string) => {
      const started = performance.now();
      const res = await post(bound.webhookUrl, { method: "POST", headers: { authorization: `Bearer ${bound.webhookSecret}`, "content-type": "application/json" }, body: JSON.stringify({ ref: "refs/heads/main", commit }) });
      const ids: string[] = ((await res.json()) as { builds: { id: string }[] }).builds.map((b) => b.id);
      let startLatency = Infinity;
      for (;;) {
        const records = await Promise.all(ids.map((id) => call("GET", `/api/v1/builds/${id}`, root)));
        const firstStart = Math.min(...records.filter((r) => r.startedAt).map((r) => Date.parse(r.startedAt)));
        if (Number.isFinite(firstStart) && startLatency === Infinity) startLatency = firstStart;
        if (records.every((r) => r.status === "succeeded")) break;
        const bad = records.find((r) => ["failed", "canceled", "superseded"].includes(r.status));
        if (bad) throw new Error(`build ${bad.id} ${bad.status}: ${bad.error}`);
        await sleep(50);
      }
      return { seconds: (performance.now() - started) / 1000, ids };
    };
  }

  function scriptSide(dir: string, name: string, variants: string[]): number {
    const work = mkdtempSync(join(tmpdir(), "kiln-bench-script-"));
    const script = [
      "set -e",
      `git clone --quiet file://${dir} ${work}/src`,
      `cd ${work}/src`,
      ...variants.map((v) => `${DOCKER} build --quiet -f Dockerfile.${v} -t ${registry}/bench/${name}:${v} . >/dev/null`),
      ...variants.map((v) => `${DOCKER} push --quiet ${registry}/bench/${name}:${v} >/dev/null`),
    ].join("\n");
    const started = performance.now();
    sh("bash", ["-c", script], { env: { ...process.env, DOCKER_CONFIG: dockerHome } });
    const seconds = (performance.now() - started) / 1000;
    rmSync(work, { recursive: true, force: true });
    return seconds;
  }

  const results: Record<string, { kilnSeconds: number; scriptSeconds: number; ratio: number }> = {};
  for (const count of [1, 4]) {
    const dir = mkdtempSync(join(tmpdir(), "kiln-bench-src-"));
    git(dir, "init", "--quiet", "--initial-branch=main");
    const variants = writeVariants(dir, count, `warm-${count}`);
    const kilnRun = await kilnSide(`app${count}`, dir, variants);
    await kilnRun(git(dir, "rev-parse", "HEAD")); // warm: mirror made, base layers cached, like the script's second run
    scriptSide(dir, `script${count}`, variants);
    writeVariants(dir, count, `run-${count}-${Date.now()}`);
    const scriptSeconds = scriptSide(dir, `script${count}`, variants);
    writeVariants(dir, count, `run-${count}-${Date.now()}`);
    const { seconds: kilnSeconds } = await kilnRun(git(dir, "rev-parse", "HEAD"));
    results[`variants${count}`] = { kilnSeconds: round(kilnSeconds), scriptSeconds: round(scriptSeconds), ratio: round(kilnSeconds / scriptSeconds) };
    console.log(`${count} variant(s): Kiln ${kilnSeconds.toFixed(2)} s, script ${scriptSeconds.toFixed(2)} s, ratio ${(kilnSeconds / scriptSeconds).toFixed(2)}`);
  }

  // Webhook → build start with an idle worker: a one-variant repository, ten pushes one after another.
  const quick = mkdtempSync(join(tmpdir(), "kiln-bench-src-"));
  git(quick, "init", "--quiet", "--initial-branch=main");
  writeFileSync(join(quick, "Dockerfile"), `FROM ${BASE}\nCOPY app.txt /app.txt\n`);
  await call("POST", "/api/v1/regions/local/repositories", root, { namespace: "bench", name: "quick" });
  const qpath = "/api/v1/regions/local/repositories/bench/quick";
  const qbound = await call("PUT", `${qpath}/source`, root, { provider: "git", repoUrl: `file://${quick}`, pushUser: "ci" });
  await call("POST", `${qpath}/build-rules`, root, { sourceType: "branch", source: "main", tags: ["latest"] });
  const latencies: number[] = [];
  for (let i = 0; i < 10; i++) {
    writeFileSync(join(quick, "app.txt"), `${i}-${Date.now()}\n`);
    git(quick, "add", "-A");
    git(quick, "commit", "--quiet", "-m", String(i));
    const sent = Date.now();
    const res = await post(qbound.webhookUrl, { method: "POST", headers: { authorization: `Bearer ${qbound.webhookSecret}`, "content-type": "application/json" }, body: JSON.stringify({ ref: "refs/heads/main", commit: git(quick, "rev-parse", "HEAD") }) });
    const id = ((await res.json()) as { builds: { id: string }[] }).builds[0]!.id;
    for (;;) {
      const b = await call("GET", `/api/v1/builds/${id}`, root);
      if (b.status === "succeeded" || b.status === "failed") {
        latencies.push(Date.parse(b.startedAt) - sent);
        break;
      }
      await sleep(20);
    }
  }
  latencies.sort((a, b) => a - b);
  const startP50 = latencies[Math.floor(latencies.length / 2)]!;
  console.log(`webhook → build start: p50 ${startP50} ms (${latencies.join(", ")})`);

  // A 500 MB repository, built by a worker process of its own whose peak RSS is read from /proc.
  const big = mkdtempSync(join(tmpdir(), "kiln-bench-big-"));
  git(big, "init", "--quiet", "--initial-branch=main");
  for (let i = 0; i < 100; i++) writeFileSync(join(big, `blob-${i}.bin`), randomBytes(5 * 1024 * 1024));
  writeFileSync(join(big, "Dockerfile"), `FROM ${BASE}\nCOPY blob-0.bin /blob\n`);
  git(big, "add", "-A");
  git(big, "commit", "--quiet", "-m", "big");
  await call("POST", "/api/v1/regions/local/repositories", root, { namespace: "bench", name: "big" });
  const bpath = "/api/v1/regions/local/repositories/bench/big";
  const bbound = await call("PUT", `${bpath}/source`, root, { provider: "git", repoUrl: `file://${big}`, pushUser: "ci" });
  await call("POST", `${bpath}/build-rules`, root, { sourceType: "branch", source: "main", tags: ["latest"] });
  const rssBeforeBig = workerPeakRssMb();
  const res = await post(bbound.webhookUrl, { method: "POST", headers: { authorization: `Bearer ${bbound.webhookSecret}`, "content-type": "application/json" }, body: JSON.stringify({ ref: "refs/heads/main", commit: git(big, "rev-parse", "HEAD") }) });
  const bigId = ((await res.json()) as { builds: { id: string }[] }).builds[0]!.id;
  for (;;) {
    const b = await call("GET", `/api/v1/builds/${bigId}`, root);
    if (b.status === "succeeded" || b.status === "failed") {
      if (b.status === "failed") console.log(`500 MB build failed: ${b.error}`);
      break;
    }
    await sleep(200);
  }
  const workerRssMb = workerPeakRssMb();
  console.log(`worker peak RSS: ${rssBeforeBig.toFixed(0)} MB before the 500 MB repository, ${workerRssMb.toFixed(0)} MB after`);
  rmSync(big, { recursive: true, force: true });

  console.log(
    JSON.stringify({
      bench: "build",
      stepSeconds: STEP_SECONDS,
      ...results,
      webhookToStartP50Ms: startP50,
      workerPeakRssMb500MbRepo: Math.round(workerRssMb),
      goals: { variants1Ratio: 1.1, variants4Ratio: 0.6, webhookToStartP50Ms: 200, workerPeakRssMb: 250 },
      pass: results.variants1!.ratio <= 1.1 && results.variants4!.ratio <= 0.6 && startP50 < 200 && workerRssMb < 250,
    }),
  );
} finally {
  worker.kill("SIGTERM");
  rmSync(workerDir, { recursive: true, force: true });
  await kiln.stop();
  registryProcess.kill("SIGTERM");
  redis.kill("SIGKILL");
  rmSync(configs, { recursive: true, force: true });
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}
