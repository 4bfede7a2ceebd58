import { and, eq, isNull } from "drizzle-orm";
import { SYSTEM_POLICIES } from "../policy/index.ts";
import type { Db } from "./connection.ts";
import { policies } from "./schema.ts";

/** Writes the built-in system policies, bumping the version when their text changed. */
export function seedSystemPolicies(db: Db): void {
  for (const p of SYSTEM_POLICIES) {
    const document = JSON.stringify(p.document);
    const row = db.select().from(policies).where(and(isNull(policies.accountId), eq(policies.name, p.name))).get();
    if (!row) {
      db.insert(policies).values({ accountId: null, name: p.name, type: "System", description: p.description, document }).run();
    } else if (row.document !== document) {
      db.update(policies).set({ document, description: p.description, version: row.version + 1, updatedAt: new Date().toISOString() }).where(eq(policies.id, row.id)).run();
    }
  }
}
