import { allowsSomewhere, evaluate, type EvaluationResult, type Policy, type RequestContext } from "../policy/index.ts";
import type { Principal } from "./principal.ts";

export interface AccessRequest {
  action: string;
  resource: string;
  context?: RequestContext;
}

/** Where a sub-account's policies come from: the PolicyStore, or a fixed pool in tests. */
export interface PolicySource {
  forUser(userId: number): readonly Policy[] | Promise<readonly Policy[]>;
}

const ROOT: EvaluationResult = Object.freeze({ decision: "Allow", matched: [] });

/** Who is asked about: root, or the sub-account `userId` (a build's push user is one too). */
export type Subject = Pick<Principal, "kind" | "userId">;

/**
 * The one place a call, a registry scope or a build's push is decided, for one principal whose
 * policies are looked up once. Root is not limited by policies inside its account; callers only
 * ever build resource names inside the principal's own account.
 */
export async function authorizerFor(
  store: PolicySource,
  principal: Subject,
): Promise<(req: AccessRequest) => EvaluationResult> {
  if (principal.kind === "root") return () => ROOT;
  const policies = await store.forUser(principal.userId!);
  return (req) => evaluate(policies, req);
}

/** Decides one request for one principal. */
export async function authorize(
  store: PolicySource,
  principal: Subject,
  req: AccessRequest,
): Promise<EvaluationResult> {
  return (await authorizerFor(store, principal))(req);
}

/** Whether any Allow of the principal's names the action, whatever the resource (a resource not named yet). */
export async function authorizeSomewhere(store: PolicySource, principal: Subject, action: string): Promise<boolean> {
  return principal.kind === "root" || allowsSomewhere(await store.forUser(principal.userId!), action);
}

/** Why a decision is not Allow, in words: the statements that deny, or that none allows. */
export function denialReason(result: EvaluationResult): string {
  return result.decision === "ExplicitDeny"
    ? `denied by ${result.matched.map((m) => `policy "${m.policy}" statement ${m.statement}`).join(", ")}`
    : "no statement of its policies allows it";
}

/**
 * Fills an access-table resource template (`acs:cr:{region}:{accountId}:repository/{ns}/{repo}`):
 * `{accountId}` is the principal's account, every other `{key}` comes from `valueOf`, in order.
 * Stops at the first part without a value and names it.
 */
export function fillResource(
  template: string,
  accountId: string,
  valueOf: (key: string) => string | undefined,
): { resource: string } | { missing: string } {
  let missing: string | undefined;
  const resource = template.replace(/\{([^}]+)\}/g, (_m, key: string) => {
    if (missing !== undefined) return "";
    const value = key === "accountId" ? accountId : valueOf(key);
    if (value === undefined) missing = key;
    return value ?? "";
  });
  return missing === undefined ? { resource } : { missing };
}
