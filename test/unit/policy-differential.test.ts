import { describe, expect, it } from "vitest";
import { evaluate, parsePolicy, type Policy } from "../../src/policy/index.ts";

/**
 * The indexed engine against a plain reference evaluator written here from DESIGN §4 alone: it
 * reads the policy documents as written, matches every statement with its own wildcard matcher,
 * evaluates conditions naively (its own number, date, bool and address parsing), then Deny >
 * Allow > ImplicitDeny. Nothing of src/policy but parsePolicy and evaluate is used.
 */

// ---------------------------------------------------------------------------------------------
// The reference evaluator.

type Values = string | string[];
interface RefStatement {
  Sid?: string;
  Effect: "Allow" | "Deny";
  Action?: Values;
  NotAction?: Values;
  Resource?: Values;
  NotResource?: Values;
  Condition?: Record<string, Record<string, Values | number | boolean>>;
}
interface RefPolicy {
  name?: string;
  doc: { Version: "1"; Statement: RefStatement[] };
}
type Context = Record<string, string | string[]>;
interface Match {
  policy?: string;
  statement: number;
  effect: "Allow" | "Deny";
  sid?: string;
}

const list = (v: Values | number | boolean): string[] => (Array.isArray(v) ? v : [String(v)]);

/** `*` any run (possibly empty), `?` one character; whole string. Two pointers, backing up to the last star. */
function wildcard(pattern: string, text: string): boolean {
  let p = 0;
  let t = 0;
  let star = -1;
  let resume = 0;
  while (t < text.length) {
    if (p < pattern.length && (pattern[p] === "?" || (pattern[p] !== "*" && pattern[p] === text[t]))) {
      p++;
      t++;
    } else if (p < pattern.length && pattern[p] === "*") {
      star = p++;
      resume = t;
    } else if (star >= 0) {
      p = star + 1;
      t = ++resume;
    } else return false;
  }
  while (p < pattern.length && pattern[p] === "*") p++;
  return p === pattern.length;
}

function refNumber(s: string): number | undefined {
  const t = s.trim();
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(t)) return undefined;
  const n = parseFloat(t);
  return Number.isFinite(n) ? n : undefined;
}

function refDate(s: string): number | undefined {
  const m =
    /^(\d{4})-(\d\d)-(\d\d)(?:[T ](\d\d):(\d\d)(?::(\d\d)(?:\.(\d+))?)?(Z|z|([+-])(\d\d)(?::?(\d\d))?)?)?$/.exec(
      s.trim(),
    );
  if (!m) return undefined;
  const [year, month, day, hour, minute, second] = [1, 2, 3, 4, 5, 6].map((i) => Number(m[i] ?? 0));
  if (month! < 1 || month! > 12 || day! < 1 || day! > 31 || hour! > 23 || minute! > 59 || second! > 59)
    return undefined;
  const ms = Number((m[7] ?? "").padEnd(3, "0").slice(0, 3));
  let t = Date.UTC(year!, month! - 1, day!, hour, minute, second, ms);
  if (m[9]) t -= (m[9] === "-" ? -1 : 1) * (Number(m[10]) * 60 + Number(m[11] ?? 0)) * 60_000;
  return t;
}

function refBool(s: string): boolean | undefined {
  const t = s.trim().toLowerCase();
  return t === "true" ? true : t === "false" ? false : undefined;
}

