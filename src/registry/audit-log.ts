import type { Db } from "../db/connection.ts";
import { auditEvents } from "../db/schema.ts";

export type AuditEvent = Omit<typeof auditEvents.$inferInsert, "id">;

/** Rows per insert statement: 10 columns each stays far below either database's parameter limit. */
const ROWS_PER_INSERT = 100;

/**
 * Token requests come by the thousand per second; their audit rows are written in one
 * transaction every `flushMs` instead of one transaction each. `flush()` writes at once.
 */
export class AuditLog {
  private pending: AuditEvent[] = [];
  private readonly timer: NodeJS.Timeout;
  /** Flushes under way, so that close() waits for them. */
  private readonly writing = new Set<Promise<void>>();

  constructor(
    private readonly db: Db,
    flushMs = 200,
  ) {
    this.timer = setInterval(() => this.flushInBackground(), flushMs);
    this.timer.unref();
  }

  record(event: AuditEvent): void {
    this.pending.push({ ...event, at: event.at ?? new Date().toISOString() });
    if (this.pending.length >= 1000) this.flushInBackground();
  }

  /** Writes what is pending and waits for the writes under way: a reader afterwards sees every event recorded so far. */
  async flush(): Promise<void> {
    if (this.pending.length === 0) {
      await Promise.all([...this.writing]);
      return;
    }
    const batch = this.pending.map((row) => ({
      accountId: null,
      sourceIp: null,
      resource: null,
      requested: null,
      granted: null,
      reason: null,
      ...row,
    }));
    this.pending = [];
    const written = this.db.transaction(async (tx) => {
      for (let i = 0; i < batch.length; i += ROWS_PER_INSERT)
        await tx
          .insert(auditEvents)
          .values(batch.slice(i, i + ROWS_PER_INSERT))
          .run();
    });
    const tracked = written.then(
      () => {},
      () => {},
    );
    const earlier = [...this.writing];
    this.writing.add(tracked);
    try {
      await written;
    } finally {
      this.writing.delete(tracked);
    }
    await Promise.all(earlier);
  }

  private flushInBackground(): void {
    void this.flush().catch((err: unknown) => console.error("kiln: writing audit events failed:", err));
  }

  /** Stops the timer and writes what is left, after the flushes under way. */
  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
    await Promise.all([...this.writing]);
  }
}
