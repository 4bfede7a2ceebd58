import { eq, sql } from "drizzle-orm";
import { perDb } from "../db/prepared.ts";
import type { Db } from "../db/connection.ts";
import { namespaces, repositories } from "../db/schema.ts";
import type { BindingRow } from "../sources/bindings.ts";
import type { PushEvent } from "../sources/types.ts";
import { DEFAULT_BUILD_SETTINGS, settingsOf, type BuildPlan, type BuildSettings } from "./records.ts";
import { matchRule } from "./rule-match.ts";
import { listRules, type RuleRow } from "./rules.ts";

export interface RepositoryTarget {
  accountId: string;
  repositoryId: number;
  region: string;
  repository: string;
}

const queries = perDb((db) => ({
  target: db
    .select({
      accountId: repositories.accountId,
      region: repositories.region,
      ns: namespaces.name,
      repo: repositories.name,
    })
    .from(repositories)
    .innerJoin(namespaces, eq(namespaces.id, repositories.namespaceId))
    .where(eq(repositories.id, sql.placeholder("id")))
    .prepare(),
}));

export async function targetOf(db: Db, repositoryId: number): Promise<RepositoryTarget> {
  const row = (await queries(db).target.get({ id: repositoryId }))!;
  return { accountId: row.accountId, repositoryId, region: row.region, repository: `${row.ns}/${row.repo}` };
}

/**
 * The builds one push makes: every enabled rule that matches, of every repository bound to the
 * pushed code repository, each rule a Dockerfile variant of its own. The clone URL is always the
 * binding's, never one from the payload. Reasons say why nothing was built.
 */
export async function plansForPush(
  db: Db,
  bindings: BindingRow[],
  event: PushEvent,
): Promise<{ plans: BuildPlan[]; reasons: string[] }> {
  const plans: BuildPlan[] = [];
  const reasons: string[] = [];
  if (event.kind !== "branch" && event.kind !== "tag")
    return { plans, reasons: [`${event.kind} events build nothing`] };
  for (const binding of bindings) {
    const target = await targetOf(db, binding.repositoryId);
    if (!binding.autoBuild) {
      reasons.push(`${target.repository}: automatic builds are off`);
      continue;
    }
    if (event.kind === "branch" && binding.branchFilter && !new RegExp(binding.branchFilter).test(event.name)) {
      reasons.push(`${target.repository}: branch "${event.name}" does not pass the branch filter`);
      continue;
    }
    const rules = await listRules(db, binding.repositoryId);
    if (rules.length === 0) reasons.push(`${target.repository}: no build rules`);
    for (const rule of rules) {
      const outcome = matchRule(rule, {
        kind: event.kind,
        name: event.name,
        commit: event.commit,
        changedFiles: event.changedFiles,
        headCommitMessage: event.headCommitMessage,
      });
      if (!outcome.matched) {
        reasons.push(`${target.repository} rule ${rule.id}: ${outcome.reason}`);
        continue;
      }
      plans.push(
        planFor(target, binding, rule, {
          trigger: "webhook",
          ref: event.ref,
          commit: event.commit,
          tags: outcome.tags,
        }),
      );
    }
  }
  return { plans, reasons };
}

/**
 * One build of a rule (or of none): its settings are the rule's as it is now, unless given — a
 * retry passes the settings of the build it repeats.
 */
export function planFor(
  target: RepositoryTarget,
  binding: BindingRow,
  rule: RuleRow | null,
  build: { trigger: BuildPlan["trigger"]; ref: string; commit: string | null; tags: string[] },
  settings: BuildSettings = rule ? settingsOf(rule) : DEFAULT_BUILD_SETTINGS,
): BuildPlan {
  return {
    ...target,
    ruleId: rule?.id ?? null,
    cloneUrl: binding.repoUrl,
    pushUserId: binding.pushUserId,
    ...build,
    settings: settingsOf(settings),
  };
}
