import { conditionHolds, type RequestContext } from "./conditions.ts";
import type { CompiledStatement, EvaluationRequest, EvaluationResult, MatchedStatement, Policy } from "./types.ts";

const EMPTY_CONTEXT: RequestContext = Object.freeze({});

/** The statement's action is already known to apply (Policy.statementsFor). */
function applies(s: CompiledStatement, resource: string, context: RequestContext): boolean {
  if (s.resource(resource) === s.resourceNegated) return false;
  for (let i = 0; i < s.conditions.length; i++) if (!conditionHolds(s.conditions[i]!, context)) return false;
  return true;
}

/**
 * RAM evaluation over one pool of policies: any applicable Deny wins (ExplicitDeny), else any
 * applicable Allow (Allow), else ImplicitDeny. `matched` lists the statements that decided it,
 * in policy order, then statement order.
 */
export function evaluate(policies: readonly Policy[], req: EvaluationRequest): EvaluationResult {
  const action = req.action.toLowerCase();
  const resource = req.resource;
  const context = req.context ?? EMPTY_CONTEXT;
  let allows: MatchedStatement[] | undefined;
  let denies: MatchedStatement[] | undefined;
  for (let p = 0; p < policies.length; p++) {
    const policy = policies[p]!;
    let applicable: CompiledStatement[] | undefined;
    policy.statementsFor(action).forEachCandidate(resource, (s) => {
      if (s.effect === "Allow" && denies !== undefined) return;
      if (applies(s, resource, context) && !applicable?.includes(s)) (applicable ??= []).push(s);
    });
    if (!applicable) continue;
    applicable.sort((a, b) => a.index - b.index);
    for (const s of applicable) {
      const match: MatchedStatement = { policy: policy.name, statement: s.index, effect: s.effect };
      if (s.sid !== undefined) match.sid = s.sid;
      if (s.effect === "Deny") (denies ??= []).push(match);
      else if (denies === undefined) (allows ??= []).push(match);
    }
  }
  if (denies) return { decision: "ExplicitDeny", matched: denies };
  if (allows) return { decision: "Allow", matched: allows };
  return { decision: "ImplicitDeny", matched: [] };
}
