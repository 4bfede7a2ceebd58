import { and, asc, count, eq } from "drizzle-orm";
import { seal } from "../crypto/seal.ts";
import type { Db } from "../db/connection.ts";
import { webhooks, type TagFilter } from "../db/schema.ts";
import { WEBHOOK_EVENTS } from "../db/enums.ts";
import { invalid, notFound } from "../errors.ts";
import { randomSecret } from "../iam/secrets.ts";
import { compileTagRegex } from "./payload.ts";
import { WEBHOOKS_PER_REPOSITORY, type WebhookInput, type WebhookPatch, type WebhookView } from "./schemas.ts";

export type WebhookRow = typeof webhooks.$inferSelect;

export function webhookView(row: WebhookRow): WebhookView {
  return {
    id: row.id,
    name: row.name,
    url: row.url,
    events: row.events,
    tagFilter: row.tagFilter,
    enabled: row.enabled,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
  };
}

/** A regex filter is compiled when it is saved, so an event never meets a broken one. */
function checkedFilter(filter: TagFilter | undefined): TagFilter | undefined {
  if (filter?.kind === "regex") {
    try {
      compileTagRegex(filter.regex);
    } catch (err) {
      throw invalid("tagFilter.regex", `is not a valid regular expression (${(err as Error).message})`);
    }
  }
  if (filter?.kind === "list") return { kind: "list", tags: [...new Set(filter.tags)] };
  return filter;
}

/** The events in their declared order, each once. */
const eventsOf = (events: WebhookInput["events"]) => WEBHOOK_EVENTS.filter((e) => events.includes(e));

export async function listWebhooks(db: Db, repositoryId: number): Promise<WebhookRow[]> {
  return db.select().from(webhooks).where(eq(webhooks.repositoryId, repositoryId)).orderBy(asc(webhooks.id)).all();
}

export async function findWebhook(db: Db, repositoryId: number, id: number): Promise<WebhookRow> {
  const row = await db
    .select()
    .from(webhooks)
    .where(and(eq(webhooks.repositoryId, repositoryId), eq(webhooks.id, id)))
    .get();
  if (!row) throw notFound("webhook", String(id), "WebhookNotFound");
  return row;
}

/** Creates a webhook with a new secret, sealed at rest; the secret is returned only here. */
export async function createWebhook(
  db: Db,
  key: Buffer,
  repositoryId: number,
  input: WebhookInput,
): Promise<{ row: WebhookRow; secret: string }> {
  const tagFilter = checkedFilter(input.tagFilter) ?? { kind: "all" };
  const secret = randomSecret(32);
  return db.transaction(async (tx) => {
    const held = await tx.select({ n: count() }).from(webhooks).where(eq(webhooks.repositoryId, repositoryId)).get();
    if ((held?.n ?? 0) >= WEBHOOKS_PER_REPOSITORY)
      throw invalid("url", `a repository holds at most ${WEBHOOKS_PER_REPOSITORY} webhooks; delete one first`);
    const row = await tx
      .insert(webhooks)
      .values({
        repositoryId,
        name: input.name ?? null,
        url: input.url,
        events: eventsOf(input.events),
        tagFilter,
        secretSealed: seal(key, secret),
        enabled: input.enabled ?? true,
      })
      .returning()
      .get();
    return { row, secret };
  });
}

/** Changes a webhook; with `rotateSecret` it gets a new secret, returned only here. */
export async function updateWebhook(
  db: Db,
  key: Buffer,
  repositoryId: number,
  id: number,
  patch: WebhookPatch,
): Promise<{ row: WebhookRow; secret?: string }> {
  await findWebhook(db, repositoryId, id);
  const { rotateSecret, events, tagFilter, ...rest } = patch;
  const secret = rotateSecret ? randomSecret(32) : undefined;
  const row = (await db
    .update(webhooks)
    .set({
      ...rest,
      ...(events ? { events: eventsOf(events) } : {}),
      ...(tagFilter ? { tagFilter: checkedFilter(tagFilter) } : {}),
      ...(secret ? { secretSealed: seal(key, secret) } : {}),
      updatedAt: new Date().toISOString(),
    })
    .where(eq(webhooks.id, id))
    .returning()
    .get())!;
  return { row, secret };
}

/** Deletes a webhook with its deliveries (pending ones are never sent). */
export async function deleteWebhook(db: Db, repositoryId: number, id: number): Promise<void> {
  await findWebhook(db, repositoryId, id);
  await db.delete(webhooks).where(eq(webhooks.id, id)).run();
}
