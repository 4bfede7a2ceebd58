import { createHmac } from "node:crypto";
import type { TagFilter } from "../db/schema.ts";
import type { Visibility, WebhookEvent } from "../db/enums.ts";
import type { Payload } from "./schemas.ts";

/** Pure parts of outbound webhooks: the body, its signature, the tag filter and the retry schedule. */

/** The header a receiver checks: `sha256=` and the hex HMAC-SHA256 of the exact body under the webhook's secret. */
export function signatureOf(secret: string, body: string): string {
  return `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`;
}

/** Compiles a regex tag filter (full match). Throws on a pattern JavaScript does not accept. */
export function compileTagRegex(pattern: string): RegExp {
  return new RegExp(`^(?:${pattern})$`);
}

const compiled = new Map<string, RegExp | null>();
const COMPILED_MAX = 1000;

/** Does the filter let this tag through? A regex that no longer compiles lets nothing through. */
export function tagMatches(filter: TagFilter, tag: string): boolean {
  if (filter.kind === "all") return true;
  if (filter.kind === "list") return filter.tags.includes(tag);
  let re = compiled.get(filter.regex);
  if (re === undefined) {
    try {
      re = compileTagRegex(filter.regex);
    } catch {
      re = null;
    }
    if (compiled.size >= COMPILED_MAX) compiled.clear();
    compiled.set(filter.regex, re);
  }
  return re !== null && re.test(tag);
}

export interface RepositoryFacts {
  namespace: string;
  name: string;
  region: string;
  visibility: Visibility;
}

export interface PushFacts {
  digest: string | null;
  pushedAt: string | null;
  tag: string | null;
  pusher: string | null;
}

export interface BuildFacts {
  id: string;
  status: string;
  ref: string;
  commit: string | null;
  tags: string[];
  error: string | null;
  finishedAt: string | null;
}

/** The JSON body, in the shape of ACR's webhook (push_data, repository) with the build where there is one. */
export function payloadOf(event: WebhookEvent, repo: RepositoryFacts, push: PushFacts, build?: BuildFacts): Payload {
  const payload: Payload = {
    event,
    push_data: { digest: push.digest, pushed_at: push.pushedAt, tag: push.tag, pusher: push.pusher },
    repository: {
      name: repo.name,
      namespace: repo.namespace,
      region: repo.region,
      repo_full_name: `${repo.namespace}/${repo.name}`,
      repo_type: repo.visibility === "public" ? "PUBLIC" : "PRIVATE",
    },
  };
  if (build)
    payload.build = {
      id: build.id,
      status: build.status,
      ref: build.ref,
      commit: build.commit,
      tags: build.tags,
      ...(build.error ? { error: build.error } : {}),
      finished_at: build.finishedAt,
    };
  return payload;
}

/** Waits after each failed try, in units of KILN_NOTIFY_RETRY_BASE_MS (a minute): 6 tries over about an hour. */
export const RETRY_UNITS = [1, 5, 10, 20, 25] as const;
export const MAX_ATTEMPTS = RETRY_UNITS.length + 1;
/** How long one try may take, answer body included. */
export const ATTEMPT_TIMEOUT_MS = 10_000;
/** The part of a receiver's answer that is kept. */
export const RESPONSE_SNIPPET_BYTES = 1024;

/** The wait before the next try after `attempts` failed tries, or undefined when none is left. */
export function retryDelayMs(attempts: number, baseMs: number): number | undefined {
  const unit = RETRY_UNITS[attempts - 1];
  return unit === undefined ? undefined : unit * baseMs;
}

/** A 2xx answer delivers; anything else (3xx included: redirects are not followed) is tried again. */
export const isDelivered = (status: number) => status >= 200 && status < 300;
