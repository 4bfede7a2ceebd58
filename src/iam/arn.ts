/** Resource names as ACR and RAM write them (DESIGN §3). */
export const arn = {
  namespace: (region: string, accountId: string, namespace: string) =>
    `acs:cr:${region}:${accountId}:repository/${namespace}`,
  repository: (region: string, accountId: string, namespace: string, repo: string) =>
    `acs:cr:${region}:${accountId}:repository/${namespace}/${repo}`,
  ram: (accountId: string, kind: "user" | "group" | "policy", name: string) => `acs:ram:*:${accountId}:${kind}/${name}`,
};
