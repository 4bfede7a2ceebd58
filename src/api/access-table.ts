/**
 * The one table that says what every route needs (DESIGN §5). A route that is not listed here
 * does not start (see `route.ts` and `assertEveryRouteListed`).
 *
 * Resource templates name their parts in braces: `{accountId}` (the caller's account), `{region}`
 * (the path's region, else `?region=`, else the default region), a path parameter by its name,
 * `{body.field}`, or `{build.region|ns|repo}` of the build `{id}` names. A `perItem` rule is not checked up front: the route lists only the items
 * whose resource allows the action, with `{ns}`/`{repo}` taken from each item.
 */
export type AccessRule =
  | { auth: "none"; why: string }
  /** A console page: signed in by the session cookie; everything it shows or does goes through the API's own routes. */
  | { auth: "console"; why: string }
  | { auth: "admin" }
  | { auth: "registry-events" }
  | { auth: "self" }
  | { auth: "root" }
  | { auth: "policy"; action: string; resource: string; perItem?: boolean };

const NAMESPACE = "acs:cr:{region}:{accountId}:repository/{ns}";
const REPOSITORY = "acs:cr:{region}:{accountId}:repository/{ns}/{repo}";
/** `{build.*}`: the repository of the build named by the path's `{id}`, looked up in the caller's account. */
const BUILD = "acs:cr:{build.region}:{accountId}:repository/{build.ns}/{build.repo}";
const ram = (kind: "user" | "group" | "policy", name: string) => `acs:ram:*:{accountId}:${kind}/${name}`;
const cr = (action: string, resource: string, perItem = false): AccessRule => ({
  auth: "policy",
  action: `cr:${action}`,
  resource,
  perItem,
});
const ramRule = (action: string, resource: string): AccessRule => ({
  auth: "policy",
  action: `ram:${action}`,
  resource,
});

