/**
 * Build speed (issue 11): Kiln against the best script a skilled engineer writes for the same job,
 * on one machine, one Docker engine, one registry and the same cache state.
 *
 * Workload, real CPU and real bytes: every variant's Dockerfile (on a busybox base made locally by
 * `docker import`; nothing is pulled) copies an 8 MB payload, then `commit.txt`, then hashes the
 * payload 120 times in a sha256 chain seeded with the variant's name and the commit (a chain, so
 * the rounds cannot run in parallel; seeded, so no two variants share a step, and BuildKit cannot
 * merge them), and writes a layer of its own: 4 MB of random bytes, so that the push moves
 * incompressible bytes. 6.2 s of CPU per variant on this 2-core machine (measured: the container's
 * cpuacct); BENCH_HASH_ROUNDS, BENCH_PAYLOAD_MB and BENCH_LAYER_MB resize it.
 * Every measured run is a fresh commit (a new commit.txt): the hashing step and the layer after it
 * are never cached on either side. One warm-up run per side first: Kiln's git mirror exists and
 * both builders hold the base and the payload's layer, as after any earlier build.
 *
 * Baseline (bench/lib/baseline-build.sh): `git clone --depth 1`, then `DOCKER_BUILDKIT=1 docker
 * build` and `docker push` of every variant in parallel, logged in to the same registry as a user
 * who may push. Kiln: from the push webhook to every build record `succeeded` (the last build's
 * finishedAt; the records are polled every 250 ms), with one worker process of concurrency 4, as
 * production runs it (`npm run build`, then bin/kiln-server).
 * 1 and 4 variants; the sides alternate (script, Kiln, script, Kiln…), BENCH_RUNS (3) runs each;
 * medians. Goals: Kiln ≤ 1.05× the script for 1 and for 4 variants; worker peak RSS < 250 MB while
 * building the variants and while building a repository of 500 MB (bounded: BENCH_BIG_TIMEOUT_S).
 *
 * Reported besides: where Kiln's time goes, from the build records (queuedAt, stageStartedAt,
 * finishedAt) and the registry's own time of each manifest push (the tags' pushedAt): webhook →
 * build start, fetch + context, when the last variant's build begins, build, push, and the
 * bookkeeping after the push (medians over a run's builds); and the script's clone, build and push.
 * Part two (issue 13), reported besides, on the same API, registry and Redis:
 * - Multi-platform: one Dockerfile (commit file, then BENCH_PLATFORM_ROUNDS of the hash chain)
 *   built for linux/amd64 alone and for linux/amd64 + linux/arm64 (QEMU), RUNS each, alternating.
 * - The registry cache on a cold worker: a Dockerfile whose expensive step (BENCH_COLD_ROUNDS of
 *   the chain) comes first and whose last layer is the commit's; each measured build runs on a
 *   worker process of its own on a fresh Docker engine (test/helpers/engine.ts: its own data root,
 *   only the base image), BENCH_COLD_RUNS (4) times with the rule's registry cache on and off,
 *   alternating. Goal: the mean with the cache ≥ 1.5× faster than the mean without.
 * Prints one JSON summary line last; exits 1 when a goal is missed.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { startSecondEngine } from "../test/helpers/engine.ts";
import {
  ensurePlatformBases,
  expensiveFirstDockerfile,
  perPlatformDockerfile,
  startWorkerOn,
  stopProcess,
} from "./lib/build-features.ts";
import { ADMIN, freePort, sleep, startKiln } from "./lib/kiln-process.ts";

const DOCKER = "/usr/bin/docker";
/** The bench's own base image, so that a test re-importing kiln-test/busybox meanwhile changes nothing here. */
const BASE = "kiln-bench/busybox:latest";
const BASELINE_SCRIPT = new URL("./lib/baseline-build.sh", import.meta.url).pathname;
const num = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
const RUNS = num("BENCH_RUNS", 3);
const HASH_ROUNDS = num("BENCH_HASH_ROUNDS", 120);
const PAYLOAD_MB = num("BENCH_PAYLOAD_MB", 8);
const LAYER_MB = num("BENCH_LAYER_MB", 4);
const BIG_MB = num("BENCH_BIG_MB", 500);
const BIG_TIMEOUT_S = num("BENCH_BIG_TIMEOUT_S", 240);
const CASES = [1, 4];
const CONCURRENCY = Math.max(4, ...CASES);
/**
 * The poller's pace. Kiln's time ends at the last build's finishedAt, the moment the API answers
 * `succeeded` (checked against when the poller saw it), so the poller need not be fast; polling
 * every 25 ms cost the API 0.5–0.9 s of CPU per run, taken from the builds it was timing.
 */
