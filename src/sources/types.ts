/** A webhook as received: header lookup (case-insensitive) and the raw body, before any parsing. */
export interface WebhookRequest {
  header(name: string): string | undefined;
  rawBody: Buffer;
}

export type EventKind = "branch" | "tag" | "delete" | "ping";

/** One push, normalised across providers (DESIGN §8). */
export interface PushEvent {
  kind: EventKind;
  /** `refs/heads/main`, `refs/tags/v1.2.3`; empty for a ping. */
  ref: string;
  /** `main`, `v1.2.3`. */
  name: string;
  /** The commit after the push; empty for deletions and pings. */
  commit: string;
  cloneUrls: string[];
  /** Added, modified and removed files of the pushed commits, when the provider lists them. */
  changedFiles?: string[];
  headCommitMessage?: string;
  pusher?: string;
}

export type Normalized = { events: PushEvent[] } | { ignored: string };

export type ProviderId = "github" | "gitlab" | "gitee" | "codeup" | "gitea" | "bitbucket" | "git";

export interface Provider {
  id: ProviderId;
  /** Checks the request against the binding's secret, before the body is parsed. Constant time. */
  verify(req: WebhookRequest, secret: string): boolean;
  /** The provider's delivery id, if it sends one. */
  deliveryId(req: WebhookRequest): string | undefined;
  /** The pushes in a verified, parsed body. Pure. */
  normalize(req: WebhookRequest, body: unknown): Normalized;
}
