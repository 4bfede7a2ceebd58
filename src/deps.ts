import type { Deps } from "./api/env.ts";
import { createMetrics } from "./metrics.ts";
import type { Config } from "./config.ts";
import { sql } from "drizzle-orm";
import { closeDatabase, openDatabase, rows } from "./db/connection.ts";
import { PolicyStore } from "./iam/policy-store.ts";
import type { Logger } from "./logger.ts";
import { AuditLog } from "./registry/audit-log.ts";
import { RegistryCredentials } from "./registry/credentials.ts";
import { loadSigningKeys } from "./registry/keys.ts";
import { DatabaseFailures, LoginThrottle } from "./registry/login-throttle.ts";
import { TokenService } from "./registry/token-service.ts";
import { Dispatcher } from "./builds/dispatcher.ts";
import { BuildEvents } from "./builds/events.ts";
import { BuildQueue } from "./builds/queue.ts";
import { RetentionSweeper } from "./db/retention.ts";
import { WebhookDispatcher } from "./notifications/dispatcher.ts";

/** A Redis URL as it may be shown: without its password. */
function redactUrl(url: string): string {
  return url.replace(/\/\/([^@/]*)@/, "//***@");
}

/** Opens what the API process needs: the database (migrated), the compiled-policy cache, the token signer. */
export async function createDeps(config: Config, log: Logger, options: { queue?: boolean } = {}): Promise<Deps> {
  const db = await openDatabase(config.dataDir, { url: config.databaseUrl, pool: config.databasePool });
  const metrics = createMetrics();
  metrics.onScrape("builds", async () =>
    Object.fromEntries(
      (
        await rows<{ status: string; n: number }>(
          db,
          sql`select status, cast(count(*) as integer) as n from builds group by status`,
        )
      ).map((r) => [r.status, r.n]),
    ),
  );
  const policies = new PolicyStore(db);
  const keys = await loadSigningKeys(config.dataDir);
  const credentials = new RegistryCredentials(db, config.secretKey);
  const audit = new AuditLog(db);
  const tokens = new TokenService({
    config,
    db,
    policies,
    keys,
    credentials,
    throttle: new LoginThrottle(new DatabaseFailures(db, "registry")),
    audit,
    metrics,
  });
  const queue = options.queue
    ? new BuildQueue(config.redisUrl, {
        completedSeconds: Math.round(config.retention.completedJobsDays * 24 * 3600),
        failedSeconds: Math.round(config.retention.failedJobsDays * 24 * 3600),
      })
    : undefined;
  const dispatcher = queue ? new Dispatcher(db, config, credentials, queue, log) : undefined;
  const buildEvents = queue ? new BuildEvents(db, config.redisUrl, log, queue, metrics) : undefined;
  if (queue)
    metrics.onScrape(
      "queue",
      () =>
        queue.queue.getJobCounts("waiting", "active", "delayed", "failed", "completed") as Promise<
          Record<string, number>
        >,
    );
  // Old deliveries, audit and registry events, and old builds' logs: a minute after start, then daily.
  const retention = new RetentionSweeper(db, config.retention, log);
  dispatcher?.wake();
  // Outbound webhooks: the API process sends the outbox's deliveries (the database only; no Redis needed).
  const webhooks = new WebhookDispatcher(db, config, log, metrics);
  // Jobs that finished while this API was down: their outcome is in Redis, not in the database yet.
  void dispatcher?.reconcile();
  const readiness: Deps["readiness"] = [
    {
      // "sqlite" is the name /readyz has always shown (tests and monitors read it).
      name: config.databaseUrl ? "postgres" : "sqlite",
      check: async () => {
        await rows(db, sql`select 1`);
        return { ok: true };
      },
    },
  ];
  if (queue)
    readiness.push({
      name: "redis",
      check: async () =>
        (await queue.ping().catch(() => false))
          ? { ok: true }
          : { ok: false, detail: `no answer from ${redactUrl(config.redisUrl)}` },
    });
  return {
    config,
    db,
    log,
    policies,
    keys,
    credentials,
    audit,
    tokens,
    consoleThrottle: new LoginThrottle(new DatabaseFailures(db, "console")),
    readiness,
    metrics,
    queue,
    dispatcher,
    async close() {
      dispatcher?.close();
      await webhooks.close();
      await buildEvents?.close();
      await queue?.close();
      await audit.close();
      await retention.close();
      await closeDatabase(db);
    },
  };
}
