import { and, eq, gt, inArray, lt } from "drizzle-orm";
import type { Db } from "../db/connection.ts";
import { loginFailures } from "../db/schema.ts";

/** Where failures are counted: this process's memory, or the database every API replica shares. */
export interface FailureStore {
  /** The failure times (ms) after `since` of each key that has any. */
  recent(keys: readonly string[], since: number): Promise<Map<string, number[]>>;
  add(keys: readonly string[], at: number): Promise<void>;
  clear(key: string): Promise<void>;
  /** Forgets failures at or before `before`. */
  prune(before: number): Promise<void>;
}

/**
 * Failed logins, counted per login name and per source address in a sliding window. Past the
 * limit, further attempts are refused (429) until the oldest failure leaves the window.
 */
export class LoginThrottle {
  private sincePrune = 0;

  constructor(
    private readonly store: FailureStore = new MemoryFailures(),
    private readonly limit = 10,
    private readonly windowMs = 15 * 60_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** Seconds to wait before trying again, or 0 when the key may try now. */
  async retryAfter(keys: readonly string[]): Promise<number> {
    const now = this.now();
    let wait = 0;
    for (const times of (await this.store.recent(keys, now - this.windowMs)).values())
      if (times.length >= this.limit)
        wait = Math.max(wait, Math.ceil((Math.min(...times) + this.windowMs - now) / 1000));
    return wait;
  }

  async fail(keys: readonly string[]): Promise<void> {
    const now = this.now();
    await this.store.add(keys, now);
    if (++this.sincePrune >= 1000) {
      this.sincePrune = 0;
      await this.store.prune(now - this.windowMs);
    }
  }

  /** A success clears the login name's count, not the address's. */
  async succeed(loginKey: string): Promise<void> {
    await this.store.clear(loginKey);
  }
}

/** Failures in this process only (a single API process, and the unit tests). */
export class MemoryFailures implements FailureStore {
  private readonly failures = new Map<string, number[]>();

  async recent(keys: readonly string[], since: number): Promise<Map<string, number[]>> {
    const found = new Map<string, number[]>();
    for (const key of keys) {
      const times = (this.failures.get(key) ?? []).filter((t) => t > since);
      if (times.length) found.set(key, times);
    }
    return found;
  }

  async add(keys: readonly string[], at: number): Promise<void> {
    for (const key of keys) this.failures.set(key, [...(this.failures.get(key) ?? []), at]);
  }

  async clear(key: string): Promise<void> {
    this.failures.delete(key);
  }

  async prune(before: number): Promise<void> {
    for (const [key, times] of this.failures) if (times.every((t) => t <= before)) this.failures.delete(key);
  }
}

/**
 * Failures in the database, so that every API replica counts the same attempts: ten bad
 * passwords spread over replicas lock the login on all of them. `scope` keeps the registry's
 * and the console's counts apart.
 */
export class DatabaseFailures implements FailureStore {
  constructor(
    private readonly db: Db,
    private readonly scope: string,
  ) {}

  async recent(keys: readonly string[], since: number): Promise<Map<string, number[]>> {
    const found = new Map<string, number[]>();
    if (keys.length === 0) return found;
    const rows = await this.db
      .select({ key: loginFailures.key, at: loginFailures.failedAt })
      .from(loginFailures)
      .where(
        and(
          eq(loginFailures.scope, this.scope),
          inArray(loginFailures.key, [...keys]),
          gt(loginFailures.failedAt, since),
        ),
      )
      .all();
    for (const { key, at } of rows) found.set(key, [...(found.get(key) ?? []), at]);
    return found;
  }

  async add(keys: readonly string[], at: number): Promise<void> {
    if (keys.length === 0) return;
    await this.db
      .insert(loginFailures)
      .values(keys.map((key) => ({ scope: this.scope, key, failedAt: at })))
      .run();
  }

  async clear(key: string): Promise<void> {
    await this.db
      .delete(loginFailures)
      .where(and(eq(loginFailures.scope, this.scope), eq(loginFailures.key, key)))
      .run();
  }

  async prune(before: number): Promise<void> {
    await this.db
      .delete(loginFailures)
      .where(and(eq(loginFailures.scope, this.scope), lt(loginFailures.failedAt, before + 1)))
      .run();
  }
}
