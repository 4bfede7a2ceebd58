import type { Deps } from "./api/env.ts";
import { createMetrics } from "./metrics.ts";
import type { Config } from "./config.ts";
import { openDatabase } from "./db/connection.ts";
import { PolicyStore } from "./iam/policy-store.ts";
import type { Logger } from "./logger.ts";
import { AuditLog } from "./registry/audit-log.ts";
import { RegistryCredentials } from "./registry/credentials.ts";
import { loadSigningKeys } from "./registry/keys.ts";
import { LoginThrottle } from "./registry/login-throttle.ts";
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

/** Opens what the API process needs: SQLite (migrated), the compiled-policy cache, the token signer. */
export async function createDeps(config: Config, log: Logger, options: { queue?: boolean } = {}): Promise<Deps> {
  const db = openDatabase(config.dataDir);
  const metrics = createMetrics();
  metrics.onScrape("builds", () =>
    Object.fromEntries(
      (
        db.$client.prepare("select status, count(*) as n from builds group by status").all() as {
          status: string;
          n: number;
        }[]
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
    throttle: new LoginThrottle(),
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
  // Outbound webhooks: the API process sends the outbox's deliveries (SQLite only; no Redis needed).
  const webhooks = new WebhookDispatcher(db, config, log, metrics);
  // Jobs that finished while this API was down: their outcome is in Redis, not in SQLite yet.
  void dispatcher?.reconcile();
  const readiness: Deps["readiness"] = [
    {
      name: "sqlite",
      check: async () => {
        db.$client.prepare("select 1").get();
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
    consoleThrottle: new LoginThrottle(),
    readiness,
    metrics,
    queue,
    dispatcher,
    async close() {
      dispatcher?.close();
      webhooks.close();
      await buildEvents?.close();
      await queue?.close();
      audit.close();
      await retention.close();
      db.$client.close();
    },
  };
}
