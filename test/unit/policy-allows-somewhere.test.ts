import { describe, expect, it } from "vitest";
import { allowsSomewhere, parsePolicy } from "../../src/policy/index.ts";

const policy = (statement: object) => parsePolicy({ Version: "1", Statement: [statement] });

describe("allowsSomewhere: may the console offer a form whose resource is not known yet", () => {
  it("is true when an Allow names the action on any resource", () => {
    const p = policy({ Effect: "Allow", Action: "cr:Create*", Resource: "acs:cr:*:*:repository/alitest1/*" });
    expect(allowsSomewhere([p], "cr:CreateRepository")).toBe(true);
    expect(allowsSomewhere([p], "CR:CREATEREPOSITORY")).toBe(true);
  });

  it("is false for the read-only seed policy and for a Deny", () => {
    const read = policy({
      Effect: "Allow",
      Action: ["cr:Get*", "cr:List*", "cr:PullRepository"],
      Resource: "acs:cr:*:*:repository/alitest1/*",
    });
    const deny = policy({ Effect: "Deny", Action: "cr:CreateRepository", Resource: "*" });
    expect(allowsSomewhere([read, deny], "cr:CreateRepository")).toBe(false);
    expect(allowsSomewhere([read], "cr:ListNamespace")).toBe(true);
  });

  it("reads NotAction as everything but the listed actions", () => {
    const p = policy({ Effect: "Allow", NotAction: "ram:*", Resource: "*" });
    expect(allowsSomewhere([p], "cr:CreateNamespace")).toBe(true);
    expect(allowsSomewhere([p], "ram:CreateUser")).toBe(false);
  });
});
