import { z } from "zod";
import { BUILD_STAGES, BUILD_STATUSES, BUILD_TRIGGERS, DELIVERY_OUTCOMES, RULE_SOURCE_TYPES, type BuildStage } from "../db/enums.ts";

/** The build pipeline's answers: the API names them for OpenAPI; the types below are what the views return. */
const stageTimes = z.object(Object.fromEntries(BUILD_STAGES.map((stage) => [stage, z.string().optional()])) as Record<BuildStage, z.ZodOptional<z.ZodString>>);

export const BuildViewSchema = z.object({
  id: z.string(),
  repository: z.string(),
  region: z.string(),
  ruleId: z.number().nullable(),
  trigger: z.enum(BUILD_TRIGGERS),
  ref: z.string(),
  commit: z.string().nullable(),
  tags: z.array(z.string()),
  status: z.enum(BUILD_STATUSES),
  stage: z.enum(BUILD_STAGES).optional(),
  stageStartedAt: stageTimes.optional().meta({ description: "When each stage began" }),
  error: z.string().optional(),
  digest: z.string().optional(),
  size: z.number().optional(),
  queuedAt: z.string(),
  startedAt: z.string().optional(),
  finishedAt: z.string().optional(),
});
export type BuildView = z.infer<typeof BuildViewSchema>;

/** A build rule as stored, with every default filled in. */
export const RuleViewSchema = z.object({
  id: z.number(),
  sourceType: z.enum(RULE_SOURCE_TYPES),
  source: z.string(),
  tags: z.array(z.string()),
  dockerfileDir: z.string(),
  dockerfileName: z.string(),
  context: z.string().nullable(),
  buildArgs: z.record(z.string(), z.string()),
  target: z.string().nullable(),
  noCache: z.boolean(),
  includePaths: z.array(z.string()),
  excludePaths: z.array(z.string()),
  enabled: z.boolean(),
  createdAt: z.string(),
  updatedAt: z.string(),
});
export type RuleView = z.infer<typeof RuleViewSchema>;

/** What a webhook delivery came to: the answer to the provider. */
export const DeliveryViewSchema = z.object({
  deliveryId: z.string(),
  outcome: z.enum(DELIVERY_OUTCOMES),
  reason: z.string().optional(),
  builds: z.array(BuildViewSchema),
  redelivery: z.literal(true).optional(),
});
export type DeliveryView = z.infer<typeof DeliveryViewSchema>;
