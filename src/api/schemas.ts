import { z } from "@hono/zod-openapi";
import { namespaceNameSchema, repositoryNameSchema } from "../names.ts";

/** Schemas shared by several route groups. */
export const ErrorSchema = z
  .object({ error: z.string(), message: z.string() })
  .catchall(z.unknown())
  .openapi("Error");

const errorResponse = (description: string) => ({ content: { "application/json": { schema: ErrorSchema } }, description });

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

export const BuildSchema = z
  .object({
    id: z.string(),
    repository: z.string(),
    region: z.string(),
    ruleId: z.number().nullable(),
    trigger: z.enum(["webhook", "manual", "retry"]),
    ref: z.string(),
    commit: z.string().nullable(),
    tags: z.array(z.string()),
    status: z.enum(["queued", "running", "succeeded", "failed", "canceled", "superseded"]),
    stage: z.enum(["fetch", "build", "push"]).optional(),
    stageStartedAt: z.object({ fetch: z.string().optional(), build: z.string().optional(), push: z.string().optional() }).optional().openapi({ description: "When each stage began" }),
    error: z.string().optional(),
    digest: z.string().optional(),
    size: z.number().optional(),
    queuedAt: z.string(),
    startedAt: z.string().optional(),
    finishedAt: z.string().optional(),
  })
  .openapi("Build");

/** The path of one repository: `/api/v1/regions/{region}/repositories/{ns}/{repo}…`. */
export const RepoParams = z.object({ region: z.string(), ns: namespaceNameSchema, repo: repositoryNameSchema });