const POLL_MS = num("BENCH_POLL_MS", 250);
/** PLATFORM_ROUNDS: QEMU runs the arm64 hashing about ten times slower than the machine itself. */
const PLATFORM_ROUNDS = num("BENCH_PLATFORM_ROUNDS", 12);
const COLD_ROUNDS = num("BENCH_COLD_ROUNDS", HASH_ROUNDS);
/**
 * Four cold builds a side, in a row: the engine's BuildKit 0.8 leaves imported steps out of an
 * image's inline cache, so a chain of cold builds is where a poor choice of cache sources shows
 * (src/builds/job-payload.ts keeps the fullest recent image among them).
 */
const COLD_RUNS = num("BENCH_COLD_RUNS", 4);
/** registryCacheSpeedup: a cold worker with the registry cache against one without, expensive step first. */
const GOALS = { variants1Ratio: 1.05, variants4Ratio: 1.05, workerPeakRssMb: 250, registryCacheSpeedup: 1.5 };

interface BuildRecord {
  id: string;
  status: string;
  commit: string | null;
  tags: string[];
  digest?: string;
  error?: string;
  queuedAt: string;
  startedAt?: string;
  finishedAt?: string;
  stageStartedAt?: Partial<Record<string, string>>;
}

function sh(
  cmd: string,
  args: string[],
  opts: { cwd?: string; input?: string | Buffer; env?: NodeJS.ProcessEnv } = {},
) {
  const r = spawnSync(cmd, args, {
    cwd: opts.cwd,
    input: opts.input,
    env: opts.env ?? process.env,
    encoding: "utf8",
    maxBuffer: 64 * 1024 * 1024,
  });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")}: ${r.stderr}`);
  return r.stdout.trim();
}

const gitEnv = {
  ...process.env,
  GIT_AUTHOR_NAME: "b",
  GIT_AUTHOR_EMAIL: "b@e",
  GIT_COMMITTER_NAME: "b",
  GIT_COMMITTER_EMAIL: "b@e",
};
const git = (dir: string, ...args: string[]) => sh("git", ["-C", dir, ...args], { env: gitEnv });

/** A base image without the internet, made as test/helpers/docker.ts makes its own: static busybox, `docker import`. */
function ensureBase(): void {
  if (spawnSync(DOCKER, ["image", "inspect", BASE]).status === 0) return;
  const busybox = ["/bin/busybox", "/usr/bin/busybox"].find((p) => existsSync(p));
  if (!busybox) throw new Error("busybox is missing: apt-get install busybox-static");
  const root = mkdtempSync(join(tmpdir(), "kiln-rootfs-"));
  try {
    mkdirSync(join(root, "bin"));
    copyFileSync(busybox, join(root, "bin/busybox"));
    chmodSync(join(root, "bin/busybox"), 0o755);
    symlinkSync("busybox", join(root, "bin/sh"));
    const tar = spawnSync("tar", ["-C", root, "-c", "."], { maxBuffer: 64 * 1024 * 1024 });
    sh(DOCKER, ["import", "-", BASE], { input: tar.stdout });
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

/** One variant's Dockerfile: CPU in a hash chain of its own, then a layer of its own. */
function dockerfile(variant: string): string {
  const hash = `h="${variant} $(cat /commit.txt)"; i=0; while [ $i -lt ${HASH_ROUNDS} ]; do h=$({ echo "$h"; cat /payload.bin; } | sha256sum); i=$((i + 1)); done; echo "$h" > /hash`;
  const layer = `head -c ${LAYER_MB * 1024 * 1024} /dev/urandom > /layer.bin`;
  return [
    `FROM ${BASE}`,
    "COPY payload.bin /payload.bin",
    "COPY commit.txt /commit.txt",
    `RUN set -e; ${hash}; ${layer}`,
    "",
  ].join("\n");
}

/** A git repository with `count` variants (Dockerfile.v1…) and the payload, committed once. */
function makeSource(count: number): { dir: string; variants: string[] } {
  const dir = mkdtempSync(join(tmpdir(), "kiln-bench-src-"));
  git(dir, "init", "--quiet", "--initial-branch=main");
  const variants = Array.from({ length: count }, (_, i) => `v${i + 1}`);
  writeFileSync(join(dir, "payload.bin"), randomBytes(PAYLOAD_MB * 1024 * 1024));
  for (const v of variants) writeFileSync(join(dir, `Dockerfile.${v}`), dockerfile(v));
  newCommit(dir, "initial");
  // Packed once, as a git server keeps its objects: a clone reuses the packed payload instead of
  // compressing it again for every run of the script.
  git(dir, "repack", "-a", "-d", "-q");
  return { dir, variants };
}

/** A fresh commit: a new commit.txt, which every variant copies before its hashing step. */
function newCommit(dir: string, label: string): string {
  writeFileSync(join(dir, "commit.txt"), `${label} ${randomBytes(8).toString("hex")}\n`);
  git(dir, "add", "-A");
  git(dir, "commit", "--quiet", "-m", label);
  return git(dir, "rev-parse", "HEAD");
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

const median = (xs: number[]): number => {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
const round = (n: number, digits = 2): number | null => (Number.isFinite(n) ? Number(n.toFixed(digits)) : null);
const ms = (iso: string | undefined): number => (iso ? Date.parse(iso) : NaN);
const fmt = (n: number) => (Number.isFinite(n) ? n.toFixed(2) : "?");

/** CPU seconds a process used so far, with its children that it waited for (git, for Kiln's worker). */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  // utime, stime, cutime, cstime: fields 14–17 of stat(5), in clock ticks (100 a second on Linux).
  return fields.slice(11, 15).reduce((sum, f) => sum + Number(f), 0) / 100;
}

/** `times` prints "0m1.250s 0m0.310s": user and system time. */
function timesSeconds(s: string): number {
  let sum = 0;
  for (const m of s.matchAll(/(\d+)m([\d.]+)s/g)) sum += Number(m[1]) * 60 + Number(m[2]);
  return sum;
}

function peakRssMb(pid: number): number {
  return Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0) / 1024;
}

/** Resets a process's VmHWM (Linux: "5" into clear_refs), so that a later peak is that phase's own. */
function resetPeakRss(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, "5");
    return true;
  } catch {
    return false;
  }
}

