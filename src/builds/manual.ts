import { DomainError } from "../errors.ts";
import type { Db } from "../db/connection.ts";
import type { BindingRow } from "../sources/bindings.ts";
import { parseRef } from "../sources/refs.ts";
import { planFor, targetOf } from "./plan.ts";
import type { BuildPlan } from "./records.ts";
import { matchRule } from "./rule-match.ts";
import { findRule, listRules } from "./rules.ts";

export interface ManualBuild {
  /** `refs/heads/x`, `refs/tags/x`, or a bare name whose kind each rule decides. */
  ref: string;
  commit?: string;
  ruleIds?: number[];
}

/**
 * A build asked for by a person: the named rules (regex rules too, since the ref is explicit),
 * or every enabled rule the ref matches. Without a commit the worker builds the ref's head.
 */
export function manualPlans(db: Db, binding: BindingRow, input: ManualBuild): BuildPlan[] {
  const explicit = parseRef(input.ref);
  const name = explicit?.name ?? input.ref;
  const rules = input.ruleIds ? input.ruleIds.map((id) => findRule(db, binding.repositoryId, id)) : listRules(db, binding.repositoryId).filter((r) => r.enabled);
  const target = targetOf(db, binding.repositoryId);
  const plans: BuildPlan[] = [];
  const reasons: string[] = [];
  for (const rule of rules) {
    const kind = explicit?.kind ?? rule.sourceType;
    const outcome = matchRule({ ...rule, enabled: true }, { kind, name, commit: input.commit ?? "" });
    if (!outcome.matched) {
      reasons.push(`rule ${rule.id}: ${outcome.reason}`);
      continue;
    }
    const ref = `refs/${kind === "branch" ? "heads" : "tags"}/${name}`;
    plans.push(planFor(target, binding, rule, { trigger: "manual", ref, commit: input.commit ?? null, tags: outcome.tags }));
  }
  if (plans.length === 0) throw new DomainError("NoRuleMatches", `no build rule builds "${input.ref}": ${reasons.join("; ") || "the repository has no build rules"}`, { reasons });
  return plans;
}
