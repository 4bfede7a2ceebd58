import { describe, expect, it } from "vitest";
import { compileSource, matchRule, type PushFacts, type RuleSpec } from "../../src/builds/rule-match.ts";
import { renderTag, templateError } from "../../src/builds/tag-template.ts";

const SHA = "6113728f27ae82c7b1a177c8d03f9e96e0adf246";
const push = (kind: "branch" | "tag", name: string, extra: Partial<PushFacts> = {}): PushFacts => ({
  kind,
  name,
  commit: SHA,
  ...extra,
});

describe("tag templates", () => {
  it.each([
    ["{sourceref}", "main", "main"],
    ["{sourceref}", "feature/login-form", "feature-login-form"],
    ["node6-{sourceref}", "release/1.2", "node6-release-1.2"],
    ["{sourceref}-{shortsha}", "main", "main-6113728"],
    ["sha-{commit}", "main", `sha-${SHA}`],
    ["{semver.major}.{semver.minor}", "v1.4.2", "1.4"],
    ["{semver.major}", "2.0.11", "2"],
    ["{semver.patch}", "v1.4.2-rc.1", "2"],
    ["latest", "anything", "latest"],
  ])("%s for %s → %s", (template, name, tag) => {
    expect(renderTag(template, { name, commit: SHA })).toEqual({ ok: true, tag });
  });

  it("fills positional and named captures", () => {
    expect(
      renderTag("{\\1}.{\\2}-{env}", { name: "x", commit: SHA, captures: ["x", "1", "4"], groups: { env: "prod" } }),
    ).toEqual({ ok: true, tag: "1.4-prod" });
  });

  it("sanitises characters a tag cannot hold", () => {
    expect(renderTag("{sourceref}", { name: "feat/üñí code", commit: SHA })).toEqual({
      ok: true,
      tag: "feat-----code",
    });
  });

  it.each([
    ["{semver.major}", "main", /semver.major/],
    ["{\\3}", "main", /\\3/],
    ["{sourceref}", ".hidden", /not a valid tag/],
    ["{sourceref}", "-dash", /not a valid tag/],
  ])("refuses %s for %s with a reason", (template, name, reason) => {
    const r = renderTag(template, { name, commit: SHA, captures: ["main"] });
    expect(r.ok).toBe(false);
    expect(r.ok === false && r.reason).toMatch(reason);
  });

  it.each([
    ["{sourceref}", undefined],
    ["{\\1}.{\\2}", undefined],
    ["{nope!}", /unknown placeholder/],
    ["{sourceref", /unbalanced/],
    ["", /1–256/],
  ])("validates %j", (template, error) => {
    const e = templateError(template);
    if (error) expect(e).toMatch(error);
    else expect(e).toBeUndefined();
  });
});

describe("rule matching", () => {
  // The release rule, anchors and all.
  const release: RuleSpec = {
    sourceType: "tag",
    source: "/^v(\\d+)\\.(\\d+)\\.(\\d+)$/",
    tags: ["{\\1}.{\\2}.{\\3}", "{\\1}.{\\2}", "latest"],
  };

  it("release tagging: v1.4.2 becomes three tags", () => {
    expect(matchRule(release, push("tag", "v1.4.2"))).toEqual({
      matched: true,
      tags: ["1.4.2", "1.4", "latest"],
      refused: [],
    });
  });

  it.each<[string, RuleSpec, PushFacts, boolean | RegExp]>([
    ["exact branch", { sourceType: "branch", source: "main", tags: ["{sourceref}"] }, push("branch", "main"), true],
    [
      "exact branch, other name",
      { sourceType: "branch", source: "main", tags: ["x"] },
      push("branch", "main2"),
      /does not match/,
    ],
    [
      "branch rule, tag push",
      { sourceType: "branch", source: "main", tags: ["x"] },
      push("tag", "main"),
      /builds branches/,
    ],
    [
      "regex is a whole-name match",
      { sourceType: "branch", source: "/release-\\d+/", tags: ["x"] },
      push("branch", "release-12-hotfix"),
      /does not match/,
    ],
    [
      "regex matches",
      { sourceType: "branch", source: "/release-\\d+/", tags: ["x"] },
      push("branch", "release-12"),
      true,
    ],
    [
      "disabled",
      { sourceType: "branch", source: "main", tags: ["x"], enabled: false },
      push("branch", "main"),
      /disabled/,
    ],
    [
      "skip marker",
      { sourceType: "branch", source: "main", tags: ["x"] },
      push("branch", "main", { headCommitMessage: "docs [skip build]" }),
      /skip/,
    ],
    [
      "other skip marker",
      { sourceType: "branch", source: "main", tags: ["x"] },
      push("branch", "main", { headCommitMessage: "WIP [Build Skip]" }),
      /skip/,
    ],
    [
      "include hit",
      { sourceType: "branch", source: "main", tags: ["x"], includePaths: ["app/**"] },
      push("branch", "main", { changedFiles: ["README.md", "app/src/a.js"] }),
      true,
    ],
    [
      "include miss",
      { sourceType: "branch", source: "main", tags: ["x"], includePaths: ["app/**"] },
      push("branch", "main", { changedFiles: ["README.md"] }),
      /includePaths/,
    ],
    [
      "exclude all",
      { sourceType: "branch", source: "main", tags: ["x"], excludePaths: ["docs/**", "*.md"] },
      push("branch", "main", { changedFiles: ["README.md", "docs/a.txt"] }),
      /excludePaths/,
    ],
    [
      "exclude some",
      { sourceType: "branch", source: "main", tags: ["x"], excludePaths: ["docs/**"] },
      push("branch", "main", { changedFiles: ["docs/a.txt", "src/b.ts"] }),
      true,
    ],
    [
      "unknown changed files do not filter",
      { sourceType: "branch", source: "main", tags: ["x"], includePaths: ["app/**"] },
      push("branch", "main"),
      true,
    ],
    [
      "no valid tag at all",
      { sourceType: "branch", source: "main", tags: ["{semver.major}"] },
      push("branch", "main"),
      /no valid tag/,
    ],
  ])("%s", (_what, rule, facts, expected) => {
    const outcome = matchRule(rule, facts);
    if (expected === true) expect(outcome.matched).toBe(true);
    else expect(outcome).toEqual({ matched: false, reason: expect.stringMatching(expected as RegExp) });
  });

  it("keeps the good tags and reports the refused ones", () => {
    const outcome = matchRule(
      { sourceType: "branch", source: "main", tags: ["{sourceref}", "{semver.major}"] },
      push("branch", "main"),
    );
    expect(outcome).toMatchObject({ matched: true, tags: ["main"], refused: [{ template: "{semver.major}" }] });
  });

  it("named groups feed templates", () => {
    const outcome = matchRule(
      { sourceType: "branch", source: "/(?<env>dev|prod)-(?<svc>\\w+)/", tags: ["{svc}-{env}"] },
      push("branch", "prod-api"),
    );
    expect(outcome).toMatchObject({ matched: true, tags: ["api-prod"] });
  });

  it("a malformed regex throws when compiled", () => {
    expect(() => compileSource("/(unclosed/")).toThrow();
  });
});
