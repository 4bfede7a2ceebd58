import { and, eq, inArray, or, sql } from "drizzle-orm";
import type { Db } from "../db/connection.ts";
import { perDb } from "../db/prepared.ts";
import { groupMembers, iamGeneration, policies, policyAttachments } from "../db/schema.ts";
import { parsePolicy, type Policy } from "../policy/index.ts";

const queries = perDb((db) => {
  const userId = sql.placeholder("userId");
  const groupsOfUser = db
    .select({ id: groupMembers.groupId })
    .from(groupMembers)
    .where(eq(groupMembers.userId, userId));
  return {
    attachedToUser: db
      .selectDistinct({ id: policies.id, version: policies.version, name: policies.name })
      .from(policyAttachments)
      .innerJoin(policies, eq(policies.id, policyAttachments.policyId))
      .where(
        or(
          and(eq(policyAttachments.principalType, "user"), eq(policyAttachments.principalId, userId)),
          and(eq(policyAttachments.principalType, "group"), inArray(policyAttachments.principalId, groupsOfUser)),
        ),
      )
      .prepare(),
    documentOf: db
      .select({ document: policies.document })
      .from(policies)
      .where(eq(policies.id, sql.placeholder("id")))
      .prepare(),
    generation: db.select({ value: iamGeneration.value }).from(iamGeneration).where(eq(iamGeneration.id, 1)).prepare(),
  };
});

type PolicyRow = typeof policies.$inferSelect;

/**
 * Loads the policies that bind a user and keeps each compiled once per (policy id, version).
 * Every authorized call and token request asks, so each user's pool is kept until the IAM
 * generation (bumped by triggers on any change to policies, attachments or group members, by
 * any process) moves on.
 */
export class PolicyStore {
  private readonly compiled = new Map<string, Policy>();
  private readonly byUser = new Map<number, Policy[]>();
  private seenGeneration = -1;

  constructor(private readonly db: Db) {}

  /**
   * The same store reading through `tx`: inside a transaction the reads must use its connection
   * (on PostgreSQL a read on the pool would wait for a second connection, and a pool whose
   * connections all sit in such transactions never frees one).
   */
  within(tx: Db): { forUser(userId: number): Promise<Policy[]> } {
    return { forUser: (userId) => this.forUser(userId, tx) };
  }

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
  async forUser(userId: number, db: Db = this.db): Promise<Policy[]> {
    const q = queries(db);
    const generation = (await q.generation.get())?.value ?? 0;
    if (generation !== this.seenGeneration) {
      this.byUser.clear();
      this.seenGeneration = generation;
    }
    let pool = this.byUser.get(userId);
    if (!pool) {
      const loaded: Policy[] = [];
      for (const row of await q.attachedToUser.all({ userId })) {
        const cached = this.compiled.get(`${row.id}:${row.version}`);
        loaded.push(cached ?? this.compile({ ...row, document: (await q.documentOf.get({ id: row.id }))!.document }));
      }
      pool = loaded;
      // Another call may have seen a newer generation while this one read: its pool is not kept then.
      if (generation === this.seenGeneration) {
        if (this.byUser.size >= 10_000) this.byUser.clear();
        this.byUser.set(userId, pool);
      }
    }
    return pool;
  }
}
