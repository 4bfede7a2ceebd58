import { eq } from "drizzle-orm";
import type { Db } from "../db/connection.ts";
import { buildLogs } from "../db/schema.ts";
import type { BuildQueue } from "./queue.ts";

/** A build keeps at most this many log lines; the rest is replaced by one line that says so. */
export const MAX_LOG_LINES = 20_000;

export interface LogPage {
  lines: string[];
  /** Where the next page starts. */
  next: number;
  truncated: boolean;
}

/** Lines from `offset` on: from SQLite once the build has ended, else from the job's log in Redis. */
export async function readLog(
  db: Db,
  queue: BuildQueue | undefined,
  buildId: string,
  offset: number,
  limit = 1000,
): Promise<LogPage> {
  const stored = await db.select().from(buildLogs).where(eq(buildLogs.buildId, buildId)).get();
  if (stored) {
    const lines = stored.lines.slice(offset, offset + limit);
    return { lines, next: offset + lines.length, truncated: stored.truncated };
  }
  if (!queue) return { lines: [], next: offset, truncated: false };
  const { logs } = await queue.queue.getJobLogs(buildId, offset, offset + limit - 1);
  return { lines: logs, next: offset + logs.length, truncated: false };
}

/** Copies an ended build's log out of Redis, capped at MAX_LOG_LINES. */
export async function keepLog(db: Db, queue: BuildQueue, buildId: string): Promise<void> {
  const { logs, count } = await queue.queue.getJobLogs(buildId, 0, MAX_LOG_LINES - 1);
  const truncated = count > MAX_LOG_LINES;
  const lines = truncated ? [...logs, `[log truncated: ${count - MAX_LOG_LINES} more lines were not kept]`] : logs;
  await db
    .insert(buildLogs)
    .values({ buildId, lines, truncated })
    .onConflictDoUpdate({ target: buildLogs.buildId, set: { lines, truncated } })
    .run();
}
