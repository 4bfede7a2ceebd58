import { and, eq, sql } from "drizzle-orm";
import { perDb } from "../db/prepared.ts";
import { isUniqueViolation, type Db } from "../db/connection.ts";
import type { DeliveryOutcome } from "../db/enums.ts";
import { deliveries } from "../db/schema.ts";
import type { PolicyStore } from "../iam/policy-store.ts";
import { bindingsOfSameCode, type BindingRow } from "../sources/bindings.ts";
import type { Normalized } from "../sources/types.ts";
import { plansForPush } from "./plan.ts";
import { buildsByIds, recordBuilds, buildView } from "./records.ts";
import type { BuildView, DeliveryView } from "./schemas.ts";

/**
 * Records a verified delivery and the builds it makes in one transaction; a delivery id seen
 * before makes nothing new and answers as the first time did.
 */
const queries = perDb((db) => ({
  seen: db
    .select()
    .from(deliveries)
    .where(
      and(
        eq(deliveries.bindingId, sql.placeholder("bindingId")),
        eq(deliveries.providerDeliveryId, sql.placeholder("deliveryId")),
      ),
    )
    .prepare(),
  insert: db
    .insert(deliveries)
    .values({
      bindingId: sql.placeholder("bindingId"),
      providerDeliveryId: sql.placeholder("deliveryId"),
      outcome: sql.placeholder("outcome"),
      reason: sql.placeholder("reason"),
      buildIds: [],
    })
    .returning({ id: deliveries.id })
    .prepare(),
  // The placeholder bypasses the json column's encoder: it takes the JSON text.
  setBuilds: db
    .update(deliveries)
    .set({ buildIds: sql<string[]>`${sql.placeholder("buildIds")}` })
    .where(eq(deliveries.id, sql.placeholder("id")))
    .prepare(),
}));

export async function acceptDelivery(
  db: Db,
  policies: PolicyStore,
  binding: BindingRow,
  deliveryId: string,
  normalized: Normalized,
): Promise<DeliveryView> {
  try {
    return await recordDelivery(db, policies, binding, deliveryId, normalized);
  } catch (err) {
    // The same delivery reached another API replica at the same moment, and its transaction
    // committed first: this one now finds it, and answers as a redelivery.
    if (isUniqueViolation(err)) return recordDelivery(db, policies, binding, deliveryId, normalized);
    throw err;
  }
}

function recordDelivery(
  db: Db,
  policies: PolicyStore,
  binding: BindingRow,
  deliveryId: string,
  normalized: Normalized,
): Promise<DeliveryView> {
  return db.transaction(async (tx) => {
    const q = queries(tx);
    const seen = await q.seen.get({ bindingId: binding.id, deliveryId });
    if (seen)
      return answer(deliveryId, seen.outcome, seen.reason, (await buildsByIds(tx, seen.buildIds)).map(buildView), true);

    let outcome: DeliveryOutcome = "ignored";
    let reason: string | undefined;
    const planned: Awaited<ReturnType<typeof plansForPush>>["plans"] = [];
    if ("ignored" in normalized) reason = normalized.ignored;
    else if (normalized.events.every((e) => e.kind === "ping")) outcome = "ping";
    else {
      const bindings = await bindingsOfSameCode(tx, binding);
      const reasons: string[] = [];
      for (const event of normalized.events) {
        const r = await plansForPush(tx, bindings, event);
        planned.push(...r.plans);
        reasons.push(...r.reasons);
      }
      if (planned.length) outcome = "accepted";
      else reason = reasons.join("; ") || "nothing to build";
    }
    const row = (await q.insert.get({ bindingId: binding.id, deliveryId, outcome, reason: reason ?? null }))!;
    const made = await recordBuilds(
      tx,
      policies,
      planned.map((p) => ({ ...p, deliveryId: row.id })),
    );
    if (made.length) await q.setBuilds.run({ id: row.id, buildIds: JSON.stringify(made.map((b) => b.id)) });
    return answer(deliveryId, outcome, reason ?? null, made.map(buildView), false);
  });
}

function answer(
  deliveryId: string,
  outcome: DeliveryOutcome,
  reason: string | null,
  builds: BuildView[],
  redelivery: boolean,
): DeliveryView {
  return {
    deliveryId,
    outcome,
    ...(reason ? { reason } : {}),
    builds,
    ...(redelivery ? { redelivery: true as const } : {}),
  };
}
