import { describe, expect, it } from "vitest";
import { permits } from "../../src/console/permissions.ts";
import type { Principal } from "../../src/iam/principal.ts";
import { parsePolicy } from "../../src/policy/index.ts";

const ACCOUNT = "1234567890123456";
const dev: Principal = { accountId: ACCOUNT, alias: "acme", kind: "user", userId: 7, userName: "dev1" };
const root: Principal = { accountId: ACCOUNT, alias: "acme", kind: "root" };
const manageAlitest1 = parsePolicy({
  Version: "1",
  Statement: [
    { Effect: "Allow", Action: ["cr:*"], Resource: ["acs:cr:*:*:repository/alitest1/*"] },
    {
      Effect: "Deny",
      Action: ["cr:CancelBuildRepository"],
      Resource: ["*"],
      Condition: { StringEquals: { "cr:Region": "cn-beijing" } },
    },
  ],
});
const policiesOf = (userId: number) => (userId === 7 ? [manageAlitest1] : []);
const can = (p: Principal, route: string, parts: Record<string, string> = {}, context: Record<string, string> = {}) =>
  permits(p, policiesOf, route, parts, context);
const REPO = "/api/v1/regions/{region}/repositories/{ns}/{repo}";

describe("permits: which actions the console offers, from the access table and the caller's policies", () => {
  it("fills the route's resource from the page's parts and the caller's account", () => {
    expect(can(dev, `DELETE ${REPO}`, { region: "cn-hongkong", ns: "alitest1", repo: "test" })).toBe(true);
    expect(can(dev, `DELETE ${REPO}`, { region: "cn-hongkong", ns: "other1", repo: "test" })).toBe(false);
  });

  it("reads a build's repository from build.* parts, and the request context decides conditions", () => {
    const build = { "build.region": "cn-hongkong", "build.ns": "alitest1", "build.repo": "test" };
    expect(can(dev, "POST /api/v1/builds/{id}/cancel", build, { "cr:Region": "cn-hongkong" })).toBe(true);
    expect(
      can(
        dev,
        "POST /api/v1/builds/{id}/cancel",
        { ...build, "build.region": "cn-beijing" },
        { "cr:Region": "cn-beijing" },
      ),
    ).toBe(false);
  });

  it("offers a create form when some Allow names the action, before the new resource's name is known", () => {
    expect(can(dev, "POST /api/v1/regions/{region}/repositories", { region: "cn-hongkong" })).toBe(true);
    expect(
      can(dev, "POST /api/v1/namespaces", { region: "cn-hongkong" }),
      "cr:* on repositories names CreateNamespace too",
    ).toBe(true);
    expect(can(dev, "POST /api/v1/users")).toBe(false);
  });

  it("root may do anything in its account; self routes need no policy; admin routes are never offered", () => {
    expect(can(root, "POST /api/v1/users")).toBe(true);
    expect(can(dev, "PUT /api/v1/me/registry-password")).toBe(true);
    expect(can(root, "POST /api/v1/accounts")).toBe(false);
    expect(can(dev, "GET /api/v1/audit"), "root-only").toBe(false);
  });

  it("a route the access table does not list is a programming error, not a silent no", () => {
    expect(() => can(dev, "GET /api/v1/nowhere")).toThrow(/does not list/);
  });
});
