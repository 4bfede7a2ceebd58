import { z } from "zod";
import { TAG_FILTER_KINDS, WEBHOOK_DELIVERY_STATUSES, WEBHOOK_EVENTS } from "../db/enums.ts";
import { TAG } from "../names.ts";

/** Outbound webhooks (ACR's triggers): their input, their answers, the deliveries and the payload. */

export const WEBHOOK_URL_MAX = 2048;
export const TAG_FILTER_REGEX_MAX = 256;
/** Webhooks per repository: each event is written once per matching webhook, in the event's own transaction. */
export const WEBHOOKS_PER_REPOSITORY = 20;

const url = z
  .string()
  .max(WEBHOOK_URL_MAX, `must be at most ${WEBHOOK_URL_MAX} characters`)
  .refine((v) => {
    try {
      const u = new URL(v);
      return (u.protocol === "http:" || u.protocol === "https:") && u.hostname !== "";
    } catch {
      return false;
    }
  }, "must be an http:// or https:// URL")
  .meta({ description: "Where Kiln POSTs the events (http or https)" });

export const TagFilterSchema = z
  .discriminatedUnion("kind", [
    z.strictObject({ kind: z.literal("all") }),
    z.strictObject({
      kind: z.literal("list"),
      tags: z
        .array(z.string().regex(TAG, "is not a valid tag"))
        .min(1, "must name at least one tag")
        .max(100, "must name at most 100 tags"),
    }),
    z.strictObject({
      kind: z.literal("regex"),
      regex: z
        .string()
        .min(1, "must not be empty")
        .max(TAG_FILTER_REGEX_MAX, `must be at most ${TAG_FILTER_REGEX_MAX} characters`)
        .meta({ description: "A JavaScript regular expression that must match the whole tag" }),
    }),
  ])
  .meta({ description: `Which tags fire the webhook: ${TAG_FILTER_KINDS.join(", ")} (default all)` });

const events = z
  .array(z.enum(WEBHOOK_EVENTS))
  .min(1, "must name at least one event")
  .max(WEBHOOK_EVENTS.length)
  .meta({ description: `Any of ${WEBHOOK_EVENTS.join(", ")}` });

const webhookFields = {
  name: z.string().min(1).max(64).optional(),
  url,
  events,
  tagFilter: TagFilterSchema.optional(),
  enabled: z.boolean().optional(),
};

export const WebhookInputSchema = z.strictObject(webhookFields);
export type WebhookInput = z.infer<typeof WebhookInputSchema>;

export const WebhookPatchSchema = z.strictObject({
  name: webhookFields.name.nullable(),
  url: url.optional(),
  events: events.optional(),
  tagFilter: TagFilterSchema.optional(),
  enabled: z.boolean().optional(),
  rotateSecret: z.boolean().optional().meta({ description: "Make a new secret; the answer shows it once" }),
});
export type WebhookPatch = z.infer<typeof WebhookPatchSchema>;

export const WebhookViewSchema = z.object({
  id: z.number(),
  name: z.string().nullable(),
  url: z.string(),
  events: z.array(z.enum(WEBHOOK_EVENTS)),
  tagFilter: TagFilterSchema,
  enabled: z.boolean(),
  createdAt: z.string(),
  updatedAt: z.string(),
});
export type WebhookView = z.infer<typeof WebhookViewSchema>;

/** Create (and a PATCH with rotateSecret) answers the secret once; Kiln keeps it sealed. */
export const WebhookWithSecretSchema = WebhookViewSchema.extend({
  secret: z.string().meta({ description: "The HMAC-SHA256 key of X-Kiln-Signature-256; shown only now" }),
});

export const AttemptViewSchema = z.object({
  attempt: z.number(),
  at: z.string(),
  statusCode: z.number().nullable(),
  latencyMs: z.number(),
  response: z.string().nullable(),
  error: z.string().nullable(),
});

export const DeliveryViewSchema = z.object({
  id: z.string().meta({ description: "Sent as X-Kiln-Delivery" }),
  webhookId: z.number(),
  event: z.enum(WEBHOOK_EVENTS),
  status: z.enum(WEBHOOK_DELIVERY_STATUSES),
  attempts: z.number(),
  lastStatusCode: z.number().nullable(),
  latencyMs: z.number().nullable().meta({ description: "Of the last try: until the receiver's answer began" }),
  response: z.string().nullable().meta({ description: "The start of the last answer's body (at most 1 KiB)" }),
  error: z.string().nullable(),
  nextAttemptAt: z.string().nullable(),
  redeliveryOf: z.string().nullable(),
  createdAt: z.string(),
  finishedAt: z.string().nullable(),
  payload: z.unknown().meta({ description: "The JSON body, as signed and sent" }),
  attemptLog: z.array(AttemptViewSchema),
});
export type DeliveryView = z.infer<typeof DeliveryViewSchema>;

/** The body Kiln POSTs, in the shape of ACR's webhook. */
export const PayloadSchema = z.object({
  event: z.enum(WEBHOOK_EVENTS),
  push_data: z.object({
    digest: z.string().nullable(),
    pushed_at: z.string().nullable(),
    tag: z.string().nullable(),
    pusher: z.string().nullable(),
  }),
  repository: z.object({
    name: z.string(),
    namespace: z.string(),
    region: z.string(),
    repo_full_name: z.string(),
    repo_type: z.enum(["PUBLIC", "PRIVATE"]),
  }),
  build: z
    .object({
      id: z.string(),
      status: z.string(),
      ref: z.string(),
      commit: z.string().nullable(),
      tags: z.array(z.string()),
      error: z.string().optional(),
      finished_at: z.string().nullable(),
    })
    .optional(),
});
export type Payload = z.infer<typeof PayloadSchema>;
