import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { EnvSchema } from "../../src/config.ts";

/** No image can be pulled here, so the production-shaped compose file is checked for its wiring. */
const compose = parse(readFileSync(new URL("../../docker-compose.yml", import.meta.url), "utf8"), { merge: true }) as {
  services: Record<
    string,
    {
      image?: string;
      build?: string;
      command?: string[];
      environment?: Record<string, string>;
      volumes?: string[];
      ports?: string[];
      depends_on?: unknown;
    }
  >;
  volumes: Record<string, unknown>;
};
const { services } = compose;

describe("docker-compose.yml", () => {
  it("has the production shape: redis, registry, api and worker, plus the registry's config writer", () => {
    expect(Object.keys(services).sort()).toEqual(["api", "redis", "registry", "registry-config", "worker"]);
  });

  it("uses only variables Kiln reads, with the roles split between api and worker", () => {
    const known = new Set(Object.keys(EnvSchema.shape));
    for (const [name, service] of Object.entries(services)) {
      for (const key of Object.keys(service.environment ?? {}))
        expect([name, key, known.has(key)]).toEqual([name, key, true]);
    }
    expect(services.api!.environment!.KILN_ROLE).toBe("api");
    expect(services.worker!.environment!.KILN_ROLE).toBe("worker");
  });

  it("points api and worker at the redis service, and Redis persists", () => {
    expect(services.api!.environment!.REDIS_URL).toBe("redis://redis:6379");
    expect(services.worker!.environment!.REDIS_URL).toBe("redis://redis:6379");
    expect(services.redis!.command).toContain("--appendonly");
    expect(services.redis!.volumes).toContain("redis-data:/data");
  });

  it("starts api and worker only after registry-config has written the shared secrets", () => {
    for (const name of ["api", "worker", "registry"]) {
      expect((services[name]!.depends_on as Record<string, { condition: string }>)["registry-config"]).toEqual({
        condition: "service_completed_successfully",
      });
    }
  });

  it("gives the worker the Docker socket, and every Kiln container the same data volume (keys, CA, secret key)", () => {
    expect(services.worker!.volumes).toContain("/var/run/docker.sock:/var/run/docker.sock");
    for (const name of ["api", "worker", "registry", "registry-config"])
      expect(services[name]!.volumes).toContain("kiln-data:/data");
  });

  it("runs registry:2 with the config Kiln writes: listening in its container, events to the api service", () => {
    expect(services.registry!.image).toBe("registry:2");
    expect(services.registry!.command).toEqual(["serve", "/data/registry-local.yml"]);
    const writer = services["registry-config"]!.command!;
    expect(writer.slice(-6)).toEqual([
      "registry",
      "write-configs",
      "--listen",
      "0.0.0.0",
      "--events-url",
      "http://api:8080/registry/events",
    ]);
    expect(services.api!.ports).toContain("8080:8080");
    expect(services.registry!.ports).toContain("5000:5000");
    expect(services.api!.environment!.KILN_REGIONS).toMatch(/^local=/);
  });
});
