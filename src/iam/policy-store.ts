import { and, eq, inArray, or } from "drizzle-orm";
import type { Db } from "../db/connection.ts";
import { groupMembers, policies, policyAttachments } from "../db/schema.ts";
import { parsePolicy, type Policy } from "../policy/index.ts";

type PolicyRow = typeof policies.$inferSelect;

/** Loads the policies that bind a user and keeps each compiled once per (policy id, version). */
export class PolicyStore {
  private readonly compiled = new Map<string, Policy>();

  constructor(private readonly db: Db) {}

  compile(row: Pick<PolicyRow, "id" | "version" | "name" | "document">): Policy {
    const key = `${row.id}:${row.version}`;
    let policy = this.compiled.get(key);
    if (!policy) {
      policy = parsePolicy(row.document, { name: row.name });
      this.compiled.set(key, policy);
    }
    return policy;
  }

  forget(policyId: number): void {
    for (const key of this.compiled.keys()) if (key.startsWith(`${policyId}:`)) this.compiled.delete(key);
  }

  /** The user's own policies and those of its groups, as one pool. */
  forUser(userId: number): Policy[] {
    const groupIds = this.db.select({ id: groupMembers.groupId }).from(groupMembers).where(eq(groupMembers.userId, userId)).all().map((g) => g.id);
    const principal = or(
      and(eq(policyAttachments.principalType, "user"), eq(policyAttachments.principalId, userId)),
      groupIds.length ? and(eq(policyAttachments.principalType, "group"), inArray(policyAttachments.principalId, groupIds)) : undefined,
    );
    const rows = this.db
      .selectDistinct({ id: policies.id, version: policies.version, name: policies.name, document: policies.document })
      .from(policyAttachments)
      .innerJoin(policies, eq(policies.id, policyAttachments.policyId))
      .where(principal)
      .all();
    return rows.map((r) => this.compile(r));
  }
}
