import { sql } from "drizzle-orm";
import type { Db } from "../db/connection.ts";
import { auditEvents } from "../db/schema.ts";

export type AuditEvent = Omit<typeof auditEvents.$inferInsert, "id">;

/**
 * Token requests come by the thousand per second; their audit rows are written in one
 * transaction every `flushMs` instead of one transaction each. `flush()` writes at once.
 */
export class AuditLog {
  private pending: AuditEvent[] = [];
  private readonly timer: NodeJS.Timeout;
  private readonly insert;

  constructor(
    private readonly db: Db,
    flushMs = 200,
  ) {
    this.timer = setInterval(() => this.flush(), flushMs);
    this.timer.unref();
    const p = (name: string) => sql.placeholder(name);
    this.insert = db
      .insert(auditEvents)
      .values({
        accountId: p("accountId"),
        actor: p("actor"),
        sourceIp: p("sourceIp"),
        event: p("event"),
        resource: p("resource"),
        requested: p("requested"),
        granted: p("granted"),
        outcome: p("outcome"),
        reason: p("reason"),
        at: p("at"),
      })
      .prepare();
  }

  record(event: AuditEvent): void {
    this.pending.push({ ...event, at: event.at ?? new Date().toISOString() });
    if (this.pending.length >= 1000) this.flush();
  }

  flush(): void {
    if (this.pending.length === 0) return;
    const batch = this.pending;
    this.pending = [];
    this.db.transaction((tx) => {
      for (const row of batch)
        this.insert.run({
          accountId: null,
          sourceIp: null,
          resource: null,
          requested: null,
          granted: null,
          reason: null,
          ...row,
        });
    });
  }

  close(): void {
    clearInterval(this.timer);
    this.flush();
  }
}
