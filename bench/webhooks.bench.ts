/**
 * Signed GitHub push webhooks from a load generator (autocannon) at a repository with two build
 * rules, against Kiln started as its own processes (the production build, KILN_ROLE=api) with a
 * real Redis, in four set-ups, one after another, each on a fresh database, data dir and Redis:
 *   1. one API replica on SQLite, hit directly (as before: the top-level figures of the summary);
 *   2. one API replica on PostgreSQL, hit directly (what PostgreSQL costs against 1);
 *   3. the same behind a round-robin HTTP balancer (bench/lib/round-robin.ts; what it costs against 2);
 *   4. two API replicas on one PostgreSQL, one data dir and one Redis behind that balancer.
 * Each reports accepted webhooks/s, p50/p99 latency and each replica's peak RSS, then checks that
 * every delivery made exactly its two builds and two BullMQ jobs (portable SQL, compared in
 * JavaScript: SQLite and PostgreSQL alike). Prints one JSON summary line last; exits non-zero when
 * a goal is missed.
 * Goals (issue 4), 1 replica on SQLite: >= 1,000 webhooks/s, p99 < 50 ms, nothing lost or doubled,
 * peak RSS < 200 MB. Every run, and above all 2 replicas on PostgreSQL: nothing lost or doubled.
 * BENCH_SECONDS (10) and BENCH_CONNECTIONS (16) per run; BENCH_POSTGRES=0 runs only the SQLite
 * set-up; BENCH_PG_PORT chooses the throw-away PostgreSQL's port (else a free one); BENCH_PG_POOL
 * sets each replica's KILN_DATABASE_POOL (else Kiln's default).
 */
import autocannon from "autocannon";
import { Queue } from "bullmq";
import { spawn } from "node:child_process";
import { createHmac } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { connect } from "node:net";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { openKilnDatabase, type KilnDatabase } from "./lib/kiln-db.ts";
import { ADMIN, buildKiln, freePort, sleep, startKiln } from "./lib/kiln-process.ts";
import { startPostgres, type BenchPostgres } from "./lib/postgres.ts";
import { startRoundRobin } from "./lib/round-robin.ts";
import examples from "@octokit/webhooks-examples";
import { Redis } from "ioredis";

const DURATION_S = Number(process.env.BENCH_SECONDS ?? 10);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 16);
const WITH_POSTGRES = process.env.BENCH_POSTGRES !== "0";
/** KILN_DATABASE_POOL of each API replica on PostgreSQL; unset: Kiln's default (10). */
const PG_POOL = process.env.BENCH_PG_POOL;

/** Everything started and not yet stopped: stopped in reverse order at the end, on failure and on Ctrl-C. */
const live: { name: string; stop: () => Promise<void> }[] = [];
function own<T>(name: string, stop: () => Promise<void>, value: T): T {
  live.push({ name, stop });
  return value;
}
async function release(name: string): Promise<void> {
  const i = live.findIndex((r) => r.name === name);
  if (i < 0) return;
  const [r] = live.splice(i, 1);
  await r!.stop();
}
async function releaseAll(): Promise<void> {
  while (live.length) {
    const r = live.pop()!;
    await r.stop().catch((err) => console.error(`cleanup of ${r.name} failed:`, err));
  }
}
for (const signal of ["SIGINT", "SIGTERM"] as const)
  process.once(signal, () => void releaseAll().finally(() => process.exit(130)));

async function startRedis(name: string): Promise<string> {
  const port = await freePort();
  const redis = spawn(
    "redis-server",
    ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
    { stdio: "ignore" },
  );
  own(name, async () => void redis.kill("SIGKILL"), redis);
  for (let i = 0; ; i++) {
    const up = await new Promise<boolean>((resolve) => {
      const s = connect(port, "127.0.0.1", () => (s.destroy(), resolve(true))).on("error", () => resolve(false));
    });
    if (up) break;
    if (i > 100 || redis.exitCode !== null) throw new Error("redis-server did not start");
    await sleep(50);
  }
  return `redis://127.0.0.1:${port}`;
}

