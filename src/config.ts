import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { z } from "zod";

/** One region id mapped to the host:port of the registry that serves it. */
export interface Region {
  id: string;
  registry: string;
}

const REGION_ID = /^[a-z][a-z0-9-]{0,62}$/;

function parseRegions(text: string, ctx: z.RefinementCtx): Region[] {
  const regions: Region[] = [];
  for (const entry of text
    .split(",")
    .map((e) => e.trim())
    .filter(Boolean)) {
    const eq = entry.indexOf("=");
    const id = eq < 0 ? entry : entry.slice(0, eq);
    const registry = eq < 0 ? "" : entry.slice(eq + 1);
    if (!REGION_ID.test(id) || !registry) {
      ctx.addIssue({ code: "custom", message: `"${entry}" is not region=host:port` });
      return z.NEVER;
    }
    if (regions.some((r) => r.id === id)) {
      ctx.addIssue({ code: "custom", message: `region "${id}" is listed twice` });
      return z.NEVER;
    }
    regions.push({ id, registry });
  }
  if (regions.length === 0) {
    ctx.addIssue({ code: "custom", message: "at least one region is needed" });
    return z.NEVER;
  }
  return regions;
}

const flag = z
  .enum(["0", "1", "true", "false", ""])
  .default("0")
  .transform((v) => v === "1" || v === "true");

/** Days a kind of row is kept; 0 keeps it for ever. */
const retainDays = (days: number) => z.coerce.number().min(0).max(100_000).default(days);
/** Days a finished BullMQ job is kept in Redis (at least an hour: the API reads outcomes from it). */
const jobDays = (days: number) =>
  z.coerce
    .number()
    .min(1 / 24)
    .max(365)
    .default(days);

/** Every variable Kiln reads (DESIGN §11); tests check deployment files against this list. */
export const EnvSchema = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).default(8080),
  KILN_HOST: z.string().min(1).default("127.0.0.1"),
  KILN_PUBLIC_URL: z.url().optional(),
  KILN_DATA_DIR: z.string().min(1).default("./data"),
  KILN_DATABASE_URL: z
    .string()
    .refine((v) => /^postgres(ql)?:\/\//.test(v), "must be a postgres:// or postgresql:// URL")
    .optional(),
  /** How many proxies of the operator's own stand in front of the API (X-Forwarded-For hops to trust). */
  KILN_TRUST_PROXY: z.coerce.number().int().min(0).max(10).default(0),
  /** Connections each API process keeps to PostgreSQL. */
  KILN_DATABASE_POOL: z.coerce.number().int().min(1).max(500).default(10),
  REDIS_URL: z.string().min(1).default("redis://127.0.0.1:6379"),
  DOCKER_HOST: z.string().optional(),
  KILN_ROLE: z.enum(["all", "api", "worker"]).default("all"),
  KILN_REGIONS: z.string().default("local=127.0.0.1:5000").transform(parseRegions),
  KILN_DEFAULT_REGION: z.string().optional(),
  KILN_ADMIN_TOKEN: z.string().min(16, "must be at least 16 characters").optional(),
  KILN_SECRET_KEY: z.string().optional(),
  KILN_REGISTRY_EVENTS_TOKEN: z.string().min(16, "must be at least 16 characters").optional(),
  KILN_ALLOW_LOCAL_GIT: flag,
  KILN_WORKER_CONCURRENCY: z.coerce.number().int().min(1).max(64).default(2),
  KILN_WORKER_LOCK_SECONDS: z.coerce.number().int().min(2).max(600).default(30),
  KILN_BUILD_TIMEOUT_SECONDS: z.coerce
    .number()
    .int()
    .min(5)
    .max(24 * 3600)
    .default(3600),
  KILN_BUILD_CACHE_GB: z.coerce.number().min(0.1).max(100_000).default(20),
  KILN_NOTIFY_RETRY_BASE_MS: z.coerce
    .number()
    .int()
    .min(10)
    .max(24 * 3600 * 1000)
    .default(60_000),
  KILN_NOTIFY_CONCURRENCY: z.coerce.number().int().min(1).max(256).default(8),
  KILN_RETAIN_DELIVERIES_DAYS: retainDays(30),
  KILN_RETAIN_AUDIT_DAYS: retainDays(180),
  KILN_RETAIN_REGISTRY_EVENTS_DAYS: retainDays(90),
  KILN_RETAIN_BUILD_LOGS_DAYS: retainDays(90),
  KILN_RETAIN_COMPLETED_JOBS_DAYS: jobDays(1),
  KILN_RETAIN_FAILED_JOBS_DAYS: jobDays(7),
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
});

