import { ACCESS_TABLE } from "../api/access-table.ts";
import { fillResource } from "../iam/authorizer.ts";
import type { Principal } from "../iam/principal.ts";
import { allowsSomewhere, evaluate, type Policy, type RequestContext } from "../policy/index.ts";

/** Values for the access table's resource templates: `region`, `ns`, `repo`, `name`, `g`, `build.region`, …. */
export type ResourceParts = Readonly<Record<string, string | undefined>>;

/**
 * Whether the console should offer the call the access table lists under `routeKey`. Same table,
 * same policies as the API; a part that is not known yet (the name of a namespace still to be
 * created) asks whether any Allow names the action at all. The API decides the real call.
 * `policiesOf` answers at once (the session loads the caller's policies before the page renders),
 * so pages ask as they render; it decides as iam/authorizer.ts does: root is not limited by policies.
 */
export function permits(
  principal: Principal,
  policiesOf: (userId: number) => readonly Policy[],
  routeKey: string,
  parts: ResourceParts,
  context: RequestContext,
): boolean {
  const rule = ACCESS_TABLE[routeKey];
  if (!rule) throw new Error(`the console asked about ${routeKey}, which the access table does not list`);
  switch (rule.auth) {
    case "none":
    case "console":
    case "self":
      return true;
    case "root":
      return principal.kind === "root";
    case "admin":
    case "registry-events":
      return false;
  }
  if (principal.kind === "root") return true;
  const policies = policiesOf(principal.userId!);
  const filled = fillResource(rule.resource, principal.accountId, (key) => parts[key.replace(/^body\./, "")]);
  if ("missing" in filled) return allowsSomewhere(policies, rule.action);
  return evaluate(policies, { action: rule.action, resource: filled.resource, context }).decision === "Allow";
}
