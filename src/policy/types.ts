import type { CompiledCondition, RequestContext } from "./conditions.ts";
import type { StatementIndex } from "./statement-index.ts";
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
