import type { Deps } from "./api/env.ts";
import type { Config } from "./config.ts";
import { openDatabase } from "./db/connection.ts";
import { PolicyStore } from "./iam/policy-store.ts";
import type { Logger } from "./logger.ts";

/** Opens what the API process needs: SQLite (migrated) and the compiled-policy cache. */
export function createDeps(config: Config, log: Logger): Deps {
  const db = openDatabase(config.dataDir);
  return {
    config,
    db,
    log,
    policies: new PolicyStore(db),
    readiness: [
      {
        name: "sqlite",
        check: async () => {
          db.$client.prepare("select 1").get();
          return { ok: true };
        },
      },
    ],
  };
}
