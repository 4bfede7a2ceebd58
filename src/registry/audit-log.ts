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

  constructor(
    private readonly db: Db,
    flushMs = 200,
  ) {
    this.timer = setInterval(() => this.flush(), flushMs);
    this.timer.unref();
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
      for (const row of batch) tx.insert(auditEvents).values(row).run();
    });
  }

  close(): void {
    clearInterval(this.timer);
    this.flush();
  }
}
