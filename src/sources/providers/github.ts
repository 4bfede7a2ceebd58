import { changedFilesOf, hmacHex, parseRef, safeEqual, str, urls, ZERO_SHA } from "../refs.ts";
import type { Normalized, Provider, PushEvent, WebhookRequest } from "../types.ts";

type Json = Record<string, any>;

/** GitHub push payloads; Gitea and Forgejo send the same shape (see gitea.ts). */
export function normalizeGithubStylePush(body: Json): Normalized {
  const ref = parseRef(body.ref);
  if (!ref) return { ignored: `ref "${String(body.ref)}" is neither a branch nor a tag` };
  const repo = body.repository ?? {};
  const base = {
    ref: body.ref as string,
    name: ref.name,
    cloneUrls: urls(repo.clone_url, repo.ssh_url, repo.git_url),
    pusher: str(body.pusher?.name) ?? str(body.pusher?.login) ?? str(body.pusher?.username) ?? str(body.sender?.login),
  };
  if (body.deleted === true || (typeof body.after === "string" && ZERO_SHA.test(body.after))) {
    return { events: [{ ...base, kind: "delete", commit: "" }] };
  }
  const commit = str(body.after) ?? str(body.head_commit?.id);
  if (!commit) return { ignored: "the push names no commit" };
  const event: PushEvent = {
    ...base,
    kind: ref.kind,
    commit,
    changedFiles: changedFilesOf(body.commits),
    headCommitMessage: str(body.head_commit?.message),
  };
  return { events: [event] };
}

export const github: Provider = {
  id: "github",
  verify(req: WebhookRequest, secret: string) {
    const signature = req.header("x-hub-signature-256");
    return signature !== undefined && safeEqual(signature, `sha256=${hmacHex(secret, req.rawBody)}`);
  },
  deliveryId: (req) => req.header("x-github-delivery"),
  normalize(req, body) {
    const event = req.header("x-github-event");
    if (event === "ping") return { events: [{ kind: "ping", ref: "", name: "", commit: "", cloneUrls: [] }] };
    if (event !== "push") return { ignored: `GitHub event "${event}" is not a push` };
    return normalizeGithubStylePush(body as Json);
  },
};