/** Busy and total CPU time of the whole machine so far (all cores), in seconds, from /proc/stat. */
function machineCpu(): { busy: number; total: number } {
  const [, ...ticks] = readFileSync("/proc/stat", "utf8").split("\n")[0]!.trim().split(/\s+/);
  const n = ticks.map(Number);
  const total = n.slice(0, 8).reduce((a, b) => a + b, 0); // user … steal (guest time is within user)
  const idle = n[3]! + n[4]!; // idle + iowait
  return { busy: (total - idle) / 100, total: total / 100 };
}

interface Setup {
  key: "sqlite1" | "postgres1Direct" | "postgres1Proxied" | "postgres2Proxied";
  title: string;
  database: "sqlite" | "postgres";
  replicas: number;
  proxied: boolean;
}

const pct = (cpuSeconds: number, wallSeconds: number) => Math.round((100 * cpuSeconds) / wallSeconds);

async function run(setup: Setup, postgres?: BenchPostgres) {
  const tag = setup.key;
  const redisUrl = await startRedis(`${tag} redis`);
  const dataDir = mkdtempSync(join(tmpdir(), "kiln-bench-webhooks-"));
  own(`${tag} data dir`, async () => rmSync(dataDir, { recursive: true, force: true }), dataDir);
  const databaseUrl =
    setup.database === "postgres" ? await postgres!.createDatabase(`bench_${tag.toLowerCase()}`) : undefined;
  const env: Record<string, string> = {
    REDIS_URL: redisUrl,
    ...(databaseUrl ? { KILN_DATABASE_URL: databaseUrl, ...(PG_POOL ? { KILN_DATABASE_POOL: PG_POOL } : {}) } : {}),
  };

  // One after the other: the first generates the shared secrets in the data dir and migrates the database.
  const replicas = [];
  for (let i = 0; i < setup.replicas; i++) {
    const kiln = await startKiln(env, { build: false, dataDir });
    replicas.push(own(`${tag} kiln ${i + 1}`, kiln.stop, kiln));
  }
  const balancer = setup.proxied ? await startRoundRobin(replicas.map((k) => Number(new URL(k.base).port))) : undefined;
  if (balancer) own(`${tag} balancer`, balancer.stop, balancer);
  const base = balancer?.base ?? replicas[0]!.base;
  const { call } = replicas[0]!; // the set-up calls are not measured

  const root = (await call("POST", "/api/v1/accounts", ADMIN, { alias: "bench" })).rootToken;
  const repoPath = "/api/v1/regions/local/repositories/alitest1/app";
  await call("POST", "/api/v1/namespaces", root, { name: "alitest1" });
  await call("POST", "/api/v1/regions/local/repositories", root, { namespace: "alitest1", name: "app" });
  await call("POST", "/api/v1/users", root, { name: "ci" });
  await call("POST", "/api/v1/policies", root, {
    name: "push",
    document: {
      Version: "1",
      Statement: [{ Effect: "Allow", Action: "cr:PushRepository", Resource: "acs:cr:*:*:repository/alitest1/*" }],
    },
  });
  await call("POST", "/api/v1/users/ci/policies", root, { policyName: "push" });
  const bound = await call("PUT", `${repoPath}/source`, root, {
    provider: "github",
    repoUrl: "https://github.com/Codertocat/Hello-World.git",
    pushUser: "ci",
  });
  for (const variant of ["node6", "node8"])
    await call("POST", `${repoPath}/build-rules`, root, {
      sourceType: "branch",
      source: "/bench-.*/",
      dockerfileName: `Dockerfile.${variant}`,
      tags: [`${variant}-{sourceref}`],
    });
  const hookPath = new URL(bound.webhookUrl).pathname;
  const secret: string = bound.webhookSecret;
  const example = (examples as unknown as { name: string; examples: any[] }[])
    .find((e) => e.name === "push")!
    .examples.find((p) => p.ref === "refs/heads/master")!;

  const load1m = loadavg()[0]!;
  const before = {
    at: performance.now(),
    self: process.cpuUsage(),
    replicas: replicas.map((k) => k.cpuSeconds()),
    balancer: (await balancer?.stats())?.cpuSeconds ?? 0,
    machine: machineCpu(),
  };
  let n = 0;
  const result = await new Promise<autocannon.Result>((resolve, reject) =>
    autocannon(
      {
        url: base + hookPath,
        connections: CONNECTIONS,
        duration: DURATION_S,
        requests: [
          {
            method: "POST",
            // Each request a new delivery of a new branch, signed as GitHub signs.
            setupRequest: (req: any) => {
              const i = ++n;
              const body = JSON.stringify({ ...example, ref: `refs/heads/bench-${i}` });
              req.body = body;
              req.headers = {
                "content-type": "application/json",
                "x-github-event": "push",
                "x-github-delivery": `bench-${i}`,
                "x-hub-signature-256": `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`,
              };
              return req;
            },
          },
        ],
      },
      (err, r) => (err ? reject(err) : resolve(r)),
    ),
  );
  const wall = (performance.now() - before.at) / 1000;
  const self = process.cpuUsage(before.self);
  const balancerStats = await balancer?.stats();
  const machine = machineCpu();
  const cpuPctOfOneCore = {
    loadGenerator: pct((self.user + self.system) / 1e6, wall),
    ...(balancerStats ? { balancer: pct(balancerStats.cpuSeconds - before.balancer, wall) } : {}),
    replicas: replicas.map((k, i) => pct(k.cpuSeconds() - before.replicas[i]!, wall)),
    // Everything on the machine, of its cores × 100: the rest is PostgreSQL, Redis and other load.
    machine: pct(machine.busy - before.machine.busy, wall),
  };
  const rssDuringRun = replicas.map((k) => k.peakRssMb());

  // Every accepted delivery must have made exactly two builds and two jobs.
  const accepted = result["2xx"];
  const db = await openKilnDatabase({ url: databaseUrl, file: join(dataDir, "kiln.db") });
  let check;
  try {
    check = await verify(db);
  } finally {
    await db.close();
  }
  const connection = new Redis(redisUrl, { maxRetriesPerRequest: null });
  const queue = new Queue("builds", { connection });
  const jobs = (await queue.getJobCounts("waiting", "delayed", "active")) as Record<string, number>;
  const jobTotal = (jobs.waiting ?? 0) + (jobs.delayed ?? 0) + (jobs.active ?? 0);
  await queue.close();
  connection.disconnect();

  // Stop this set-up before the next one starts: the runs must not share the cores.
  if (balancer) await release(`${tag} balancer`);
  for (let i = replicas.length; i > 0; i--) await release(`${tag} kiln ${i}`);
  await release(`${tag} data dir`);
  await release(`${tag} redis`);

  const perSec = Math.round(result.requests.average);
  // Requests still in flight when the load stops are processed but not counted as 2xx: at most one per connection.
  const noneLost = check.deliveries >= accepted && check.deliveries <= accepted + CONNECTIONS;
  const exact =
    noneLost &&
    check.distinctDeliveryIds === check.deliveries &&
    check.builds === 2 * check.deliveries &&
    check.odd === 0 &&
    check.orphanBuilds === 0 &&
    check.outbox === 0 &&
    jobTotal === check.builds;
  console.log(
    `${setup.title}: ${perSec} webhooks/s, p50 ${result.latency.p50} ms, p99 ${result.latency.p99} ms, ` +
      `non-2xx ${result.non2xx}, errors ${result.errors}`,
  );
  console.log(
    `  accepted ${accepted}, deliveries ${check.deliveries}, builds ${check.builds}, jobs ${jobTotal}, ` +
      `exact ${exact}, peak RSS ${rssDuringRun.map((r) => `${r.toFixed(0)} MB`).join(" + ")}` +
      (balancerStats
        ? `, served ${balancerStats.served.join(" / ")}, balancer RSS ${balancerStats.peakRssMb.toFixed(0)} MB`
        : "") +
      `; CPU % of one core ${JSON.stringify(cpuPctOfOneCore)}, load average before ${load1m.toFixed(1)}`,
  );
  return {
    database: setup.database,
    replicas: setup.replicas,
    proxied: setup.proxied,
    webhooksPerSec: perSec,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    accepted,
    non2xx: result.non2xx,
    errors: result.errors,
    deliveries: check.deliveries,
    builds: check.builds,
    jobs: jobTotal,
    exactlyTheirBuildsAndJobs: exact,
    peakRssMb: rssDuringRun.map(Math.round),
    ...(balancerStats
      ? { servedPerReplica: balancerStats.served, balancerPeakRssMb: Math.round(balancerStats.peakRssMb) }
      : {}),
    cpuPctOfOneCore,
    loadAverageBefore: Number(load1m.toFixed(2)),
  };
}

