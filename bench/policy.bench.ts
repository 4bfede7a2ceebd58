/**
 * Policy evaluation throughput (issue 14). Prints one JSON summary line (last line of output) and
 * exits non-zero when a goal is missed. Goals, on the 2-core reference machine:
 * - >= 1,000,000 evaluations/s for the seed policies, requests rotating over >= 100,000 distinct
 *   resources across regions and accounts;
 * - >= 20,000 evaluations/s for a large realistic set (100 policies, 1,000 statements, most with
 *   conditions, about half the resource patterns without a framed literal naming the namespace),
 *   requests rotating over >= 100,000 distinct resources and varied contexts.
 * Also printed: the curve (10 … 10,000 statements) and the worst case, where every statement is a
 * candidate for every request (no literal in any pattern can narrow them).
 * Every workload is generated from a seeded PRNG, so two runs measure the same requests.
 */
import { evaluate, parsePolicy, type Policy, type RequestContext } from "../src/policy/index.ts";
import { framedTokens } from "../src/policy/statement-index.ts";

function mulberry32(seed: number) {
  return () => {
    seed |= 0;
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
type Rand = () => number;
const pick = <T>(rand: Rand, xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
const int = (rand: Rand, n: number) => Math.floor(rand() * n);
const some = <T>(rand: Rand, xs: readonly T[], max: number): T[] => {
  const n = 1 + int(rand, max);
  return [...new Set(Array.from({ length: n }, () => pick(rand, xs)))];
};

interface Request {
  action: string;
  resource: string;
  context?: RequestContext;
}

const REGIONS = [
  "cn-hangzhou",
  "cn-shanghai",
  "cn-beijing",
  "cn-shenzhen",
  "cn-hongkong",
  "ap-southeast-1",
  "us-west-1",
  "eu-central-1",
];
const ACCOUNTS = Array.from({ length: 12 }, (_, i) => String(1234567890123456 + i * 7919 * 1_000_003));
const ENVS = ["dev", "qa", "ci", "stg", "prd", "sandbox", "pr", "eu"];
const PRODUCTS = ["payments", "search", "checkout", "ml", "infra", "data", "mobile", "web", "auth", "billing"];
const TEAMS = 300;
const ACTIONS = [
  "cr:GetRepository",
  "cr:ListRepository",
  "cr:PullRepository",
  "cr:PushRepository",
  "cr:CreateRepository",
  "cr:UpdateRepository",
  "cr:DeleteRepository",
  "cr:GetRepositoryTag",
  "cr:DeleteRepositoryTag",
  "cr:GetNamespace",
  "cr:ListNamespace",
  "cr:CreateNamespace",
];

// ---------------------------------------------------------------------------------------------
// The seed workload: the two seed policies, requests across regions, accounts and namespaces.

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

function repoName(rand: Rand): string {
  const r = rand();
  if (r < 0.3) return `app-${int(rand, 60)}`;
  if (r < 0.5) return `${pick(rand, PRODUCTS)}-${pick(rand, ["api", "web", "worker", "cron", "gateway"])}`;
  if (r < 0.65) return `release-${int(rand, 10)}.${int(rand, 20)}`;
  if (r < 0.8) return `worker-${int(rand, 200)}`;
  return `svc${int(rand, 1000)}`;
}

function seedRequests(count: number): Request[] {
  const rand = mulberry32(1);
  const seedActions = ["cr:PullRepository", "cr:GetRepository", "cr:ListRepository", "cr:PushRepository"];
  return Array.from({ length: count }, () => {
    const ns = rand() < 0.4 ? "alitest1" : rand() < 0.5 ? `other${int(rand, 500)}` : `team${int(rand, TEAMS)}`;
    const region = pick(rand, REGIONS);
    const account = pick(rand, ACCOUNTS);
    const namespaceLevel = rand() < 0.1;
    return {
      action: namespaceLevel ? pick(rand, ["cr:ListNamespace", "cr:GetNamespace"]) : pick(rand, seedActions),
      resource: `acs:cr:${region}:${account}:repository/${ns}${namespaceLevel ? "" : `/${repoName(rand)}`}`,
      context: { "acs:SourceIp": "10.1.2.3" },
    };
  });
}

// ---------------------------------------------------------------------------------------------
// The large workload: team policies as an organisation writes them.

const OFFICE_CIDRS = [
  "10.0.0.0/8",
  "10.20.0.0/16",
  "10.64.0.0/12",
  "172.16.0.0/12",
  "192.168.10.0/24",
  "192.168.0.0/16",
  "203.0.113.0/24",
  "198.51.100.0/25",
  "2001:db8:10::/48",
  "100.64.0.0/10",
];
const AGENTS = ["docker/*", "containerd/*", "buildkit/*", "kaniko/*", "Go-http-client/*", "podman/*"];

/** The namespace of a team request: its own name or one of its environment namespaces. */
function namespaceOf(rand: Rand, team: number): string {
  return rand() < 0.45 ? `team${team}` : `team${team}-${pick(rand, ENVS)}`;
}

function resourcePattern(rand: Rand, team: number): string {
  const r = rand();
  // Patterns whose framed literals name the namespace (or the region/account) …
  if (r < 0.16) return `acs:cr:*:*:repository/team${team}/*`;
  if (r < 0.26) return `acs:cr:${pick(rand, REGIONS)}:*:repository/team${team}/*`;
  if (r < 0.33) return `acs:cr:*:*:repository/team${team}`;
  if (r < 0.42) return `acs:cr:*:${pick(rand, ACCOUNTS)}:repository/team${team}-${pick(rand, ENVS)}/*`;
  if (r < 0.46) return `acs:cr:${pick(rand, REGIONS)}:*:repository/*/${pick(rand, PRODUCTS)}-api`;
  // … and about half without one.
  if (r < 0.56) return `acs:cr:*:*:repository/team${team}-??/app*`;
  if (r < 0.66) return `acs:cr:*:*:repository/team${team}-*/*`;
  if (r < 0.72) return `acs:cr:${pick(rand, REGIONS)}:*:repository/team${team}*`;
  if (r < 0.79) return `acs:cr:*:*:repository/*/${pick(rand, PRODUCTS)}-*`;
  if (r < 0.84) return `acs:cr:*:*:repository/*-${pick(rand, ENVS)}/*`;
  if (r < 0.9) return `acs:cr:*:*:repository/team${team}-*/release-?.*`;
  if (r < 0.95) return `acs:cr:*:*:repository/team${team}?/worker-*`;
  return `acs:cr:*:*:repository/*team${team}*`;
}

function condition(rand: Rand, effect: "Allow" | "Deny"): Record<string, Record<string, string | string[]>> {
  const out: Record<string, Record<string, string | string[]>> = {};
  const operators = 1 + int(rand, 3);
  for (let i = 0; i < operators; i++) {
    const r = rand();
    if (effect === "Deny") {
      if (r < 0.35) out.NotIpAddress = { "acs:SourceIp": some(rand, OFFICE_CIDRS, 3) };
      else if (r < 0.55) out.Bool = { "acs:MFAPresent": "false" };
      else if (r < 0.7) out.StringNotEquals = { "cr:Region": some(rand, REGIONS, 3) };
      else if (r < 0.85) out.StringNotLike = { "acs:UserAgent": some(rand, AGENTS, 2) };
      else
        out.DateGreaterThan = { "acs:CurrentTime": `2026-${String(1 + int(rand, 12)).padStart(2, "0")}-01T00:00:00Z` };
    } else {
      if (r < 0.35) out.IpAddress = { "acs:SourceIp": some(rand, OFFICE_CIDRS, 3) };
      else if (r < 0.5) out.StringLike = { "acs:UserAgent": some(rand, AGENTS, 3) };
      else if (r < 0.65) out.Bool = { "acs:SecureTransport": "true" };
      else if (r < 0.8)
        out.DateLessThan = {
          "acs:CurrentTime": `2027-${String(1 + int(rand, 12)).padStart(2, "0")}-01T00:00:00+08:00`,
        };
      else if (r < 0.9) out.StringEquals = { "cr:Region": some(rand, REGIONS, 3) };
      else out.StringNotEqualsIgnoreCase = { "acs:UserAgent": "curl/8.4.0" };
    }
  }
  return out;
}

interface LargeSet {
  policies: Policy[];
  teams: number[];
  patterns: string[];
  statements: number;
  withConditions: number;
}

/** `n` statements in policies of 10 (one policy per team, a few statements about other teams). */
function largeSet(n: number, seed: number, everything = false): LargeSet {
  const rand = mulberry32(seed);
  const policies: Policy[] = [];
  const teams: number[] = [];
  const patterns: string[] = [];
  let withConditions = 0;
  for (let p = 0; p < Math.ceil(n / 10); p++) {
    const team = int(rand, TEAMS);
    teams.push(team);
    const Statement = Array.from({ length: Math.min(10, n - p * 10) }, () => {
      const effect = rand() < 0.15 ? "Deny" : "Allow";
      const about = rand() < 0.85 ? team : int(rand, TEAMS);
      const r = rand();
      const actions =
        effect === "Deny"
          ? pick(rand, [
              ["cr:Delete*"],
              ["cr:PushRepository", "cr:DeleteRepository"],
              ["cr:DeleteRepositoryTag"],
              ["cr:Update*", "cr:Create*"],
            ])
          : pick(rand, [
              ["cr:Get*", "cr:List*", "cr:PullRepository"],
              ["cr:PullRepository"],
              ["cr:PushRepository", "cr:PullRepository"],
              ["cr:*"],
              ["cr:Create*", "cr:Update*", "cr:PushRepository"],
              ["cr:GetRepository*", "cr:DeleteRepositoryTag"],
            ]);
      const statement: Record<string, unknown> = { Effect: effect };
      const allow = effect === "Allow";
      statement[allow && r < 0.07 ? "NotAction" : "Action"] =
        allow && r < 0.07 ? ["cr:Delete*", "cr:*Namespace"] : actions;
      const resources = Array.from({ length: 1 + int(rand, 2) }, () =>
        everything ? "acs:cr:*:*:repository/*" : resourcePattern(rand, about),
      );
      // Deny statements name what they protect; org-wide grants (`*`, NotResource) are Allows.
      if (!everything && allow && rand() < 0.015) {
        delete statement.NotAction;
        statement.Action = ["cr:Get*", "cr:List*"];
        statement.Resource = "*";
      } else if (!everything && allow && rand() < 0.02) statement.NotResource = resources;
      else statement.Resource = resources;
      patterns.push(...((statement.Resource ?? statement.NotResource) as string[] | string[]));
      if (rand() < 0.85) {
        statement.Condition = condition(rand, effect);
        withConditions++;
      }
      return statement;
    });
    policies.push(parsePolicy({ Version: "1", Statement }, { name: `team${team}-policy-${p}` }));
  }
  return { policies, teams, patterns, statements: n, withConditions };
}

function randomIp(rand: Rand): string {
  const r = rand();
  if (r < 0.3) return `10.${int(rand, 256)}.${int(rand, 256)}.${int(rand, 256)}`;
  if (r < 0.45) return `192.168.${int(rand, 256)}.${int(rand, 256)}`;
  if (r < 0.55) return `2001:db8:${int(rand, 32).toString(16)}::${int(rand, 65536).toString(16)}`;
  if (r < 0.6) return `203.0.113.${int(rand, 256)}`;
  return `${1 + int(rand, 223)}.${int(rand, 256)}.${int(rand, 256)}.${int(rand, 256)}`;
}
function randomAgent(rand: Rand): string {
  const v = `${int(rand, 30)}.${int(rand, 10)}.${int(rand, 20)}`;
  return pick(rand, [
    `docker/${v} go/go1.21.5`,
    `containerd/${v}`,
    `curl/8.4.0`,
    `Go-http-client/1.1`,
    `buildkit/v${v}`,
  ]);
}
function randomTime(rand: Rand): string {
  const ms = Date.UTC(2026, 0, 1) + Math.floor(rand() * 540 * 86_400_000);
  const iso = new Date(ms).toISOString();
  return rand() < 0.7 ? iso : `${iso.slice(0, 19)}+08:00`;
}

/** Requests of an organisation's users: mostly their teams' namespaces, some elsewhere, every context different. */
function largeRequests(set: LargeSet, count: number, seed: number): Request[] {
  const rand = mulberry32(seed);
  return Array.from({ length: count }, () => {
    const team = rand() < 0.75 ? pick(rand, set.teams) : int(rand, TEAMS);
    const region = pick(rand, REGIONS);
    const namespaceLevel = rand() < 0.1;
    const ns = namespaceOf(rand, team);
    const resource = `acs:cr:${region}:${pick(rand, ACCOUNTS)}:repository/${ns}${namespaceLevel ? "" : `/${repoName(rand)}`}`;
    const action = namespaceLevel
      ? pick(rand, ["cr:GetNamespace", "cr:ListNamespace", "cr:CreateNamespace"])
      : pick(rand, ACTIONS.slice(0, 9));
    const context: Record<string, string> = {
      "acs:SourceIp": randomIp(rand),
      "acs:CurrentTime": randomTime(rand),
      "acs:SecureTransport": rand() < 0.9 ? "true" : "false",
      "acs:MFAPresent": "false",
      "acs:UserAgent": randomAgent(rand),
      "cr:Region": region,
    };
    return { action, resource, context };
  });
}

// ---------------------------------------------------------------------------------------------

interface Measured {
  perSec: number;
  evaluations: number;
  distinctResources: number;
  decisions: Record<string, number>;
}

/** Runs for at least `minMs` and, when `fullPass`, until every request has been evaluated once. */
function measure(policies: Policy[], requests: Request[], minMs: number, fullPass: boolean): Measured {
  let n = 0;
  const decisions: Record<string, number> = { Allow: 0, ExplicitDeny: 0, ImplicitDeny: 0 };
  const start = performance.now();
  let elapsed = 0;
  do {
    for (let i = 0; i < 1000; i++) {
      const r = requests[n++ % requests.length]!;
      decisions[evaluate(policies, r).decision]!++;
    }
    elapsed = performance.now() - start;
  } while (elapsed < minMs || (fullPass && n < requests.length));
  const seen = Math.min(n, requests.length);
  const distinct = new Set<string>();
  for (let i = 0; i < seen; i++) distinct.add(requests[i]!.resource);
  return { perSec: Math.round((n / elapsed) * 1000), evaluations: n, distinctResources: distinct.size, decisions };
}

const share = (part: number, whole: number) => `${Math.round((part / whole) * 100)}%`;
const REQUESTS = 120_000;

const seedRequestList = seedRequests(REQUESTS);
measure(SEED, seedRequestList.slice(0, 20_000), 300, false); // warm up the JIT
const seed = measure(SEED, seedRequestList, 1500, true);
console.log(
  `seed policies: ${seed.perSec.toLocaleString()} evaluations/s over ${seed.distinctResources.toLocaleString()} distinct resources ` +
    `(${JSON.stringify(seed.decisions)})`,
);

const large = largeSet(1000, 14);
const unframed = large.patterns.filter((p) =>
  framedTokens(p).every((t) => ["acs", "cr", "repository", ...REGIONS, ...ACCOUNTS].includes(t)),
).length;
console.log(
  `large set: ${large.policies.length} policies, ${large.statements} statements, ${share(large.withConditions, large.statements)} with conditions, ` +
    `${share(unframed, large.patterns.length)} of ${large.patterns.length} resource patterns without a framed literal naming the namespace`,
);
const largeRequestList = largeRequests(large, REQUESTS, 15);
measure(large.policies, largeRequestList.slice(0, 5_000), 300, false);
const largeResult = measure(large.policies, largeRequestList, 1500, true);
console.log(
  `large set: ${largeResult.perSec.toLocaleString()} evaluations/s over ${largeResult.distinctResources.toLocaleString()} distinct resources ` +
    `(${JSON.stringify(largeResult.decisions)})`,
);

const curve: Record<string, number> = {};
const worstCase: Record<string, number> = {};
for (const n of [10, 100, 1000, 10000]) {
  const set = largeSet(n, 100 + n);
  const requests = largeRequests(set, 20_000, 200 + n);
  const point = measure(set.policies, requests, 1000, false);
  curve[n] = point.perSec;
  const flat = largeSet(n, 100 + n, true);
  const worst = measure(flat.policies, requests, 1000, false);
  worstCase[n] = worst.perSec;
  console.log(
    `${n} statements: ${curve[n]!.toLocaleString()} evaluations/s ${JSON.stringify(point.decisions)} ` +
      `(worst case, every statement a candidate: ${worstCase[n]!.toLocaleString()}/s ${JSON.stringify(worst.decisions)})`,
  );
}

const goals = { seedEvaluationsPerSec: 1_000_000, largeSetEvaluationsPerSec: 20_000, distinctResources: 100_000 };
const pass =
  seed.perSec >= goals.seedEvaluationsPerSec &&
  largeResult.perSec >= goals.largeSetEvaluationsPerSec &&
  seed.distinctResources >= goals.distinctResources &&
  largeResult.distinctResources >= goals.distinctResources;
const summary = {
  bench: "policy",
  seedEvaluationsPerSec: seed.perSec,
  seedDistinctResources: seed.distinctResources,
  largeSetEvaluationsPerSec: largeResult.perSec,
  largeSetDistinctResources: largeResult.distinctResources,
  largeSet: {
    policies: large.policies.length,
    statements: large.statements,
    withConditions: large.withConditions,
    patterns: large.patterns.length,
    patternsWithoutFramedNamespaceLiteral: unframed,
  },
  curve,
  worstCaseEveryStatementCandidate: worstCase,
  goals,
  pass,
};
console.log(JSON.stringify(summary));
if (!pass) process.exitCode = 1;
