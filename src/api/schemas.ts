import { z } from "@hono/zod-openapi";
import { BuildViewSchema, RuleViewSchema } from "../builds/schemas.ts";
import { namespaceNameSchema, repositoryNameSchema } from "../names.ts";

/** Schemas shared by several route groups. */
export const ErrorSchema = z.object({ error: z.string(), message: z.string() }).catchall(z.unknown()).openapi("Error");

const errorResponse = (description: string) => ({
  content: { "application/json": { schema: ErrorSchema } },
  description,
});

export const errorResponses = {
  400: errorResponse("Invalid input: the message names the field"),
  401: errorResponse("Missing or wrong credentials"),
  403: errorResponse("AccessDenied: names the action, resource and decision"),
  404: errorResponse("Not found"),
  409: errorResponse("Conflict"),
} as const;

export function json<T extends z.ZodType>(schema: T, description: string) {
  return { content: { "application/json": { schema } }, description };
}

export function body<T extends z.ZodType>(schema: T) {
  return { content: { "application/json": { schema } }, required: true };
}

export const OkSchema = z.object({ ok: z.literal(true) });

export { VisibilitySchema } from "../catalog/schemas.ts";

export const BuildSchema = BuildViewSchema.openapi("Build");

export const RuleSchema = RuleViewSchema.openapi("BuildRule");

/** The path of one repository: `/api/v1/regions/{region}/repositories/{ns}/{repo}…`. */
export const RepoParams = z.object({ region: z.string(), ns: namespaceNameSchema, repo: repositoryNameSchema });
