import examples from "@octokit/webhooks-examples";
import { createHmac } from "node:crypto";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { PROVIDERS } from "../../src/sources/providers/index.ts";
import { receive } from "../../src/sources/receive.ts";
import type { ProviderId, PushEvent, WebhookRequest } from "../../src/sources/types.ts";

const SECRET = "hook-secret-0123456789";
const fixture = (name: string) => readFileSync(new URL(`../fixtures/webhooks/${name}`, import.meta.url));
const githubExample = (event: string, match: (p: any) => boolean) =>
  Buffer.from(
    JSON.stringify(
      (examples as unknown as { name: string; examples: any[] }[]).find((e) => e.name === event)!.examples.find(match),
    ),
  );
const hmac = (body: Buffer, encoding: "hex" | "base64" = "hex", secret = SECRET) =>
  createHmac("sha256", secret).update(body).digest(encoding);

function request(headers: Record<string, string>, rawBody: Buffer): WebhookRequest {
  const lower = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
  return { header: (name) => lower[name.toLowerCase()], rawBody };
}

/** Headers each provider sends for a push, signed the way it signs. */
function signed(provider: ProviderId, body: Buffer, event?: string): WebhookRequest {
  switch (provider) {
    case "github":
      return request(
        {
          "X-GitHub-Event": event ?? "push",
          "X-GitHub-Delivery": "72d3162e-cc78-11e3-81ab-4c9367dc0958",
          "X-Hub-Signature-256": `sha256=${hmac(body)}`,
        },
        body,
      );
    case "gitea":
      return request(
        {
          "X-Gitea-Event": event ?? "push",
          "X-Gitea-Delivery": "f6266f16-1bf3-46a5-9ea4-602e06ead473",
          "X-Gitea-Signature": hmac(body),
          "X-GitHub-Event": "push",
        },
        body,
      );
    case "gitlab":
      return request(
        {
          "X-Gitlab-Event": event ?? "Push Hook",
          "X-Gitlab-Token": SECRET,
          "X-Gitlab-Event-UUID": "13792a34-cac6-4fda-95a8-c58e00a3954e",
        },
        body,
      );
    case "codeup":
      return request({ "X-Codeup-Event": event ?? "Push Hook", "X-Codeup-Token": SECRET }, body);
    case "gitee": {
      const timestamp = String(Date.now());
      return request(
        {
          "X-Gitee-Event": event ?? "Push Hook",
          "X-Gitee-Token": createHmac("sha256", SECRET).update(`${timestamp}\n${SECRET}`).digest("base64"),
          "X-Gitee-Timestamp": timestamp,
        },
        body,
      );
    }
    case "bitbucket":
      return request(
        {
          "X-Event-Key": event ?? "repo:push",
          "X-Request-UUID": "afe3a5ae-5ad2-4c2f-9de2-4b2bd1e0f4a2",
          "X-Hub-Signature": `sha256=${hmac(body)}`,
        },
        body,
      );
    case "git":
      return request({ Authorization: `Bearer ${SECRET}` }, body);
  }
}

function eventsOf(provider: ProviderId, body: Buffer, event?: string): PushEvent[] {
  const r = receive(PROVIDERS[provider], signed(provider, body, event), SECRET, "hook1");
  if (!r.ok) throw new Error(r.reason);
  if ("ignored" in r.normalized) throw new Error(r.normalized.ignored);
  return r.normalized.events;
}

