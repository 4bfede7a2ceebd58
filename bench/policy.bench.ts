/**
 * Policy evaluation throughput. Prints one JSON summary line (last line of output).
 * Goals (issue 2): >= 1,000,000 evaluations/s for the seed policies, >= 20,000/s against 1,000 statements.
 */
import { evaluate, parsePolicy, type Policy } from "../src/policy/index.ts";

const SEED = [
  parsePolicy(
    {
      Version: "1",
      Statement: [
        {
          Action: ["cr:Get*", "cr:List*", "cr:PullRepository"],
          Effect: "Allow",
          Resource: ["acs:cr:*:*:repository/alitest1/*"],
        },
      ],
    },
    { name: "seed-read" },
  ),
  parsePolicy(
    {
      Version: "1",
      Statement: [{ Action: ["cr:ListNamespace", "cr:ListRepository"], Effect: "Allow", Resource: ["*"] }],
    },
    { name: "seed-list" },
  ),
];
const SEED_REQUESTS = [
  { action: "cr:PullRepository", resource: "acs:cr:cn-hongkong:1234567890123456:repository/alitest1/test" },
  { action: "cr:PushRepository", resource: "acs:cr:cn-hongkong:1234567890123456:repository/alitest1/test" },
  { action: "cr:ListNamespace", resource: "acs:cr:cn-hongkong:1234567890123456:repository/other1" },
  { action: "cr:DeleteRepository", resource: "acs:cr:cn-hongkong:1234567890123456:repository/other1/app" },
];

const VERBS = ["Get", "List", "Create", "Update", "Delete", "Pull", "Push"];
/**
 * n statements as a large organisation writes them: one grant per team namespace, mixed
 * wildcards, every 50th a Deny, every 10th with a source-address condition.
 */
function teamStatements(n: number): Policy[] {
  const Statement = Array.from({ length: n }, (_, i) => ({
    Effect: i % 50 === 49 ? "Deny" : "Allow",
    Action: [`cr:${VERBS[i % VERBS.length]}*`, "cr:ListRepository"],
    Resource:
      i % 3 === 0
        ? [`acs:cr:*:*:repository/team${i}/*`]
        : [`acs:cr:cn-hongkong:*:repository/team${i}/app-?`, `acs:cr:*:*:repository/team${i}`],
    ...(i % 10 === 0 ? { Condition: { IpAddress: { "acs:SourceIp": ["10.0.0.0/8"] } } } : {}),
  }));
  return [parsePolicy({ Version: "1", Statement }, { name: `team${n}` })];
}
/** Worst case for the resource index: every pattern's only framed token is shared, so all n are scanned. */
function unindexableStatements(n: number): Policy[] {
  const Statement = Array.from({ length: n }, (_, i) => ({
    Effect: "Allow",
    Action: "cr:ListRepository",
    Resource: `acs:cr:*:*:repository/team${i}-*`,
  }));
  return [parsePolicy({ Version: "1", Statement }, { name: `flat${n}` })];
}
function teamRequests(n: number) {
  return Array.from({ length: 500 }, (_, k) => {
    const team = (k * 7919) % n;
    return {
      action: k % 2 ? "cr:ListRepository" : `cr:${VERBS[k % VERBS.length]}Repository`,
      resource: `acs:cr:cn-hongkong:1234567890123456:repository/team${team}/app-${k % 10}`,
    };
  });
}

function measure(policies: Policy[], requests: { action: string; resource: string }[], minMs = 1000): number {
  const context = { "acs:SourceIp": "10.1.2.3" };
  let n = 0;
  let sink = 0;
  const start = performance.now();
  let elapsed = 0;
  do {
    for (let i = 0; i < 1000; i++) {
      const r = requests[n++ % requests.length]!;
      if (evaluate(policies, { action: r.action, resource: r.resource, context }).decision === "Allow") sink++;
    }
    elapsed = performance.now() - start;
  } while (elapsed < minMs);
  if (sink < 0) console.log(sink);
  return Math.round((n / elapsed) * 1000);
}

for (let i = 0; i < 3; i++) measure(SEED, SEED_REQUESTS, 200); // warm up the JIT

const seedPerSec = measure(SEED, SEED_REQUESTS);
const curve: Record<string, number> = {};
const worstCase: Record<string, number> = {};
for (const n of [10, 100, 1000, 10000]) {
  curve[n] = measure(teamStatements(n), teamRequests(n));
  worstCase[n] = measure(unindexableStatements(n), teamRequests(n), n >= 10000 ? 2000 : 1000);
  console.log(
    `${n} statements: ${curve[n]!.toLocaleString()} evaluations/s (all scanned: ${worstCase[n]!.toLocaleString()}/s)`,
  );
}
console.log(`seed policies: ${seedPerSec.toLocaleString()} evaluations/s`);

const summary = {
  bench: "policy",
  seedEvaluationsPerSec: seedPerSec,
  statements1000EvaluationsPerSec: curve[1000],
  curve,
  worstCaseAllStatementsScanned: worstCase,
  goals: { seedEvaluationsPerSec: 1_000_000, statements1000EvaluationsPerSec: 20_000 },
  pass: seedPerSec >= 1_000_000 && curve[1000]! >= 20_000,
};
console.log(JSON.stringify(summary));