/**
 * Waits for the outbox to empty (every build handed to BullMQ), then reads every delivery and
 * build and compares them in JavaScript: each delivery names two distinct builds that name it
 * back, no build lacks its delivery, no delivery id was recorded twice.
 */
async function verify(db: KilnDatabase) {
  const outbox = async () =>
    Number((await db.all<{ n: number | string }>("select count(*) as n from builds where enqueued_at is null"))[0]!.n);
  for (let i = 0; i < 600 && (await outbox()) > 0; i++) await sleep(100);
  const deliveries = await db.all<{ id: number; provider_delivery_id: string; build_ids: string }>(
    "select id, provider_delivery_id, build_ids from deliveries",
  );
  const builds = await db.all<{ id: string; delivery_id: number | null; enqueued: number }>(
    "select id, delivery_id, case when enqueued_at is null then 0 else 1 end as enqueued from builds",
  );
  const deliveryOf = new Map(builds.map((b) => [b.id, b.delivery_id]));
  const deliveryIds = new Set(deliveries.map((d) => d.id));
  let odd = 0;
  for (const d of deliveries) {
    const ids = JSON.parse(d.build_ids) as string[];
    if (ids.length !== 2 || new Set(ids).size !== 2 || ids.some((id) => deliveryOf.get(id) !== d.id)) odd++;
  }
  return {
    deliveries: deliveries.length,
    distinctDeliveryIds: new Set(deliveries.map((d) => d.provider_delivery_id)).size,
    builds: builds.length,
    odd,
    orphanBuilds: builds.filter((b) => b.delivery_id === null || !deliveryIds.has(b.delivery_id)).length,
    outbox: builds.filter((b) => Number(b.enqueued) === 0).length,
  };
}

