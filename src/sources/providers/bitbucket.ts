import { hmacHex, safeEqual, str, urls } from "../refs.ts";
import type { Provider, PushEvent } from "../types.ts";

type Json = Record<string, any>;

/**
 * Bitbucket Cloud `repo:push`: one payload may carry several ref changes; each becomes an event.
 * The secret signs the body as `X-Hub-Signature: sha256=<hex>`. Bitbucket lists no changed files.
 */
export const bitbucket: Provider = {
  id: "bitbucket",
  verify(req, secret) {
    const signature = req.header("x-hub-signature");
    return signature !== undefined && safeEqual(signature, `sha256=${hmacHex(secret, req.rawBody)}`);
  },
  deliveryId: (req) => req.header("x-request-uuid") ?? req.header("x-hook-uuid"),
  normalize(req, raw) {
    const body = raw as Json;
    const event = req.header("x-event-key");
    if (event === "diagnostics:ping")
      return { events: [{ kind: "ping", ref: "", name: "", commit: "", cloneUrls: [] }] };
    if (event !== "repo:push") return { ignored: `Bitbucket event "${event}" is not a push` };
    const repo = body.repository ?? {};
    const fullName = str(repo.full_name);
    const cloneUrls = urls(
      fullName ? `https://bitbucket.org/${fullName}.git` : undefined,
      fullName ? `git@bitbucket.org:${fullName}.git` : undefined,
    );
    const pusher = str(body.actor?.nickname) ?? str(body.actor?.display_name);
    const events: PushEvent[] = [];
    for (const change of (body.push?.changes ?? []) as Json[]) {
      const target = change.new ?? change.old;
      const type = target?.type;
      const name = str(target?.name);
      if ((type !== "branch" && type !== "tag") || !name) continue;
      const ref = `refs/${type === "branch" ? "heads" : "tags"}/${name}`;
      if (!change.new || change.closed === true) {
        events.push({ kind: "delete", ref, name, commit: "", cloneUrls, pusher });
        continue;
      }
      const commit = str(change.new.target?.hash);
      if (!commit) continue;
      const headMessage = str(change.new.target?.message) ?? str((change.commits ?? [])[0]?.message);
      events.push({ kind: type, ref, name, commit, cloneUrls, pusher, headCommitMessage: headMessage });
    }
    return events.length ? { events } : { ignored: "the push changes no branch or tag" };
  },
};
