import { describe, expect, it } from "vitest";
import { evaluate, parsePolicy, SYSTEM_POLICIES } from "../../src/policy/index.ts";

const policy = (name: string, ...Statement: Record<string, unknown>[]) =>
  parsePolicy({ Version: "1", Statement }, { name });
const allow = (Action: unknown, Resource: unknown, extra = {}) => ({ Effect: "Allow", Action, Resource, ...extra });
const deny = (Action: unknown, Resource: unknown, extra = {}) => ({ Effect: "Deny", Action, Resource, ...extra });
const repo = (ns: string, name: string, region = "cn-hongkong") =>
  `acs:cr:${region}:1234567890123456:repository/${ns}/${name}`;
const ns = (name: string, region = "cn-hongkong") => `acs:cr:${region}:1234567890123456:repository/${name}`;

describe("evaluate: the seed scenario", () => {
  const readAlitest1 = policy(
    "read-alitest1",
    allow(["cr:Get*", "cr:List*", "cr:PullRepository"], ["acs:cr:*:*:repository/alitest1/*"]),
  );

  it("allows reading alitest1's repositories", () => {
    expect(evaluate([readAlitest1], { action: "cr:GetRepository", resource: repo("alitest1", "test") }).decision).toBe(
      "Allow",
    );
    expect(evaluate([readAlitest1], { action: "cr:PullRepository", resource: repo("alitest1", "test") }).decision).toBe(
      "Allow",
    );
  });

  it("does not let repository/alitest1/* match the namespace itself", () => {
    expect(evaluate([readAlitest1], { action: "cr:ListNamespace", resource: ns("alitest1") }).decision).toBe(
      "ImplicitDeny",
    );
  });

  it("denies pushing and other namespaces implicitly", () => {
    expect(evaluate([readAlitest1], { action: "cr:PushRepository", resource: repo("alitest1", "test") }).decision).toBe(
      "ImplicitDeny",
    );
    expect(evaluate([readAlitest1], { action: "cr:GetRepository", resource: repo("other1", "app") }).decision).toBe(
      "ImplicitDeny",
    );
  });

  it("scopes a region-specific grant to that region", () => {
    const p = policy("hk", allow(["cr:*"], ["acs:cr:cn-hongkong:*:repository/alitest1/test"]));
    expect(evaluate([p], { action: "cr:DeleteRepository", resource: repo("alitest1", "test") }).decision).toBe("Allow");
    expect(
      evaluate([p], { action: "cr:DeleteRepository", resource: repo("alitest1", "test", "cn-beijing") }).decision,
    ).toBe("ImplicitDeny");
    expect(evaluate([p], { action: "cr:DeleteRepository", resource: repo("alitest1", "test2") }).decision).toBe(
      "ImplicitDeny",
    );
  });

  it("reports which statements decided", () => {
    const list = policy("list", allow(["cr:ListNamespace", "cr:ListRepository"], "*"));
    const result = evaluate([readAlitest1, list], { action: "cr:ListRepository", resource: repo("alitest1", "test") });
    expect(result).toEqual({
      decision: "Allow",
      matched: [
        { policy: "read-alitest1", statement: 0, effect: "Allow" },
        { policy: "list", statement: 0, effect: "Allow" },
      ],
    });
  });
});

