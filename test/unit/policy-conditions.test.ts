import { describe, expect, it } from "vitest";
import { evaluate, OPERATORS, parsePolicy, type RequestContext } from "../../src/policy/index.ts";

function decide(operator: string, key: string, values: unknown, context: RequestContext): string {
  const p = parsePolicy({
    Version: "1",
    Statement: [{ Effect: "Allow", Action: "cr:*", Resource: "*", Condition: { [operator]: { [key]: values } } }],
  });
  return evaluate([p], { action: "cr:GetRepository", resource: "r", context }).decision;
}
const holds = (op: string, values: unknown, value: string | string[] | undefined, key = "k:x") =>
  decide(op, key, values, value === undefined ? {} : { [key]: value }) === "Allow";

describe("condition operators", () => {
  const cases: [string, unknown, string | string[], boolean][] = [
    ["StringEquals", "prod", "prod", true],
    ["StringEquals", "prod", "Prod", false],
    ["StringEquals", ["dev", "prod"], "prod", true],
    ["StringEquals", "prod", ["dev", "prod"], true],
    ["StringNotEquals", "prod", "dev", true],
    ["StringNotEquals", ["dev", "prod"], "prod", false],
    ["StringEqualsIgnoreCase", "prod", "PROD", true],
    ["StringEqualsIgnoreCase", "prod", "prods", false],
    ["StringNotEqualsIgnoreCase", "prod", "PROD", false],
    ["StringNotEqualsIgnoreCase", "prod", "dev", true],
    ["StringLike", "docker/*", "docker/24.0 go/1.21", true],
    ["StringLike", "docker/??.0", "docker/24.0", true],
    ["StringLike", "docker/*", "curl/8", false],
    ["StringNotLike", "docker/*", "curl/8", true],
    ["StringNotLike", "docker/*", "docker/1", false],
    ["NumericEquals", 10, "10", true],
    ["NumericEquals", "10", "10.0", true],
    ["NumericEquals", 10, "11", false],
    ["NumericEquals", 10, "ten", false],
    ["NumericNotEquals", 10, "11", true],
    ["NumericNotEquals", 10, "10", false],
    ["NumericLessThan", 10, "9.5", true],
    ["NumericLessThan", 10, "10", false],
    ["NumericLessThanEquals", 10, "10", true],
    ["NumericLessThanEquals", 10, "11", false],
    ["NumericGreaterThan", 10, "11", true],
    ["NumericGreaterThan", 10, "10", false],
    ["NumericGreaterThanEquals", 10, "10", true],
    ["NumericGreaterThanEquals", 10, "-3", false],
    ["DateEquals", "2026-01-01T08:00:00+08:00", "2026-01-01T00:00:00Z", true],
    ["DateEquals", "2026-01-01T00:00:00Z", "2026-01-01T00:00:01Z", false],
    ["DateNotEquals", "2026-01-01T00:00:00Z", "2026-01-01T00:00:01Z", true],
    ["DateNotEquals", "2026-01-01T00:00:00+0000", "2026-01-01T00:00:00Z", false],
    ["DateLessThan", "2026-06-01T00:00:00Z", "2026-05-31T23:59:59Z", true],
    ["DateLessThan", "2026-06-01T00:00:00Z", "2026-06-01T07:00:00+08:00", true],
    ["DateLessThan", "2026-06-01T00:00:00Z", "2026-06-01T09:00:00+08:00", false],
    ["DateLessThanEquals", "2026-06-01", "2026-06-01T00:00:00Z", true],
    ["DateLessThanEquals", "2026-06-01", "2026-06-01T00:00:01Z", false],
    ["DateGreaterThan", "2026-06-01T00:00:00Z", "2026-06-01T00:00:00.001Z", true],
    ["DateGreaterThan", "2026-06-01T00:00:00Z", "2026-06-01T00:00:00Z", false],
    ["DateGreaterThanEquals", "2026-06-01T00:00:00Z", "2026-06-01T00:00:00Z", true],
    ["DateGreaterThanEquals", "2026-06-01T00:00:00Z", "not a date", false],
    ["Bool", true, "true", true],
    ["Bool", "true", "TRUE", true],
    ["Bool", "true", "false", false],
    ["IpAddress", "10.0.0.0/8", "10.20.30.40", true],
    ["IpAddress", ["192.168.1.0/24", "10.0.0.0/8"], "192.168.1.77", true],
    ["IpAddress", "10.0.0.0/8", "11.0.0.1", false],
    ["IpAddress", "10.0.0.0/8", "::ffff:10.1.2.3", true],
    ["IpAddress", "203.0.113.7", "203.0.113.7", true],
    ["IpAddress", "203.0.113.7", "203.0.113.8", false],
    ["IpAddress", "2001:db8::/32", "2001:db8:1::5", true],
    ["IpAddress", "2001:db8::/32", "2001:db9::5", false],
    ["IpAddress", "10.0.0.0/8", "garbage", false],
    ["NotIpAddress", "10.0.0.0/8", "11.0.0.1", true],
    ["NotIpAddress", "10.0.0.0/8", "10.0.0.1", false],
  ];

  it.each(cases)("%s %j against %j → %s", (op, values, value, expected) => {
    expect(holds(op, values, value)).toBe(expected);
  });

  it("covers every operator the design lists", () => {
    const tested = new Set(cases.map(([op]) => op));
    expect([...Object.keys(OPERATORS)].filter((op) => !tested.has(op))).toEqual([]);
  });

  it("a missing key makes positive operators false and negated ones true", () => {
    for (const op of Object.keys(OPERATORS)) {
      const value = op.startsWith("Numeric")
        ? 1
        : op.startsWith("Date")
          ? "2026-01-01"
          : op === "Bool"
            ? true
            : op.includes("Ip")
              ? "10.0.0.0/8"
              : "x";
      const negated = op.includes("Not");
      expect([op, holds(op, value, undefined)]).toEqual([op, negated]);
    }
  });

  it("ANDs keys under one operator and operators, ORs values of one key", () => {
    const p = parsePolicy({
      Version: "1",
      Statement: [
        {
          Effect: "Allow",
          Action: "cr:*",
          Resource: "*",
          Condition: {
            IpAddress: { "acs:SourceIp": ["10.0.0.0/8", "192.168.0.0/16"] },
            StringEquals: { "cr:Region": "cn-hongkong", "acs:SecureTransport": "true" },
          },
        },
      ],
    });
    const base = { "acs:SourceIp": "192.168.3.4", "cr:Region": "cn-hongkong", "acs:SecureTransport": "true" };
    const run = (context: RequestContext) =>
      evaluate([p], { action: "cr:GetRepository", resource: "r", context }).decision;
    expect(run(base)).toBe("Allow");
    expect(run({ ...base, "acs:SourceIp": "8.8.8.8" })).toBe("ImplicitDeny");
    expect(run({ ...base, "cr:Region": "cn-beijing" })).toBe("ImplicitDeny");
    expect(run({ ...base, "acs:SecureTransport": "false" })).toBe("ImplicitDeny");
  });

  it("treats condition keys case-insensitively", () => {
    expect(decide("StringEquals", "acs:UserAgent", "docker", { "ACS:useragent": "docker" })).toBe("Allow");
  });

  it("a Deny with a condition applies only when the condition holds", () => {
    const p = parsePolicy({
      Version: "1",
      Statement: [
        { Effect: "Allow", Action: "cr:*", Resource: "*" },
        {
          Effect: "Deny",
          Action: "cr:*",
          Resource: "*",
          Condition: { NotIpAddress: { "acs:SourceIp": "10.0.0.0/8" } },
        },
      ],
    });
    expect(
      evaluate([p], { action: "cr:GetRepository", resource: "r", context: { "acs:SourceIp": "10.1.1.1" } }).decision,
    ).toBe("Allow");
    expect(
      evaluate([p], { action: "cr:GetRepository", resource: "r", context: { "acs:SourceIp": "1.1.1.1" } }).decision,
    ).toBe("ExplicitDeny");
    expect(evaluate([p], { action: "cr:GetRepository", resource: "r" }).decision).toBe("ExplicitDeny");
  });
});
