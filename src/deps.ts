import type { Deps } from "./api/env.ts";
import type { Config } from "./config.ts";
import { openDatabase } from "./db/connection.ts";
import { PolicyStore } from "./iam/policy-store.ts";
import type { Logger } from "./logger.ts";
import { AuditLog } from "./registry/audit-log.ts";
import { RegistryCredentials } from "./registry/credentials.ts";
import { loadSigningKeys } from "./registry/keys.ts";
import { LoginThrottle } from "./registry/login-throttle.ts";
import { TokenService } from "./registry/token-service.ts";

/** Opens what the API process needs: SQLite (migrated), the compiled-policy cache, the token signer. */
export async function createDeps(config: Config, log: Logger): Promise<Deps> {
  const db = openDatabase(config.dataDir);
  const policies = new PolicyStore(db);
  const keys = await loadSigningKeys(config.dataDir);
  const credentials = new RegistryCredentials(db, config.secretKey);
  const audit = new AuditLog(db);
  const tokens = new TokenService({ config, db, policies, keys, credentials, throttle: new LoginThrottle(), audit });
  return {
    config,
    db,
    log,
    policies,
    keys,
    credentials,
    audit,
    tokens,
    consoleThrottle: new LoginThrottle(),
    readiness: [
      {
        name: "sqlite",
        check: async () => {
          db.$client.prepare("select 1").get();
          return { ok: true };
        },
      },
    ],
    close() {
      audit.close();
      db.$client.close();
    },
  };
}