const SETUPS: Setup[] = [
  { key: "sqlite1", title: "1 replica, SQLite, direct", database: "sqlite", replicas: 1, proxied: false },
  { key: "postgres1Direct", title: "1 replica, PostgreSQL, direct", database: "postgres", replicas: 1, proxied: false },
  {
    key: "postgres1Proxied",
    title: "1 replica, PostgreSQL, balancer",
    database: "postgres",
    replicas: 1,
    proxied: true,
  },
  {
    key: "postgres2Proxied",
    title: "2 replicas, PostgreSQL, balancer",
    database: "postgres",
    replicas: 2,
    proxied: true,
  },
];

type Figures = Awaited<ReturnType<typeof run>>;
const GOALS = {
  sqlite1: { webhooksPerSec: 1000, p99Ms: 50, peakRssMb: 200, exactlyTheirBuildsAndJobs: true },
  postgres2Proxied: { exactlyTheirBuildsAndJobs: true },
  everyRun: { acceptedAtLeast: 1, exactlyTheirBuildsAndJobs: true, non2xx: 0, errors: 0 },
};

let exitCode = 1;
try {
  buildKiln();
  const figures: Partial<Record<Setup["key"], Figures>> = {};
  figures.sqlite1 = await run(SETUPS[0]!);
  if (WITH_POSTGRES) {
    const postgres = await startPostgres();
    own("postgres", postgres.stop, postgres);
    for (const setup of SETUPS.slice(1)) figures[setup.key] = await run(setup, postgres);
    await release("postgres");
  }
  const s = figures.sqlite1;
  // A run that accepted nothing (every request hung or failed) proves nothing: it fails.
  const clean = (f: Figures) => f.accepted > 0 && f.exactlyTheirBuildsAndJobs && f.non2xx === 0 && f.errors === 0;
  const sqlitePass =
    s.webhooksPerSec >= GOALS.sqlite1.webhooksPerSec &&
    s.p99Ms < GOALS.sqlite1.p99Ms &&
    s.peakRssMb[0]! < GOALS.sqlite1.peakRssMb &&
    clean(s);
  const everyRunClean = Object.values(figures).every(clean);
  const { postgres1Direct: d, postgres1Proxied: p, postgres2Proxied: two } = figures;
  console.log(
    JSON.stringify({
      bench: "webhooks",
      connections: CONNECTIONS,
      durationSec: DURATION_S,
      databasePool: PG_POOL ? Number(PG_POOL) : "default",
      // The top-level figures are 1 replica on SQLite, hit directly (as before the PostgreSQL runs).
      webhooksPerSec: s.webhooksPerSec,
      p50Ms: s.p50Ms,
      p99Ms: s.p99Ms,
      accepted: s.accepted,
      non2xx: s.non2xx,
      errors: s.errors,
      deliveries: s.deliveries,
      builds: s.builds,
      jobs: s.jobs,
      exactlyTheirBuildsAndJobs: s.exactlyTheirBuildsAndJobs,
      peakRssMb: s.peakRssMb[0],
      sqlite1: s,
      ...(d && p && two
        ? {
            postgres1Direct: d,
            postgres1Proxied: p,
            postgres2Proxied: two,
            // What each piece costs, from the runs above: PostgreSQL (1 replica, direct, against
            // SQLite), the balancer (1 replica on PostgreSQL, through it against direct) and the
            // second replica (2 against 1, both through the balancer).
            costs: {
              postgresVsSqlite: {
                webhooksPerSec: d.webhooksPerSec - s.webhooksPerSec,
                p50Ms: d.p50Ms - s.p50Ms,
                p99Ms: d.p99Ms - s.p99Ms,
              },
              balancer: {
                webhooksPerSec: p.webhooksPerSec - d.webhooksPerSec,
                p50Ms: p.p50Ms - d.p50Ms,
                p99Ms: p.p99Ms - d.p99Ms,
              },
              secondReplica: {
                webhooksPerSec: two.webhooksPerSec - p.webhooksPerSec,
                p50Ms: two.p50Ms - p.p50Ms,
                p99Ms: two.p99Ms - p.p99Ms,
              },
            },
          }
        : { postgres: "skipped (BENCH_POSTGRES=0)" }),
      goals: GOALS,
      note:
        `this machine has ${cpus().length} cores, shared by the load generator, the balancer, the API replicas, ` +
        "PostgreSQL and Redis (cpuPctOfOneCore: 100 = one core busy; machine counts every process, other load too): " +
        "two replicas cannot be twice as fast here, their figures show that the set-up is correct and what it costs, " +
        "not how it scales on machines of their own. PostgreSQL runs fsync off (a throw-away cluster, as the tests'). " +
        "The balancer is a Node process of its own (bench/lib/round-robin.ts), not a production proxy.",
      pass: sqlitePass && everyRunClean,
    }),
  );
  exitCode = sqlitePass && everyRunClean ? 0 : 1;
} finally {
  await releaseAll();
}
process.exit(exitCode);