export const ACCESS_TABLE: Readonly<Record<string, AccessRule>> = {
  "GET /healthz": { auth: "none", why: "liveness probe" },
  "GET /readyz": { auth: "none", why: "readiness probe" },
  "GET /metrics": { auth: "none", why: "Prometheus scrape" },
  "GET /openapi.json": { auth: "none", why: "API description" },
  "GET /docs": { auth: "none", why: "API documentation page" },
  "GET /docs/assets/{file}": { auth: "none", why: "Swagger UI's script and style sheet, served locally" },
  "GET /api/v1/actions": { auth: "none", why: "the public list of actions" },
  "POST /api/v1/accounts": { auth: "admin" },
  "POST /api/v1/sessions": { auth: "none", why: "the credentials are the body" },
  "DELETE /api/v1/sessions/current": { auth: "self" },
  "GET /auth/token": {
    auth: "none",
    why: "Docker token protocol: Basic credentials or anonymous, each scope decided by policy",
  },
  "POST /auth/token": {
    auth: "none",
    why: "Docker token protocol: refresh token or password grant, each scope decided by policy",
  },
  "POST /registry/events": { auth: "registry-events" },
  "GET /api/v1/audit": { auth: "root" },
  "POST /api/v1/auth/authorization-token": cr("GetAuthorizationToken", "acs:cr:{region}:{accountId}:*"),

  "GET /api/v1/me": { auth: "self" },
  "PUT /api/v1/me/password": { auth: "self" },
  "PUT /api/v1/me/registry-password": { auth: "self" },

  "GET /api/v1/users": ramRule("ListUsers", ram("user", "*")),
  "POST /api/v1/users": ramRule("CreateUser", ram("user", "{body.name}")),
  "GET /api/v1/users/{name}": ramRule("GetUser", ram("user", "{name}")),
  "DELETE /api/v1/users/{name}": ramRule("DeleteUser", ram("user", "{name}")),
  "PUT /api/v1/users/{name}/password": ramRule("UpdateUser", ram("user", "{name}")),
  "PUT /api/v1/users/{name}/registry-password": ramRule("UpdateUser", ram("user", "{name}")),
  "POST /api/v1/users/{name}/access-keys": ramRule("CreateAccessKey", ram("user", "{name}")),
  "GET /api/v1/users/{name}/policies": ramRule("ListPoliciesForUser", ram("user", "{name}")),
  "POST /api/v1/users/{name}/policies": ramRule("AttachPolicyToUser", ram("user", "{name}")),
  "DELETE /api/v1/users/{name}/policies/{policyName}": ramRule("DetachPolicyFromUser", ram("user", "{name}")),

  "GET /api/v1/groups": ramRule("ListGroups", ram("group", "*")),
  "POST /api/v1/groups": ramRule("CreateGroup", ram("group", "{body.name}")),
  "GET /api/v1/groups/{g}": ramRule("GetGroup", ram("group", "{g}")),
  "POST /api/v1/groups/{g}/members": ramRule("AddUserToGroup", ram("group", "{g}")),
  "POST /api/v1/groups/{g}/policies": ramRule("AttachPolicyToGroup", ram("group", "{g}")),

  "GET /api/v1/policies": ramRule("ListPolicies", ram("policy", "*")),
  "POST /api/v1/policies": ramRule("CreatePolicy", ram("policy", "{body.name}")),
  "POST /api/v1/policies/simulate": ramRule("SimulatePolicy", ram("policy", "*")),
  "POST /api/v1/policies/validate": { auth: "self" },
  "GET /api/v1/policies/{name}": ramRule("GetPolicy", ram("policy", "{name}")),
  "DELETE /api/v1/policies/{name}": ramRule("DeletePolicy", ram("policy", "{name}")),

  "GET /api/v1/namespaces": cr("ListNamespace", NAMESPACE, true),
  "POST /api/v1/namespaces": cr("CreateNamespace", NAMESPACE.replace("{ns}", "{body.name}")),
  "GET /api/v1/namespaces/{ns}": cr("GetNamespace", NAMESPACE),
  "PATCH /api/v1/namespaces/{ns}": cr("UpdateNamespace", NAMESPACE),
  "DELETE /api/v1/namespaces/{ns}": cr("DeleteNamespace", NAMESPACE),

  "GET /api/v1/regions/{region}/repositories": cr("ListRepository", REPOSITORY, true),
  "POST /api/v1/regions/{region}/repositories": cr(
    "CreateRepository",
    REPOSITORY.replace("{ns}/{repo}", "{body.namespace}/{body.name}"),
  ),
  "GET /api/v1/regions/{region}/repositories/{ns}/{repo}": cr("GetRepository", REPOSITORY),
  "PATCH /api/v1/regions/{region}/repositories/{ns}/{repo}": cr("UpdateRepository", REPOSITORY),
  "DELETE /api/v1/regions/{region}/repositories/{ns}/{repo}": cr("DeleteRepository", REPOSITORY),
  "GET /api/v1/regions/{region}/repositories/{ns}/{repo}/tags": cr("ListRepositoryTag", REPOSITORY),
  "PUT /api/v1/regions/{region}/repositories/{ns}/{repo}/source": cr("UpdateSourceRepository", REPOSITORY),
  "GET /api/v1/regions/{region}/repositories/{ns}/{repo}/source": cr("GetSourceRepository", REPOSITORY),
  "GET /api/v1/regions/{region}/repositories/{ns}/{repo}/build-rules": cr("ListRepositoryBuildRule", REPOSITORY),
  "POST /api/v1/regions/{region}/repositories/{ns}/{repo}/build-rules": cr("CreateRepositoryBuildRule", REPOSITORY),
  "POST /api/v1/regions/{region}/repositories/{ns}/{repo}/build-rules/test": cr("ListRepositoryBuildRule", REPOSITORY),
  "PATCH /api/v1/regions/{region}/repositories/{ns}/{repo}/build-rules/{id}": cr(
    "UpdateRepositoryBuildRule",
    REPOSITORY,
  ),
  "DELETE /api/v1/regions/{region}/repositories/{ns}/{repo}/build-rules/{id}": cr(
    "DeleteRepositoryBuildRule",
    REPOSITORY,
  ),
  "GET /api/v1/regions/{region}/repositories/{ns}/{repo}/build-secrets": cr("ListRepositoryBuildSecret", REPOSITORY),
  "PUT /api/v1/regions/{region}/repositories/{ns}/{repo}/build-secrets/{id}": cr(
    "UpdateRepositoryBuildSecret",
    REPOSITORY,
  ),
  "DELETE /api/v1/regions/{region}/repositories/{ns}/{repo}/build-secrets/{id}": cr(
    "DeleteRepositoryBuildSecret",
    REPOSITORY,
  ),
  "POST /api/v1/regions/{region}/repositories/{ns}/{repo}/builds": cr("BuildRepositoryByRule", REPOSITORY),
  "GET /api/v1/regions/{region}/repositories/{ns}/{repo}/builds": cr("ListRepositoryBuild", REPOSITORY),
  "GET /api/v1/regions/{region}/repositories/{ns}/{repo}/webhooks": cr("ListWebHook", REPOSITORY),
  "POST /api/v1/regions/{region}/repositories/{ns}/{repo}/webhooks": cr("CreateWebHook", REPOSITORY),
  "GET /api/v1/regions/{region}/repositories/{ns}/{repo}/webhooks/{id}": cr("ListWebHook", REPOSITORY),
  "PATCH /api/v1/regions/{region}/repositories/{ns}/{repo}/webhooks/{id}": cr("UpdateWebHook", REPOSITORY),
  "DELETE /api/v1/regions/{region}/repositories/{ns}/{repo}/webhooks/{id}": cr("DeleteWebHook", REPOSITORY),
  "GET /api/v1/regions/{region}/repositories/{ns}/{repo}/webhooks/{id}/deliveries": cr("ListWebHook", REPOSITORY),
  "POST /api/v1/regions/{region}/repositories/{ns}/{repo}/webhooks/{id}/deliveries/{deliveryId}/redeliver": cr(
    "UpdateWebHook",
    REPOSITORY,
  ),
  "GET /api/v1/builds/{id}": cr("GetRepositoryBuildRecord", BUILD),
  "GET /api/v1/builds/{id}/logs": cr("GetRepositoryBuildLog", BUILD),
  "POST /api/v1/builds/{id}/cancel": cr("CancelBuildRepository", BUILD),
  "POST /api/v1/builds/{id}/retry": cr("BuildRepositoryByRecord", BUILD),

  "GET /": { auth: "none", why: "sends a browser to the console" },
  "GET /console/assets/{file}": { auth: "none", why: "the console's script and style sheet" },
  "GET /console/login": { auth: "none", why: "the console's login page" },
  "POST /console/login": { auth: "none", why: "the credentials are the form; it calls POST /api/v1/sessions" },
  "POST /console/logout": { auth: "console", why: "ends the cookie's session through DELETE /api/v1/sessions/current" },
  ...Object.fromEntries(
    [
      "/console",
      "/console/me",
      "/console/namespaces",
      "/console/regions/{region}/repositories",
      "/console/regions/{region}/repositories/{ns}/{repo}",
      "/console/builds/{id}",
      "/console/access",
      "/console/access/users",
      "/console/access/users/{name}",
      "/console/access/groups",
      "/console/access/policies",
      "/console/access/simulator",
    ].map((page) => [
      `GET ${page}`,
      {
        auth: "console",
        why: "a console page: it shows what the API's routes answer the signed-in caller",
      } satisfies AccessRule,
    ]),
  ),
  "POST /hooks/{hookId}": {
    auth: "none",
    why: "verified by the provider's signature or token against the binding's secret",
  },
};

/** `GET /api/v1/namespaces/{ns}` → `GET /api/v1/namespaces/:ns`, as Hono registers it. */
export function honoKey(key: string): string {
  return key.replace(/\{([^}]+)\}/g, ":$1");
}