const startLoad = loadavg();
if (startLoad[0]! > 1)
  console.log(`note: load average ${startLoad[0]!.toFixed(2)} at start: other work shares this machine`);

const redisPort = await freePort();
const redis = spawn(
  "redis-server",
  ["--port", String(redisPort), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
  {
    stdio: "ignore",
  },
);
const registryPort = await freePort();
const registry = `127.0.0.1:${registryPort}`;
await sleep(300);
ensureBase();
const redisUrl = `redis://127.0.0.1:${redisPort}`;
const kiln = await startKiln({
  REDIS_URL: redisUrl,
  KILN_ROLE: "api",
  KILN_ALLOW_LOCAL_GIT: "1",
  KILN_REGIONS: `local=${registry}`,
});
// The worker is a process of its own (as in production), so that its peak RSS can be read.
const workerDir = mkdtempSync(join(tmpdir(), "kiln-bench-worker-"));
const workerEnv = {
  KILN_WORKER_CONCURRENCY: String(CONCURRENCY),
  KILN_ALLOW_LOCAL_GIT: "1",
  REDIS_URL: redisUrl,
  KILN_SECRET_KEY: readFileSync(join(kiln.dataDir, "secret-key"), "utf8").trim(),
  LOG_LEVEL: "warn",
  KILN_REGIONS: `local=${registry}`,
};
// Reassigned in part two, where each cold build gets a worker of its own on a fresh engine.
let worker: ChildProcess = spawn("bin/kiln-server", [], {
  env: { ...process.env, ...workerEnv, KILN_ROLE: "worker", KILN_DATA_DIR: workerDir },
  stdio: ["ignore", "inherit", "inherit"],
});
const registryProcess = (() => {
  const env = {
    ...process.env,
    KILN_DATA_DIR: kiln.dataDir,
    KILN_REGIONS: `local=${registry}`,
    KILN_PUBLIC_URL: kiln.base,
    KILN_ADMIN_TOKEN: ADMIN,
  };
  const line = sh("node", ["--import", "tsx", "src/cli.ts", "registry", "write-configs"], { env });
  return spawn("docker-registry", ["serve", line.split(" ")[1]!], { stdio: "ignore" });
})();
for (let i = 0; ; i++) {
  const up = await fetch(`http://${registry}/v2/`).then(
    () => true,
    () => false,
  );
  if (up) break;
  if (i > 100) throw new Error("the registry did not start");
  await sleep(100);
}

const dirs: string[] = [workerDir];
let exitCode = 1;
try {
  const { call } = kiln;
  const root = (await call("POST", "/api/v1/accounts", ADMIN, { alias: "bench" })).rootToken as string;
  await call("POST", "/api/v1/namespaces", root, { name: "bench", autoCreateRepository: true });
  await call("PUT", "/api/v1/me/registry-password", root, { password: "Bench-registry-1" });
  await call("POST", "/api/v1/users", root, { name: "ci" });
  await call("POST", "/api/v1/users/ci/policies", root, { policyName: "AliyunContainerRegistryFullAccess" });
  // The script's login: the account's root, a user who may push. Logging in is set-up, as it is
  // for Kiln (whose push user is bound once), so it is not timed.
  const dockerHome = mkdtempSync(join(tmpdir(), "kiln-bench-docker-"));
  dirs.push(dockerHome);
  sh(DOCKER, ["login", registry, "-u", "bench", "--password-stdin"], {
    input: "Bench-registry-1\n",
    env: { ...process.env, DOCKER_CONFIG: dockerHome },
  });

  async function failureText(id: string): Promise<string> {
    const log = await call("GET", `/api/v1/builds/${id}/logs`, root).catch(() => ({ lines: [] }));
    return (log.lines as string[]).slice(-25).join("\n");
  }

  /** A Kiln repository bound to `dir`, one rule per variant; `run` sends the webhook and waits. */
  async function kilnSide(name: string, dir: string, variants: string[], rule: Record<string, unknown> = {}) {
    await call("POST", "/api/v1/regions/local/repositories", root, { namespace: "bench", name });
    const path = `/api/v1/regions/local/repositories/bench/${name}`;
    const bound = await call("PUT", `${path}/source`, root, {
      provider: "git",
      repoUrl: `file://${dir}`,
      pushUser: "ci",
    });
    for (const v of variants)
      await call("POST", `${path}/build-rules`, root, {
        sourceType: "branch",
        source: "main",
        dockerfileName: `Dockerfile.${v}`,
        tags: [v],
        ...rule,
      });

    async function run(commit: string) {
      const cpuBefore = { worker: cpuSeconds(worker.pid!), api: cpuSeconds(kiln.pid) };
      const sentAt = Date.now();
      const t0 = performance.now();
      const res = await post(bound.webhookUrl, {
        method: "POST",
        headers: { authorization: `Bearer ${bound.webhookSecret}`, "content-type": "application/json" },
        body: JSON.stringify({ ref: "refs/heads/main", commit }),
      });
      if (res.status >= 300) throw new Error(`webhook: ${res.status} ${await res.text()}`);
      const ids = ((await res.json()) as { builds: { id: string }[] }).builds.map((b) => b.id);
      if (ids.length !== variants.length) throw new Error(`webhook made ${ids.length} builds, not ${variants.length}`);
      let records: BuildRecord[];
      for (;;) {
        // One request per poll (the repository's newest builds), so that watching costs Kiln little.
        const { builds } = (await call("GET", `${path}/builds?limit=${ids.length + 5}`, root)) as {
          builds: BuildRecord[];
        };
        records = ids.map((id) => builds.find((b) => b.id === id)!);
        if (records.some((r) => !r)) throw new Error("a build of this run is not among the repository's newest");
        if (records.every((r) => r.status === "succeeded")) break;
        const bad = records.find((r) => !["queued", "running", "succeeded"].includes(r.status));
        if (bad) throw new Error(`build ${bad.id} ${bad.status}: ${bad.error}\n${await failureText(bad.id)}`);
        if (performance.now() - t0 > 600_000) throw new Error("Kiln's builds did not end in 10 minutes");
        await sleep(POLL_MS);
      }
      const seenSeconds = (performance.now() - t0) / 1000;
      const seenAt = Date.now();
      const cpu = { worker: cpuSeconds(worker.pid!) - cpuBefore.worker, api: cpuSeconds(kiln.pid) - cpuBefore.api };
      for (const r of records)
        if (r.commit !== commit) throw new Error(`build ${r.id} built ${r.commit}, not ${commit}`);
      const lastFinished = Math.max(...records.map((r) => ms(r.finishedAt)));
      // finishedAt is Kiln's own clock (the same machine's): it must fall between the webhook and the poll that saw it.
      if (!(lastFinished >= sentAt && lastFinished <= seenAt + 5))
        throw new Error(`finishedAt ${new Date(lastFinished).toISOString()} is not between the webhook and the poll`);
      const seconds = (lastFinished - sentAt) / 1000;

      // The registry's own time of each manifest push (its notification, kept as the tag's pushedAt).
      // A build without a digest has none to match: its push time stays unknown.
      const pushedAt = new Map<string, number>();
      const withDigest = records.filter((r) => r.digest);
      for (let i = 0; i < 200 && pushedAt.size < withDigest.length; i++) {
        const { tags } = (await call("GET", `${path}/tags`, root)) as {
          tags: { tag: string; digest: string; pushedAt: string }[];
        };
        for (const r of withDigest) {
          const t = tags.find((t) => t.tag === r.tags[0] && t.digest === r.digest);
          if (t) pushedAt.set(r.id, ms(t.pushedAt));
        }
        if (pushedAt.size < withDigest.length) await sleep(50);
      }
      const per = (f: (r: BuildRecord) => number) => median(records.map(f)) / 1000;
      const stage = (r: BuildRecord, s: string) => ms(r.stageStartedAt?.[s]);
      const stages = {
        webhookToStart: (Math.min(...records.map((r) => ms(r.startedAt))) - sentAt) / 1000,
        queueToStart: per((r) => ms(r.startedAt) - ms(r.queuedAt)),
        fetchContext: per((r) => stage(r, "build") - stage(r, "fetch")),
        // When the last variant began to build: the script's variants all begin at its clone's end.
        webhookToLastBuild: (Math.max(...records.map((r) => stage(r, "build"))) - sentAt) / 1000,
        build: per((r) => stage(r, "push") - stage(r, "build")),
        push: per((r) => (pushedAt.get(r.id) ?? NaN) - stage(r, "push")),
        afterPush: per((r) => ms(r.finishedAt) - (pushedAt.get(r.id) ?? NaN)),
        finishedToSeen: (seenAt - lastFinished) / 1000,
        // CPU that Kiln's own processes took from the builds: the worker (with its git) and the API.
        workerCpu: cpu.worker,
        apiCpu: cpu.api,
      };
      return { seconds, seenSeconds, stages };
    }
    return run;
  }

  /** The baseline script, timed from its start to its exit; its own timings say where the time went. */
  async function scriptRun(dir: string, image: string, variants: string[], commit: string) {
    const timings = join(dockerHome, `timings-${Date.now()}`);
    const startedAt = Date.now();
    const t0 = performance.now();
    const child = spawn("bash", [BASELINE_SCRIPT, `file://${dir}`, "main", image, ...variants], {
      env: { ...process.env, DOCKER: DOCKER, DOCKER_CONFIG: dockerHome, TIMINGS: timings },
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (d) => (stderr += d));
    const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
    const seconds = (performance.now() - t0) / 1000;
    if (code !== 0) throw new Error(`baseline script failed (${code}): ${stderr}`);
    const lines = readFileSync(timings, "utf8")
      .trim()
      .split("\n")
      .map((l) => l.split(" "));
    rmSync(timings, { force: true });
    const clone = lines.find((l) => l[0] === "clone")!;
    if (clone[2] !== commit) throw new Error(`the script built ${clone[2]}, not ${commit}`);
    const cpu = timesSeconds(
      lines
        .find((l) => l[0] === "cpu")!
        .slice(1)
        .join(" "),
    );
    const jobs = lines
      .filter((l) => l[0] !== "clone" && l[0] !== "cpu")
      .map((l) => l.slice(1).map(Number) as [number, number, number]);
    if (jobs.length !== variants.length)
      throw new Error(`the script reported ${jobs.length} of ${variants.length} variants`);
    const stages = {
      clone: Number(clone[1]) - startedAt / 1000,
      build: median(jobs.map(([s, b]) => b - s)),
      push: median(jobs.map(([, b, p]) => p - b)),
      // CPU of the script's own processes (git, the docker clients).
      scriptCpu: cpu,
    };
    return { seconds, stages };
  }

  type Stages = Record<string, number>;
  const medianStages = (all: Stages[]) =>
    Object.fromEntries(Object.keys(all[0] ?? {}).map((k) => [k, round(median(all.map((s) => s[k]!)))]));
  const results: Record<string, unknown> = {};
  const ratios: Record<number, number> = {};
  for (const count of CASES) {
    const { dir, variants } = makeSource(count);
    dirs.push(dir);
    const kilnRun = await kilnSide(`app${count}`, dir, variants);
    const image = `${registry}/bench/script${count}`;
    // Warm-up, not measured: Kiln's mirror is made, and both builders and the registry hold the
    // base and the payload's layer, as after any earlier build of this repository.
    await kilnRun(newCommit(dir, `warm-kiln-${count}`));
    await scriptRun(dir, image, variants, newCommit(dir, `warm-script-${count}`));
    const script: { seconds: number; stages: Stages }[] = [];
    const kilnRuns: { seconds: number; seenSeconds: number; stages: Stages }[] = [];
    for (let run = 1; run <= RUNS; run++) {
      await sleep(1000);
      const s = await scriptRun(dir, image, variants, newCommit(dir, `script-${count}-${run}`));
      script.push(s);
      await sleep(1000);
      const k = await kilnRun(newCommit(dir, `kiln-${count}-${run}`));
      kilnRuns.push(k);
      const st = k.stages;
      console.log(
        `${count} variant(s), run ${run}: script ${fmt(s.seconds)} s (clone ${fmt(s.stages.clone)}, build ${fmt(s.stages.build)}, push ${fmt(s.stages.push)}, cpu ${fmt(s.stages.scriptCpu)}); ` +
          `Kiln ${fmt(k.seconds)} s (webhook → start ${fmt(st.webhookToStart)}, fetch+context ${fmt(st.fetchContext)}, last build begins ${fmt(st.webhookToLastBuild)}, build ${fmt(st.build)}, push ${fmt(st.push)}, after push ${fmt(st.afterPush)}, seen by the poller ${fmt(st.finishedToSeen)} later; cpu: worker ${fmt(st.workerCpu)}, API ${fmt(st.apiCpu)})`,
      );
    }
    const scriptSeconds = median(script.map((r) => r.seconds));
    const kilnSeconds = median(kilnRuns.map((r) => r.seconds));
    ratios[count] = kilnSeconds / scriptSeconds;
    results[`variants${count}`] = {
      scriptSeconds: round(scriptSeconds),
      kilnSeconds: round(kilnSeconds),
      ratio: round(ratios[count], 3),
      scriptRuns: script.map((r) => round(r.seconds)),
      kilnRuns: kilnRuns.map((r) => round(r.seconds)),
      kilnSeenByPollerSeconds: round(median(kilnRuns.map((r) => r.seenSeconds))),
      scriptStagesSeconds: medianStages(script.map((r) => r.stages)),
      kilnStagesSeconds: medianStages(kilnRuns.map((r) => r.stages)),
    };
    console.log(
      `${count} variant(s): Kiln ${fmt(kilnSeconds)} s, script ${fmt(scriptSeconds)} s (medians of ${RUNS}), ratio ${fmt(ratios[count])}`,
    );
  }
  const workerRssMb = peakRssMb(worker.pid!);
  console.log(`worker peak RSS while building the variants: ${workerRssMb.toFixed(0)} MB`);

  // A repository of BIG_MB of files, built by the same worker: its peak RSS in that build alone.
  const big = mkdtempSync(join(tmpdir(), "kiln-bench-big-"));
  dirs.push(big);
  git(big, "init", "--quiet", "--initial-branch=main");
  // As a git server's configuration, only so that serving the mirror's first fetch is quick: the
  // bytes are random, so neither zlib nor git's delta search (tens of seconds here) can win anything.
  git(big, "config", "core.compression", "0");
  git(big, "config", "core.bigFileThreshold", "1m");
  for (let i = 0; i < BIG_MB / 5; i++) writeFileSync(join(big, `blob-${i}.bin`), randomBytes(5 * 1024 * 1024));
  writeFileSync(join(big, "Dockerfile"), `FROM ${BASE}\nCOPY blob-0.bin /blob\n`);
  git(big, "add", "-A");
  git(big, "commit", "--quiet", "-m", "big");
  await call("POST", "/api/v1/regions/local/repositories", root, { namespace: "bench", name: "big" });
  const bpath = "/api/v1/regions/local/repositories/bench/big";
  const bbound = await call("PUT", `${bpath}/source`, root, {
    provider: "git",
    repoUrl: `file://${big}`,
    pushUser: "ci",
  });
  await call("POST", `${bpath}/build-rules`, root, { sourceType: "branch", source: "main", tags: ["latest"] });
  const resetOk = resetPeakRss(worker.pid!);
  const bigStart = performance.now();
  const res = await post(bbound.webhookUrl, {
    method: "POST",
    headers: { authorization: `Bearer ${bbound.webhookSecret}`, "content-type": "application/json" },
    body: JSON.stringify({ ref: "refs/heads/main", commit: git(big, "rev-parse", "HEAD") }),
  });
  const bigId = ((await res.json()) as { builds: { id: string }[] }).builds[0]!.id;
  let bigStatus = "timed out";
  let bigRecord: BuildRecord | undefined;
  for (;;) {
    const b = (bigRecord = (await call("GET", `/api/v1/builds/${bigId}`, root)) as BuildRecord);
    if (!["queued", "running"].includes(b.status)) {
      bigStatus = b.status;
      if (b.status !== "succeeded")
        console.log(`${BIG_MB} MB build ${b.status}: ${b.error}\n${await failureText(bigId)}`);
      break;
    }
    if (performance.now() - bigStart > BIG_TIMEOUT_S * 1000) {
      await call("POST", `/api/v1/builds/${bigId}/cancel`, root).catch(() => {});
      console.log(`${BIG_MB} MB build: not done in ${BIG_TIMEOUT_S} s, canceled`);
      break;
    }
    await sleep(200);
  }
  const bigSeconds = (performance.now() - bigStart) / 1000;
  const bigRssMb = peakRssMb(worker.pid!);
  const bigStage = (from: string, to: string | undefined) =>
    ((to ? ms(bigRecord?.stageStartedAt?.[to]) : ms(bigRecord?.finishedAt)) - ms(bigRecord?.stageStartedAt?.[from])) /
    1000;
  const bigStages = {
    fetchContext: round(bigStage("fetch", "build")),
    build: round(bigStage("build", "push")),
    pushAndAfter: round(bigStage("push", undefined)),
  };
  console.log(
    `worker peak RSS building a ${BIG_MB} MB repository: ${bigRssMb.toFixed(0)} MB (${bigStatus} in ${bigSeconds.toFixed(1)} s` +
      `${resetOk ? "" : "; VmHWM could not be reset, so this is the process's peak so far"}; ` +
      `fetch+context ${fmt(bigStages.fetchContext ?? NaN)} s, build ${fmt(bigStages.build ?? NaN)} s)`,
  );

  // Part two (issue 13). A separate source per repository: one push builds every repository bound to it.
  function featureSource(dockerfiles: Record<string, string>): string {
    const dir = mkdtempSync(join(tmpdir(), "kiln-bench-src-"));
    dirs.push(dir);
    git(dir, "init", "--quiet", "--initial-branch=main");
    writeFileSync(join(dir, "payload.bin"), randomBytes(PAYLOAD_MB * 1024 * 1024));
    for (const [name, text] of Object.entries(dockerfiles)) writeFileSync(join(dir, name), text);
    newCommit(dir, "initial");
    git(dir, "repack", "-a", "-d", "-q");
    return dir;
  }

  // Multi-platform: the same Dockerfile for linux/amd64 alone, and for linux/amd64 + linux/arm64
  // (arm64 under QEMU, the two platforms' solves side by side), on the main worker; sides alternate.
  await ensurePlatformBases(BASE, "kiln-bench/busybox");
  const platformFile = { "Dockerfile.platforms": perPlatformDockerfile("kiln-bench/busybox", PLATFORM_ROUNDS) };
  const platformDirs = [featureSource(platformFile), featureSource(platformFile)] as const;
  const onePlatform = await kilnSide("platform1", platformDirs[0], ["platforms"]);
  const twoPlatforms = await kilnSide("platform2", platformDirs[1], ["platforms"], {
    platforms: ["linux/amd64", "linux/arm64"],
  });
  await onePlatform(newCommit(platformDirs[0], "warm-1"));
  await twoPlatforms(newCommit(platformDirs[1], "warm-2"));
  const platformRuns = { one: [] as number[], two: [] as number[] };
  for (let run = 1; run <= RUNS; run++) {
    platformRuns.one.push((await onePlatform(newCommit(platformDirs[0], `one-${run}`))).seconds);
    platformRuns.two.push((await twoPlatforms(newCommit(platformDirs[1], `two-${run}`))).seconds);
    console.log(
      `platforms, run ${run}: linux/amd64 ${fmt(platformRuns.one.at(-1)!)} s; linux/amd64 + linux/arm64 ${fmt(platformRuns.two.at(-1)!)} s`,
    );
  }
  const platformSeconds = { one: median(platformRuns.one), two: median(platformRuns.two) };

  // The registry cache on a cold worker: each measured build runs on a worker of its own on a
  // fresh Docker engine (nothing of another build's cache or images; only the base image), with
  // the rule's registry cache on, and, for the same Dockerfile shape, off.
  const seed = randomBytes(4).toString("hex");
  const coldDirs = {
    on: featureSource({ "Dockerfile.cold": expensiveFirstDockerfile(BASE, `on-${seed}`, COLD_ROUNDS) }),
    off: featureSource({ "Dockerfile.cold": expensiveFirstDockerfile(BASE, `off-${seed}`, COLD_ROUNDS) }),
  };
  const coldSides = {
    on: await kilnSide("coldcache", coldDirs.on, ["cold"]),
    off: await kilnSide("coldnocache", coldDirs.off, ["cold"], { registryCache: false }),
  };
  // The rule's last image, which the next build's cache comes from (built warm, not measured).
  await coldSides.on(newCommit(coldDirs.on, "first"));
  await coldSides.off(newCommit(coldDirs.off, "first"));
  await stopProcess(worker);
  const coldRuns = { on: [] as number[], off: [] as number[] };
  for (let run = 1; run <= COLD_RUNS; run++) {
    for (const side of ["on", "off"] as const) {
      const engine = await startSecondEngine([BASE]);
      const dataDir = mkdtempSync(join(tmpdir(), "kiln-bench-cold-"));
      dirs.push(dataDir);
      worker = startWorkerOn(engine.host, { ...workerEnv, KILN_DATA_DIR: dataDir });
      try {
        const r = await coldSides[side](newCommit(coldDirs[side], `cold-${side}-${run}`));
        coldRuns[side].push(r.seconds);
        const st = r.stages;
        console.log(
          `cold worker, cache ${side}, run ${run}: ${fmt(r.seconds)} s (webhook → start ${fmt(st.webhookToStart)}, fetch+context ${fmt(st.fetchContext)}, build ${fmt(st.build)}, push ${fmt(st.push)})`,
        );
      } finally {
        await stopProcess(worker);
        await engine.stop();
      }
    }
  }
  // Means, not medians: a miss anywhere in the chain counts.
  const coldSeconds = { on: mean(coldRuns.on), off: mean(coldRuns.off) };
  const registryCacheSpeedup = coldSeconds.off / coldSeconds.on;
  console.log(
    `cold worker: ${fmt(coldSeconds.on)} s with the registry cache, ${fmt(coldSeconds.off)} s without (×${fmt(registryCacheSpeedup)}); ` +
      `2 platforms ${fmt(platformSeconds.two)} s against 1 platform ${fmt(platformSeconds.one)} s (×${fmt(platformSeconds.two / platformSeconds.one)})`,
  );

  const pass = {
    registryCacheSpeedup: registryCacheSpeedup >= GOALS.registryCacheSpeedup,
    variants1Ratio: ratios[1]! <= GOALS.variants1Ratio,
    variants4Ratio: ratios[4]! <= GOALS.variants4Ratio,
    workerPeakRssMb:
      workerRssMb < GOALS.workerPeakRssMb && bigRssMb < GOALS.workerPeakRssMb && bigStatus === "succeeded",
  };
  console.log(
    JSON.stringify({
      bench: "build",
      workload: {
        hashRounds: HASH_ROUNDS,
        payloadMb: PAYLOAD_MB,
        layerMb: LAYER_MB,
        runs: RUNS,
        workerConcurrency: CONCURRENCY,
      },
      ...results,
      workerPeakRssMb: Math.round(workerRssMb),
      workerPeakRssMbBigRepo: Math.round(bigRssMb),
      bigRepo: { mb: BIG_MB, status: bigStatus, seconds: round(bigSeconds, 1), stagesSeconds: bigStages },
      registryCache: {
        hashRounds: COLD_ROUNDS,
        runs: COLD_RUNS,
        meanOf: "runs (misses included)",
        coldWorkerWithCacheSeconds: round(coldSeconds.on),
        coldWorkerWithoutCacheSeconds: round(coldSeconds.off),
        speedup: round(registryCacheSpeedup),
        withCacheRuns: coldRuns.on.map((x) => round(x)),
        withoutCacheRuns: coldRuns.off.map((x) => round(x)),
      },
      platforms: {
        hashRounds: PLATFORM_ROUNDS,
        onePlatformSeconds: round(platformSeconds.one),
        twoPlatformsSeconds: round(platformSeconds.two),
        ratio: round(platformSeconds.two / platformSeconds.one),
        onePlatformRuns: platformRuns.one.map((x) => round(x)),
        twoPlatformsRuns: platformRuns.two.map((x) => round(x)),
      },
      apiPeakRssMb: Math.round(kiln.peakRssMb()),
      loadAverage: { start: round(startLoad[0]!), end: round(loadavg()[0]!) },
      goals: GOALS,
      passed: pass,
      pass: Object.values(pass).every(Boolean),
    }),
  );
  exitCode = Object.values(pass).every(Boolean) ? 0 : 1;
} finally {
  worker.kill("SIGTERM");
  await kiln.stop();
  registryProcess.kill("SIGTERM");
  redis.kill("SIGKILL");
  // The images both sides left on the engine under this run's registry address.
  const names = sh(DOCKER, ["images", "--format", "{{.Repository}}:{{.Tag}}"])
    .split("\n")
    .filter((n) => n.startsWith(`${registry}/`));
  if (names.length) spawnSync(DOCKER, ["rmi", "--force", ...names], { stdio: "ignore" });
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
}
process.exit(exitCode);
