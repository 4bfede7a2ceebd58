import { defineConfig } from "drizzle-kit";

/** The PostgreSQL twin of drizzle.config.ts (KILN_DATABASE_URL=postgres://…): `npm run db:generate:pg`. */
export default defineConfig({
  dialect: "postgresql",
  schema: "./src/db/pg/schema.ts",
  out: "./migrations-pg",
});