describe("webhook providers normalise their published payloads", () => {
  it("GitHub branch push (octokit example)", () => {
    const [e] = eventsOf(
      "github",
      githubExample("push", (p) => p.ref === "refs/heads/master"),
    );
    expect(e).toMatchObject({
      kind: "branch",
      ref: "refs/heads/master",
      name: "master",
      commit: "6113728f27ae82c7b1a177c8d03f9e96e0adf246",
      pusher: "Codertocat",
    });
    expect(e!.cloneUrls).toContain("https://github.com/Codertocat/Hello-World.git");
  });

  it("GitHub tag push and tag deletion (octokit examples)", () => {
    expect(
      eventsOf(
        "github",
        githubExample("push", (p) => p.ref === "refs/tags/simple-tag" && p.created),
      )[0],
    ).toMatchObject({ kind: "tag", name: "simple-tag" });
    expect(
      eventsOf(
        "github",
        githubExample("push", (p) => p.ref === "refs/tags/simple-tag" && p.deleted),
      )[0],
    ).toMatchObject({ kind: "delete", name: "simple-tag", commit: "" });
  });

  it("GitHub ping (octokit example)", () => {
    expect(
      eventsOf(
        "github",
        githubExample("ping", () => true),
        "ping",
      ),
    ).toEqual([{ kind: "ping", ref: "", name: "", commit: "", cloneUrls: [] }]);
  });

  it("GitLab push with changed files", () => {
    const [e] = eventsOf("gitlab", fixture("gitlab-push.json"));
    expect(e).toEqual({
      kind: "branch",
      ref: "refs/heads/master",
      name: "master",
      commit: "da1560886d4f094c3e6c9ef40349f7d38b5d27d7",
      cloneUrls: ["http://example.com/mike/diaspora.git", "git@example.com:mike/diaspora.git"],
      changedFiles: ["CHANGELOG", "app/controller/application.rb"],
      headCommitMessage: "fixed readme",
      pusher: "jsmith",
    });
  });

  it("GitLab tag push", () => {
    expect(eventsOf("gitlab", fixture("gitlab-tag-push.json"), "Tag Push Hook")[0]).toMatchObject({
      kind: "tag",
      name: "v1.0.0",
      commit: "82b3d5ae55f7080f1e6022629cdb57bfae7cccc7",
    });
  });

  it("GitLab branch deletion", () => {
    const body = JSON.parse(fixture("gitlab-push.json").toString());
    const deleted = Buffer.from(
      JSON.stringify({ ...body, after: "0000000000000000000000000000000000000000", checkout_sha: null, commits: [] }),
    );
    expect(eventsOf("gitlab", deleted)[0]).toMatchObject({ kind: "delete", name: "master" });
  });

  it("Codeup sends GitLab's payload under its own headers", () => {
    expect(eventsOf("codeup", fixture("gitlab-push.json"))[0]).toMatchObject({ kind: "branch", name: "master" });
  });

  describe("Codeup's event: the documented `Codeup-Event` header, `X-Codeup-Event`, or the body", () => {
    const codeupPush = fixture("codeup-push.json");
    const as = (headers: Record<string, string>, body = codeupPush) =>
      receive(PROVIDERS.codeup, request({ "X-Codeup-Token": SECRET, ...headers }, body), SECRET, "hook1");
    const expected = {
      kind: "branch",
      ref: "refs/heads/master",
      name: "master",
      commit: "eb63d0277e64684236ebf8394b919230c4b8a286",
      cloneUrls: ["https://codeup.aliyun.com/demo/demo.git", "git@codeup.aliyun.com:demo/demo.git"],
      changedFiles: ["README.md", "Dockerfile"],
      headCommitMessage: "Add the Dockerfile.",
      pusher: "Codeup",
    };

    it.each<[string, Record<string, string>]>([
      ["Codeup-Event (as Codeup's documentation prints it)", { "Codeup-Event": "Push Hook" }],
      ["X-Codeup-Event", { "X-Codeup-Event": "Push Hook" }],
      ["no event header: object_kind in the body", {}],
    ])("%s", (_, headers) => {
      const r = as(headers);
      expect(r.ok && r.normalized).toEqual({ events: [expected] });
    });

    it("a tag push named by the header or by object_kind", () => {
      const tagPush = Buffer.from(
        JSON.stringify({ ...JSON.parse(codeupPush.toString()), object_kind: "tag_push", ref: "refs/tags/v1.2.3" }),
      );
      for (const headers of [{ "Codeup-Event": "Tag Push Hook" }, {}] as Record<string, string>[]) {
        const r = as(headers, tagPush);
        expect(r.ok && r.normalized).toMatchObject({ events: [{ kind: "tag", name: "v1.2.3" }] });
      }
    });

    it("other events are ignored, whether the header or the body names them", () => {
      const mergeRequest = Buffer.from(JSON.stringify({ object_kind: "merge_request", object_attributes: {} }));
      expect(as({}, mergeRequest)).toMatchObject({
        ok: true,
        normalized: { ignored: expect.stringContaining("merge_request") },
      });
      expect(as({ "Codeup-Event": "Merge Request Hook" })).toMatchObject({
        ok: true,
        normalized: { ignored: expect.stringContaining("Merge Request Hook") },
      });
    });

    it("the token is still checked first, whatever names the event", () => {
      const r = receive(PROVIDERS.codeup, request({ "Codeup-Event": "Push Hook" }, codeupPush), SECRET, "h");
      expect(r).toMatchObject({ ok: false, status: 401 });
    });

    it("GitLab still needs its event header", () => {
      const r = receive(
        PROVIDERS.gitlab,
        request({ "X-Gitlab-Token": SECRET }, fixture("gitlab-push.json")),
        SECRET,
        "h",
      );
      expect(r.ok && r.normalized).toMatchObject({ ignored: expect.any(String) });
    });
  });

  it("Gitea push (the binding's provider decides, not the X-GitHub-* headers)", () => {
    const [e] = eventsOf("gitea", fixture("gitea-push.json"));
    expect(e).toMatchObject({
      kind: "branch",
      name: "develop",
      commit: "bffeb74224043ba2feb48d137756c8a9331c449a",
      headCommitMessage: undefined,
      pusher: "gitea",
    });
    expect(e!.cloneUrls).toEqual([
      "http://localhost:3000/gitea/webhooks.git",
      "ssh://gitea@localhost:2222/gitea/webhooks.git",
    ]);
  });

  it("Gitee push, signature mode and password mode", () => {
    expect(eventsOf("gitee", fixture("gitee-push.json"))[0]).toMatchObject({
      kind: "branch",
      name: "change_commitlint_config",
      changedFiles: ["README.md"],
      headCommitMessage: "Update README.md",
    });
    const plain = request({ "X-Gitee-Event": "Push Hook", "X-Gitee-Token": SECRET }, fixture("gitee-push.json"));
    expect(receive(PROVIDERS.gitee, plain, SECRET, "h").ok).toBe(true);
  });

  it("Bitbucket push with several changes: branch, tag and deletion", () => {
    const events = eventsOf("bitbucket", fixture("bitbucket-push.json"));
    expect(events.map((e) => [e.kind, e.name, e.commit])).toEqual([
      ["branch", "name-of-branch", "709d658dc5b6d6afcd46049c2f332ee3f515a67d"],
      ["tag", "v2.0.1", "709d658dc5b6d6afcd46049c2f332ee3f515a67d"],
      ["delete", "old-feature", ""],
    ]);
    expect(events[0]!.cloneUrls[0]).toBe("https://bitbucket.org/team_name/repo_name.git");
  });

  it("plain git post-receive hook", () => {
    const sha = "6113728f27ae82c7b1a177c8d03f9e96e0adf246";
    expect(eventsOf("git", Buffer.from(JSON.stringify({ ref: "refs/heads/main", commit: sha })))).toEqual([
      { kind: "branch", ref: "refs/heads/main", name: "main", commit: sha, cloneUrls: [], pusher: undefined },
    ]);
  });
});

