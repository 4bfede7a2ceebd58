import type { z } from "@hono/zod-openapi";
import type { BuildSchema, RuleSchema } from "../../api/schemas.ts";
import type { GroupSchema } from "../../api/routes/groups.ts";
import type { NamespaceSchema } from "../../api/routes/namespaces.ts";
import type { PolicySchema } from "../../api/routes/policies.ts";
import type { CommandsSchema, RepositorySchema, TagSchema } from "../../api/routes/repositories.ts";
import type { SourceSchema } from "../../api/routes/sources.ts";
import type { UserSchema } from "../../api/routes/users.ts";

/** The API's answers as the console reads them: derived from the zod schemas that produce them. */
export type Namespace = z.infer<typeof NamespaceSchema>;
export type Repository = z.infer<typeof RepositorySchema> & { commands?: z.infer<typeof CommandsSchema> };
export type Tag = z.infer<typeof TagSchema>;
export type SourceBinding = z.infer<typeof SourceSchema>;
export type Build = z.infer<typeof BuildSchema>;
export type User = z.infer<typeof UserSchema>;
export type Group = z.infer<typeof GroupSchema>;
export type Policy = z.infer<typeof PolicySchema>;
export type BuildRule = z.infer<typeof RuleSchema>;