describe("evaluate: wildcards and case", () => {
  const p = policy("w", allow("cr:Get?amespace", "acs:cr:*:*:repository/team-?/*"));

  it("matches actions case-insensitively", () => {
    expect(evaluate([p], { action: "CR:GETNAMESPACE", resource: repo("team-a", "x") }).decision).toBe("Allow");
  });

  it("matches resources case-sensitively", () => {
    expect(evaluate([p], { action: "cr:GetNamespace", resource: repo("TEAM-a", "x") }).decision).toBe("ImplicitDeny");
  });

  it("? matches exactly one character", () => {
    expect(evaluate([p], { action: "cr:GetNamespace", resource: repo("team-ab", "x") }).decision).toBe("ImplicitDeny");
    expect(evaluate([p], { action: "cr:GetNamespace", resource: `acs:cr:r:1:repository/team-/x` }).decision).toBe(
      "ImplicitDeny",
    );
  });

  it("* spans / and : and may match nothing", () => {
    const star = policy("s", allow("cr:*", "acs:cr:*repository/a*b"));
    expect(evaluate([star], { action: "cr:X", resource: "acs:cr:r:1:repository/ab" }).decision).toBe("Allow");
    expect(evaluate([star], { action: "cr:X", resource: "acs:cr:r:1:repository/a/x/y:b" }).decision).toBe("Allow");
    expect(evaluate([star], { action: "cr:X", resource: "acs:cr:r:1:repository/a/x/y:bc" }).decision).toBe(
      "ImplicitDeny",
    );
  });

  it("many stars cannot make matching slow", () => {
    const evil = policy("e", allow("cr:*", "*a*a*a*a*a*a*a*a*a*a*b"));
    const started = performance.now();
    expect(evaluate([evil], { action: "cr:X", resource: "a".repeat(5000) }).decision).toBe("ImplicitDeny");
    expect(performance.now() - started).toBeLessThan(1000);
  });
});

describe("evaluate: NotAction and NotResource", () => {
  it("NotAction applies to every action but the listed ones, without denying them", () => {
    const p = policy("na", { Effect: "Allow", NotAction: ["cr:Delete*"], Resource: "*" });
    expect(evaluate([p], { action: "cr:CreateRepository", resource: repo("a", "b") }).decision).toBe("Allow");
    expect(evaluate([p], { action: "cr:DeleteRepository", resource: repo("a", "b") }).decision).toBe("ImplicitDeny");
  });

  it("NotResource applies to every resource but the listed ones", () => {
    const p = policy("nr", { Effect: "Deny", Action: "cr:*", NotResource: "acs:cr:*:*:repository/sandbox/*" });
    const full = policy("full", allow("cr:*", "*"));
    expect(evaluate([p, full], { action: "cr:DeleteRepository", resource: repo("prod", "x") }).decision).toBe(
      "ExplicitDeny",
    );
    expect(evaluate([p, full], { action: "cr:DeleteRepository", resource: repo("sandbox", "x") }).decision).toBe(
      "Allow",
    );
  });
});

describe("evaluate: deny precedence", () => {
  const full = policy("full", allow("cr:*", "*"));
  const noDelete = policy("no-delete", deny("cr:Delete*", "acs:cr:*:*:repository/prod/*"));

  it("an applicable Deny beats any Allow, whatever the order", () => {
    const req = { action: "cr:DeleteRepository", resource: repo("prod", "x") };
    expect(evaluate([full, noDelete], req)).toEqual({
      decision: "ExplicitDeny",
      matched: [{ policy: "no-delete", statement: 0, effect: "Deny" }],
    });
    expect(evaluate([noDelete, full], req).decision).toBe("ExplicitDeny");
  });

  it("a Deny that does not apply leaves the Allow", () => {
    expect(evaluate([full, noDelete], { action: "cr:DeleteRepository", resource: repo("dev", "x") }).decision).toBe(
      "Allow",
    );
  });

  it("no policies: ImplicitDeny", () => {
    expect(evaluate([], { action: "cr:GetRepository", resource: repo("a", "b") })).toEqual({
      decision: "ImplicitDeny",
      matched: [],
    });
  });
});

describe("evaluate: system policies", () => {
  const [fullAccess, readOnly] = SYSTEM_POLICIES.map((p) => parsePolicy(p.document, { name: p.name }));
  it("full access allows everything in cr", () => {
    expect(evaluate([fullAccess!], { action: "cr:DeleteNamespace", resource: ns("x") }).decision).toBe("Allow");
    expect(evaluate([fullAccess!], { action: "ram:CreateUser", resource: "acs:ram:*:1:user/x" }).decision).toBe(
      "ImplicitDeny",
    );
  });
  it("read-only allows Get, List and Pull only", () => {
    expect(evaluate([readOnly!], { action: "cr:PullRepository", resource: repo("a", "b") }).decision).toBe("Allow");
    expect(evaluate([readOnly!], { action: "cr:PushRepository", resource: repo("a", "b") }).decision).toBe(
      "ImplicitDeny",
    );
  });
});
