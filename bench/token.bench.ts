/**
 * Token requests per second and latency over HTTP on loopback, against a Kiln started as its own
 * process (the production build), for a user holding 20 policies: (a) Basic auth with the registry password (docker's
 * GET), (b) refresh tokens (docker's POST after `docker login`). Prints one JSON summary line last.
 * Goal (issue 3): >= 2,000 requests/s and p99 < 20 ms for both.
 */
import autocannon from "autocannon";
import { ADMIN, startKiln } from "./lib/kiln-process.ts";

const DURATION_S = Number(process.env.BENCH_SECONDS ?? 10);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 16);

const kiln = await startKiln({});
const { base, call } = kiln;

try {
  const root = (await call("POST", "/api/v1/accounts", ADMIN, { alias: "bench" })).rootToken;
  await call("POST", "/api/v1/namespaces", root, { name: "alitest1" });
  await call("POST", "/api/v1/regions/local/repositories", root, { namespace: "alitest1", name: "test" });
  await call("POST", "/api/v1/users", root, { name: "dev1" });
  for (let i = 0; i < 20; i++) {
    const Statement = [
      {
        Effect: "Allow",
        Action: ["cr:Get*", "cr:List*", "cr:PullRepository"],
        Resource: [`acs:cr:*:*:repository/team${i}/*`],
      },
      {
        Effect: i === 19 ? "Allow" : "Deny",
        Action: ["cr:PushRepository"],
        Resource: [i === 19 ? "acs:cr:*:*:repository/alitest1/*" : `acs:cr:*:*:repository/team${i}/prod-*`],
      },
      {
        Effect: "Allow",
        Action: ["cr:PullRepository"],
        Resource: ["*"],
        Condition: { IpAddress: { "acs:SourceIp": ["127.0.0.0/8", "10.0.0.0/8"] } },
      },
    ];
    await call("POST", "/api/v1/policies", root, { name: `p${i}`, document: { Version: "1", Statement } });
    await call("POST", "/api/v1/users/dev1/policies", root, { policyName: `p${i}` });
  }
  await call("PUT", "/api/v1/users/dev1/registry-password", root, { password: "Registry-pass1" });
  const basic = `Basic ${Buffer.from("dev1@bench:Registry-pass1").toString("base64")}`;
  const login: any = await (
    await fetch(`${base}/auth/token?service=local&offline_token=true&client_id=docker`, {
      headers: { authorization: basic },
    })
  ).json();
  const scope = "repository:alitest1/test:pull,push";
  const check: any = await (
    await fetch(`${base}/auth/token?service=local&scope=${encodeURIComponent(scope)}`, {
      headers: { authorization: basic },
    })
  ).json();
  const granted = JSON.parse(Buffer.from(check.token.split(".")[1], "base64url").toString()).access[0].actions;
  if (granted.join(",") !== "pull,push") throw new Error(`unexpected grant ${granted}`);

  const run = (title: string, path: string, opts: Partial<autocannon.Options>) =>
    new Promise<autocannon.Result>((resolve, reject) =>
      autocannon({ url: base + path, connections: CONNECTIONS, duration: DURATION_S, title, ...opts }, (err, result) =>
        err ? reject(err) : resolve(result),
      ),
    );
  const summarize = (r: autocannon.Result) => ({
    requestsPerSec: Math.round(r.requests.average),
    p50Ms: r.latency.p50,
    p99Ms: r.latency.p99,
    non2xx: r.non2xx,
    errors: r.errors,
    total: r.requests.total,
  });

  await run("warm-up", `/auth/token?service=local&scope=${encodeURIComponent(scope)}`, {
    headers: { authorization: basic },
    duration: 2,
  });
  const password = summarize(
    await run("basic", `/auth/token?service=local&scope=${encodeURIComponent(scope)}`, {
      headers: { authorization: basic },
    }),
  );
  const refresh = summarize(
    await run("refresh", "/auth/token", {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({
        grant_type: "refresh_token",
        service: "local",
        client_id: "docker",
        scope,
        refresh_token: login.refresh_token,
      }).toString(),
    }),
  );
  console.log(`basic auth:     ${password.requestsPerSec} req/s, p50 ${password.p50Ms} ms, p99 ${password.p99Ms} ms`);
  console.log(`refresh tokens: ${refresh.requestsPerSec} req/s, p50 ${refresh.p50Ms} ms, p99 ${refresh.p99Ms} ms`);
  const ok = (r: typeof password) => r.requestsPerSec >= 2000 && r.p99Ms < 20 && r.non2xx === 0 && r.errors === 0;
  console.log(
    JSON.stringify({
      bench: "token",
      policiesPerUser: 20,
      connections: CONNECTIONS,
      durationSec: DURATION_S,
      basicAuth: password,
      refreshToken: refresh,
      goals: { requestsPerSec: 2000, p99Ms: 20 },
      pass: ok(password) && ok(refresh),
    }),
  );
} finally {
  await kiln.stop();
}
