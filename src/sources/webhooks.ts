import { and, eq } from "drizzle-orm";
import type { Db } from "../db/connection.ts";
import { deliveries } from "../db/schema.ts";
import type { PolicyStore } from "../iam/policy-store.ts";
import { plansForPush } from "../builds/plan.ts";
import { buildsByIds, recordBuilds, type BuildView, buildView } from "../builds/records.ts";
import { bindingsOfSameCode, type BindingRow } from "./bindings.ts";
import type { Normalized } from "./types.ts";

export interface DeliveryAnswer {
  status: 200 | 202;
  body: { deliveryId: string; outcome: "accepted" | "ignored" | "ping"; reason?: string; builds: BuildView[]; redelivery?: true };
}

/**
 * Records a verified delivery and the builds it makes in one transaction; a delivery id seen
 * before makes nothing new and answers as the first time did.
 */
export function acceptDelivery(db: Db, policies: PolicyStore, binding: BindingRow, deliveryId: string, normalized: Normalized): DeliveryAnswer {
  return db.transaction((tx) => {
    const t = tx as unknown as Db;
    const seen = t.select().from(deliveries).where(and(eq(deliveries.bindingId, binding.id), eq(deliveries.providerDeliveryId, deliveryId))).get();
    if (seen) return answer(t, deliveryId, seen.outcome, seen.reason, seen.buildIds, true);

    let outcome: "accepted" | "ignored" | "ping" = "ignored";
    let reason: string | undefined;
    const planned: ReturnType<typeof plansForPush>["plans"] = [];
    if ("ignored" in normalized) reason = normalized.ignored;
    else if (normalized.events.every((e) => e.kind === "ping")) outcome = "ping";
    else {
      const bindings = bindingsOfSameCode(t, binding);
      const reasons: string[] = [];
      for (const event of normalized.events) {
        const r = plansForPush(t, bindings, event);
        planned.push(...r.plans);
        reasons.push(...r.reasons);
      }
      if (planned.length) outcome = "accepted";
      else reason = reasons.join("; ") || "nothing to build";
    }
    const row = t.insert(deliveries).values({ bindingId: binding.id, providerDeliveryId: deliveryId, outcome, reason: reason ?? null, buildIds: [] }).returning().get();
    const made = recordBuilds(t, policies, planned.map((p) => ({ ...p, deliveryId: row.id })));
    const ids = made.map((b) => b.id);
    t.update(deliveries).set({ buildIds: ids }).where(eq(deliveries.id, row.id)).run();
    return answer(t, deliveryId, outcome, reason ?? null, ids, false);
  });
}

function answer(db: Db, deliveryId: string, outcome: "accepted" | "ignored" | "ping", reason: string | null, ids: string[], redelivery: boolean): DeliveryAnswer {
  return {
    status: outcome === "accepted" ? 202 : 200,
    body: { deliveryId, outcome, ...(reason ? { reason } : {}), builds: buildsByIds(db, ids).map(buildView), ...(redelivery ? { redelivery: true as const } : {}) },
  };
}
