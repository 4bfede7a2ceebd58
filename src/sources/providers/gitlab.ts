import { changedFilesOf, parseRef, safeEqual, str, urls, ZERO_SHA } from "../refs.ts";
import type { Normalized, Provider, ProviderId, WebhookRequest } from "../types.ts";

type Json = Record<string, any>;

/** GitLab's Push Hook and Tag Push Hook payloads; Codeup sends the same (see codeup.ts). */
export function normalizeGitlabStylePush(body: Json): Normalized {
  if (body.object_kind !== "push" && body.object_kind !== "tag_push")
    return { ignored: `object_kind "${String(body.object_kind)}" is not a push` };
  const ref = parseRef(body.ref);
  if (!ref) return { ignored: `ref "${String(body.ref)}" is neither a branch nor a tag` };
  const project = body.project ?? {};
  const repository = body.repository ?? {};
  const base = {
    ref: body.ref as string,
    name: ref.name,
    cloneUrls: urls(project.git_http_url, project.git_ssh_url, repository.git_http_url, repository.git_ssh_url),
    pusher: str(body.user_username) ?? str(body.user_name),
  };
  const after = str(body.after);
  if (!body.checkout_sha && (!after || ZERO_SHA.test(after)))
    return { events: [{ ...base, kind: "delete", commit: "" }] };
  const commit = str(body.checkout_sha) ?? after!;
  const commits = Array.isArray(body.commits) ? (body.commits as Json[]) : [];
  const head = commits.find((c) => c?.id === commit) ?? commits[commits.length - 1];
  return {
    events: [
      {
        ...base,
        kind: ref.kind,
        commit,
        changedFiles: changedFilesOf(commits),
        headCommitMessage: str(head?.message) ?? str(body.message),
      },
    ],
  };
}

/**
 * A provider whose secret is sent as is in a header (GitLab, Codeup). The event is named by the
 * first of `eventHeaders` present; with `eventFromBody`, a request that names it in none of them
 * is judged by the body's `object_kind` alone.
 */
export function tokenHeaderProvider(
  id: ProviderId,
  tokenHeader: string,
  eventHeaders: readonly string[],
  options: { deliveryHeader?: string; eventFromBody?: boolean } = {},
): Provider {
  const { deliveryHeader, eventFromBody = false } = options;
  return {
    id,
    verify(req: WebhookRequest, secret: string) {
      const token = req.header(tokenHeader);
      return token !== undefined && safeEqual(token, secret);
    },
    deliveryId: (req) => (deliveryHeader ? req.header(deliveryHeader) : undefined),
    normalize(req, body) {
      const event = eventHeaders.map((name) => req.header(name)).find((value) => value !== undefined);
      if (event === undefined && eventFromBody) return normalizeGitlabStylePush(body as Json);
      if (event !== "Push Hook" && event !== "Tag Push Hook") return { ignored: `event "${event}" is not a push` };
      return normalizeGitlabStylePush(body as Json);
    },
  };
}

export const gitlab = tokenHeaderProvider("gitlab", "x-gitlab-token", ["x-gitlab-event"], {
  deliveryHeader: "x-gitlab-event-uuid",
});
