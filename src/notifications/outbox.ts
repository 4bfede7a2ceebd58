import { and, desc, eq, inArray, isNull, lte, notInArray, or, sql } from "drizzle-orm";
import type { Db } from "../db/connection.ts";
import type { WebhookEvent } from "../db/enums.ts";
import { perDb } from "../db/prepared.ts";
import {
  accounts,
  builds,
  namespaces,
  repositories,
  sourceBindings,
  users,
  webhookAttempts,
  webhookDeliveries,
  webhooks,
} from "../db/schema.ts";
import { notFound } from "../errors.ts";
import { randomId } from "../iam/secrets.ts";
import { isDelivered, payloadOf, retryDelayMs, tagMatches, type PushFacts, type RepositoryFacts } from "./payload.ts";
import type { DeliveryView } from "./schemas.ts";

/**
 * The outbound outbox. Events are written here in the transaction of what caused them (a tag's
 * row from the registry's notification, a build's outcome), so a crash loses none; nothing on
 * those paths waits for a receiver. The dispatcher (dispatcher.ts) claims due rows with a lease.
 */

export type DeliveryRow = typeof webhookDeliveries.$inferSelect;

/** Dispatchers of this process, woken when a row is added (after the writing transaction commits). */
const wakers = new Set<() => void>();
export function onOutboxChange(wake: () => void): () => void {
  wakers.add(wake);
  return () => wakers.delete(wake);
}
function outboxChanged(): void {
  for (const wake of wakers) wake();
}

const p = (name: string) => sql.placeholder(name);
const newDeliveryId = () => `whd-${randomId(20)}`;

const queries = perDb((db) => ({
  subscribers: db
    .select({ id: webhooks.id, events: webhooks.events, tagFilter: webhooks.tagFilter })
    .from(webhooks)
    .where(and(eq(webhooks.repositoryId, p("repositoryId")), eq(webhooks.enabled, true)))
    .prepare(),
  repository: db
    .select({
      namespace: namespaces.name,
      name: repositories.name,
      region: repositories.region,
      visibility: repositories.visibility,
    })
    .from(repositories)
    .innerJoin(namespaces, eq(namespaces.id, repositories.namespaceId))
    .where(eq(repositories.id, p("id")))
    .prepare(),
  build: db
    .select({
      build: builds,
      namespace: namespaces.name,
      name: repositories.name,
      region: repositories.region,
      visibility: repositories.visibility,
      pushUser: users.name,
      alias: accounts.alias,
    })
    .from(builds)
    .innerJoin(repositories, eq(repositories.id, builds.repositoryId))
    .innerJoin(namespaces, eq(namespaces.id, repositories.namespaceId))
    .innerJoin(accounts, eq(accounts.id, builds.accountId))
    .leftJoin(sourceBindings, eq(sourceBindings.repositoryId, builds.repositoryId))
    .leftJoin(users, eq(users.id, sourceBindings.pushUserId))
    .where(eq(builds.id, p("id")))
    .prepare(),
  insert: db
    .insert(webhookDeliveries)
    .values({
      id: p("id"),
      webhookId: p("webhookId"),
      event: p("event"),
      body: p("body"),
      nextAttemptAt: p("now"),
      redeliveryOf: p("redeliveryOf"),
      createdAt: p("now"),
    })
    .prepare(),
}));

async function insertDelivery(
  db: Db,
  webhookId: number,
  event: WebhookEvent,
  body: string,
  redeliveryOf?: string,
): Promise<string> {
  const id = newDeliveryId();
  await queries(db).insert.run({
    id,
    webhookId,
    event,
    body,
    now: new Date().toISOString(),
    redeliveryOf: redeliveryOf ?? null,
  });
  return id;
}

/**
 * A tag was pushed (by anyone: a build, a person's `docker push`): one delivery per enabled
 * webhook of the repository that takes `tag.pushed` and whose filter lets the tag through.
 * Call it inside the transaction that records the tag.
 */
export async function enqueueTagPushed(
  db: Db,
  repositoryId: number,
  push: PushFacts & { tag: string },
): Promise<number> {
  const subscribers = (await queries(db).subscribers.all({ repositoryId })).filter(
    (w) => w.events.includes("tag.pushed") && tagMatches(w.tagFilter, push.tag),
  );
  if (subscribers.length === 0) return 0;
  const repo = (await queries(db).repository.get({ id: repositoryId })) as RepositoryFacts | undefined;
  if (!repo) return 0;
  const body = JSON.stringify(payloadOf("tag.pushed", repo, push));
  for (const w of subscribers) await insertDelivery(db, w.id, "tag.pushed", body);
  outboxChanged();
  return subscribers.length;
}

