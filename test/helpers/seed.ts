import { ADMIN_TOKEN, type Answer } from "./app.ts";

type Call = (method: string, path: string, opts?: { token?: string; body?: unknown }) => Promise<Answer>;

const PUSH_ALITEST1 = {
  Version: "1",
  Statement: [{ Effect: "Allow", Action: "cr:PushRepository", Resource: "acs:cr:*:*:repository/alitest1/*" }],
};

/** A RAM user allowed to push to alitest1's repositories and nothing else: a build's push user. */
export async function seedPushUser(call: Call, root: string, name: string): Promise<void> {
  await call("POST", "/api/v1/users", { token: root, body: { name } });
  await call("POST", "/api/v1/policies", { token: root, body: { name: `${name}-push`, document: PUSH_ALITEST1 } });
  await call("POST", `/api/v1/users/${name}/policies`, { token: root, body: { policyName: `${name}-push` } });
}

/**
 * The common start of a build test: account acme, namespace alitest1, the repository `repo` in
 * cn-hongkong, and the push user `ci`. Returns root's token and the repository's API path.
 */
export async function seedBuildableRepository(call: Call, repo: string): Promise<{ root: string; repoPath: string }> {
  const root: string = (await call("POST", "/api/v1/accounts", { token: ADMIN_TOKEN, body: { alias: "acme" } })).body
    .rootToken;
  await call("POST", "/api/v1/namespaces", { token: root, body: { name: "alitest1" } });
  await call("POST", "/api/v1/regions/cn-hongkong/repositories", {
    token: root,
    body: { namespace: "alitest1", name: repo },
  });
  await seedPushUser(call, root, "ci");
  return { root, repoPath: `/api/v1/regions/cn-hongkong/repositories/alitest1/${repo}` };
}
