import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";

export interface Metrics {
  registry: Registry;
  /** Filled by the API's HTTP middleware (api/http-metrics.ts). */
  httpRequests: Counter<"method" | "route" | "status">;
  httpDuration: Histogram<"method" | "route">;
  webhookDeliveries: Counter<"provider" | "outcome">;
  /** Tries of outbound webhook deliveries: delivered, retry (another try is planned) or failed (the last one). */
  outboundTries: Counter<"event" | "outcome">;
  tokenScopes: Counter<"outcome">;
  failedLogins: Counter;
  buildWait: Histogram;
  buildDuration: Histogram<"status">;
  stageDuration: Histogram<"stage">;
  /** Gauges read at scrape time: builds by status (the database), jobs by state (BullMQ). */
  onScrape(name: "builds" | "queue", read: () => Promise<Record<string, number>> | Record<string, number>): void;
}

const DURATIONS = [1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600];

/** One registry per process (tests build several apps, each with its own). */
export function createMetrics(): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: "kiln_" });
  const registers = [registry];
  const httpRequests = new Counter({
    name: "kiln_http_requests_total",
    help: "HTTP requests by route and status",
    labelNames: ["method", "route", "status"] as const,
    registers,
  });
  const httpDuration = new Histogram({
    name: "kiln_http_request_duration_seconds",
    help: "HTTP request duration by route",
    labelNames: ["method", "route"] as const,
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5],
    registers,
  });
  const readers: Partial<Record<"builds" | "queue", () => Promise<Record<string, number>> | Record<string, number>>> =
    {};
  const gauge = (name: string, help: string, label: string, key: "builds" | "queue") =>
    new Gauge({
      name,
      help,
      labelNames: [label],
      registers,
      async collect() {
        const read = readers[key];
        if (!read) return;
        this.reset();
        try {
          for (const [value, n] of Object.entries(await read())) this.set({ [label]: value }, n);
        } catch {
          // the source is down: the gauge stays empty rather than failing the scrape
        }
      },
    });
  gauge("kiln_builds", "Builds by status", "status", "builds");
  gauge("kiln_build_queue_jobs", "Jobs in the build queue by state", "state", "queue");

  return {
    registry,
    httpRequests,
    httpDuration,
    webhookDeliveries: new Counter({
      name: "kiln_webhook_deliveries_total",
      help: "Webhook deliveries by provider and outcome",
      labelNames: ["provider", "outcome"] as const,
      registers,
    }),
    outboundTries: new Counter({
      name: "kiln_outbound_webhook_tries_total",
      help: "Tries of outbound webhook deliveries by event and outcome (delivered, retry, failed)",
      labelNames: ["event", "outcome"] as const,
      registers,
    }),
    tokenScopes: new Counter({
      name: "kiln_registry_token_scopes_total",
      help: "Registry token scopes by outcome (granted, partial, denied)",
      labelNames: ["outcome"] as const,
      registers,
    }),
    failedLogins: new Counter({
      name: "kiln_registry_failed_logins_total",
      help: "Failed or throttled registry logins",
      registers,
    }),
    buildWait: new Histogram({
      name: "kiln_build_wait_seconds",
      help: "From queued to a worker starting the build",
      buckets: [0.05, 0.1, 0.2, 0.5, 1, 5, 15, 60, 300],
      registers,
    }),
    buildDuration: new Histogram({
      name: "kiln_build_duration_seconds",
      help: "From start to end of a build, by final status",
      labelNames: ["status"] as const,
      buckets: DURATIONS,
      registers,
    }),
    stageDuration: new Histogram({
      name: "kiln_build_stage_duration_seconds",
      help: "Duration of each build stage",
      labelNames: ["stage"] as const,
      buckets: DURATIONS,
      registers,
    }),
    onScrape(name, read) {
      readers[name] = read;
    },
  };
}
