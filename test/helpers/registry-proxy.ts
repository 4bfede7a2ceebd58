import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from "node:http";

const MANIFEST_PUT = /^\/v2\/(.+)\/manifests\/([^/?]+)$/;

/** A manifest PUT the registry answered: which tag, which digest, what status. */
export interface ManifestPut {
  repository: string;
  tag: string;
  status: number;
  digest?: string;
}

/**
 * An HTTP proxy that is the registry's address as Kiln and the Docker engine know it; the real
 * registry listens behind it. It records every manifest PUT with the registry's answer (the
 * count of pushes of a tag, independent of Kiln), and can hold manifest PUTs: a push is then
 * stopped at its very last step, which gives a test a sure point "in the push stage".
 * A held request whose client went away (the engine canceled the push) is dropped, never sent.
 */
export async function startRegistryProxy(listenPort: number, upstreamPort: number) {
  const puts: ManifestPut[] = [];
  let holding = false;
  let held: { forward: () => void; gone: () => boolean }[] = [];

  function forward(req: IncomingMessage, res: ServerResponse, body: Buffer): void {
    const m = MANIFEST_PUT.exec(req.url ?? "");
    const upstream = request(
      { host: "127.0.0.1", port: upstreamPort, method: req.method, path: req.url, headers: req.headers },
      (answer) => {
        if (req.method === "PUT" && m)
          puts.push({
            repository: m[1]!,
            tag: decodeURIComponent(m[2]!),
            status: answer.statusCode ?? 0,
            digest: answer.headers["docker-content-digest"] as string | undefined,
          });
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on("error", (err) => {
      if (req.method === "PUT" && m) puts.push({ repository: m[1]!, tag: decodeURIComponent(m[2]!), status: 502 });
      if (!res.headersSent) res.writeHead(502, { "content-type": "text/plain" });
      res.end(`registry unreachable: ${err.message}`);
    });
    upstream.end(body);
  }

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    // Blob uploads stream through; only manifests (small) are read whole before they go on.
    const isManifestPut = req.method === "PUT" && MANIFEST_PUT.test(req.url ?? "");
    if (!isManifestPut) {
      const upstream = request(
        { host: "127.0.0.1", port: upstreamPort, method: req.method, path: req.url, headers: req.headers },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        },
      );
      upstream.on("error", (err) => {
        if (!res.headersSent) res.writeHead(502, { "content-type": "text/plain" });
        res.end(`registry unreachable: ${err.message}`);
      });
      req.pipe(upstream);
      return;
    }
    req.on("data", (d: Buffer) => chunks.push(d));
    req.on("end", () => {
      const body = Buffer.concat(chunks);
      let closed = false;
      res.on("close", () => (closed = true));
      if (!holding) return forward(req, res, body);
      held.push({ forward: () => forward(req, res, body), gone: () => closed || res.destroyed });
    });
  });
  await new Promise<void>((resolve) => server.listen(listenPort, "127.0.0.1", () => resolve()));
  return {
    puts,
    /** Manifest PUTs that are held and whose client still waits. */
    held: () => held.filter((h) => !h.gone()).length,
    hold(): void {
      holding = true;
    },
    /** Stops holding; held PUTs whose client still waits go on to the registry. Returns how many went on. */
    release(): number {
      holding = false;
      const waiting = held.filter((h) => !h.gone());
      held = [];
      for (const h of waiting) h.forward();
      return waiting.length;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

export type RegistryProxy = Awaited<ReturnType<typeof startRegistryProxy>>;
