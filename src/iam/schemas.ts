import { z } from "zod";
import { POLICY_TYPES } from "../db/enums.ts";

/** IAM's answers: the API names them for OpenAPI; the types below are what the views return. */
export const PolicyTypeSchema = z.enum(POLICY_TYPES);

export const UserViewSchema = z.object({
  name: z.string(),
  displayName: z.string().nullable(),
  loginName: z.string(),
  hasConsolePassword: z.boolean(),
  hasRegistryPassword: z.boolean(),
  createdAt: z.string(),
});
export type UserView = z.infer<typeof UserViewSchema>;

export const NewAccountViewSchema = z.object({
  id: z.string(),
  alias: z.string(),
  /** An access key of the account's root; shown once. */
  rootToken: z.string(),
});
export type NewAccount = z.infer<typeof NewAccountViewSchema>;

export const PolicyViewSchema = z.object({
  name: z.string(),
  type: PolicyTypeSchema,
  description: z.string().nullable(),
  document: z.unknown(),
  version: z.number(),
  attachmentCount: z.number(),
  createdAt: z.string(),
  updatedAt: z.string(),
});
export type PolicyView = z.infer<typeof PolicyViewSchema>;
