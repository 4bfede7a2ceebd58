import { setTimeout as sleep } from "node:timers/promises";
import type { Db } from "../db/connection.ts";
import { ACTIVE_BUILD_STATUSES, type BuildStatus } from "../db/enums.ts";
import { readLog, type LogPage } from "./logs.ts";
import type { BuildQueue } from "./queue.ts";
import { findBuild } from "./records.ts";

/** Throws BuildNotFound for a build of another account. */
async function hasEnded(db: Db, accountId: string, id: string): Promise<boolean> {
  return !(ACTIVE_BUILD_STATUSES as readonly BuildStatus[]).includes((await findBuild(db, accountId, id)).status);
}

/** A log that cannot be read now (Redis down) reads as no new lines. */
function readOrNothing(db: Db, queue: BuildQueue | undefined, id: string, offset: number): Promise<LogPage> {
  return readLog(db, queue, id, offset).catch(() => ({ lines: [] as string[], next: offset, truncated: false }));
}

/** One page of a build's log from line `offset`, and whether the build has ended. */
export async function logPage(
  db: Db,
  queue: BuildQueue | undefined,
  accountId: string,
  id: string,
  offset: number,
): Promise<LogPage & { ended: boolean }> {
  const page = await readOrNothing(db, queue, id, offset);
  return { ...page, ended: await hasEnded(db, accountId, id) };
}

/**
 * Follows a build's log from line `offset`: sends each line with its number, looks again every
 * `pollMs` while nothing new came, and stops once the build has ended and every line was sent.
 * Resolves to the build's final status.
 */
export async function followLog(
  db: Db,
  queue: BuildQueue | undefined,
  accountId: string,
  id: string,
  offset: number,
  send: (line: string, n: number) => Promise<void>,
  pollMs = 500,
): Promise<BuildStatus> {
  let next = offset;
  for (;;) {
    const done = await hasEnded(db, accountId, id);
    const page = await readOrNothing(db, queue, id, next);
    for (const line of page.lines) await send(line, next++);
    if (done && page.lines.length === 0) break;
    if (page.lines.length === 0) await sleep(pollMs);
  }
  return (await findBuild(db, accountId, id)).status;
}
