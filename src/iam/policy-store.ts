import { and, eq, inArray, or, sql } from "drizzle-orm";
import type { Db } from "../db/connection.ts";
import { groupMembers, iamGeneration, policies, policyAttachments } from "../db/schema.ts";
import { parsePolicy, type Policy } from "../policy/index.ts";

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
  private readonly attachedToUser;
  private readonly documentOf;
  private readonly generation;

  constructor(db: Db) {
    const userId = sql.placeholder("userId");
    const groupsOfUser = db
      .select({ id: groupMembers.groupId })
      .from(groupMembers)
      .where(eq(groupMembers.userId, userId));
    this.attachedToUser = db
      .selectDistinct({ id: policies.id, version: policies.version, name: policies.name })
      .from(policyAttachments)
      .innerJoin(policies, eq(policies.id, policyAttachments.policyId))
      .where(
        or(
          and(eq(policyAttachments.principalType, "user"), eq(policyAttachments.principalId, userId)),
          and(eq(policyAttachments.principalType, "group"), inArray(policyAttachments.principalId, groupsOfUser)),
        ),
      )
      .prepare();
    this.documentOf = db
      .select({ document: policies.document })
      .from(policies)
      .where(eq(policies.id, sql.placeholder("id")))
      .prepare();
    this.generation = db
      .select({ value: iamGeneration.value })
      .from(iamGeneration)
      .where(eq(iamGeneration.id, 1))
      .prepare();
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
  async forUser(userId: number): Promise<Policy[]> {
    const generation = (await this.generation.get())?.value ?? 0;
    if (generation !== this.seenGeneration) {
      this.byUser.clear();
      this.seenGeneration = generation;
    }
    let pool = this.byUser.get(userId);
    if (!pool) {
      const loaded: Policy[] = [];
      for (const row of await this.attachedToUser.all({ userId })) {
        const cached = this.compiled.get(`${row.id}:${row.version}`);
        loaded.push(
          cached ?? this.compile({ ...row, document: (await this.documentOf.get({ id: row.id }))!.document }),
        );
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
