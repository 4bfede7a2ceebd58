import { describe, expect, it } from "vitest";
import { parsePolicy, PolicyError } from "../../src/policy/index.ts";

function errorOf(doc: unknown): PolicyError {
  try {
    parsePolicy(doc);
  } catch (err) {
    if (err instanceof PolicyError) return err;
    throw err;
  }
  throw new Error("expected a PolicyError");
}

const allow = (extra: Record<string, unknown> = {}) => ({
  Effect: "Allow",
  Action: "cr:PullRepository",
  Resource: "*",
  ...extra,
});

describe("parsePolicy", () => {
  it("accepts the seed policy and normalises strings to one-element arrays", () => {
    const p = parsePolicy({
      Version: "1",
      Statement: [{ Effect: "Allow", Action: "cr:*", Resource: "acs:cr:*:*:repository/a/*" }],
    });
    expect(p.document.Statement[0]).toEqual({
      Effect: "Allow",
      Action: ["cr:*"],
      Resource: ["acs:cr:*:*:repository/a/*"],
    });
  });

  it("accepts the JSON text of a document", () => {
    expect(parsePolicy(JSON.stringify({ Version: "1", Statement: [allow()] })).statements).toHaveLength(1);
  });

  it.each([
    ["not an object", [], ""],
    ["missing Version", { Statement: [allow()] }, "Version"],
    ["wrong Version", { Version: "2012-10-17", Statement: [allow()] }, "Version"],
    ["numeric Version", { Version: 1, Statement: [allow()] }, "Version"],
    ["missing Statement", { Version: "1" }, "Statement"],
    ["empty Statement", { Version: "1", Statement: [] }, "Statement"],
    ["unknown top-level element", { Version: "1", Statement: [allow()], Statements: [] }, "Statements"],
    ["statement not an object", { Version: "1", Statement: ["x"] }, "Statement[0]"],
    [
      "misspelled statement element",
      { Version: "1", Statement: [allow(), { ...allow(), Actions: "x:y" }] },
      "Statement[1].Actions",
    ],
    ["missing Effect", { Version: "1", Statement: [{ Action: "cr:*", Resource: "*" }] }, "Statement[0].Effect"],
    ["bad Effect", { Version: "1", Statement: [allow({ Effect: "allow" })] }, "Statement[0].Effect"],
    [
      "both Action and NotAction",
      { Version: "1", Statement: [allow({ NotAction: "cr:Get*" })] },
      "Statement[0].NotAction",
    ],
    [
      "neither Action nor NotAction",
      { Version: "1", Statement: [{ Effect: "Allow", Resource: "*" }] },
      "Statement[0].Action",
    ],
    [
      "both Resource and NotResource",
      { Version: "1", Statement: [allow({ NotResource: "*" })] },
      "Statement[0].NotResource",
    ],
    [
      "neither Resource nor NotResource",
      { Version: "1", Statement: [{ Effect: "Allow", Action: "cr:*" }] },
      "Statement[0].Resource",
    ],
    ["empty Action list", { Version: "1", Statement: [allow({ Action: [] })] }, "Statement[0].Action"],
    ["non-string Action item", { Version: "1", Statement: [allow({ Action: ["cr:*", 3] })] }, "Statement[0].Action[1]"],
    ["malformed action", { Version: "1", Statement: [allow({ Action: ["PullRepository"] })] }, "Statement[0].Action"],
    ["empty Resource string", { Version: "1", Statement: [allow({ Resource: "" })] }, "Statement[0].Resource"],
    [
      "misspelled operator",
      { Version: "1", Statement: [allow({ Condition: { StringEqual: { "acs:UserAgent": "x" } } })] },
      "Statement[0].Condition.StringEqual",
    ],
    [
      "unknown operator",
      { Version: "1", Statement: [allow(), allow({ Condition: { IpAddres: { "acs:SourceIp": "1.2.3.4" } } })] },
      "Statement[1].Condition.IpAddres",
    ],
    ["Condition not an object", { Version: "1", Statement: [allow({ Condition: "yes" })] }, "Statement[0].Condition"],
    [
      "operator block empty",
      { Version: "1", Statement: [allow({ Condition: { Bool: {} } })] },
      "Statement[0].Condition.Bool",
    ],
    [
      "bad IP",
      { Version: "1", Statement: [allow({ Condition: { IpAddress: { "acs:SourceIp": "10.0.0.0/33" } } })] },
      "Statement[0].Condition.IpAddress.acs:SourceIp",
    ],
    [
      "bad number",
      { Version: "1", Statement: [allow({ Condition: { NumericLessThan: { "x:n": ["1", "ten"] } } })] },
      "Statement[0].Condition.NumericLessThan.x:n[1]",
    ],
    [
      "bad date",
      { Version: "1", Statement: [allow({ Condition: { DateLessThan: { "acs:CurrentTime": "tomorrow" } } })] },
      "Statement[0].Condition.DateLessThan.acs:CurrentTime",
    ],
    [
      "bad bool",
      { Version: "1", Statement: [allow({ Condition: { Bool: { "acs:SecureTransport": "yes" } } })] },
      "Statement[0].Condition.Bool.acs:SecureTransport",
    ],
    [
      "object as condition value",
      { Version: "1", Statement: [allow({ Condition: { StringEquals: { k: { a: 1 } } } })] },
      "Statement[0].Condition.StringEquals.k",
    ],
  ])("rejects %s, naming %s", (_label, doc, path) => {
    const err = errorOf(doc);
    expect(err.path).toBe(path);
    expect(err.message.length).toBeGreaterThan(path.length);
  });

  it("suggests the right spelling of a miscased element", () => {
    expect(
      errorOf({ Version: "1", Statement: [{ effect: "Allow", Action: "cr:*", Resource: "*" }] }).message,
    ).toContain('did you mean "Effect"');
    expect(
      errorOf({ Version: "1", Statement: [allow({ Condition: { stringequals: { k: "v" } } })] }).message,
    ).toContain('did you mean "StringEquals"');
  });

  it("reports malformed JSON text as a PolicyError", () => {
    expect(errorOf("{not json").message).toMatch(/not valid JSON/);
  });
});
