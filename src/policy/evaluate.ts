import { PreparedContext, preparedConditionHolds, type RequestContext } from "./conditions.ts";
import { ActionIndex } from "./statement-index.ts";
import type { EvaluationRequest, EvaluationResult, MatchedStatement, Policy, StatementIndex } from "./types.ts";

const EMPTY_CONTEXT: RequestContext = Object.freeze({});

/** Callers ask about a few dozen actions; the caps only guard against arbitrary names from simulations. */
const ACTION_LIMIT = 256;
const lowerCased = new Map<string, string>();
function lowerAction(action: string): string {
  let lower = lowerCased.get(action);
  if (lower === undefined) {
    lower = action.toLowerCase();
    if (lowerCased.size >= 4 * ACTION_LIMIT) lowerCased.clear();
    lowerCased.set(action, lower);
  }
  return lower;
}

/**
 * A pool (the array of a principal's policies, which callers such as the PolicyStore keep and
 * pass again) gets one index per action over all its statements, so a request scans its resource
 * once whatever the number of policies. The pool is recognised by the array and checked member by
 * member, so an array changed in place is indexed afresh. An array seen once (a simulation, a
 * literal in a test) is answered with each policy's own index instead, built once per policy.
 */
interface Pool {
  members: readonly Policy[];
  uses: number;
  byAction: Map<string, StatementIndex>;
}
const pools = new WeakMap<readonly Policy[], Pool>();

function samePool(pool: Pool, policies: readonly Policy[]): boolean {
  const members = pool.members;
  if (members.length !== policies.length) return false;
  for (let i = 0; i < members.length; i++) if (members[i] !== policies[i]) return false;
  return true;
}

function poolIndex(policies: readonly Policy[], action: string): StatementIndex | undefined {
  let pool = pools.get(policies);
  if (pool === undefined || !samePool(pool, policies)) {
    pools.set(policies, { members: [...policies], uses: 1, byAction: new Map() });
    return undefined;
  }
  let index = pool.byAction.get(action);
  if (index === undefined) {
    if (pool.uses++ < 1) return undefined;
    const lower = lowerAction(action);
    index = lower === action ? undefined : pool.byAction.get(lower);
    if (index === undefined) {
      const statements = [];
      const names = [];
      for (const p of policies)
        for (const s of p.statements)
          if (s.action(lower) !== s.actionNegated) {
            statements.push(s);
            names.push(p.name);
          }
      index = new ActionIndex(statements, names);
    }
    if (pool.byAction.size >= ACTION_LIMIT) pool.byAction.clear();
    pool.byAction.set(action, index);
    pool.byAction.set(lower, index);
  }
  return index;
}

/** Reused by every evaluation (evaluation is synchronous and never re-entered). */
const candidates: number[] = [];
const applicable: number[] = [];

interface Outcome {
  denies: MatchedStatement[] | undefined;
  allows: MatchedStatement[] | undefined;
  prepared: PreparedContext | undefined;
}

function matchOf(index: StatementIndex, slot: number): MatchedStatement {
  const s = index.statements[slot]!;
  const match: MatchedStatement = { policy: index.policyNames[slot], statement: s.index, effect: s.effect };
  if (s.sid !== undefined) match.sid = s.sid;
  return match;
}

/** Adds the statements of `index` that apply to the request, Deny first: once a Deny applies, Allows no longer matter. */
function collect(index: StatementIndex, req: EvaluationRequest, out: Outcome): void {
  candidates.length = 0;
  index.candidates(req.resource, candidates);
  if (candidates.length === 0) return;
  const resource = req.resource;
  for (let pass = 0; pass < 2; pass++) {
    const effect = pass === 0 ? "Deny" : "Allow";
    if (pass === 1 && out.denies !== undefined) return;
    applicable.length = 0;
    for (let i = 0; i < candidates.length; i++) {
      const slot = candidates[i]!;
      const s = index.statements[slot]!;
      if (s.effect !== effect || s.resource(resource) === s.resourceNegated) continue;
      const conditions = s.conditions;
      if (conditions.length > 0) {
        const prepared = (out.prepared ??= new PreparedContext(req.context ?? EMPTY_CONTEXT));
        let holds = true;
        for (let c = 0; c < conditions.length && holds; c++) holds = preparedConditionHolds(conditions[c]!, prepared);
        if (!holds) continue;
      }
      applicable.push(slot);
    }
    if (applicable.length === 0) continue;
    if (applicable.length > 1) applicable.sort((a, b) => a - b);
    const list = (pass === 0 ? (out.denies ??= []) : (out.allows ??= [])) as MatchedStatement[];
    for (let i = 0; i < applicable.length; i++) list.push(matchOf(index, applicable[i]!));
  }
}

/**
 * RAM evaluation over one pool of policies: any applicable Deny wins (ExplicitDeny), else any
 * applicable Allow (Allow), else ImplicitDeny. `matched` lists the statements that decided it,
 * in policy order, then statement order.
 *
 * The request is prepared once: the action lower-cased, the context's keys folded and its values
 * parsed on first use, shared by every statement. Only the candidates the index finds for the
 * resource are matched; nothing is cached by request.
 */
export function evaluate(policies: readonly Policy[], req: EvaluationRequest): EvaluationResult {
  const out: Outcome = { denies: undefined, allows: undefined, prepared: undefined };
  if (policies.length === 1) collect(policies[0]!.statementsFor(lowerAction(req.action)), req, out);
  else if (policies.length > 1) {
    const pooled = poolIndex(policies, req.action);
    if (pooled !== undefined) collect(pooled, req, out);
    else {
      const action = lowerAction(req.action);
      for (let p = 0; p < policies.length; p++) collect(policies[p]!.statementsFor(action), req, out);
    }
  }
  if (out.denies) return { decision: "ExplicitDeny", matched: out.denies };
  if (out.allows) return { decision: "Allow", matched: out.allows };
  return { decision: "ImplicitDeny", matched: [] };
}
