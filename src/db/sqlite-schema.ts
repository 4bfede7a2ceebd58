/**
 * The SQLite drizzle schema, one file per domain under tables/ (drizzle-kit reads this file and generates
 * the migrations from it). The code imports tables from ./schema.ts, which follows the open dialect.
 */
export * from "./tables/iam.ts";
export * from "./tables/catalog.ts";
export * from "./tables/registry.ts";
export * from "./tables/sources.ts";
export * from "./tables/builds.ts";
export * from "./tables/notifications.ts";
export * from "./tables/replicas.ts";
