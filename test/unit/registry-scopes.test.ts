import { describe, expect, it } from "vitest";
import { normalizeEnvelope } from "../../src/registry/notifications.ts";
import { parseScopes, ramActionOf, ScopeError } from "../../src/registry/scopes.ts";

describe("registry scopes", () => {
  it.each([
    [["repository:ns/repo:pull,push"], [{ type: "repository", name: "ns/repo", actions: ["pull", "push"] }]],
    [
      ["repository:ns/repo:pull repository:ns/other:push"],
      [
        { type: "repository", name: "ns/repo", actions: ["pull"] },
        { type: "repository", name: "ns/other", actions: ["push"] },
      ],
    ],
    [
      ["repository:localhost:5000/ns/repo:pull"],
      [{ type: "repository", name: "localhost:5000/ns/repo", actions: ["pull"] }],
    ],
    [["registry:catalog:*"], [{ type: "registry", name: "catalog", actions: ["*"] }]],
    [["repository:ns/repo:pull,pull"], [{ type: "repository", name: "ns/repo", actions: ["pull"] }]],
    [[], []],
  ])("%j", (input, expected) => {
    expect(parseScopes(input)).toEqual(expected);
  });

  it.each([["repository"], ["repository:ns/repo"], [":ns:pull"]])("refuses %s", (scope) => {
    expect(() => parseScopes([scope])).toThrow(ScopeError);
  });

  it("maps pull, push and delete to RAM actions, and nothing else", () => {
    expect(["pull", "push", "delete", "*", "constructor"].map(ramActionOf)).toEqual([
      "cr:PullRepository",
      "cr:PushRepository",
      "cr:DeleteRepositoryTag",
      undefined,
      undefined,
    ]);
  });
});

describe("registry notification envelopes", () => {
  const push = (mediaType: string, tag?: string) => ({
    id: `e-${mediaType}`,
    timestamp: "2026-11-28T10:00:00.5+08:00",
    action: "push",
    target: { mediaType, size: 527, digest: "sha256:abc", repository: "ns/repo", tag },
    request: { addr: "127.0.0.1:4000" },
    actor: { name: "dev1@acme" },
  });

  it("keeps manifest pushes and deletions, drops blobs, pulls and junk", () => {
    const events = normalizeEnvelope({
      events: [
        push("application/vnd.docker.distribution.manifest.v2+json", "node6"),
        push("application/octet-stream"),
        { ...push("application/vnd.oci.image.manifest.v1+json", "x"), action: "pull", id: "pull-1" },
        {
          id: "d1",
          action: "delete",
          target: { repository: "ns/repo", digest: "sha256:abc" },
          timestamp: "2026-11-28T02:00:00Z",
        },
        { nonsense: true },
      ],
    });
    expect(events).toEqual([
      {
        id: "e-application/vnd.docker.distribution.manifest.v2+json",
        action: "push",
        repository: "ns/repo",
        tag: "node6",
        digest: "sha256:abc",
        mediaType: "application/vnd.docker.distribution.manifest.v2+json",
        size: 527,
        actor: "dev1@acme",
        sourceAddr: "127.0.0.1:4000",
        occurredAt: "2026-11-28T02:00:00.500Z",
      },
      {
        id: "d1",
        action: "delete",
        repository: "ns/repo",
        tag: undefined,
        digest: "sha256:abc",
        mediaType: undefined,
        size: undefined,
        actor: undefined,
        sourceAddr: undefined,
        occurredAt: "2026-11-28T02:00:00.000Z",
      },
    ]);
  });

  it("an envelope that is not one yields nothing", () => {
    expect(normalizeEnvelope(null)).toEqual([]);
    expect(normalizeEnvelope({ events: "x" })).toEqual([]);
  });
});