/** An address as a 128-bit number, IPv4 as IPv4-mapped IPv6 (so `::ffff:10.0.0.1` is 10.0.0.1). */
function refIp(s: string): bigint | undefined {
  const t = s.trim();
  const v4 = (x: string): bigint | undefined => {
    const parts = x.split(".");
    if (parts.length !== 4 || parts.some((p) => !/^(0|[1-9]\d{0,2})$/.test(p) || Number(p) > 255)) return undefined;
    return parts.reduce((acc, p) => acc * 256n + BigInt(p), 0n);
  };
  const plain = v4(t);
  if (plain !== undefined) return 0xffff00000000n + plain;
  if (!t.includes(":")) return undefined;
  let head = t;
  let tailV4: bigint | undefined;
  const lastColon = t.lastIndexOf(":");
  if (t.slice(lastColon + 1).includes(".")) {
    tailV4 = v4(t.slice(lastColon + 1));
    if (tailV4 === undefined) return undefined;
    head = `${t.slice(0, lastColon + 1)}0:0`;
  }
  const halves = head.split("::");
  if (halves.length > 2) return undefined;
  const groups = (h: string) => (h === "" ? [] : h.split(":"));
  const left = groups(halves[0]!);
  const right = halves.length === 2 ? groups(halves[1]!) : [];
  const missing = 8 - left.length - right.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return undefined;
  const all = [...left, ...Array<string>(halves.length === 2 ? missing : 0).fill("0"), ...right];
  if (all.some((g) => !/^[0-9a-fA-F]{1,4}$/.test(g))) return undefined;
  let n = all.reduce((acc, g) => acc * 65536n + BigInt(parseInt(g, 16)), 0n);
  if (tailV4 !== undefined) n = ((n >> 32n) << 32n) + tailV4;
  return n;
}

function refInNetwork(address: bigint, network: string): boolean {
  const [base, prefix] = network.trim().split("/");
  const b = refIp(base!);
  if (b === undefined) return false;
  const v4 = !base!.includes(":");
  const bits = prefix === undefined ? 128 : Number(prefix) + (v4 ? 96 : 0);
  const shift = BigInt(128 - bits);
  return address >> shift === b >> shift;
}

const NEGATED = new Set([
  "StringNotEquals",
  "StringNotEqualsIgnoreCase",
  "StringNotLike",
  "NumericNotEquals",
  "DateNotEquals",
  "NotIpAddress",
]);

/** Does one request value satisfy one policy value under the operator (its positive form)? */
function refTest(op: string, requestValue: string, policyValue: string): boolean {
  const base = op.replace("NotEquals", "Equals").replace("NotLike", "Like").replace("NotIpAddress", "IpAddress");
  const numeric = (cmp: (a: number, b: number) => boolean) => {
    const a = refNumber(requestValue);
    const b = refNumber(policyValue);
    return a !== undefined && b !== undefined && cmp(a, b);
  };
  const dated = (cmp: (a: number, b: number) => boolean) => {
    const a = refDate(requestValue);
    const b = refDate(policyValue);
    return a !== undefined && b !== undefined && cmp(a, b);
  };
  switch (base) {
    case "StringEquals":
      return requestValue === policyValue;
    case "StringEqualsIgnoreCase":
      return requestValue.toLowerCase() === policyValue.toLowerCase();
    case "StringLike":
      return wildcard(policyValue, requestValue);
    case "NumericEquals":
      return numeric((a, b) => a === b);
    case "NumericLessThan":
      return numeric((a, b) => a < b);
    case "NumericLessThanEquals":
      return numeric((a, b) => a <= b);
    case "NumericGreaterThan":
      return numeric((a, b) => a > b);
    case "NumericGreaterThanEquals":
      return numeric((a, b) => a >= b);
    case "DateEquals":
      return dated((a, b) => a === b);
    case "DateLessThan":
      return dated((a, b) => a < b);
    case "DateLessThanEquals":
      return dated((a, b) => a <= b);
    case "DateGreaterThan":
      return dated((a, b) => a > b);
    case "DateGreaterThanEquals":
      return dated((a, b) => a >= b);
    case "Bool": {
      const a = refBool(requestValue);
      return a !== undefined && a === refBool(policyValue);
    }
    case "IpAddress": {
      const a = refIp(requestValue);
      return a !== undefined && refInNetwork(a, policyValue);
    }
  }
  throw new Error(`reference does not know ${op}`);
}

function refConditions(condition: RefStatement["Condition"], context: Context): boolean {
  for (const [op, block] of Object.entries(condition ?? {})) {
    for (const [key, policyValues] of Object.entries(block)) {
      const found = Object.keys(context).find((k) => k.toLowerCase() === key.toLowerCase());
      const negated = NEGATED.has(op);
      if (found === undefined) {
        if (!negated) return false;
        continue;
      }
      const requestValues = list(context[found]!);
      const any = requestValues.some((rv) => list(policyValues).some((pv) => refTest(op, rv, pv)));
      if (any === negated) return false;
    }
  }
  return true;
}