export interface Config {
  port: number;
  host: string;
  publicUrl: string;
  dataDir: string;
  /** PostgreSQL for the control plane's database (KILN_DATABASE_URL); SQLite in the data dir when absent. Holds a password: never log it. */
  databaseUrl?: string;
  /** Connections to PostgreSQL per process (KILN_DATABASE_POOL). */
  databasePool: number;
  /** X-Forwarded-For hops to trust (KILN_TRUST_PROXY): the proxies in front of the API replicas. */
  trustProxy: number;
  redisUrl: string;
  dockerHost?: string;
  role: "all" | "api" | "worker";
  regions: Region[];
  defaultRegion: string;
  adminToken: string;
  /** 32 bytes for AES-256-GCM. */
  secretKey: Buffer;
  registryEventsToken: string;
  allowLocalGit: boolean;
  workerConcurrency: number;
  /** How long a worker's hold on a job lasts without renewal: a killed worker's build is taken up again after it. */
  workerLockSeconds: number;
  /** A build running longer than this is stopped and fails. */
  buildTimeoutSeconds: number;
  /** A worker trims BuildKit's cache to this many bytes between builds. */
  buildCacheBytes: number;
  /** Outbound webhooks: the unit of the retry schedule (1, 5, 10, 20, 25 units after each failed try), and POSTs in flight per process. */
  notify: { retryBaseMs: number; concurrency: number };
  /** Days rows are kept in the database (0: for ever), and finished jobs in Redis. */
  retention: {
    deliveriesDays: number;
    auditDays: number;
    registryEventsDays: number;
    buildLogsDays: number;
    completedJobsDays: number;
    failedJobsDays: number;
  };
  logLevel: string;
}

export class ConfigError extends Error {
  override readonly name = "ConfigError";
}

/** Reads a secret from the environment, else from the data dir, else generates it there (mode 0600). */
function persistedSecret(dataDir: string, file: string, fromEnv: string | undefined, make: () => string): string {
  if (fromEnv) return fromEnv;
  const path = join(dataDir, file);
  if (existsSync(path)) return readFileSync(path, "utf8").trim();
  const value = make();
  writeFileSync(path, `${value}\n`, { mode: 0o600 });
  chmodSync(path, 0o600);
  return value;
}

function decodeSecretKey(text: string): Buffer {
  const key = /^[0-9a-f]{64}$/i.test(text) ? Buffer.from(text, "hex") : Buffer.from(text, "base64");
  if (key.length !== 32) throw new ConfigError("KILN_SECRET_KEY: must be 32 bytes, as 64 hex digits or base64");
  return key;
}

/** Parses every variable once. Secrets that are absent are generated into the data dir. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  // An empty variable counts as unset, as `KILN_ADMIN_TOKEN= kiln …` means in a shell.
  const parsed = EnvSchema.safeParse(Object.fromEntries(Object.entries(env).filter(([, v]) => v !== "")));
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
    throw new ConfigError(`invalid configuration: ${lines.join("; ")}`);
  }
  const e = parsed.data;
  const dataDir = resolve(e.KILN_DATA_DIR);
  mkdirSync(dataDir, { recursive: true });
  const defaultRegion = e.KILN_DEFAULT_REGION ?? e.KILN_REGIONS[0]!.id;
  if (!e.KILN_REGIONS.some((r) => r.id === defaultRegion)) {
    throw new ConfigError(`KILN_DEFAULT_REGION: "${defaultRegion}" is not one of KILN_REGIONS`);
  }
  const token = () => randomBytes(32).toString("base64url");
  return {
    port: e.PORT,
    host: e.KILN_HOST,
    publicUrl: (e.KILN_PUBLIC_URL ?? `http://${e.KILN_HOST}:${e.PORT}`).replace(/\/$/, ""),
    dataDir,
    databaseUrl: e.KILN_DATABASE_URL,
    databasePool: e.KILN_DATABASE_POOL,
    trustProxy: e.KILN_TRUST_PROXY,
    redisUrl: e.REDIS_URL,
    dockerHost: e.DOCKER_HOST,
    role: e.KILN_ROLE,
    regions: e.KILN_REGIONS,
    defaultRegion,
    adminToken: persistedSecret(dataDir, "admin-token", e.KILN_ADMIN_TOKEN, token),
    secretKey: decodeSecretKey(
      persistedSecret(dataDir, "secret-key", e.KILN_SECRET_KEY, () => randomBytes(32).toString("hex")),
    ),
    registryEventsToken: persistedSecret(dataDir, "registry-events-token", e.KILN_REGISTRY_EVENTS_TOKEN, token),
    allowLocalGit: e.KILN_ALLOW_LOCAL_GIT,
    workerConcurrency: e.KILN_WORKER_CONCURRENCY,
    workerLockSeconds: e.KILN_WORKER_LOCK_SECONDS,
    buildTimeoutSeconds: e.KILN_BUILD_TIMEOUT_SECONDS,
    buildCacheBytes: Math.round(e.KILN_BUILD_CACHE_GB * 1024 ** 3),
    notify: { retryBaseMs: e.KILN_NOTIFY_RETRY_BASE_MS, concurrency: e.KILN_NOTIFY_CONCURRENCY },
    retention: {
      deliveriesDays: e.KILN_RETAIN_DELIVERIES_DAYS,
      auditDays: e.KILN_RETAIN_AUDIT_DAYS,
      registryEventsDays: e.KILN_RETAIN_REGISTRY_EVENTS_DAYS,
      buildLogsDays: e.KILN_RETAIN_BUILD_LOGS_DAYS,
      completedJobsDays: e.KILN_RETAIN_COMPLETED_JOBS_DAYS,
      failedJobsDays: e.KILN_RETAIN_FAILED_JOBS_DAYS,
    },
    logLevel: e.LOG_LEVEL,
  };
}
