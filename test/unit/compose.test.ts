import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { EnvSchema } from "../../src/config.ts";

interface Service {
  image?: string;
  build?: string;
  command?: string[];
  environment?: Record<string, string>;
  volumes?: string[];
  ports?: string[];
  depends_on?: Record<string, { condition: string }>;
  deploy?: { replicas?: number };
  healthcheck?: { test: string[] };
  configs?: { source: string; target: string }[];
}

const text = readFileSync(new URL("../../docker-compose.yml", import.meta.url), "utf8");
/** Compose's interpolation as `docker compose up` does it with none of the variables set: `${NAME:-default}` is the default. */
const interpolated = text.replace(
  /\$\{(\w+)(?::?-([^}]*))?\}/g,
  (_, _name: string, fallback?: string) => fallback ?? "",
);

/** No image can be pulled here, so the production-shaped compose file is checked for its wiring. */
const compose = parse(interpolated, { merge: true }) as {
  services: Record<string, Service>;
  configs: Record<string, { content?: string }>;
  volumes: Record<string, unknown>;
};
const { services } = compose;
const service = (name: string): Service => services[name]!;
/** The services that run Kiln itself. */
const KILN = ["api", "worker", "registry-config"];

/** The host port a service publishes for a container port, e.g. "8080:8080" → 8080. */
function published(name: string, containerPort: number): number | undefined {
  for (const mapping of service(name).ports ?? []) {
    const [host, inside] = String(mapping).split(":").slice(-2);
    if (Number(inside) === containerPort) return Number(host);
  }
  return undefined;
}

const caddyfile = (): string => {
  const mount = service("proxy").configs!.find((c) => c.target === "/etc/caddy/Caddyfile")!;
  return compose.configs[mount.source]!.content!;
};

