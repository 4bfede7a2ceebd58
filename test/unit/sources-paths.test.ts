import { describe, expect, it } from "vitest";
import { repoPath } from "../../src/builds/paths.ts";
import { seal, unseal } from "../../src/crypto/seal.ts";
import { checkRepoUrl } from "../../src/sources/repo-url.ts";

describe("clone URLs", () => {
  it.each([
    ["https://github.com/Codertocat/Hello-World.git", "github.com/codertocat/hello-world"],
    ["git@github.com:Codertocat/Hello-World.git", "github.com/codertocat/hello-world"],
    ["ssh://git@gitlab.example.com:2222/mike/diaspora.git", "gitlab.example.com/mike/diaspora"],
    ["http://localhost:3000/gitea/webhooks", "localhost/gitea/webhooks"],
  ])("%s is the code repository %s", (url, key) => {
    expect(checkRepoUrl(url, false)).toEqual({ ok: true, key });
  });

  it.each([
    ["file:///srv/git/app.git", /KILN_ALLOW_LOCAL_GIT/],
    ["/srv/git/app.git", /KILN_ALLOW_LOCAL_GIT/],
    ["ftp://example.com/repo.git", /scheme ftp/],
    ["--upload-pack=touch /tmp/x", /start with '-'/],
    ["https://user:secret@github.com/a/b.git", /password/],
    ["not a url", /spaces/],
    ["ext::sh -c touch% /tmp/pwned", /spaces/],
  ])("refuses %s", (url, reason) => {
    const r = checkRepoUrl(url, false);
    expect(r.ok).toBe(false);
    expect(!r.ok && r.reason).toMatch(reason);
  });

  it("local paths with KILN_ALLOW_LOCAL_GIT", () => {
    expect(checkRepoUrl("file:///srv/git/app.git", true)).toEqual({ ok: true, key: "file/srv/git/app" });
    expect(checkRepoUrl("/srv/../etc", true).ok).toBe(false);
  });
});

describe("paths inside the repository", () => {
  it.each([
    ["/", ""],
    ["docker/node6", "docker/node6"],
    ["./a//b/", "a/b"],
  ])("%s → %j", (value, path) => {
    expect(repoPath(value, "dockerfileDir")).toEqual({ ok: true, path });
  });
  it.each([["../etc"], ["a/../../b"], ["a\\b"], ["a\0b"]])("refuses %j", (value) => {
    expect(repoPath(value, "dockerfileDir").ok).toBe(false);
  });
});

describe("sealing", () => {
  const key = Buffer.alloc(32, 1);
  it("round-trips and hides the plaintext", () => {
    const sealed = seal(key, "webhook-secret");
    expect(sealed).not.toContain("webhook-secret");
    expect(unseal(key, sealed)).toBe("webhook-secret");
    expect(seal(key, "x")).not.toBe(seal(key, "x"));
  });
  it("refuses another key or a tampered box", () => {
    const sealed = seal(key, "s");
    expect(() => unseal(Buffer.alloc(32, 2), sealed)).toThrow();
    expect(() => unseal(key, sealed.slice(0, -4) + "AAAA")).toThrow();
  });
});
