/** Built-in policies every account can attach, as ACR names them. */
export const SYSTEM_POLICIES = [
  {
    name: "AliyunContainerRegistryFullAccess",
    description: "Full access to Container Registry",
    document: { Version: "1", Statement: [{ Effect: "Allow", Action: ["cr:*"], Resource: ["*"] }] },
  },
  {
    name: "AliyunContainerRegistryReadOnlyAccess",
    description: "Read-only access to Container Registry",
    document: {
      Version: "1",
      Statement: [{ Effect: "Allow", Action: ["cr:Get*", "cr:List*", "cr:PullRepository"], Resource: ["*"] }],
    },
  },
] as const;
