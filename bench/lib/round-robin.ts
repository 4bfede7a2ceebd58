/**
 * A small round-robin HTTP load balancer for the benches, in a process of its own (so that it
 * shares no event loop with the load generator): each request goes to the next upstream, over
 * keep-alive connections, bodies streamed both ways. It counts the requests each upstream answered
 * and reports its own CPU time and peak RSS, so that a bench can show what the balancer costs.
 * Run as a module: startRoundRobin() forks this file; run as the forked child, it serves.
 */
import { fork } from "node:child_process";
import { Agent, createServer, request, type IncomingHttpHeaders } from "node:http";
import { fileURLToPath } from "node:url";

interface Stats {
  served: number[];
  cpuSeconds: number;
  peakRssMb: number;
}

/** Starts the balancer over 127.0.0.1:<upstreamPorts> on a free port. */
export async function startRoundRobin(upstreamPorts: number[]) {
  const child = fork(fileURLToPath(import.meta.url), [], {
    execArgv: ["--import", "tsx"],
    env: { ...process.env, KILN_BENCH_RR_UPSTREAMS: JSON.stringify(upstreamPorts) },
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const port = await new Promise<number>((resolve, reject) => {
    child.once("message", (m) => resolve((m as { port: number }).port));
    child.once("exit", (code) => reject(new Error(`round-robin balancer exited while starting (code ${code})`)));
  });

  /** Requests each upstream answered, CPU time used and peak RSS, so far. */
  const stats = () =>
    new Promise<Stats>((resolve) => {
      child.once("message", (m) => resolve(m as Stats));
      child.send("stats");
    });

  async function stop(): Promise<void> {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill("SIGTERM");
    await exited;
  }

  return { base: `http://127.0.0.1:${port}`, pid: child.pid!, stats, stop };
}

export type RoundRobin = Awaited<ReturnType<typeof startRoundRobin>>;

// Hop-by-hop headers belong to one connection: the balancer's own connections set their own.
const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "proxy-authenticate",
  "proxy-authorization",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
]);
const endToEnd = (headers: IncomingHttpHeaders) =>
  Object.fromEntries(Object.entries(headers).filter(([name]) => !HOP_BY_HOP.has(name)));

function serve(upstreamPorts: number[]): void {
  const agents = upstreamPorts.map(() => new Agent({ keepAlive: true, maxSockets: 256, maxFreeSockets: 256 }));
  const served = upstreamPorts.map(() => 0);
  let next = 0;
  const server = createServer({ keepAliveTimeout: 60_000 }, (req, res) => {
    const i = next++ % upstreamPorts.length;
    const upstream = request(
      {
        host: "127.0.0.1",
        port: upstreamPorts[i],
        method: req.method,
        path: req.url,
        headers: endToEnd(req.headers),
        agent: agents[i],
      },
      (answer) => {
        served[i]!++;
        res.writeHead(answer.statusCode ?? 502, endToEnd(answer.headers));
        answer.pipe(res);
      },
    );
    upstream.on("error", (err) => {
      if (!res.headersSent) res.writeHead(502, { "content-type": "text/plain" });
      res.end(`upstream 127.0.0.1:${upstreamPorts[i]} failed: ${err.message}`);
    });
    req.pipe(upstream);
  });
  server.listen(0, "127.0.0.1", () => {
    process.send!({ port: (server.address() as { port: number }).port });
  });
  process.on("message", (m) => {
    if (m !== "stats") return;
    const cpu = process.cpuUsage();
    process.send!({
      served,
      cpuSeconds: (cpu.user + cpu.system) / 1e6,
      peakRssMb: process.resourceUsage().maxRSS / 1024,
    } satisfies Stats);
  });
  const quit = () => process.exit(0);
  process.on("SIGTERM", quit);
  process.on("disconnect", quit); // the bench is gone: never outlive it
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  serve(JSON.parse(process.env.KILN_BENCH_RR_UPSTREAMS ?? "[]") as number[]);
}
