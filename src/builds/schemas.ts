import { z } from "zod";
import {
  BUILD_STAGES,
  BUILD_STATUSES,
  BUILD_TRIGGERS,
  DELIVERY_OUTCOMES,
  RULE_SOURCE_TYPES,
  type BuildStage,
} from "../db/enums.ts";

/** The build pipeline's answers: the API names them for OpenAPI; the types below are what the views return. */
const stageTimes = z.object(
  Object.fromEntries(BUILD_STAGES.map((stage) => [stage, z.string().optional()])) as Record<
    BuildStage,
    z.ZodOptional<z.ZodString>
  >,
);

export const BuildViewSchema = z.object({
  id: z.string(),
  repository: z.string(),
  region: z.string(),
  ruleId: z.number().nullable(),
  trigger: z.enum(BUILD_TRIGGERS),
  ref: z.string(),
  commit: z.string().nullable(),
  tags: z.array(z.string()),
  dockerfile: z
    .string()
    .meta({ description: "The Dockerfile this build builds, as its rule named it when the build was queued" }),
  platforms: z.array(z.string()).meta({ description: "Platforms built; empty means the worker's own" }),
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

/** An OCI platform as BuildKit names it: `linux/arm64`, `linux/arm/v7`. */
const PLATFORM = /^[a-z0-9]+\/[a-z0-9_]+(\/[a-z0-9]+)?$/;
const paths = z.array(z.string().min(1).max(256)).max(50);
/** The fields of a new build rule; everything but the source and the tags has a default. */
const ruleFields = {
  sourceType: z.enum(RULE_SOURCE_TYPES),
  source: z
    .string()
    .min(1)
    .max(256)
    .meta({ description: "An exact branch or tag name, or /regex/ matched against the whole name" }),
  tags: z.array(z.string()).min(1).max(10).meta({
    description: "Tag templates: {sourceref}, {\\1}…{\\9}, {name}, {commit}, {shortsha}, {semver.major|minor|patch}",
  }),
  dockerfileDir: z.string().max(1024).optional(),
  dockerfileName: z.string().max(256).optional(),
  context: z.string().max(1024).optional(),
  buildArgs: z
    .record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,127}$/, "build arg names are identifiers"), z.string().max(4096))
    .optional(),
  target: z.string().max(128).optional(),
  noCache: z.boolean().optional(),
  registryCache: z.boolean().optional().meta({
    description:
      "Export BuildKit's inline cache with the image and build from the cache of this rule's last successful build (default true)",
  }),
  platforms: z
    .array(z.string().regex(PLATFORM, "must be os/arch or os/arch/variant, such as linux/arm64"))
    .max(8)
    .refine((list) => new Set(list).size === list.length, "must not repeat a platform")
    .optional()
    .meta({ description: "Platforms to build, such as linux/amd64 and linux/arm64; empty builds the worker's own" }),
  includePaths: paths.optional(),
  excludePaths: paths.optional(),
  enabled: z.boolean().optional(),
};
export const RuleInputSchema = z.strictObject(ruleFields);
export type RuleInput = z.infer<typeof RuleInputSchema>;
/** A change to a rule: any of its fields. */
export const RulePatchSchema = z.strictObject(
  Object.fromEntries(Object.entries(ruleFields).map(([k, v]) => [k, v.optional()])) as {
    [K in keyof typeof ruleFields]: z.ZodOptional<(typeof ruleFields)[K]>;
  },
);

/** A build asked for by a person: a ref, maybe a commit, maybe the rules to use. */
export const ManualBuildSchema = z.strictObject({
  /** `refs/heads/x`, `refs/tags/x`, or a bare name whose kind each rule decides. */
  ref: z.string().min(1).max(256),
  commit: z
    .string()
    .regex(/^[0-9a-f]{40}([0-9a-f]{24})?$/, "must be a full hex commit id")
    .optional(),
  ruleIds: z.array(z.number().int().positive()).min(1).max(50).optional(),
});
export type ManualBuild = z.infer<typeof ManualBuildSchema>;

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
  registryCache: z.boolean(),
  platforms: z.array(z.string()),
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
