import { z } from "zod";

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
