import { and, asc, eq, sql } from "drizzle-orm";
import { perDb } from "../db/prepared.ts";
import { invalid, notFound } from "../errors.ts";
import type { Db } from "../db/connection.ts";
import { buildRules } from "../db/schema.ts";
import { repoPath } from "./paths.ts";
import { compileSource } from "./rule-match.ts";
import type { RuleInput, RuleView } from "./schemas.ts";
import { templateError } from "./tag-template.ts";

export type RuleRow = typeof buildRules.$inferSelect;

export function ruleView(row: RuleRow): RuleView {
  return {
    id: row.id,
    sourceType: row.sourceType,
    source: row.source,
    tags: row.tags,
    dockerfileDir: row.dockerfileDir,
    dockerfileName: row.dockerfileName,
    context: row.context,
    buildArgs: row.buildArgs,
    target: row.target,
    noCache: row.noCache,
    registryCache: row.registryCache,
    platforms: row.platforms,
    includePaths: row.includePaths,
    excludePaths: row.excludePaths,
    enabled: row.enabled,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
  };
}

/** Everything a rule names is checked when it is saved, so a push never meets a broken rule. */
function validated(input: Partial<RuleInput>): Partial<RuleInput> {
  const out = { ...input };
  if (input.source !== undefined) {
    try {
      compileSource(input.source);
    } catch (err) {
      throw invalid("source", `is not a valid /regex/ (${(err as Error).message})`);
    }
  }
  input.tags?.forEach((t, i) => {
    const error = templateError(t);
    if (error) throw invalid(`tags[${i}]`, error);
  });
  for (const key of ["dockerfileDir", "context"] as const) {
    const value = input[key];
    if (value === undefined) continue;
    const p = repoPath(value, key);
    if (!p.ok) throw invalid(key, p.reason);
    out[key] = key === "dockerfileDir" ? `/${p.path}` : p.path;
  }
  if (input.dockerfileName !== undefined) {
    const p = repoPath(input.dockerfileName, "dockerfileName");
    if (!p.ok) throw invalid("dockerfileName", p.reason);
    if (p.path === "") throw invalid("dockerfileName", "must name a file");
    out.dockerfileName = p.path;
  }
  return out;
}

const queries = perDb((db) => ({
  byRepository: db
    .select()
    .from(buildRules)
    .where(eq(buildRules.repositoryId, sql.placeholder("id")))
    .orderBy(asc(buildRules.id))
    .prepare(),
}));

export async function listRules(db: Db, repositoryId: number): Promise<RuleRow[]> {
  return queries(db).byRepository.all({ id: repositoryId });
}

export async function findRule(db: Db, repositoryId: number, id: number): Promise<RuleRow> {
  const row = await db
    .select()
    .from(buildRules)
    .where(and(eq(buildRules.repositoryId, repositoryId), eq(buildRules.id, id)))
    .get();
  if (!row) throw notFound("build rule", String(id), "BuildRuleNotFound");
  return row;
}

export async function createRule(db: Db, repositoryId: number, input: RuleInput): Promise<RuleRow> {
  const v = validated(input) as RuleInput;
  return db
    .insert(buildRules)
    .values({
      repositoryId,
      sourceType: v.sourceType,
      source: v.source,
      tags: v.tags,
      dockerfileDir: v.dockerfileDir ?? "/",
      dockerfileName: v.dockerfileName ?? "Dockerfile",
      context: v.context ?? null,
      buildArgs: v.buildArgs ?? {},
      target: v.target ?? null,
      noCache: v.noCache ?? false,
      registryCache: v.registryCache ?? true,
      platforms: v.platforms ?? [],
      includePaths: v.includePaths ?? [],
      excludePaths: v.excludePaths ?? [],
      enabled: v.enabled ?? true,
    })
    .returning()
    .get();
}

export async function updateRule(
  db: Db,
  repositoryId: number,
  id: number,
  patch: Partial<RuleInput>,
): Promise<RuleRow> {
  await findRule(db, repositoryId, id);
  const v = validated(patch);
  return (await db
    .update(buildRules)
    .set({ ...v, updatedAt: new Date().toISOString() })
    .where(eq(buildRules.id, id))
    .returning()
    .get())!;
}

export async function deleteRule(db: Db, repositoryId: number, id: number): Promise<void> {
  await findRule(db, repositoryId, id);
  await db.delete(buildRules).where(eq(buildRules.id, id)).run();
}
