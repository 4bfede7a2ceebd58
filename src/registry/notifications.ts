import { and, eq } from "drizzle-orm";
import type { Db } from "../db/connection.ts";
import { namespaces, registryEvents, repositories, tags } from "../db/schema.ts";
import { enqueueTagPushed } from "../notifications/outbox.ts";

/** A push of a tagged manifest, or a deletion, as the registry's notification envelope reports it. */
export interface RegistryEvent {
  id: string;
  action: "push" | "delete";
  repository: string;
  tag?: string;
  digest?: string;
  mediaType?: string;
  size?: number;
  actor?: string;
  sourceAddr?: string;
  occurredAt: string;
  /** `os/arch[/variant]` of each image under a pushed tag, read from the registry (tag-platforms.ts). */
  platforms?: string[];
}

const MANIFEST = /manifest|image\.index/i;

/** Keeps the events Kiln records (manifest pushes, deletions); blob and pull events pass by. Pure. */
export function normalizeEnvelope(envelope: unknown): RegistryEvent[] {
  const events = (envelope as { events?: unknown })?.events;
  if (!Array.isArray(events)) return [];
  const out: RegistryEvent[] = [];
  for (const e of events as Record<string, any>[]) {
    const target = e?.target ?? {};
    if (typeof e?.id !== "string" || typeof target.repository !== "string") continue;
    const isManifestPush =
      e.action === "push" && typeof target.mediaType === "string" && MANIFEST.test(target.mediaType);
    if (!isManifestPush && e.action !== "delete") continue;
    out.push({
      id: e.id,
      action: e.action,
      repository: target.repository,
      tag: typeof target.tag === "string" && target.tag ? target.tag : undefined,
      digest: typeof target.digest === "string" ? target.digest : undefined,
      mediaType: typeof target.mediaType === "string" ? target.mediaType : undefined,
      size:
        typeof target.size === "number" ? target.size : typeof target.length === "number" ? target.length : undefined,
      actor: typeof e.actor?.name === "string" && e.actor.name ? e.actor.name : undefined,
      sourceAddr: typeof e.request?.addr === "string" ? e.request.addr : undefined,
      occurredAt: typeof e.timestamp === "string" ? new Date(e.timestamp).toISOString() : new Date().toISOString(),
    });
  }
  return out;
}

async function repositoryIdOf(db: Db, region: string, path: string): Promise<number | undefined> {
  const [ns, name, ...rest] = path.split("/");
  if (!ns || !name || rest.length) return undefined;
  const row = await db
    .select({ id: repositories.id })
    .from(repositories)
    .innerJoin(namespaces, eq(namespaces.id, repositories.namespaceId))
    .where(and(eq(repositories.region, region), eq(namespaces.name, ns), eq(repositories.name, name)))
    .get();
  return row?.id;
}

/**
 * Records the events (the registry retries, so an event id already seen is skipped) and moves the
 * tags: a push sets the tag to its digest; a deletion of a digest removes every tag pointing at it.
 * Events for repositories Kiln does not know are recorded with no repository id.
 */
export async function recordEvents(
  db: Db,
  region: string,
  events: RegistryEvent[],
): Promise<{ recorded: number; unknownRepositories: number }> {
  let recorded = 0;
  let unknownRepositories = 0;
  await db.transaction(async (tx) => {
    for (const e of events) {
      const repositoryId = await repositoryIdOf(tx, region, e.repository);
      const inserted = await tx
        .insert(registryEvents)
        .values({
          id: e.id,
          region,
          action: e.action,
          repository: e.repository,
          repositoryId: repositoryId ?? null,
          tag: e.tag ?? null,
          digest: e.digest ?? null,
          mediaType: e.mediaType ?? null,
          size: e.size ?? null,
          actor: e.actor ?? null,
          sourceAddr: e.sourceAddr ?? null,
          occurredAt: e.occurredAt,
        })
        .onConflictDoNothing()
        .run();
      if (inserted.changes === 0) continue;
      recorded++;
      if (repositoryId === undefined) {
        unknownRepositories++;
        continue;
      }
      if (e.action === "push" && e.tag && e.digest) {
        const row = {
          repositoryId,
          tag: e.tag,
          digest: e.digest,
          mediaType: e.mediaType ?? null,
          platforms: e.platforms ?? null,
          size: e.size ?? null,
          pushedBy: e.actor ?? null,
          pushedAt: e.occurredAt,
        };
        await tx
          .insert(tags)
          .values(row)
          .onConflictDoUpdate({ target: [tags.repositoryId, tags.tag], set: row })
          .run();
        // Outbound webhooks (tag.pushed): in this transaction, so the tag and its notifications stand or fall together.
        await enqueueTagPushed(tx, repositoryId, {
          tag: e.tag,
          digest: e.digest,
          pushedAt: e.occurredAt,
          pusher: e.actor ?? null,
        });
      } else if (e.action === "delete") {
        if (e.tag)
          await tx
            .delete(tags)
            .where(and(eq(tags.repositoryId, repositoryId), eq(tags.tag, e.tag)))
            .run();
        else if (e.digest)
          await tx
            .delete(tags)
            .where(and(eq(tags.repositoryId, repositoryId), eq(tags.digest, e.digest)))
            .run();
      }
    }
  });
  return { recorded, unknownRepositories };
}
