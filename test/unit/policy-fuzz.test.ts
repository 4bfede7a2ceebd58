import { describe, expect, it } from "vitest";
import { evaluate, OPERATORS, parsePolicy, PolicyError } from "../../src/policy/index.ts";

/** A small seeded PRNG so that a failure can be replayed. */
function mulberry32(seed: number) {
  return () => {
    seed |= 0;
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const KEYS = [
  "Version",
  "Statement",
  "Effect",
  "Action",
  "NotAction",
  "Resource",
  "NotResource",
  "Condition",
  "Sid",
  "Bogus",
];
const STRINGS = [
  "1",
  "2",
  "Allow",
  "Deny",
  "cr:*",
  "cr:Get*",
  "*",
  "acs:cr:*:*:repository/a/*",
  "",
  "10.0.0.0/8",
  "2026-01-01",
  "true",
  "x:y",
  "?",
  "[",
  "\u0000",
];
const OPS = [...Object.keys(OPERATORS), "StringEqual", "IpAddres", "__proto__", "constructor"];

function generator(rand: () => number) {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const value = (depth: number): unknown => {
    const r = rand();
    if (depth > 3 || r < 0.35) return pick(STRINGS);
    if (r < 0.45) return Math.floor(rand() * 1e6) - 5e5;
    if (r < 0.5) return pick([null, true, false, undefined, NaN, Infinity]);
    if (r < 0.75) return Array.from({ length: Math.floor(rand() * 4) }, () => value(depth + 1));
    const keys = depth === 2 ? OPS : KEYS;
    return Object.fromEntries(Array.from({ length: Math.floor(rand() * 4) }, () => [pick(keys), value(depth + 1)]));
  };
  const mutate = (good: () => unknown, depth: number) => (rand() < 0.85 ? good() : value(depth));
  const goodValues: Record<string, () => unknown> = {
    Effect: () => pick(["Allow", "Deny"]),
    Action: () => pick(["cr:*", ["cr:Get*", "cr:List*"], "cr:PullRepository", "*"]),
    Resource: () => pick(["*", "acs:cr:*:*:repository/a/*", ["acs:cr:r:1:repository/a/b"]]),
    Condition: () => ({ [pick(OPS)]: { "k:x": pick(["10.0.0.0/8", "2026-01-01", "true", "7", "x*"]) } }),
  };
  const statement = (): unknown => {
    const s: Record<string, unknown> = {};
    s.Effect = mutate(goodValues.Effect!, 2);
    s[rand() < 0.8 ? "Action" : "NotAction"] = mutate(goodValues.Action!, 2);
    s[rand() < 0.8 ? "Resource" : "NotResource"] = mutate(goodValues.Resource!, 2);
    if (rand() < 0.4) s.Condition = mutate(goodValues.Condition!, 2);
    if (rand() < 0.05) s[pick(KEYS)] = value(2);
    return rand() < 0.05 ? value(1) : s;
  };
  return (): unknown => {
    const doc: Record<string, unknown> = {
      Version: rand() < 0.8 ? "1" : value(1),
      Statement: rand() < 0.05 ? value(1) : Array.from({ length: Math.floor(rand() * 4) }, statement),
    };
    if (rand() < 0.1) doc[pick(KEYS)] = value(1);
    return rand() < 0.05 ? JSON.stringify(doc).slice(0, Math.floor(rand() * 40)) : doc;
  };
}

describe("policy fuzz", () => {
  it("10,000 generated documents raise nothing but PolicyError, and valid ones evaluate", () => {
    const next = generator(mulberry32(20261128));
    let valid = 0;
    for (let i = 0; i < 10_000; i++) {
      const doc = next();
      let policy;
      try {
        policy = parsePolicy(doc);
      } catch (err) {
        if (!(err instanceof PolicyError))
          throw new Error(`document ${i} raised ${String(err)}: ${JSON.stringify(doc)}`);
        continue;
      }
      valid++;
      const { decision } = evaluate([policy], {
        action: "cr:GetRepository",
        resource: "acs:cr:r:1:repository/a/b",
        context: { "k:x": "10.1.1.1" },
      });
      expect(["Allow", "ExplicitDeny", "ImplicitDeny"]).toContain(decision);
    }
    expect(valid).toBeGreaterThan(1000);
    expect(valid).toBeLessThan(9000);
  });
});
