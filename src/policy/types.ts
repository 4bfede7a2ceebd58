import type { CompiledCondition, RequestContext } from "./conditions.ts";
import type { Matcher } from "./wildcard.ts";

export type Effect = "Allow" | "Deny";

/** The document as written, after validation (strings normalised to arrays). */
export interface PolicyDocument {
  Version: "1";
  Statement: StatementDocument[];
}
export interface StatementDocument {
  Sid?: string;
  Effect: Effect;
  Action?: string[];
  NotAction?: string[];
  Resource?: string[];
  NotResource?: string[];
  Condition?: Record<string, Record<string, string[]>>;
}

export interface CompiledStatement {
  index: number;
  sid?: string;
  effect: Effect;
  /** Receives the lower-cased action. */
  action: Matcher;
  actionNegated: boolean;
  resource: Matcher;
  resourceNegated: boolean;
  /** As written. */
  resourcePatterns: readonly string[];
  /** The literal runs of each pattern (text between wildcards), for the statement index. */
  resourceRuns: readonly (readonly string[])[];
  conditions: readonly CompiledCondition[];
}

/**
 * The statements of a policy (or a pool of policies) whose Action/NotAction applies to one action,
 * each at a slot in pool order, with what finds the few that may apply to a resource
 * (statement-index.ts).
 */
export interface StatementIndex {
  readonly statements: readonly CompiledStatement[];
  /** The name of the policy of each slot's statement. */
  readonly policyNames: readonly (string | undefined)[];
  /** Appends to `out` the slot of every statement that may apply to `resource`, each once, in no order. */
  candidates(resource: string, out: number[]): void;
  /** Calls `visit` for every statement that may apply to `resource`. */
  forEachCandidate(resource: string, visit: (s: CompiledStatement) => void): void;
}

export interface Policy {
  name?: string;
  document: PolicyDocument;
  statements: readonly CompiledStatement[];
  /** The statements whose Action/NotAction applies to a (lower-cased) action, indexed by resource; built on demand. */
  statementsFor(action: string): StatementIndex;
}

export interface EvaluationRequest {
  action: string;
  resource: string;
  context?: RequestContext;
}

export type Decision = "Allow" | "ExplicitDeny" | "ImplicitDeny";

export interface MatchedStatement {
  policy?: string;
  statement: number;
  effect: Effect;
  sid?: string;
}

export interface EvaluationResult {
  decision: Decision;
  matched: MatchedStatement[];
}
