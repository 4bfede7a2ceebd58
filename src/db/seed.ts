import { and, eq, isNull } from "drizzle-orm";
import { SYSTEM_POLICIES } from "../policy/index.ts";
import type { Db } from "./types.ts";
import { policies } from "./schema.ts";

/** Writes the built-in system policies, bumping the version when their text changed. */
export async function seedSystemPolicies(db: Db): Promise<void> {
  for (const p of SYSTEM_POLICIES) {
    const document = JSON.stringify(p.document);
    const row = await db
      .select()
      .from(policies)
      .where(and(isNull(policies.accountId), eq(policies.name, p.name)))
      .get();
    if (!row) {
      await db
        .insert(policies)
        .values({ accountId: null, name: p.name, type: "System", description: p.description, document })
        .onConflictDoNothing()
        .run();
    } else if (row.document !== document) {
      await db
        .update(policies)
        .set({ document, description: p.description, version: row.version + 1, updatedAt: new Date().toISOString() })
        .where(eq(policies.id, row.id))
        .run();
    }
  }
}
