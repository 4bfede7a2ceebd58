import type { Config } from "../config.ts";
import type { Db } from "../db/connection.ts";
import type { PolicyStore } from "../iam/policy-store.ts";
import type { Principal } from "../iam/principal.ts";
import type { Dispatcher } from "../builds/dispatcher.ts";
import type { BuildQueue } from "../builds/queue.ts";
import type { Logger } from "../logger.ts";
import type { Metrics } from "../metrics.ts";
import type { AuditLog } from "../registry/audit-log.ts";
import type { RegistryCredentials } from "../registry/credentials.ts";
import type { SigningKeys } from "../registry/keys.ts";
import type { LoginThrottle } from "../registry/login-throttle.ts";
import type { TokenService } from "../registry/token-service.ts";

/** A dependency that /readyz reports on. */
export interface ReadinessCheck {
  name: string;
  check(): Promise<{ ok: boolean; detail?: string }>;
}

export interface Deps {
  config: Config;
  db: Db;
  log: Logger;
  policies: PolicyStore;
  keys: SigningKeys;
  credentials: RegistryCredentials;
  audit: AuditLog;
  tokens: TokenService;
  /** Failed console logins (POST /api/v1/sessions), apart from registry logins. */
  consoleThrottle: LoginThrottle;
  readiness: ReadinessCheck[];
  metrics: Metrics;
  /** The build queue and its outbox dispatcher; absent when the process runs without Redis. */
  queue?: BuildQueue;
  dispatcher?: Dispatcher;
  close(): Promise<void>;
}

/** Keeps only the items whose resource allows the route's action (per-item list filtering). */
export type ItemFilter = <T>(items: T[], partsOf: (item: T) => Record<string, string>) => T[];

export interface AppEnv {
  Variables: {
    principal: Principal;
    filterAllowed: ItemFilter;
    region: string;
  };
}