/**
 * A build ended succeeded or failed: one delivery per enabled webhook that takes the event and
 * whose filter lets one of the build's tags through (push_data.tag is the first such tag).
 * Call it inside the transaction that writes the outcome.
 */
export async function enqueueBuildEnded(db: Db, buildId: string): Promise<number> {
  const found = await queries(db).build.get({ id: buildId });
  if (!found) return 0;
  const { build } = found;
  if (build.status !== "succeeded" && build.status !== "failed") return 0;
  const event: WebhookEvent = build.status === "succeeded" ? "build.succeeded" : "build.failed";
  let made = 0;
  for (const w of await queries(db).subscribers.all({ repositoryId: build.repositoryId })) {
    if (!w.events.includes(event)) continue;
    const tag = build.tags.find((t) => tagMatches(w.tagFilter, t));
    if (tag === undefined) continue;
    const push: PushFacts = {
      digest: build.digest,
      pushedAt: build.status === "succeeded" ? build.finishedAt : null,
      tag,
      pusher: found.pushUser ? `${found.pushUser}@${found.alias}` : null,
    };
    const body = JSON.stringify(
      payloadOf(event, found, push, {
        id: build.id,
        status: build.status,
        ref: build.ref,
        commit: build.commit,
        tags: build.tags,
        error: build.error,
        finishedAt: build.finishedAt,
      }),
    );
    await insertDelivery(db, w.id, event, body);
    made++;
  }
  if (made) outboxChanged();
  return made;
}

/** A due delivery as a dispatcher holds it, with what it needs to send it. */
export interface Claimed {
  id: string;
  webhookId: number;
  event: WebhookEvent;
  body: string;
  attempts: number;
  url: string;
  secretSealed: string;
}

const dueFilter = (now: string) =>
  and(
    eq(webhookDeliveries.status, "pending"),
    lte(webhookDeliveries.nextAttemptAt, now),
    or(isNull(webhookDeliveries.leaseUntil), lte(webhookDeliveries.leaseUntil, now)),
  );

/**
 * Claims up to `limit` due deliveries for `owner` until `leaseMs` from now: a row is taken only
 * if no live lease holds it, in one write transaction, so two dispatchers (two API processes on
 * one database) never hold the same row. At most `perWebhook` rows of one webhook are held by
 * the caller at once, counting `busy` (its tries in flight by webhook): the webhooks at that
 * bound are left out of the query, so a dead receiver's backlog never hides the others' rows.
 * Deliveries of a disabled webhook end failed instead.
 */
export async function claimDue(
  db: Db,
  owner: string,
  leaseMs: number,
  limit: number,
  busy: ReadonlyMap<number, number> = new Map(),
  perWebhook = 2,
): Promise<Claimed[]> {
  if (limit <= 0) return [];
  const now = new Date();
  const nowIso = now.toISOString();
  const until = new Date(now.getTime() + leaseMs).toISOString();
  const full = [...busy].filter(([, n]) => n >= perWebhook).map(([id]) => id);
  return db.transaction(
    async (tx) => {
      const candidates = await tx
        .select({
          id: webhookDeliveries.id,
          webhookId: webhookDeliveries.webhookId,
          event: webhookDeliveries.event,
          body: webhookDeliveries.body,
          attempts: webhookDeliveries.attempts,
          url: webhooks.url,
          secretSealed: webhooks.secretSealed,
          enabled: webhooks.enabled,
        })
        .from(webhookDeliveries)
        .innerJoin(webhooks, eq(webhooks.id, webhookDeliveries.webhookId))
        .where(and(dueFilter(nowIso), full.length ? notInArray(webhookDeliveries.webhookId, full) : undefined))
        .orderBy(webhookDeliveries.nextAttemptAt)
        .limit(limit * 4)
        .all();
      const claimed: Claimed[] = [];
      const taken = new Map(busy);
      for (const { enabled, ...c } of candidates) {
        if (claimed.length >= limit) break;
        if (!enabled) {
          await tx
            .update(webhookDeliveries)
            .set({ status: "failed", lastError: "the webhook was disabled before this was sent", finishedAt: nowIso })
            .where(and(eq(webhookDeliveries.id, c.id), dueFilter(nowIso)))
            .run();
          continue;
        }
        if ((taken.get(c.webhookId) ?? 0) >= perWebhook) continue;
        const won = await tx
          .update(webhookDeliveries)
          .set({ leaseOwner: owner, leaseUntil: until })
          .where(and(eq(webhookDeliveries.id, c.id), dueFilter(nowIso)))
          .run();
        if (won.changes === 0) continue;
        taken.set(c.webhookId, (taken.get(c.webhookId) ?? 0) + 1);
        claimed.push(c);
      }
      return claimed;
    },
    { behavior: "immediate" },
  );
}