function reference(policies: RefPolicy[], action: string, resource: string, context: Context) {
  const denies: Match[] = [];
  const allows: Match[] = [];
  for (const { name, doc } of policies) {
    doc.Statement.forEach((s, index) => {
      const actionHit = list(s.Action ?? s.NotAction!).some((p) => wildcard(p.toLowerCase(), action.toLowerCase()));
      if (actionHit === (s.Action === undefined)) return;
      const resourceHit = list(s.Resource ?? s.NotResource!).some((p) => wildcard(p, resource));
      if (resourceHit === (s.Resource === undefined)) return;
      if (!refConditions(s.Condition, context)) return;
      const m: Match = { policy: name, statement: index, effect: s.Effect };
      if (s.Sid !== undefined) m.sid = s.Sid;
      (s.Effect === "Deny" ? denies : allows).push(m);
    });
  }
  if (denies.length) return { decision: "ExplicitDeny", matched: denies };
  if (allows.length) return { decision: "Allow", matched: allows };
  return { decision: "ImplicitDeny", matched: [] };
}

// ---------------------------------------------------------------------------------------------
// The generator.

function mulberry32(seed: number) {
  return () => {
    seed |= 0;
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const rand = mulberry32(20261130);
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
const chance = (p: number) => rand() < p;
const upTo = (n: number) => Math.floor(rand() * (n + 1));

const ACTIONS = [
  "cr:GetRepository",
  "cr:PullRepository",
  "cr:PushRepository",
  "cr:ListNamespace",
  "cr:DeleteRepository",
  "ram:CreateUser",
  "CR:GETREPOSITORY",
];
const ACTION_PATTERNS = [
  "cr:*",
  "cr:Get*",
  "cr:?etRepository",
  "CR:PULL*",
  "*",
  "cr:*Repository",
  "ram:*",
  "cr:List*",
  "cr:Delete?epository",
  "cr:PushRepository",
  "cr:*e*",
];
const PIECES = ["acs:cr:", "cn-a", "cn-b", ":", "1", "12", "repository/", "team", "a", "b", "-", "/", "app", "x", "é"];

function resourceText(): string {
  if (chance(0.6)) {
    const ns = pick(["team1", "team12", "team1-ab", "a", "ab", "team2-x", "é", "app"]);
    const name = chance(0.2) ? "" : `/${pick(["app", "app-1", "x", "app/b", "a:b", "team1", ""])}`;
    return `acs:cr:${pick(["cn-a", "cn-b", "x"])}:${pick(["1", "12"])}:repository/${ns}${name}`;
  }
  return Array.from({ length: upTo(8) }, () => pick(PIECES)).join("");
}

/** Patterns: wildcarded resources (so that they often match) and random pieces. */
function resourcePattern(): string {
  if (chance(0.05)) return "*";
  let text = resourceText();
  if (chance(0.3)) text = Array.from({ length: 1 + upTo(5) }, () => pick([...PIECES, "*", "?"])).join("");
  const chars = [...text];
  const out: string[] = [];
  for (let i = 0; i < chars.length; i++) {
    const r = rand();
    if (r < 0.06) out.push("?");
    else if (r < 0.1) {
      out.push("*");
      i += upTo(4);
    } else out.push(chars[i]!);
  }
  if (chance(0.2)) out.push("*");
  if (chance(0.1)) out.unshift("*");
  return out.join("") || "*";
}

const KEYS = ["acs:SourceIp", "acs:CurrentTime", "acs:SecureTransport", "acs:UserAgent", "cr:Region", "k:n"];
const KEY_SPELLINGS: Record<string, string[]> = {
  "acs:SourceIp": ["acs:SourceIp", "ACS:SOURCEIP", "acs:sourceip"],
  "acs:CurrentTime": ["acs:CurrentTime", "Acs:currentTime"],
  "acs:SecureTransport": ["acs:SecureTransport"],
  "acs:UserAgent": ["acs:UserAgent", "ACS:useragent"],
  "cr:Region": ["cr:Region", "CR:REGION"],
  "k:n": ["k:n", "K:N"],
};
const IPS = [
  "10.1.2.3",
  "10.255.0.1",
  "11.0.0.1",
  "192.168.1.77",
  "192.168.2.1",
  "203.0.113.7",
  "::ffff:10.1.2.3",
  "::ffff:a01:203",
  "2001:db8::5",
  "2001:db8:1::5",
  "2001:db9::1",
  "fe80::1",
  "garbage",
  "",
  "1.2.3",
  // Either side of network boundaries.
  "11.0.0.2",
  "11.0.0.0",
  "10.1.2.4",
  "192.168.2.0",
  "192.168.0.255",
  "9.255.255.255",
  "255.255.255.255",
  "0.0.0.0",
];
const NETWORKS = [
  "10.0.0.0/8",
  "10.1.0.0/16",
  "192.168.1.0/24",
  "203.0.113.7",
  "0.0.0.0/0",
  "2001:db8::/32",
  "2001:db8:1::/48",
  "fe80::/10",
  "11.0.0.0/31",
  "10.1.2.3/32",
];
const DATES = [
  "2026-01-01",
  "2026-06-01T00:00:00Z",
  "2026-06-01T08:00:00+08:00",
  "2026-05-31T23:59:59Z",
  "2026-06-01T00:00:00.001Z",
  "2026-06-01T07:00+0800",
  "2027-01-01T00:00:00-05:00",
  "2026-06-01 12:00:00",
  "2025-12-31T23:59:59.999Z",
];
const BAD_DATES = ["tomorrow", "2026-13-01", "2026/06/01", ""];
const NUMBERS = ["0", "1", "10", "10.0", "-3", "2.5", "1e1", ".5", "+7", "100"];
const BAD_NUMBERS = ["ten", "0x10", "", "1,5", "Infinity"];
const STRINGS = ["docker/24.0", "Docker/24.0", "curl/8", "cn-a", "CN-A", "cn-b", "", "x"];
const STRING_PATTERNS = ["docker/*", "docker/??.0", "cn-?", "*", "c*", "x"];

const FAMILIES: Record<string, { ops: string[]; policy: () => string | number | boolean; request: () => string }> = {
  string: {
    ops: ["StringEquals", "StringNotEquals", "StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase"],
    policy: () => pick(STRINGS.filter(Boolean)),
    request: () => pick(STRINGS),
  },
  like: { ops: ["StringLike", "StringNotLike"], policy: () => pick(STRING_PATTERNS), request: () => pick(STRINGS) },
  numeric: {
    ops: [
      "NumericEquals",
      "NumericNotEquals",
      "NumericLessThan",
      "NumericLessThanEquals",
      "NumericGreaterThan",
      "NumericGreaterThanEquals",
    ],
    policy: () => (chance(0.3) ? Number(pick(NUMBERS)) : pick(NUMBERS)),
    request: () => (chance(0.85) ? pick(NUMBERS) : pick(BAD_NUMBERS)),
  },
  date: {
    ops: [
      "DateEquals",
      "DateNotEquals",
      "DateLessThan",
      "DateLessThanEquals",
      "DateGreaterThan",
      "DateGreaterThanEquals",
    ],
    policy: () => pick(DATES),
    request: () => (chance(0.85) ? pick(DATES) : pick(BAD_DATES)),
  },
  bool: {
    ops: ["Bool"],
    policy: () => (chance(0.3) ? chance(0.5) : pick(["true", "false", "TRUE"])),
    request: () => pick(["true", "false", "True", "yes", ""]),
  },
  ip: { ops: ["IpAddress", "NotIpAddress"], policy: () => pick(NETWORKS), request: () => pick(IPS) },
};
const FAMILY_OF_KEY: Record<string, string[]> = {
  "acs:SourceIp": ["ip", "string"],
  "acs:CurrentTime": ["date"],
  "acs:SecureTransport": ["bool", "string"],
  "acs:UserAgent": ["like", "string"],
  "cr:Region": ["string", "like"],
  "k:n": ["numeric", "string"],
};

function condition(): RefStatement["Condition"] {
  const out: NonNullable<RefStatement["Condition"]> = {};
  for (let i = 0; i <= upTo(2); i++) {
    const key = pick(KEYS);
    const family = FAMILIES[pick(FAMILY_OF_KEY[key]!)]!;
    const op = pick(family.ops);
    const values = Array.from({ length: 1 + upTo(2) }, family.policy);
    (out[op] ??= {})[chance(0.2) ? pick(KEY_SPELLINGS[key]!) : key] =
      values.length === 1 && chance(0.5) ? values[0]! : values.map(String);
  }
  return out;
}

function requestContext(): Context {
  const context: Context = {};
  for (const key of KEYS) {
    if (chance(0.25)) continue; // a missing key
    const family = FAMILIES[pick(FAMILY_OF_KEY[key]!)]!;
    const spelling = pick(KEY_SPELLINGS[key]!);
    context[spelling] = chance(0.1) ? Array.from({ length: upTo(2) }, family.request) : family.request();
  }
  return context;
}

function statement(): RefStatement {
  const s: RefStatement = { Effect: chance(0.25) ? "Deny" : "Allow" };
  if (chance(0.1)) s.Sid = `s${upTo(9)}`;
  const actions = Array.from({ length: 1 + upTo(2) }, () => pick(ACTION_PATTERNS));
  const resources = Array.from({ length: 1 + upTo(2) }, resourcePattern);
  if (chance(0.15)) s.NotAction = actions;
  else s.Action = actions.length === 1 && chance(0.5) ? actions[0]! : actions;
  if (chance(0.15)) s.NotResource = resources;
  else s.Resource = resources.length === 1 && chance(0.5) ? resources[0]! : resources;
  if (chance(0.45)) s.Condition = condition();
  return s;
}

function policySet(large: boolean): RefPolicy[] {
  return Array.from({ length: 1 + upTo(large ? 6 : 3) }, (_, i) => ({
    name: chance(0.9) ? `p${i}` : undefined,
    doc: { Version: "1" as const, Statement: Array.from({ length: 1 + upTo(large ? 60 : 6) }, statement) },
  }));
}

// ---------------------------------------------------------------------------------------------

describe("policy engine against an independent reference evaluator", () => {
  it("decides alike, with the same matched statements, on 100,000 random policy/request pairs", () => {
    let pairs = 0;
    const decisions: Record<string, number> = { Allow: 0, ExplicitDeny: 0, ImplicitDeny: 0 };
    const failures: string[] = [];
    while (pairs < 100_000) {
      const large = chance(0.03);
      const refs = policySet(large);
      const compiled: Policy[] = refs.map((r) => parsePolicy(r.doc, { name: r.name }));
      const requests = large ? 150 : 8;
      for (let q = 0; q < requests; q++, pairs++) {
        const action = pick(ACTIONS);
        const resource = resourceText();
        const context = requestContext();
        // Mostly the same array (as a principal's pool), sometimes a fresh one.
        const pool = chance(0.8) ? compiled : [...compiled];
        const got = evaluate(pool, { action, resource, context });
        const want = reference(refs, action, resource, context);
        decisions[want.decision]!++;
        if (JSON.stringify(got) !== JSON.stringify(want) && failures.length < 5)
          failures.push(JSON.stringify({ policies: refs, action, resource, context, got, want }));
      }
    }
    expect(failures).toEqual([]);
    // The generator reaches every outcome often.
    for (const d of Object.values(decisions)) expect(d).toBeGreaterThan(5_000);
  }, 60_000);

  it("the reference's own matchers behave as DESIGN §4 says", () => {
    expect(wildcard("acs:cr:*:*:repository/alitest1/*", "acs:cr:r:1:repository/alitest1/a")).toBe(true);
    expect(wildcard("acs:cr:*:*:repository/alitest1/*", "acs:cr:r:1:repository/alitest1")).toBe(false);
    expect(wildcard("a?c", "abc")).toBe(true);
    expect(wildcard("a?c", "ac")).toBe(false);
    expect(wildcard("*a*b", "xxaxb")).toBe(true);
    expect(refDate("2026-01-01T08:00:00+08:00")).toBe(refDate("2026-01-01T00:00:00Z"));
    expect(refInNetwork(refIp("::ffff:10.1.2.3")!, "10.0.0.0/8")).toBe(true);
    expect(refInNetwork(refIp("2001:db8:1::5")!, "2001:db8::/32")).toBe(true);
    expect(refInNetwork(refIp("11.0.0.1")!, "10.0.0.0/8")).toBe(false);
  });
});
