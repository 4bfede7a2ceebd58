import { hostname } from "node:os";
import type { Config } from "../config.ts";
import { unseal } from "../crypto/seal.ts";
import type { Db } from "../db/connection.ts";
import { randomId } from "../iam/secrets.ts";
import type { Logger } from "../logger.ts";
import type { Metrics } from "../metrics.ts";
import { claimDue, onOutboxChange, recordAttempt, releaseLeases, type AttemptResult, type Claimed } from "./outbox.ts";
import { ATTEMPT_TIMEOUT_MS, RESPONSE_SNIPPET_BYTES, retryDelayMs, signatureOf } from "./payload.ts";

/** A claim outlives the longest try by far: another process takes the row only after a crash. */
const LEASE_MS = 6 * ATTEMPT_TIMEOUT_MS;
/** Tries in flight per webhook and process: one dead receiver cannot take every slot. */
const PER_WEBHOOK = 2;

/** The start of an answer's body, at most RESPONSE_SNIPPET_BYTES; the rest is not read. */
async function snippetOf(res: Response): Promise<string | null> {
  if (!res.body) return null;
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    while (size < RESPONSE_SNIPPET_BYTES) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      size += value.length;
    }
  } finally {
    void reader.cancel().catch(() => {});
  }
  const bytes = Buffer.concat(chunks).subarray(0, RESPONSE_SNIPPET_BYTES);
  // A character cut at the limit is dropped rather than shown as garbage.
  return new TextDecoder("utf-8", { fatal: false }).decode(bytes).replace(/\uFFFD$/, "");
}

function reasonOf(err: unknown, timedOut: boolean): string {
  if (timedOut) return `no answer within ${ATTEMPT_TIMEOUT_MS / 1000} s`;
  const e = err as { message?: string; cause?: { code?: string; message?: string } };
  const cause = e.cause?.code ?? e.cause?.message;
  return cause ? `${e.message ?? "fetch failed"}: ${cause}` : (e.message ?? String(err));
}

/**
 * Sends the outbox's due deliveries: a pass claims what the free slots allow (KILN_NOTIFY_CONCURRENCY,
 * at most two per webhook), and each try runs on its own with a 10 s limit; nothing waits for
 * it but the slot. Every try is recorded; failures are tried again on the schedule of payload.ts.
 * Woken by new rows (onOutboxChange) and once a second for retries that fall due.
 */
export class WebhookDispatcher {
  readonly owner = `${hostname()}:${process.pid}:${randomId(8)}`;
  private readonly inFlight = new Map<string, { controller: AbortController; webhookId: number }>();
  private readonly timer: NodeJS.Timeout;
  private readonly unsubscribe: () => void;
  private scheduled = false;
  private closed = false;
  /** The pass under way (one at a time, so free slots are counted after the previous claims). */
  private passing: Promise<void> | null = null;
  /** A wake came during a pass: another pass follows it. */
  private again = false;
  private readonly settled = new Set<Promise<void>>();

  constructor(
    private readonly db: Db,
    private readonly config: Config,
    private readonly log: Logger,
    private readonly metrics?: Metrics,
    intervalMs = 1000,
  ) {
    this.timer = setInterval(() => this.wake(), intervalMs);
    this.timer.unref();
    this.unsubscribe = onOutboxChange(() => this.wake());
    this.wake();
  }

