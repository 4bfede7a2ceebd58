import { z } from "zod";

/** The name rules of DESIGN §3, shared by the API schemas and the CLI. */
export const ALIAS = /^[a-z][a-z0-9-]{2,31}$/;
export const USER_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
export const NAMESPACE = /^[a-z0-9]+(?:[._-][a-z0-9]+)*$/;
export const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
export const POLICY_NAME = /^[A-Za-z0-9][A-Za-z0-9-]{0,127}$/;

export const aliasSchema = z
  .string()
  .regex(ALIAS, "must be 3–32 characters: a lower-case letter, then lower-case letters, digits or '-'");
export const userNameSchema = z
  .string()
  .regex(USER_NAME, "must be 1–64 characters: letters, digits, '.', '_' or '-', starting with a letter or digit");
export const groupNameSchema = userNameSchema;
export const namespaceNameSchema = z
  .string()
  .min(2, "must be 2–30 characters")
  .max(30, "must be 2–30 characters")
  .regex(NAMESPACE, "must be lower-case letters and digits, separated by single '.', '_' or '-'");
export const repositoryNameSchema = z
  .string()
  .min(1, "must be 1–64 characters")
  .max(64, "must be 1–64 characters")
  .regex(NAMESPACE, "must be lower-case letters and digits, separated by single '.', '_' or '-'");
export const policyNameSchema = z.string().regex(POLICY_NAME, "must be 1–128 characters: letters, digits or '-'");
export const passwordSchema = z
  .string()
  .min(8, "must be at least 8 characters")
  .max(128, "must be at most 128 characters")
  .refine((p) => /[A-Za-z]/.test(p) && /\d/.test(p), "must hold at least one letter and one digit");
