import { and, asc, eq, inArray, is, isNotNull, lt, sql, type SQL } from "drizzle-orm";
import { SQLiteTable, type SQLiteColumn } from "drizzle-orm/sqlite-core";
import type { Db } from "./connection.ts";
import { auditEvents, buildLogs, builds, deliveries, registryEvents, webhookDeliveries } from "./schema.ts";

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
  delete(db: Db, before: string, limit: number): Promise<number>;
}

const DAY_MS = 24 * 3600 * 1000;

/** A table that ages out, as `oldest` reads it: its key, the column that dates it, and its insertion order. */
interface Aging<K extends string | number> {
  table: SQLiteTable;
  id: SQLiteColumn & { _: { data: K } };
  at: SQLiteColumn;
  /**
   * What orders the rows as they were written. An integer key does (autoincrement on SQLite, an
   * identity on PostgreSQL); a table keyed by text has SQLite's rowid, and on PostgreSQL, which has
   * no such column, the dating column stands in (a batch then sorts the table's dates).
   */
  order: SQLiteColumn | SQL;
}

/** SQLite's rowid where the open database is SQLite (its tables are SQLite tables), else `fallback`. */
const rowidOr = (table: SQLiteTable, fallback: SQLiteColumn): SQLiteColumn | SQL =>
  is(table, SQLiteTable) ? sql`rowid` : fallback;

/**
 * The keys of the oldest rows, at most `limit`, in insertion order, up to the first row that is
 * not dated before `before`. The dating columns have no index, but rows go in with the time they
 * are written, so the old ones come first: a batch reads no more than `limit` rows however large
 * the table is, and the sweep stops at the first young row instead of reading the rest. A row
 * written out of order (a clock set back) goes at the next day's sweep.
 */
async function oldest<K extends string | number>(db: Db, t: Aging<K>, before: string, limit: number): Promise<K[]> {
  const rows = await db.select({ id: t.id, at: t.at }).from(t.table).orderBy(asc(t.order)).limit(limit).all();
  const old: K[] = [];
  for (const { id, at } of rows) {
    if (!((at as string) < before)) break;
    old.push(id as K);
  }
  return old;
}

/** Deletes the rows `oldest` picks. */
const simple =
  <K extends string | number>(aging: () => Aging<K>) =>
  async (db: Db, before: string, limit: number): Promise<number> => {
    const t = aging();
    const ids = await oldest(db, t, before, limit);
    if (ids.length === 0) return 0;
    return (await db.delete(t.table).where(inArray(t.id, ids)).run()).changes;
  };

// The tables are read when a sweep runs, not here: they are bound to the open database's dialect when it opens.
export const TARGETS: readonly Target[] = [
  {
    name: "deliveries",
    days: (r) => r.deliveriesDays,
    batch: 1000,
    // builds.delivery_id points here (on delete set null): the batch's builds are unlinked in one
    // statement, then the deliveries deleted, in one transaction.
    async delete(db, before, limit) {
      const ids = await oldest(
        db,
        { table: deliveries, id: deliveries.id, at: deliveries.receivedAt, order: deliveries.id },
        before,
        limit,
      );
      if (ids.length === 0) return 0;
      return db.transaction(async (tx) => {
        await tx.update(builds).set({ deliveryId: null }).where(inArray(builds.deliveryId, ids)).run();
        return (await tx.delete(deliveries).where(inArray(deliveries.id, ids)).run()).changes;
      });
    },
  },
  {
    // Outbound webhook deliveries (their tries go with them), after the inbound deliveries' days.
    name: "webhook_deliveries",
    days: (r) => r.deliveriesDays,
    batch: 1000,
    delete: simple(() => ({
      table: webhookDeliveries,
      id: webhookDeliveries.id,
      at: webhookDeliveries.createdAt,
      order: rowidOr(webhookDeliveries, webhookDeliveries.createdAt),
    })),
  },
  {
    name: "audit_events",
    days: (r) => r.auditDays,
    batch: 1000,
    delete: simple(() => ({ table: auditEvents, id: auditEvents.id, at: auditEvents.at, order: auditEvents.id })),
  },
  {
    name: "registry_events",
    days: (r) => r.registryEventsDays,
    batch: 1000,
    delete: simple(() => ({
      table: registryEvents,
      id: registryEvents.id,
      at: registryEvents.recordedAt,
      order: rowidOr(registryEvents, registryEvents.recordedAt),
    })),
  },
  {
    name: "build_logs",
    days: (r) => r.buildLogsDays,
    batch: 100,
    async delete(db, before, limit) {
      const batch = db
        .select({ id: buildLogs.buildId })
        .from(buildLogs)
        .innerJoin(builds, eq(builds.id, buildLogs.buildId))
        .where(and(isNotNull(builds.finishedAt), lt(builds.finishedAt, before)))
        .limit(limit);
      return (await db.delete(buildLogs).where(inArray(buildLogs.buildId, batch)).run()).changes;
    },
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
      const n = await target.delete(db, before, limit);
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
