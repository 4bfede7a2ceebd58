import { and, eq, isNull } from "drizzle-orm";
import { SYSTEM_POLICIES } from "../policy/index.ts";
import type { BetterSQLite3Database } from "drizzle-orm/better-sqlite3";
import type * as schema from "./schema.ts";
import { policies } from "./schema.ts";

/**
 * Writes the built-in system policies, bumping the version when their text changed. Typed with
 * drizzle's database rather than connection.ts's Db: connection.ts calls this when it opens one.
 */
export function seedSystemPolicies(db: BetterSQLite3Database<typeof schema>): void {
  for (const p of SYSTEM_POLICIES) {
    const document = JSON.stringify(p.document);
    const row = db
      .select()
      .from(policies)
      .where(and(isNull(policies.accountId), eq(policies.name, p.name)))
      .get();
    if (!row) {
      db.insert(policies)
        .values({ accountId: null, name: p.name, type: "System", description: p.description, document })
        .run();
    } else if (row.document !== document) {
      db.update(policies)
        .set({ document, description: p.description, version: row.version + 1, updatedAt: new Date().toISOString() })
        .where(eq(policies.id, row.id))
        .run();
    }
  }
}