  /** A pass soon (after the current transaction commits: the pass runs on a later turn). */
  wake(): void {
    if (this.closed || this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.startPass();
    });
  }

  private startPass(): void {
    if (this.closed) return;
    if (this.passing) {
      this.again = true;
      return;
    }
    const passing = this.pass()
      .catch((err: unknown) => this.log.warn({ err }, "outbound webhooks: a dispatch pass failed"))
      .finally(() => {
        this.passing = null;
        this.settled.delete(passing);
        if (this.again) {
          this.again = false;
          this.wake();
        }
      });
    this.passing = passing;
    this.settled.add(passing);
  }

  /** Tries in flight by webhook. */
  private busy(): Map<number, number> {
    const busy = new Map<number, number>();
    for (const f of this.inFlight.values()) busy.set(f.webhookId, (busy.get(f.webhookId) ?? 0) + 1);
    return busy;
  }

  private async pass(): Promise<void> {
    if (this.closed) return;
    const free = this.config.notify.concurrency - this.inFlight.size;
    if (free <= 0) return;
    let claimed: Claimed[];
    try {
      claimed = await claimDue(this.db, this.owner, LEASE_MS, free, this.busy(), PER_WEBHOOK);
    } catch (err) {
      this.log.warn({ err }, "outbound webhooks: claiming due deliveries failed; trying again shortly");
      return;
    }
    // Stopped while claiming: close() gives the rows back once this pass has ended.
    if (this.closed) return;
    for (const c of claimed) {
      const controller = new AbortController();
      this.inFlight.set(c.id, { controller, webhookId: c.webhookId });
      const done = this.send(c, controller).finally(() => {
        this.inFlight.delete(c.id);
        this.settled.delete(done);
        this.wake();
      });
      this.settled.add(done);
    }
  }

  private async send(c: Claimed, controller: AbortController): Promise<void> {
    const at = new Date().toISOString();
    const started = performance.now();
    let timedOut = false;
    const timeout = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, ATTEMPT_TIMEOUT_MS);
    let result: AttemptResult;
    try {
      const secret = unseal(this.config.secretKey, c.secretSealed);
      const res = await fetch(c.url, {
        method: "POST",
        redirect: "manual",
        signal: controller.signal,
        headers: {
          "content-type": "application/json",
          "user-agent": "Kiln-Hookshot",
          "x-kiln-event": c.event,
          "x-kiln-delivery": c.id,
          "x-kiln-signature-256": signatureOf(secret, c.body),
        },
        body: c.body,
      });
      const latencyMs = Math.round(performance.now() - started);
      let response: string | null = null;
      let error: string | null = null;
      try {
        response = await snippetOf(res);
      } catch (err) {
        error = `reading the answer: ${reasonOf(err, timedOut)}`;
      }
      result = { at, statusCode: res.status, latencyMs, response, error };
    } catch (err) {
      result = {
        at,
        statusCode: null,
        latencyMs: Math.round(performance.now() - started),
        response: null,
        error: reasonOf(err, timedOut),
      };
    } finally {
      clearTimeout(timeout);
    }
    if (this.closed) return; // stopped mid-try: the lease was given back, another pass sends it again
    try {
      const status = await recordAttempt(this.db, this.owner, c, result, this.config.notify.retryBaseMs);
      this.metrics?.outboundTries.inc({ event: c.event, outcome: status === "pending" ? "retry" : status });
      // A retry falls due between the once-a-second passes: wake for it on time.
      const wait = status === "pending" ? retryDelayMs(c.attempts + 1, this.config.notify.retryBaseMs) : undefined;
      if (wait !== undefined && wait < 1000) setTimeout(() => this.wake(), wait + 5).unref();
      const origin = URL.canParse(c.url) ? new URL(c.url).origin : "?";
      this.log[status === "failed" ? "warn" : "debug"](
        {
          webhookId: c.webhookId,
          delivery: c.id,
          event: c.event,
          receiver: origin,
          attempt: c.attempts + 1,
          statusCode: result.statusCode,
          latencyMs: result.latencyMs,
          error: result.error ?? undefined,
          status,
        },
        "outbound webhook try",
      );
    } catch (err) {
      this.log.warn({ err, delivery: c.id }, "outbound webhooks: recording a try failed");
    }
  }

  /** Resolves when no try is in flight (tests). */
  async idle(): Promise<void> {
    while (this.settled.size) await Promise.all([...this.settled]);
  }

  /** Stops claiming, aborts the tries in flight and gives their rows back to the outbox. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    this.unsubscribe();
    for (const f of this.inFlight.values()) f.controller.abort();
    // A claim under way ends first, so that its rows are given back too.
    await this.passing;
    try {
      await releaseLeases(this.db, this.owner);
    } catch {
      // the database is closing: the leases run out on their own
    }
  }
}
