import { hmacHex, safeEqual } from "../refs.ts";
import type { Provider } from "../types.ts";
import { normalizeGithubStylePush } from "./github.ts";

/**
 * Gitea and Forgejo: `X-Gitea-Signature` is the bare hex HMAC-SHA256 of the body. They also send
 * `X-GitHub-*` headers; the binding's provider decides which set is read, never the headers.
 */
export const gitea: Provider = {
  id: "gitea",
  verify(req, secret) {
    const signature = req.header("x-gitea-signature") ?? req.header("x-forgejo-signature");
    return signature !== undefined && safeEqual(signature.toLowerCase(), hmacHex(secret, req.rawBody));
  },
  deliveryId: (req) => req.header("x-gitea-delivery") ?? req.header("x-forgejo-delivery"),
  normalize(req, body) {
    const event = req.header("x-gitea-event") ?? req.header("x-forgejo-event");
    if (event !== "push") return { ignored: `Gitea event "${event}" is not a push` };
    return normalizeGithubStylePush(body as Record<string, any>);
  },
};