/** What one try came to. */
export interface AttemptResult {
  at: string;
  statusCode: number | null;
  latencyMs: number;
  response: string | null;
  error: string | null;
}

/**
 * Records a try and decides what follows: 2xx → delivered; else the next try after the
 * schedule's wait, or failed after the last. Only the lease's owner moves the row on.
 */
export async function recordAttempt(
  db: Db,
  owner: string,
  claimed: Claimed,
  result: AttemptResult,
  retryBaseMs: number,
): Promise<DeliveryRow["status"]> {
  const attempt = claimed.attempts + 1;
  const delivered = result.statusCode !== null && isDelivered(result.statusCode);
  const wait = delivered ? undefined : retryDelayMs(attempt, retryBaseMs);
  const status: DeliveryRow["status"] = delivered ? "delivered" : wait === undefined ? "failed" : "pending";
  const now = Date.now();
  await db.transaction(async (tx) => {
    await tx
      .insert(webhookAttempts)
      .values({ deliveryId: claimed.id, attempt, ...result })
      .onConflictDoNothing()
      .run();
    await tx
      .update(webhookDeliveries)
      .set({
        status,
        attempts: attempt,
        lastStatusCode: result.statusCode,
        lastLatencyMs: result.latencyMs,
        lastResponse: result.response,
        lastError: result.error,
        nextAttemptAt: status === "pending" ? new Date(now + wait!).toISOString() : result.at,
        finishedAt: status === "pending" ? null : new Date(now).toISOString(),
        leaseOwner: null,
        leaseUntil: null,
      })
      .where(and(eq(webhookDeliveries.id, claimed.id), eq(webhookDeliveries.leaseOwner, owner)))
      .run();
  });
  return status;
}

/** Gives back the leases of `owner` (a dispatcher that stops), so another takes the rows at once. */
export async function releaseLeases(db: Db, owner: string): Promise<void> {
  await db
    .update(webhookDeliveries)
    .set({ leaseOwner: null, leaseUntil: null })
    .where(and(eq(webhookDeliveries.leaseOwner, owner), eq(webhookDeliveries.status, "pending")))
    .run();
}

async function deliveryViews(db: Db, rows: DeliveryRow[]): Promise<DeliveryView[]> {
  const ids = rows.map((r) => r.id);
  const attempts = ids.length
    ? await db.select().from(webhookAttempts).where(inArray(webhookAttempts.deliveryId, ids)).all()
    : [];
  return rows.map((r) => ({
    id: r.id,
    webhookId: r.webhookId,
    event: r.event,
    status: r.status,
    attempts: r.attempts,
    lastStatusCode: r.lastStatusCode,
    latencyMs: r.lastLatencyMs,
    response: r.lastResponse,
    error: r.lastError,
    nextAttemptAt: r.status === "pending" ? r.nextAttemptAt : null,
    redeliveryOf: r.redeliveryOf,
    createdAt: r.createdAt,
    finishedAt: r.finishedAt,
    payload: JSON.parse(r.body) as unknown,
    attemptLog: attempts
      .filter((a) => a.deliveryId === r.id)
      .sort((a, b) => a.attempt - b.attempt)
      .map(({ deliveryId: _d, ...a }) => a),
  }));
}

/** The webhook's latest deliveries, newest first. */
export async function listDeliveries(db: Db, webhookId: number, limit = 50): Promise<DeliveryView[]> {
  const rows = await db
    .select()
    .from(webhookDeliveries)
    .where(eq(webhookDeliveries.webhookId, webhookId))
    .orderBy(desc(webhookDeliveries.createdAt), desc(webhookDeliveries.id))
    .limit(limit)
    .all();
  return deliveryViews(db, rows);
}

async function findDelivery(db: Db, webhookId: number, id: string): Promise<DeliveryRow> {
  const row = await db
    .select()
    .from(webhookDeliveries)
    .where(and(eq(webhookDeliveries.webhookId, webhookId), eq(webhookDeliveries.id, id)))
    .get();
  if (!row) throw notFound("webhook delivery", id, "WebhookDeliveryNotFound");
  return row;
}

/** A new delivery of the same body (same signature), under a new delivery id, due now. */
export async function redeliver(db: Db, webhookId: number, deliveryId: string): Promise<DeliveryView> {
  const original = await findDelivery(db, webhookId, deliveryId);
  const id = await insertDelivery(db, webhookId, original.event, original.body, original.id);
  outboxChanged();
  return (await deliveryViews(db, [await findDelivery(db, webhookId, id)]))[0]!;
}
