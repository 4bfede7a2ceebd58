import { evaluate, type EvaluationResult, type RequestContext } from "../policy/index.ts";
import type { Principal } from "./principal.ts";
import type { PolicyStore } from "./policy-store.ts";

export interface AccessRequest {
  action: string;
  resource: string;
  context?: RequestContext;
}

const ROOT: EvaluationResult = Object.freeze({ decision: "Allow", matched: [] });

/**
 * Decides one request for one principal. Root is not limited by policies inside its account;
 * callers only ever build resource names inside the principal's own account.
 */
export function authorize(store: PolicyStore, principal: Principal, req: AccessRequest): EvaluationResult {
  if (principal.kind === "root") return ROOT;
  return evaluate(store.forUser(principal.userId!), req);
}
