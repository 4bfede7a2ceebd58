import type { Db, RawRunner } from "./connection.ts";

/** PostgreSQL (node-postgres) for the control plane: written in the next step. */
export async function openPostgres(url: string): Promise<{ db: Db; raw: RawRunner; close: () => Promise<void> }> {
  throw new Error(`PostgreSQL is not wired yet (${url.replace(/\/\/([^@/]*)@/, "//***@")})`);
}
