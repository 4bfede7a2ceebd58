import { createHash } from "node:crypto";
import type { Normalized, Provider, WebhookRequest } from "./types.ts";

export type Reception =
  { ok: false; status: 401 | 400; reason: string } | { ok: true; deliveryId: string; normalized: Normalized };

/**
 * Verify, then parse, then normalise: nothing in an unverified body is ever read. Providers that
 * send no delivery id (Gitee, Codeup, plain git without one) get a hash of the hook id and the
 * raw body, so a redelivery of the same bytes is recognised. Pure.
 */
export function receive(provider: Provider, req: WebhookRequest, secret: string, hookId: string): Reception {
  if (!provider.verify(req, secret))
    return {
      ok: false,
      status: 401,
      reason: `the ${provider.id} signature or token does not match this hook's secret`,
    };
  let body: unknown;
  try {
    body = JSON.parse(req.rawBody.toString("utf8"));
  } catch {
    return { ok: false, status: 400, reason: "the body is not valid JSON" };
  }
  const fromBody =
    provider.id === "git" && typeof (body as { deliveryId?: unknown })?.deliveryId === "string"
      ? (body as { deliveryId: string }).deliveryId
      : undefined;
  const deliveryId =
    provider.deliveryId(req) ??
    fromBody ??
    `sha256:${createHash("sha256").update(hookId).update("\0").update(req.rawBody).digest("hex")}`;
  return { ok: true, deliveryId: deliveryId.slice(0, 200), normalized: provider.normalize(req, body) };
}