describe("webhook verification comes first", () => {
  const body = fixture("gitlab-push.json");

  it.each<[ProviderId, Record<string, string>]>([
    ["github", { "X-GitHub-Event": "push", "X-Hub-Signature-256": `sha256=${"0".repeat(64)}` }],
    ["github", { "X-GitHub-Event": "push" }],
    ["gitea", { "X-Gitea-Event": "push", "X-Gitea-Signature": hmac(body, "hex", "other-secret") }],
    ["gitea", { "X-Gitea-Event": "push", "X-Hub-Signature-256": `sha256=${hmac(body)}` }],
    ["gitlab", { "X-Gitlab-Event": "Push Hook", "X-Gitlab-Token": "wrong" }],
    ["codeup", { "X-Codeup-Event": "Push Hook", "X-Gitlab-Token": SECRET }],
    ["gitee", { "X-Gitee-Event": "Push Hook", "X-Gitee-Token": "wrong", "X-Gitee-Timestamp": String(Date.now()) }],
    ["bitbucket", { "X-Event-Key": "repo:push", "X-Hub-Signature": `sha256=${hmac(body, "hex", "x")}` }],
    ["git", { Authorization: "Bearer wrong" }],
  ])("%s with %j: 401", (provider, headers) => {
    expect(receive(PROVIDERS[provider], request(headers, body), SECRET, "h")).toMatchObject({ ok: false, status: 401 });
  });

  it("a stale Gitee signature is refused", () => {
    const timestamp = String(Date.now() - 2 * 3600_000);
    const token = createHmac("sha256", SECRET).update(`${timestamp}\n${SECRET}`).digest("base64");
    expect(
      receive(
        PROVIDERS.gitee,
        request({ "X-Gitee-Event": "Push Hook", "X-Gitee-Token": token, "X-Gitee-Timestamp": timestamp }, body),
        SECRET,
        "h",
      ).ok,
    ).toBe(false);
  });

  it("a verified body that is not JSON: 400", () => {
    const raw = Buffer.from("not json");
    expect(
      receive(
        PROVIDERS.github,
        request({ "X-GitHub-Event": "push", "X-Hub-Signature-256": `sha256=${hmac(raw)}` }, raw),
        SECRET,
        "h",
      ),
    ).toMatchObject({ ok: false, status: 400 });
  });

  it("delivery ids: the provider's, else a hash of hook id and body", () => {
    const a = receive(PROVIDERS.codeup, signed("codeup", body), SECRET, "hook1");
    const b = receive(PROVIDERS.codeup, signed("codeup", body), SECRET, "hook1");
    const c = receive(PROVIDERS.codeup, signed("codeup", body), SECRET, "hook2");
    expect(a.ok && b.ok && c.ok && a.deliveryId === b.deliveryId && a.deliveryId !== c.deliveryId).toBe(true);
    const gl = receive(PROVIDERS.gitlab, signed("gitlab", body), SECRET, "hook1");
    expect(gl.ok && gl.deliveryId).toBe("13792a34-cac6-4fda-95a8-c58e00a3954e");
  });

  it("events that are not pushes are ignored with a reason", () => {
    const r = receive(
      PROVIDERS.github,
      signed(
        "github",
        githubExample("issues", () => true),
        "issues",
      ),
      SECRET,
      "h",
    );
    expect(r.ok && r.normalized).toEqual({ ignored: 'GitHub event "issues" is not a push' });
  });
});
