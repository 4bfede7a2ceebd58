import { join } from "node:path";
import type { Config, Region } from "../config.ts";
import { TOKEN_ISSUER } from "./access-token.ts";

/**
 * The configuration of the CNCF distribution registry serving one region: token auth against
 * Kiln (service = region id) and notifications to `/registry/events`. JSON is YAML, so the
 * registry reads this as it is.
 */
export function registryConfig(config: Config, region: Region, caFile: string): Record<string, unknown> {
  const [host, port] = splitHostPort(region.registry);
  return {
    version: 0.1,
    log: { level: "info", fields: { service: "registry", region: region.id } },
    storage: {
      filesystem: { rootdirectory: join(config.dataDir, "registry", region.id) },
      delete: { enabled: true },
      cache: { blobdescriptor: "inmemory" },
    },
    http: { addr: `${host}:${port}`, headers: { "X-Content-Type-Options": ["nosniff"] } },
    auth: {
      token: { realm: `${config.publicUrl}/auth/token`, service: region.id, issuer: TOKEN_ISSUER, rootcertbundle: caFile },
    },
    notifications: {
      endpoints: [
        {
          name: "kiln",
          url: `${config.publicUrl}/registry/events`,
          headers: { Authorization: [`Bearer ${config.registryEventsToken}`], "X-Kiln-Region": [region.id] },
          timeout: "5s",
          threshold: 5,
          backoff: "1s",
          ignore: { actions: ["pull"], mediatypes: ["application/octet-stream"] },
        },
      ],
    },
  };
}

function splitHostPort(address: string): [string, string] {
  const colon = address.lastIndexOf(":");
  if (colon < 0) return [address, "5000"];
  return [address.slice(0, colon), address.slice(colon + 1)];
}
