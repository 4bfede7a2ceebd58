import { z } from "zod";
import { userNameSchema } from "../names.ts";
import { PROVIDER_IDS } from "./providers/index.ts";
import type { ProviderId } from "./types.ts";

/** A repository's source binding as the API answers it; the API names it for OpenAPI. */
export const BindingViewSchema = z.object({
  provider: z.string(),
  repoUrl: z.string(),
  pushUser: z.string(),
  autoBuild: z.boolean(),
  branchFilter: z.string().nullable(),
  hasCredentials: z.boolean(),
  webhookUrl: z.string(),
  /** Only in the answer that created or rotated it. */
  webhookSecret: z.string().optional(),
  createdAt: z.string(),
  updatedAt: z.string(),
});
export type BindingView = z.infer<typeof BindingViewSchema>;

/** What binds a repository to its code: the PUT body, unknown fields refused. */
export const BindingInputSchema = z.strictObject({
  provider: z.enum(PROVIDER_IDS as [ProviderId, ...ProviderId[]]),
  repoUrl: z.string().min(1).max(2048),
  pushUser: userNameSchema,
  autoBuild: z.boolean().optional(),
  branchFilter: z.string().min(1).max(256).optional(),
  credentials: z
    .strictObject({ username: z.string().max(256).optional(), token: z.string().min(1).max(4096) })
    .optional(),
  /** A new webhook secret, shown once in the answer. */
  rotateSecret: z.boolean().optional(),
});
export type BindingInput = z.infer<typeof BindingInputSchema>;
