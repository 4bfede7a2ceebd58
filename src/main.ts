import { serve } from "@hono/node-server";
import { createServer } from "./server.ts";
import { ConfigError, loadConfig } from "./config.ts";
import { createDeps } from "./deps.ts";
import { containUnhandledRejections, createLogger } from "./logger.ts";

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(`kiln: ${err.message}`);
      process.exit(2);
    }
    throw err;
  }
  const log = createLogger(config.logLevel);
  containUnhandledRejections(log);
  // Loaded only where a worker runs: dockerode and its gRPC stack cost an API-only process ~25 MB.
  const worker =
    config.role === "api" ? undefined : (await import("../workers/build-worker.ts")).startBuildWorker(config, log);
  if (worker) log.info({ concurrency: config.workerConcurrency }, "build worker started");
  if (config.role === "worker") {
    const stopWorker = () => void worker!.close().finally(() => process.exit(0));
    process.once("SIGTERM", stopWorker);
    process.once("SIGINT", stopWorker);
    return;
  }

  const deps = await createDeps(config, log, { queue: true });
  const app = createServer(deps);
  const server = serve({ fetch: app.fetch, port: config.port, hostname: config.host }, (info) => {
    log.info(
      { address: info.address, port: info.port, dataDir: config.dataDir, regions: config.regions.map((r) => r.id) },
      "kiln api listening",
    );
  });

  const stop = (signal: string) => {
    log.info({ signal }, "shutting down");
    server.close(() => {
      void Promise.all([worker?.close(), deps.close()]).finally(() => process.exit(0));
    });
    setTimeout(() => process.exit(0), 5000).unref();
  };
  process.once("SIGTERM", () => stop("SIGTERM"));
  process.once("SIGINT", () => stop("SIGINT"));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
