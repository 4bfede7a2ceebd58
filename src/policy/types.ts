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
  /** As written, for the statement index. */
  resourcePatterns: readonly string[];
  conditions: readonly CompiledCondition[];
}

/** The statements that may apply to a resource, found without trying them all (statement-index.ts). */
export interface StatementIndex {
  /** Calls `visit` for every statement that may apply to `resource`; a statement may come twice. */
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
