import type Database from "better-sqlite3";
import type { Db } from "./connection.ts";
import { auditEvents, deliveries, registryEvents, webhookDeliveries } from "./schema.ts";

/** How long rows are kept, in days; 0 keeps them for ever. */
export interface Retention {
  deliveriesDays: number;
  auditDays: number;
  registryEventsDays: number;
  /** The log of a build that finished more than this long ago is deleted (the build row stays). */
  buildLogsDays: number;
}

/** One kind of row that ages out: the column that dates it, and how to delete one batch of the oldest. */
interface Target {
  name: "deliveries" | "webhook_deliveries" | "audit_events" | "registry_events" | "build_logs";
  days: (r: Retention) => number;
  /** Rows per statement: build logs are large (up to 20,000 lines each), so fewer of them at a time. */
  batch: number;
  /** Deletes at most `limit` rows dated before `before` (an ISO time); returns how many it deleted. */
  delete(sqlite: Database.Database, before: string, limit: number): number;
}

const DAY_MS = 24 * 3600 * 1000;

/**
 * The rowids of the oldest rows, at most `limit`, in insertion (rowid) order, up to the first row
 * that is not dated before `before`. The dating columns have no index, but rows go in with the
 * time they are written, so the old ones come first: a batch reads no more than `limit` rows
 * however large the table is, and the sweep stops at the first young row instead of reading the
 * rest. A row written out of order (a clock set back) goes at the next day's sweep.
 */
function oldest(sqlite: Database.Database, table: string, column: string, before: string, limit: number): string {
  const rows = sqlite.prepare(`select rowid, ${column} from ${table} order by rowid limit ?`).raw(true).all(limit) as [
    number,
    string,
  ][];
  const old: number[] = [];
  for (const [rowid, at] of rows) {
    if (!(at < before)) break;
    old.push(rowid);
  }
  return JSON.stringify(old);
}

/** Deletes the rows `oldest` picks. */
const simple = (table: string, column: string) => (sqlite: Database.Database, before: string, limit: number) =>
  sqlite
    .prepare(`delete from ${table} where rowid in (select value from json_each(?))`)
    .run(oldest(sqlite, table, column, before, limit)).changes;

export const TARGETS: readonly Target[] = [
  {
    name: "deliveries",
    days: (r) => r.deliveriesDays,
    batch: 1000,
    // builds.delivery_id points here (on delete set null) and has no index: letting SQLite null it
    // would scan builds once per deleted delivery. So the batch's builds are unlinked in one
    // statement, then the deliveries deleted with the (now satisfied) foreign-key check off.
    delete(sqlite, before, limit) {
      const list = oldest(sqlite, "deliveries", deliveries.receivedAt.name, before, limit);
      if (list === "[]") return 0;
      sqlite.exec("pragma foreign_keys = off"); // outside the transaction: inside one it does nothing
      try {
        return sqlite.transaction(() => {
          sqlite
            .prepare("update builds set delivery_id = null where delivery_id in (select value from json_each(?))")
            .run(list);
          return sqlite.prepare("delete from deliveries where id in (select value from json_each(?))").run(list)
            .changes;
        })();
      } finally {
        sqlite.exec("pragma foreign_keys = on");
      }
    },
  },
  {
    // Outbound webhook deliveries (their tries go with them), after the inbound deliveries' days.
    name: "webhook_deliveries",
    days: (r) => r.deliveriesDays,
    batch: 1000,
    delete: simple("webhook_deliveries", webhookDeliveries.createdAt.name),
  },
  {
    name: "audit_events",
    days: (r) => r.auditDays,
    batch: 1000,
    delete: simple("audit_events", auditEvents.at.name),
  },
  {
    name: "registry_events",
    days: (r) => r.registryEventsDays,
    batch: 1000,
    delete: simple("registry_events", registryEvents.recordedAt.name),
  },
  {
    name: "build_logs",
    days: (r) => r.buildLogsDays,
    batch: 100,
    delete: (sqlite, before, limit) =>
      sqlite
        .prepare(
          `delete from build_logs where build_id in (
             select l.build_id from build_logs l join builds b on b.id = l.build_id
             where b.finished_at is not null and b.finished_at < ? limit ?)`,
        )
        .run(before, limit).changes,
  },
];

/** What the sweep at `now` deletes: each kind of row with its cutoff (kinds kept for ever are left out). */
export function cutoffs(retention: Retention, now: Date): { name: Target["name"]; before: string }[] {
  return TARGETS.filter((t) => t.days(retention) > 0).map((t) => ({
    name: t.name,
    before: new Date(now.getTime() - t.days(retention) * DAY_MS).toISOString(),
  }));
}

const yieldToRequests = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * Deletes every row past its retention, one small batch per statement, yielding to the event
 * loop between batches so that requests are served meanwhile. `stopped()` ends it early (the
 * database is closing). Returns the rows deleted per kind.
 */
export async function sweep(
  db: Db,
  retention: Retention,
  options: { now?: Date; batch?: number; stopped?: () => boolean } = {},
): Promise<Record<string, number>> {
  const deleted: Record<string, number> = {};
  for (const { name, before } of cutoffs(retention, options.now ?? new Date())) {
    const target = TARGETS.find((t) => t.name === name)!;
    const limit = options.batch ?? target.batch;
    deleted[name] = 0;
    for (;;) {
      if (options.stopped?.()) return deleted;
      const n = target.delete(db.$client, before, limit);
      deleted[name] += n;
      if (n < limit) break;
      await yieldToRequests();
    }
    await yieldToRequests();
  }
  return deleted;
}

/** Runs `sweep` shortly after start, then daily; its timers never keep the process alive. */
export class RetentionSweeper {
  private readonly first: NodeJS.Timeout;
  private readonly daily: NodeJS.Timeout;
  private closed = false;
  private running: Promise<unknown> | undefined;

  constructor(
    private readonly db: Db,
    private readonly retention: Retention,
    private readonly log: {
      info(obj: object, msg: string): void;
      error(obj: object, msg: string): void;
    },
    options: { firstDelayMs?: number; intervalMs?: number } = {},
  ) {
    this.first = setTimeout(() => void this.run(), options.firstDelayMs ?? 60_000);
    this.first.unref();
    this.daily = setInterval(() => void this.run(), options.intervalMs ?? DAY_MS);
    this.daily.unref();
  }

  /** One sweep (not two at once); errors are logged, never thrown. */
  run(): Promise<unknown> {
    if (this.closed) return Promise.resolve();
    this.running ??= sweep(this.db, this.retention, { stopped: () => this.closed })
      .then((deleted) => {
        if (Object.values(deleted).some((n) => n > 0)) this.log.info({ deleted }, "retention sweep");
      })
      .catch((err) => this.log.error({ err }, "retention sweep failed"))
      .finally(() => (this.running = undefined));
    return this.running;
  }

  /** Stops the timers and waits for a sweep in progress to stop at its next batch. */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.first);
    clearInterval(this.daily);
    await this.running;
  }
}
