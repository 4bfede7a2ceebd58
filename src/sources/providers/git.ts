import { parseRef, safeEqual, str, ZERO_SHA } from "../refs.ts";
import type { Provider } from "../types.ts";

/**
 * Any git server's post-receive hook: `Authorization: Bearer <webhookSecret>` and
 * `{"ref": "refs/heads/main", "commit": "<sha>", "deliveryId"?: "…"}`. The clone URL is the binding's.
 */
export const git: Provider = {
  id: "git",
  verify(req, secret) {
    const m = /^Bearer\s+(\S+)$/i.exec(req.header("authorization") ?? "");
    return m !== null && safeEqual(m[1]!, secret);
  },
  deliveryId: () => undefined,
  normalize(_req, raw) {
    const body = (raw ?? {}) as Record<string, unknown>;
    const ref = parseRef(body.ref);
    if (!ref) return { ignored: `ref "${String(body.ref)}" is neither a branch nor a tag` };
    const commit = str(body.commit);
    if (!commit || !/^[0-9a-f]{40}([0-9a-f]{24})?$/.test(commit))
      return { ignored: "commit must be a full 40- or 64-digit hex object id" };
    if (ZERO_SHA.test(commit))
      return { events: [{ kind: "delete", ref: body.ref as string, name: ref.name, commit: "", cloneUrls: [] }] };
    return {
      events: [
        { kind: ref.kind, ref: body.ref as string, name: ref.name, commit, cloneUrls: [], pusher: str(body.pusher) },
      ],
    };
  },
};
