/**
 * The PostgreSQL schema: src/db/sqlite-schema.ts's tables, by the same names, with the same SQL and
 * TS names, and columns that answer the same JS values (test/unit/db-dialects.test.ts holds the two
 * together). drizzle-kit reads this file (drizzle.config.pg.ts) and generates migrations-pg/ from it.
 */
export * from "./tables/iam.ts";
export * from "./tables/catalog.ts";
export * from "./tables/registry.ts";
export * from "./tables/sources.ts";
export * from "./tables/builds.ts";
export * from "./tables/notifications.ts";
export * from "./tables/replicas.ts";
