/**
 * Every closed list of values, declared once: the drizzle schema stores them (`text({ enum })`),
 * the zod schemas answer with them, the build pipeline and the workers speak them.
 */

/** A build's life: queued → running → one of the four ends. */
export const BUILD_STATUSES = ["queued", "running", "succeeded", "failed", "canceled", "superseded"] as const;
export type BuildStatus = (typeof BUILD_STATUSES)[number];
/** The statuses of a build that has not ended: a new one for the same target supersedes it. */
export const ACTIVE_BUILD_STATUSES: readonly BuildStatus[] = ["queued", "running"];

/** What a running build is doing, in order. */
export const BUILD_STAGES = ["fetch", "build", "push"] as const;
export type BuildStage = (typeof BUILD_STAGES)[number];
export const isBuildStage = (value: unknown): value is BuildStage =>
  (BUILD_STAGES as readonly unknown[]).includes(value);

export const BUILD_TRIGGERS = ["webhook", "manual", "retry"] as const;
export type BuildTrigger = (typeof BUILD_TRIGGERS)[number];

/** What a build rule matches: a branch or a tag. */
export const RULE_SOURCE_TYPES = ["branch", "tag"] as const;
export type RuleSourceType = (typeof RULE_SOURCE_TYPES)[number];

/** What came of a webhook delivery. */
export const DELIVERY_OUTCOMES = ["accepted", "ignored", "ping"] as const;
export type DeliveryOutcome = (typeof DELIVERY_OUTCOMES)[number];

/** Who may pull a repository: its account's principals as their policies allow, or anyone. */
export const VISIBILITIES = ["private", "public"] as const;
export type Visibility = (typeof VISIBILITIES)[number];

export const POLICY_TYPES = ["System", "Custom"] as const;
export type PolicyType = (typeof POLICY_TYPES)[number];

/** What a policy is attached to. */
export const PRINCIPAL_TYPES = ["user", "group"] as const;
export type PrincipalType = (typeof PRINCIPAL_TYPES)[number];

/** What an outbound webhook (ACR's trigger) may be told about. */
export const WEBHOOK_EVENTS = ["tag.pushed", "build.succeeded", "build.failed"] as const;
export type WebhookEvent = (typeof WEBHOOK_EVENTS)[number];

/** Which tags an outbound webhook fires for: every tag, a list of tags, or a regex over the whole tag. */
export const TAG_FILTER_KINDS = ["all", "list", "regex"] as const;
export type TagFilterKind = (typeof TAG_FILTER_KINDS)[number];

/** An outbound delivery: waiting for its (next) try, answered 2xx, or out of tries. */
export const WEBHOOK_DELIVERY_STATUSES = ["pending", "delivered", "failed"] as const;
export type WebhookDeliveryStatus = (typeof WEBHOOK_DELIVERY_STATUSES)[number];
