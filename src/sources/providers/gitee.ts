import { createHmac } from "node:crypto";
import { changedFilesOf, parseRef, safeEqual, str, urls, ZERO_SHA } from "../refs.ts";
import type { Provider } from "../types.ts";

type Json = Record<string, any>;
const MAX_SKEW_MS = 60 * 60 * 1000;

/**
 * Gitee sends `X-Gitee-Token` as either the plain password or, in signature mode,
 * Base64(HMAC-SHA256(secret, timestamp + "\n" + secret)) with `X-Gitee-Timestamp` (ms).
 */
export const gitee: Provider = {
  id: "gitee",
  verify(req, secret) {
    const token = req.header("x-gitee-token");
    if (token === undefined) return false;
    const timestamp = req.header("x-gitee-timestamp");
    if (timestamp && /^\d{10,16}$/.test(timestamp)) {
      const signature = createHmac("sha256", secret).update(`${timestamp}\n${secret}`).digest("base64");
      const fresh = Math.abs(Date.now() - Number(timestamp)) < MAX_SKEW_MS;
      if (fresh && (safeEqual(token, signature) || safeEqual(decodeURIComponent(token), signature))) return true;
    }
    return safeEqual(token, secret);
  },
  deliveryId: () => undefined,
  normalize(req, raw) {
    const body = raw as Json;
    const event = req.header("x-gitee-event");
    if (event !== "Push Hook" && event !== "Tag Push Hook") return { ignored: `Gitee event "${event}" is not a push` };
    const ref = parseRef(body.ref);
    if (!ref) return { ignored: `ref "${String(body.ref)}" is neither a branch nor a tag` };
    const repo = body.repository ?? body.project ?? {};
    const base = {
      ref: body.ref as string,
      name: ref.name,
      cloneUrls: urls(repo.clone_url, repo.git_http_url, repo.ssh_url, repo.git_ssh_url),
      pusher: str(body.pusher?.name) ?? str(body.user_name) ?? str(body.sender?.login),
    };
    if (body.deleted === true || (typeof body.after === "string" && ZERO_SHA.test(body.after)))
      return { events: [{ ...base, kind: "delete", commit: "" }] };
    const commit = str(body.after) ?? str(body.head_commit?.id);
    if (!commit) return { ignored: "the push names no commit" };
    return {
      events: [
        {
          ...base,
          kind: ref.kind,
          commit,
          changedFiles: changedFilesOf(body.commits),
          headCommitMessage: str(body.head_commit?.message),
        },
      ],
    };
  },
};
