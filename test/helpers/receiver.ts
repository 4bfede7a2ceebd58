import { createHmac, timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";

/** One POST a receiver got, with whether its X-Kiln-Signature-256 holds under the receiver's secret. */
export interface Received {
  headers: IncomingMessage["headers"];
  raw: string;
  body: any;
  signatureValid: boolean;
  at: number;
}

/** What the receiver does with the n-th request (0-based): answer a status, or never answer. */
export type Answer = (n: number, req: IncomingMessage) => number | "hang";

/**
 * A real HTTP receiver (node:http) on a free loopback port, as a user of Kiln would write one: it
 * checks the signature of the exact body with the webhook's secret (set `secret` once known).
 */
export async function startReceiver(answer: Answer = () => 200) {
  const received: Received[] = [];
  const hanging: ServerResponse[] = [];
  let n = 0;
  const state = { secret: "", answer };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const raw = Buffer.concat(chunks).toString("utf8");
      const expected = Buffer.from(`sha256=${createHmac("sha256", state.secret).update(raw).digest("hex")}`);
      const given = Buffer.from(String(req.headers["x-kiln-signature-256"] ?? ""));
      let body: unknown = raw;
      try {
        body = JSON.parse(raw);
      } catch {
        // kept as text
      }
      received.push({
        headers: req.headers,
        raw,
        body,
        signatureValid: given.length === expected.length && timingSafeEqual(given, expected),
        at: Date.now(),
      });
      const what = state.answer(n++, req);
      if (what === "hang") {
        hanging.push(res);
        return;
      }
      res.writeHead(what, { "content-type": "text/plain" });
      res.end(`answer ${what} to ${req.headers["x-kiln-delivery"]}`);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}/hook`,
    received,
    /** Requests that got no answer (yet). */
    hanging,
    set secret(value: string) {
      state.secret = value;
    },
    set answer(fn: Answer) {
      state.answer = fn;
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export type Receiver = Awaited<ReturnType<typeof startReceiver>>;
