import { describe, expect, it } from "vitest";
import { evaluate, parsePolicy, type Policy } from "../../src/policy/index.ts";
import { conditionHolds } from "../../src/policy/conditions.ts";
import { framedTokens } from "../../src/policy/statement-index.ts";

/** The plain definition of evaluation, statement by statement, with no index. */
function reference(policies: Policy[], action: string, resource: string) {
  const lowered = action.toLowerCase();
  const hits = policies.flatMap((p) =>
    p.statements
      .filter(
        (s) =>
          s.action(lowered) !== s.actionNegated &&
          s.resource(resource) !== s.resourceNegated &&
          s.conditions.every((c) => conditionHolds(c, {})),
      )
      .map((s) => ({ policy: p.name, statement: s.index, effect: s.effect })),
  );
  const denies = hits.filter((h) => h.effect === "Deny");
  if (denies.length) return { decision: "ExplicitDeny", matched: denies };
  const allows = hits.filter((h) => h.effect === "Allow");
  return allows.length ? { decision: "Allow", matched: allows } : { decision: "ImplicitDeny", matched: [] };
}

function rng(seed: number) {
  return () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
}

describe("statement index", () => {
  it("takes only literal tokens framed by separators or the ends", () => {
    expect(framedTokens("acs:cr:*:*:repository/team5/*")).toEqual(["acs", "cr", "repository", "team5"]);
    expect(framedTokens("acs:cr:*:*:repository/team?/app*")).toEqual(["acs", "cr", "repository"]);
    expect(framedTokens("*")).toEqual([]);
  });

  it("decides exactly as statement-by-statement evaluation on 3,000 random cases", () => {
    const rand = rng(7);
    const pick = <T>(xs: T[]) => xs[Math.floor(rand() * xs.length)]!;
    const pieces = ["a", "b", "ab", "/", ":", "*", "?", "a/b", "b:a"];
    const pattern = () => Array.from({ length: 1 + Math.floor(rand() * 5) }, () => pick(pieces)).join("");
    const text = () =>
      Array.from({ length: Math.floor(rand() * 6) }, () => pick(["a", "b", "ab", "/", ":", "ba"])).join("");
    for (let round = 0; round < 100; round++) {
      const policies = Array.from({ length: 1 + Math.floor(rand() * 3) }, (_, pi) =>
        parsePolicy(
          {
            Version: "1",
            Statement: Array.from({ length: 1 + Math.floor(rand() * 8) }, () => ({
              Effect: rand() < 0.2 ? "Deny" : "Allow",
              [rand() < 0.8 ? "Action" : "NotAction"]: pick([
                "cr:*",
                "cr:Get*",
                "cr:PullRepository",
                ["cr:List*", "cr:Push?epository"],
              ]),
              [rand() < 0.85 ? "Resource" : "NotResource"]: Array.from({ length: 1 + Math.floor(rand() * 2) }, pattern),
            })),
          },
          { name: `p${pi}` },
        ),
      );
      for (let q = 0; q < 30; q++) {
        const action = pick(["cr:GetRepository", "cr:PullRepository", "cr:PushRepository", "cr:ListNamespace"]);
        const resource = text();
        expect(evaluate(policies, { action, resource }), `${action} ${resource}`).toEqual(
          reference(policies, action, resource),
        );
      }
    }
  });
});
