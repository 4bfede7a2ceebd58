import { createServer } from "node:net";

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
    srv.on("error", reject);
  });
}

/** Polls until `probe` resolves true, or throws with `describe()` after `ms`. */
export async function waitUntil(
  probe: () => Promise<boolean>,
  describe: () => string | Promise<string>,
  ms = 20_000,
): Promise<void> {
  const until = Date.now() + ms;
  for (;;) {
    try {
      if (await probe()) return;
    } catch {
      // not up yet
    }
    if (Date.now() > until) throw new Error(`gave up after ${ms} ms: ${await describe()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