describe("docker-compose.yml", () => {
  it("has the production shape: PostgreSQL, redis, registry, api replicas behind a proxy and worker, plus the registry's config writer", () => {
    expect(Object.keys(services).sort()).toEqual([
      "api",
      "postgres",
      "proxy",
      "redis",
      "registry",
      "registry-config",
      "worker",
    ]);
  });

  it("uses only variables Kiln reads, with the roles split between api and worker", () => {
    const known = new Set(Object.keys(EnvSchema.shape));
    for (const name of KILN) {
      for (const key of Object.keys(service(name).environment ?? {}))
        expect([name, key, known.has(key)]).toEqual([name, key, true]);
    }
    expect(service("api").environment!.KILN_ROLE).toBe("api");
    expect(service("worker").environment!.KILN_ROLE).toBe("worker");
  });

  it("points api and worker at the redis service, and Redis persists", () => {
    expect(service("api").environment!.REDIS_URL).toBe("redis://redis:6379");
    expect(service("worker").environment!.REDIS_URL).toBe("redis://redis:6379");
    expect(service("redis").command).toContain("--appendonly");
    expect(service("redis").volumes).toContain("redis-data:/data");
  });

  it("starts api and worker only after registry-config has written the shared secrets", () => {
    for (const name of ["api", "worker", "registry"]) {
      expect(service(name).depends_on!["registry-config"]).toEqual({
        condition: "service_completed_successfully",
      });
    }
  });

  it("gives the worker the Docker socket, and every Kiln container the same data volume (keys, CA, secret key)", () => {
    expect(service("worker").volumes).toContain("/var/run/docker.sock:/var/run/docker.sock");
    for (const name of ["api", "worker", "registry", "registry-config"])
      expect(service(name).volumes).toContain("kiln-data:/data");
    expect(compose.volumes).toHaveProperty("kiln-data");
    for (const name of KILN) expect([name, service(name).environment!.KILN_DATA_DIR]).toEqual([name, "/data"]);
  });

  it("shares the secrets between the api replicas: none set for one service only, none generated per replica", () => {
    // A secret given in one service's environment and not the others' would differ between the
    // processes (each generating its own into the data dir when it finds no file there).
    for (const key of ["KILN_SECRET_KEY", "KILN_ADMIN_TOKEN", "KILN_REGISTRY_EVENTS_TOKEN"]) {
      const values = KILN.map((name) => service(name).environment![key]);
      expect([key, new Set(values).size]).toEqual([key, 1]);
    }
    // Every replica of one service gets the same mounts: no anonymous or per-container /data.
    expect(service("api").volumes!.filter((v) => v.endsWith(":/data") || v === "/data")).toEqual(["kiln-data:/data"]);
  });

  it("runs PostgreSQL with a named volume and a pg_isready healthcheck, and api waits until it is healthy", () => {
    const pg = service("postgres");
    expect(pg.image).toMatch(/^postgres:1[56](\.|$|-)/);
    expect(pg.volumes).toContain("postgres-data:/var/lib/postgresql/data");
    expect(compose.volumes).toHaveProperty("postgres-data");
    for (const key of ["POSTGRES_USER", "POSTGRES_PASSWORD", "POSTGRES_DB"]) expect(pg.environment![key]).toBeTruthy();
    const probe = pg.healthcheck!.test;
    expect(probe[0]).toMatch(/^CMD(-SHELL)?$/);
    expect(probe.join(" ")).toMatch(/\bpg_isready\b/);
    expect(probe.join(" ")).toContain(`-U ${pg.environment!.POSTGRES_USER}`);
    expect(service("api").depends_on!.postgres).toEqual({ condition: "service_healthy" });
  });

  it("gives api the PostgreSQL service's database, as its user, and nothing else a database URL", () => {
    const pg = service("postgres").environment!;
    const raw = service("api").environment!.KILN_DATABASE_URL!;
    expect(EnvSchema.shape.KILN_DATABASE_URL.safeParse(raw).success).toBe(true);
    const url = new URL(raw);
    expect(url.hostname).toBe("postgres");
    expect(url.port || "5432").toBe("5432");
    expect(decodeURIComponent(url.username)).toBe(pg.POSTGRES_USER);
    expect(decodeURIComponent(url.password)).toBe(pg.POSTGRES_PASSWORD);
    expect(url.pathname).toBe(`/${pg.POSTGRES_DB}`);
    // One password for both, from the same variable when it is set.
    expect(text).toMatch(/POSTGRES_PASSWORD: \$\{POSTGRES_PASSWORD:-[^}]+\}/);
    expect(text).toMatch(/KILN_DATABASE_URL: postgres:\/\/[^:]+:\$\{POSTGRES_PASSWORD:-[^}]+\}@postgres[:/]/);
    // Workers share only Redis, the engine and the registry.
    expect(service("worker").environment!.KILN_DATABASE_URL).toBeUndefined();
  });

  it("runs api as 2 replicas that publish no port (they would clash): the proxy publishes 8080", () => {
    const api = service("api");
    expect(api.deploy?.replicas).toBe(2);
    expect(api.ports).toBeUndefined();
    expect((api as Record<string, unknown>).container_name).toBeUndefined(); // one name cannot have 2 containers
    expect(api.environment!.KILN_HOST).toBe("0.0.0.0");
    expect(api.environment!.PORT ?? "8080").toBe("8080");
    expect(published("proxy", 8080)).toBe(8080);
    expect(service("proxy").depends_on!.api).toEqual({ condition: "service_healthy" });
  });

  it("has the proxy listen on 8080 and round-robin over every api replica on port 8080", () => {
    expect(service("proxy").image).toMatch(/^caddy:2/);
    const config = caddyfile();
    expect(config).toMatch(/^:8080 \{/m);
    // dynamic A records: each replica's address, not the first one the name resolves to.
    expect(config).toMatch(/^\s*dynamic a api 8080\b/m);
    expect(config).toMatch(/^\s*lb_policy round_robin$/m);
    expect(config).not.toMatch(/\blb_policy (ip_hash|cookie|header|client_ip_hash)/); // no stickiness needed
  });

  it("sends everything that talked to api:8080 through the proxy: registry notifications and the token realm", () => {
    const writer = service("registry-config").command!;
    expect(writer.slice(-6)).toEqual([
      "registry",
      "write-configs",
      "--listen",
      "0.0.0.0",
      "--events-url",
      "http://proxy:8080/registry/events",
    ]);
    // Docker clients reach the token realm on the host: the port the proxy publishes.
    for (const name of KILN) {
      const publicUrl = new URL(service(name).environment!.KILN_PUBLIC_URL!);
      expect([name, publicUrl.hostname, Number(publicUrl.port)]).toEqual([name, "localhost", published("proxy", 8080)]);
    }
    // Only the proxy's configuration names the api service's address.
    for (const [name, s] of Object.entries(services))
      expect([name, JSON.stringify({ ...s, healthcheck: undefined })]).not.toEqual([
        name,
        expect.stringMatching(/\bapi:8080\b/),
      ]);
  });

  it("runs registry:2 with the config Kiln writes and publishes the registry", () => {
    expect(service("registry").image).toBe("registry:2");
    expect(service("registry").command).toEqual(["serve", "/data/registry-local.yml"]);
    expect(published("registry", 5000)).toBe(5000);
    expect(service("api").environment!.KILN_REGIONS).toMatch(/^local=localhost:5000$/);
  });
});
