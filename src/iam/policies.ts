import { and, asc, count, eq, isNull, or } from "drizzle-orm";
import { conflict, DomainError, notFound } from "../errors.ts";
import { isUniqueViolation, type Db } from "../db/connection.ts";
import type { PolicyType, PrincipalType } from "../db/enums.ts";
import { policies, policyAttachments } from "../db/schema.ts";
import { parsePolicy, PolicyError, type Policy } from "../policy/index.ts";
import type { PolicyView } from "./schemas.ts";

type PolicyRow = typeof policies.$inferSelect;

export function policyView(row: PolicyRow, attachmentCount: number): PolicyView {
  return {
    name: row.name,
    type: row.type,
    description: row.description,
    document: JSON.parse(row.document),
    version: row.version,
    attachmentCount,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
  };
}

/** Parses a document for the API: a PolicyError becomes a 400 that names the element. */
export function parseDocument(document: unknown, field = "document", name?: string): Policy {
  try {
    return parsePolicy(document, { name });
  } catch (err) {
    if (err instanceof PolicyError) {
      const path = err.path ? `${field}.${err.path}` : field;
      throw new DomainError("MalformedPolicyDocument", `${path}: ${err.reason}`, { field: path, path: err.path });
    }
    throw err;
  }
}

const visibleTo = (accountId: string) => or(isNull(policies.accountId), eq(policies.accountId, accountId));

export async function listPolicies(db: Db, accountId: string, type?: PolicyType): Promise<PolicyRow[]> {
  return await db
    .select()
    .from(policies)
    .where(and(visibleTo(accountId), type ? eq(policies.type, type) : undefined))
    .orderBy(asc(policies.type), asc(policies.name))
    .all();
}

/** A custom policy of the account, else a system policy of that name (or the one `type` names). */
export async function findPolicy(db: Db, accountId: string, name: string, type?: PolicyType): Promise<PolicyRow> {
  const rows = await db
    .select()
    .from(policies)
    .where(and(visibleTo(accountId), eq(policies.name, name)))
    .all();
  const row = rows.find((r) => (type ? r.type === type : r.type === "Custom")) ?? (type ? undefined : rows[0]);
  if (!row) throw notFound("policy", name, "PolicyNotFound");
  return row;
}

export async function attachmentCount(db: Db, policyId: number): Promise<number> {
  const row = await db
    .select({ n: count() })
    .from(policyAttachments)
    .where(eq(policyAttachments.policyId, policyId))
    .get();
  return row?.n ?? 0;
}

export async function createPolicy(
  db: Db,
  accountId: string,
  input: { name: string; document: unknown; description?: string },
): Promise<PolicyRow> {
  const parsed = parseDocument(input.document);
  if ((await listPolicies(db, accountId, "System")).some((p) => p.name === input.name)) {
    throw conflict("PolicyAlreadyExists", `"${input.name}" is the name of a system policy`);
  }
  try {
    return await db
      .insert(policies)
      .values({
        accountId,
        name: input.name,
        type: "Custom",
        description: input.description ?? null,
        document: JSON.stringify(parsed.document),
      })
      .returning()
      .get();
  } catch (err) {
    if (isUniqueViolation(err)) throw conflict("PolicyAlreadyExists", `policy "${input.name}" already exists`);
    throw err;
  }
}

export async function deletePolicy(db: Db, accountId: string, name: string): Promise<PolicyRow> {
  const row = await findPolicy(db, accountId, name, "Custom");
  const uses = await attachmentCount(db, row.id);
  if (uses > 0)
    throw conflict("PolicyInUse", `policy "${name}" is attached to ${uses} user(s) or group(s); detach it first`);
  await db.delete(policies).where(eq(policies.id, row.id)).run();
  return row;
}

export async function attachPolicy(
  db: Db,
  policyId: number,
  principalType: PrincipalType,
  principalId: number,
): Promise<void> {
  await db.insert(policyAttachments).values({ policyId, principalType, principalId }).onConflictDoNothing().run();
}

export async function detachPolicy(
  db: Db,
  policyId: number,
  principalType: PrincipalType,
  principalId: number,
): Promise<boolean> {
  const result = await db
    .delete(policyAttachments)
    .where(
      and(
        eq(policyAttachments.policyId, policyId),
        eq(policyAttachments.principalType, principalType),
        eq(policyAttachments.principalId, principalId),
      ),
    )
    .run();
  return result.changes > 0;
}

export async function policiesAttachedTo(
  db: Db,
  principalType: PrincipalType,
  principalId: number,
): Promise<PolicyRow[]> {
  const rows = await db
    .select({ p: policies })
    .from(policyAttachments)
    .innerJoin(policies, eq(policies.id, policyAttachments.policyId))
    .where(and(eq(policyAttachments.principalType, principalType), eq(policyAttachments.principalId, principalId)))
    .orderBy(asc(policies.name))
    .all();
  return rows.map((r) => r.p);
}
