/**
 * Signed GitHub push webhooks from a load generator (autocannon) at a repository with two build
 * rules, against Kiln started as its own process (the production build) with a real Redis. Reports accepted webhooks/s,
 * p50/p99 latency and the API's peak RSS, then checks that every delivery made exactly its two
 * builds and two BullMQ jobs. Prints one JSON summary line last.
 * Goal (issue 4): >= 1,000 webhooks/s, p99 < 50 ms, nothing lost or doubled, peak RSS < 200 MB.
 */
import autocannon from "autocannon";
import Database from "better-sqlite3";
import { Queue } from "bullmq";
import { spawn } from "node:child_process";
import { createHmac } from "node:crypto";
import { join } from "node:path";
import { ADMIN, freePort, sleep, startKiln } from "./lib/kiln-process.ts";
import examples from "@octokit/webhooks-examples";
import { Redis } from "ioredis";

const DURATION_S = Number(process.env.BENCH_SECONDS ?? 10);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 16);

const redisPort = await freePort();
const redisUrl = `redis://127.0.0.1:${redisPort}`;
const redis = spawn(
  "redis-server",
  ["--port", String(redisPort), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
  { stdio: "ignore" },
);
await sleep(300);
const kiln = await startKiln({ REDIS_URL: redisUrl });
const { call, dataDir } = kiln;

try {
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

  let n = 0;
  const result = await new Promise<autocannon.Result>((resolve, reject) =>
    autocannon(
      {
        url: kiln.base + hookPath,
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
  const rssDuringRun = kiln.peakRssMb();

  // Every accepted delivery must have made exactly two builds and two jobs.
  const accepted = result["2xx"];
  const db = new Database(join(dataDir, "kiln.db"), { readonly: true });
  const counts = () =>
    db
      .prepare(
        "select (select count(*) from deliveries) as deliveries, (select count(*) from builds) as builds, (select count(*) from builds where enqueued_at is null) as outbox, (select count(*) from deliveries where json_array_length(build_ids) != 2) as odd",
      )
      .get() as { deliveries: number; builds: number; outbox: number; odd: number };
  for (let i = 0; i < 600 && counts().outbox > 0; i++) await sleep(100);
  const c = counts();
  const connection = new Redis(redisUrl, { maxRetriesPerRequest: null });
  const queue = new Queue("builds", { connection });
  const jobs = (await queue.getJobCounts("waiting", "delayed", "active")) as Record<string, number>;
  const jobTotal = (jobs.waiting ?? 0) + (jobs.delayed ?? 0) + (jobs.active ?? 0);
  await queue.close();
  connection.disconnect();
  db.close();

  const perSec = Math.round(result.requests.average);
  // Requests still in flight when the load stops are processed but not counted as 2xx: at most one per connection.
  const noneLost = c.deliveries >= accepted && c.deliveries <= accepted + CONNECTIONS;
  const exact = noneLost && c.builds === 2 * c.deliveries && c.odd === 0 && c.outbox === 0 && jobTotal === c.builds;
  console.log(
    `webhooks: ${perSec}/s, p50 ${result.latency.p50} ms, p99 ${result.latency.p99} ms, non-2xx ${result.non2xx}, errors ${result.errors}`,
  );
  console.log(
    `accepted ${accepted}, deliveries ${c.deliveries}, builds ${c.builds}, jobs ${jobTotal}, peak RSS ${rssDuringRun.toFixed(0)} MB`,
  );
  console.log(
    JSON.stringify({
      bench: "webhooks",
      connections: CONNECTIONS,
      durationSec: DURATION_S,
      webhooksPerSec: perSec,
      p50Ms: result.latency.p50,
      p99Ms: result.latency.p99,
      accepted,
      non2xx: result.non2xx,
      errors: result.errors,
      deliveries: c.deliveries,
      builds: c.builds,
      jobs: jobTotal,
      exactlyTheirBuildsAndJobs: exact,
      peakRssMb: Math.round(rssDuringRun),
      goals: { webhooksPerSec: 1000, p99Ms: 50, peakRssMb: 200 },
      pass:
        perSec >= 1000 &&
        result.latency.p99 < 50 &&
        rssDuringRun < 200 &&
        exact &&
        result.non2xx === 0 &&
        result.errors === 0,
    }),
  );
} finally {
  await kiln.stop();
  redis.kill("SIGKILL");
}
