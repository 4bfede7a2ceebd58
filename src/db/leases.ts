import { and, eq, lt, or } from "drizzle-orm";
import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import { leases } from "./schema.ts";
import type { Db } from "./types.ts";

/**
 * This process, as a lease holder. Two live API processes never share a host and port, and an API
 * restarted on its host and port takes its leases back at once instead of waiting for them to
 * expire; without a port (a CLI), the process id and a random part make it unique.
 */
export const PROCESS_HOLDER = process.env.PORT
  ? `${hostname()}:${process.env.PORT}`
  : `${hostname()}:pid-${process.pid}:${randomBytes(4).toString("hex")}`;

/**
 * A lease on work that one API process should do at a time, among any number sharing the
 * database. `hold()` takes the lease when it is free or expired and renews it when already held;
 * it answers whether this process holds it now. A holder that dies stops renewing, and another
 * takes over once `ttlMs` has passed.
 */
export class Lease {
  constructor(
    private readonly db: Db,
    readonly name: string,
    private readonly ttlMs = 5_000,
    private readonly holder = PROCESS_HOLDER,
    private readonly now: () => number = Date.now,
  ) {}

  async hold(): Promise<boolean> {
    const now = this.now();
    const won = await this.db
      .insert(leases)
      .values({ name: this.name, holder: this.holder, expiresAt: now + this.ttlMs })
      .onConflictDoUpdate({
        target: leases.name,
        set: { holder: this.holder, expiresAt: now + this.ttlMs },
        setWhere: or(eq(leases.holder, this.holder), lt(leases.expiresAt, now)),
      })
      .returning({ holder: leases.holder })
      .all();
    return won.length === 1;
  }

  /** Gives the lease up at once (a clean shutdown), so another process need not wait for expiry. */
  async release(): Promise<void> {
    await this.db
      .update(leases)
      .set({ expiresAt: 0 })
      .where(and(eq(leases.name, this.name), eq(leases.holder, this.holder)))
      .run();
  }
}
