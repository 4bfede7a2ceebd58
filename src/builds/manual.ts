import { DomainError } from "../errors.ts";
import type { Db } from "../db/connection.ts";
import { ACTIVE_BUILD_STATUSES } from "../db/enums.ts";
import type { PolicyStore } from "../iam/policy-store.ts";
import { findBinding, type BindingRow } from "../sources/bindings.ts";
import { parseRef } from "../sources/refs.ts";
import { planFor, targetOf } from "./plan.ts";
import { findBuild, recordBuilds, settingsOf, type BuildPlan } from "./records.ts";
import { matchRule } from "./rule-match.ts";
import { findRule, listRules, type RuleRow } from "./rules.ts";
import type { ManualBuild } from "./schemas.ts";

/**
 * A build asked for by a person: the named rules (regex rules too, since the ref is explicit),
 * or every enabled rule the ref matches. Without a commit the worker builds the ref's head.
 */
export async function manualPlans(db: Db, binding: BindingRow, input: ManualBuild): Promise<BuildPlan[]> {
  const explicit = parseRef(input.ref);
  const name = explicit?.name ?? input.ref;
  const rules: RuleRow[] = [];
  if (input.ruleIds) for (const id of input.ruleIds) rules.push(await findRule(db, binding.repositoryId, id));
  else rules.push(...(await listRules(db, binding.repositoryId)).filter((r) => r.enabled));
  const target = await targetOf(db, binding.repositoryId);
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
    plans.push(
      planFor(target, binding, rule, { trigger: "manual", ref, commit: input.commit ?? null, tags: outcome.tags }),
    );
  }
  if (plans.length === 0)
    throw new DomainError(
      "NoRuleMatches",
      `no build rule builds "${input.ref}": ${reasons.join("; ") || "the repository has no build rules"}`,
      { reasons },
    );
  return plans;
}

/** Records the builds of a manual request in one transaction; the dispatcher enqueues them. */
export async function startManualBuilds(db: Db, policies: PolicyStore, binding: BindingRow, input: ManualBuild) {
  const plans = await manualPlans(db, binding, input);
  return db.transaction((tx) => recordBuilds(tx, policies, plans));
}

/**
 * Builds the same ref, commit, tags and settings (Dockerfile, context, build args, target,
 * no-cache) as an ended build again: the rule's later edits do not change a retry.
 * A build still queued or running is refused (BuildActive).
 */
export async function retryBuild(db: Db, policies: PolicyStore, accountId: string, id: string) {
  const old = await findBuild(db, accountId, id);
  if (ACTIVE_BUILD_STATUSES.includes(old.status))
    throw new DomainError("BuildActive", `build ${old.id} is still ${old.status}`);
  const binding = await findBinding(db, old.repositoryId, old.repository);
  const rule = old.ruleId === null ? null : await findRule(db, old.repositoryId, old.ruleId);
  const plan = planFor(
    await targetOf(db, old.repositoryId),
    binding,
    rule,
    { trigger: "retry", ref: old.ref, commit: old.commit, tags: old.tags },
    settingsOf(old),
  );
  const [made] = await db.transaction((tx) => recordBuilds(tx, policies, [plan]));
  return made!;
}

/**
 * Which rules of the repository a ref would build, and with which tags (and why some templates
 * made none); nothing is built. A bare name is tried as each rule's kind; without a commit,
 * `{commit}` and `{shortsha}` render zeros.
 */
export async function testRules(db: Db, repositoryId: number, input: { ref: string; commit?: string }) {
  const explicit = parseRef(input.ref);
  return (await listRules(db, repositoryId)).flatMap((rule) => {
    const outcome = matchRule(rule, {
      kind: explicit?.kind ?? rule.sourceType,
      name: explicit?.name ?? input.ref,
      commit: input.commit ?? "0000000000000000000000000000000000000000",
    });
    return outcome.matched
      ? [{ ruleId: rule.id, tags: outcome.tags, refused: outcome.refused.map((r) => r.reason) }]
      : [];
  });
}
